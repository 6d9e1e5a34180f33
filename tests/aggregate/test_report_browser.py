"""Looking at HTML output in a real browser (headless Chromium).

This checks the helper on a small page listing synthetic figures; the screenshot of the full
Snakemake report of the tiny study is ``tests/workflow/test_report.py``.
"""

from __future__ import annotations

import html
from pathlib import Path

from tests._chromium import png_size, require_chromium, screenshot


def _figure_page(tmp_path: Path) -> Path:
    """A page listing two figures drawn from a tiny synthetic study, images embedded inline."""
    import base64

    from symaudit import aggregate as agg

    study = tmp_path / "study"
    agg.write_synthetic_study(
        study,
        datasets=["NS"],
        models=["unet", "vit"],
        seeds=(0,),
        batches=1,
        time_steps=2,
        resolution=8,
        element_sets=["d4"],
    )
    agg.aggregate(study, study / "tables")
    figs = agg.make_figures(study / "tables", study / "figures", formats=["png"])
    items = []
    for p in figs:
        data = base64.b64encode(p.read_bytes()).decode()
        items.append(
            f"<li><h2>{html.escape(p.stem)}</h2>"
            f'<img alt="{html.escape(p.stem)}" width="640" '
            f'src="data:image/png;base64,{data}"></li>'
        )
    page = tmp_path / "figures.html"
    page.write_text(
        "<!doctype html><html><head><meta charset='utf-8'>"
        "<title>symaudit figures</title></head><body style='background:#fff'>"
        f"<h1>Figures</h1><ul>{''.join(items)}</ul></body></html>"
    )
    return page


def test_screenshot_of_a_figure_listing(tmp_path):
    browser = require_chromium()  # skips where chromium cannot be had
    page = _figure_page(tmp_path)
    png = screenshot(page, tmp_path / "shot.png", width=1400, height=3000, browser=browser)
    assert png_size(png) == (1400, 3000)
    # a blank page compresses to a few kB; two embedded figures cannot
    assert png.stat().st_size > 30_000
