"""The report's first screen, in headless Chromium at 1400x900: the title, the "Premise failed"
banner (the tiny study is under-trained, so every run fails the quality gate) and the first
row of the model-quality table are inside the window without scrolling, and the banner is a
coloured box.

Snakemake's template centres the home page in a fixed-height flex box: before
``workflow/report/report.css`` the top of a long home page sat above the scrollable area, out
of reach.  Check any report by hand (prints what is wrong, exit 1 if anything)::

    PYTHONPATH=$PWD .venv/bin/python -m tests.workflow.test_report_screen results/tiny/report.html
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import pytest

from tests._chromium import evaluate, png_size, require_chromium, screenshot

pytestmark = pytest.mark.workflow

WIDTH, HEIGHT = 1400, 900

#: geometry of the home page's title, banner and first quality row (JavaScript, see evaluate)
PROBE = """(() => {
  const doc = document.querySelector("#app .document");
  const box = (el) => {
    if (!el) return null;
    const r = el.getBoundingClientRect();
    const hit = document.elementFromPoint((r.left + r.right) / 2, (r.top + r.bottom) / 2);
    return {top: r.top, bottom: r.bottom, left: r.left, right: r.right,
            visible: hit !== null && (el === hit || el.contains(hit)),
            text: el.textContent.trim().slice(0, 80)};
  };
  if (!doc) return {document: false};
  const tables = [...doc.querySelectorAll("table")];
  const quality = tables.find((t) => t.textContent.includes("val SMSE"));
  const banner = [...doc.children].find((el) => el.textContent.includes("Premise failed"));
  return {
    document: true,
    viewport: [window.innerWidth, window.innerHeight],
    title: box(doc.querySelector("h1")),
    banner: box(banner),
    background: banner ? getComputedStyle(banner).backgroundColor : null,
    page: getComputedStyle(document.body).backgroundColor,
    row: box(quality ? quality.querySelector("tbody tr") : null),
  };
})()"""


def first_screen_problems(report: Path, png: Path) -> list[str]:
    """What is wrong with ``report``'s first screen at 1400x900 (empty: nothing); writes the
    screenshot to ``png``."""
    browser = require_chromium()
    screenshot(report, png, width=WIDTH, height=HEIGHT, browser=browser)
    assert png_size(png) == (WIDTH, HEIGHT)
    geo = evaluate(report, PROBE, width=WIDTH, height=HEIGHT, browser=browser)
    if not geo["document"]:
        return ["no workflow description (#app .document) on the home page"]
    width, height = geo["viewport"]
    problems = []
    for name in ("title", "banner", "row"):
        b = geo[name]
        if b is None:
            problems.append(f"{name}: not found")
        elif not (
            0 <= b["top"] and b["bottom"] <= height and 0 <= b["left"] <= b["right"] <= width
        ):
            problems.append(f"{name} {b['text']!r} outside the {width}x{height} window: {b}")
        elif not b["visible"]:
            problems.append(f"{name} {b['text']!r} is covered by another element")
    if geo["background"] in (None, "transparent", "rgba(0, 0, 0, 0)", geo["page"]):
        problems.append(f"banner has no background colour of its own: {geo['background']}")
    return problems


def test_first_screen_shows_title_banner_and_quality_table(tiny_study, tmp_path):
    report = tiny_study / "results/tiny/report.html"
    assert first_screen_problems(report, tmp_path / "first_screen.png") == []


if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as tmp:
        found = first_screen_problems(Path(sys.argv[1]), Path(tmp) / "first_screen.png")
    print("\n".join(found) or "first screen: title, banner and quality table in view")
    sys.exit(1 if found else 0)
