"""The tiny study's HTML report, opened in headless Chromium: it renders, and lists every
figure and table the study's configuration allows."""

import pytest

from symaudit import aggregate
from tests._chromium import png_size, require_chromium, screenshot

from .test_workflow import CFG

pytestmark = pytest.mark.workflow


def test_report_renders_and_lists_every_figure(tiny_study, tmp_path):
    browser = require_chromium()  # skips where chromium is not installed
    report = tiny_study / "results/tiny/report.html"
    png = screenshot(report, tmp_path / "report.png", width=1400, height=1600, browser=browser)
    assert png_size(png) == (1400, 1600)
    assert png.stat().st_size > 50_000  # a blank or error page compresses to a few kB
    page = report.read_text(errors="replace")
    sets = CFG["analysis"]["element_sets"]
    for stem in aggregate.expected_figures(CFG["datasets"], CFG["models"], sets):
        assert f"{stem}.png" in page, stem
    for stem in aggregate.expected_tables(sets):
        assert f"{stem}.csv" in page, stem
