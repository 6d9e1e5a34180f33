"""``symaudit figures --tables results/{study}/tables --out-dir results/{study}/figures``.

Draws every paper figure whose table exists (or those named by ``--only``: ``fig07`` for every
model's Fig. 7, or a full stem such as ``fig07_shift_box_error_vit_CE``), as PNG and PDF.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from symaudit.aggregate._layout import FIGURE_SUFFIXES


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--tables", required=True, help="results/{study}/tables")
    parser.add_argument("--out-dir", required=True, help="results/{study}/figures")
    parser.add_argument(
        "--only",
        nargs="+",
        default=None,
        metavar="FIG",
        help="figNN or full stems; default: every possible figure",
    )
    parser.add_argument(
        "--ranges",
        choices=["union", "paper", "data"],
        default="union",
        help="axis ranges: the paper's widened to the data (default), the "
        "paper's exactly, or the data's",
    )
    parser.add_argument(
        "--formats",
        nargs="+",
        default=[s.lstrip(".") for s in FIGURE_SUFFIXES],
        choices=["png", "pdf", "svg"],
        help="file formats of every figure (default: %(default)s)",
    )
    parser.add_argument(
        "--resolution",
        type=int,
        default=None,
        help="grid size N for the shift axes (default: from the tables)",
    )
    parser.add_argument(
        "--list", action="store_true", help="print the stems of the possible figures and exit"
    )


def run(args: argparse.Namespace) -> int:
    import matplotlib

    matplotlib.use("Agg")  # no display on compute nodes

    from symaudit.aggregate._figures import make_figures, possible_figures

    tables = Path(args.tables)
    if not tables.is_dir():
        raise FileNotFoundError(f"--tables {tables} is not a directory")
    if args.list:
        for spec in possible_figures(tables):
            print(spec.stem)
        return 0
    written = make_figures(
        tables,
        args.out_dir,
        only=args.only,
        ranges=args.ranges,
        formats=args.formats,
        resolution=args.resolution,
    )
    if not written:
        raise FileNotFoundError(f"no tables to draw from in {tables}")
    for path in written:
        print(path)
    return 0
