"""The paper's symmetry figures (Figs. 1-20): which can be drawn from a study's quantile tables
(written by :func:`symaudit.aggregate.aggregate`), drawing them (:mod:`._plots`, imported on
first use: matplotlib and seaborn cost ~1 s) and saving them atomically as PNG/PDF.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from ._io import save_figure
from ._layout import (
    BOX_FIGURES,
    FIGURE_SUFFIXES,
    KINDS,
    LINE_FIGURES,
    FigureSpec,
    base_model,
    table_stem,
)
from ._tables import read_table

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["load_tables", "make_figures", "plot_figure", "possible_figures", "save_figure"]


def plot_figure(
    spec: FigureSpec,
    tables: Mapping[str, pd.DataFrame],
    ranges: str = "union",
    resolution: int | None = None,
) -> Figure:
    """Draw one figure from the loaded tables (see :func:`load_tables`)."""
    if spec.table not in tables:
        raise ValueError(f"{spec.stem}: needs table {spec.table}, which was not written")
    from ._plots import plot_d4, plot_shift_box, plot_shift_line

    df = tables[spec.table]
    if spec.element_set == "d4":
        return plot_d4(df, spec, ranges)
    if spec.element_set == "shift_box":
        return plot_shift_box(df, spec, ranges)
    return plot_shift_line(df, spec, ranges, resolution)


def load_tables(tables_dir: str | os.PathLike) -> dict[str, pd.DataFrame]:
    """The summary tables present in ``tables_dir``, keyed by stem (``influence_d4``, ...)."""
    tables = {}
    for kind in KINDS:
        for name in ("d4", "shift_x", "shift_y", "shift_box"):
            path = Path(tables_dir) / f"{table_stem(kind, name)}.csv"
            if path.exists():
                df = read_table(path)
                if not df.empty:
                    tables[table_stem(kind, name)] = df
    return tables


def possible_figures(tables: Mapping[str, pd.DataFrame] | str | os.PathLike) -> list[FigureSpec]:
    """The figures whose inputs exist: a table with rows for the dataset (and model)."""
    if not isinstance(tables, Mapping):
        tables = load_tables(tables)
    specs = []
    for (kind, name, dataset), number in LINE_FIGURES.items():
        df = tables.get(table_stem(kind, name))
        if df is not None and (df["dataset"] == dataset).any():
            specs.append(FigureSpec(number, kind, name, dataset))
    for kind in KINDS:
        df = tables.get(table_stem(kind, "shift_box"))
        if df is None:
            continue
        for (dataset, model), _ in df.groupby(["dataset", "model"]):
            number = BOX_FIGURES.get((kind, dataset, base_model(model)))
            if number is not None:
                specs.append(FigureSpec(number, kind, "shift_box", dataset, model))
    return sorted(specs, key=lambda s: (s.number, s.stem))


def _selected(spec: FigureSpec, only: Sequence[str] | None) -> bool:
    if not only:
        return True
    # "fig07" selects every model's Fig. 7 variant, a full stem exactly one file.
    return any(spec.stem == o or spec.stem.startswith(f"{o}_") for o in only)


def make_figures(
    tables_dir: str | os.PathLike,
    out_dir: str | os.PathLike,
    only: Sequence[str] | None = None,
    ranges: str = "union",
    formats: Iterable[str] = FIGURE_SUFFIXES,
    resolution: int | None = None,
) -> list[Path]:
    """Draw and save every possible figure (or those named in ``only``: ``fig07`` or a stem).

    Raises :class:`ValueError` when ``only`` names a figure whose inputs do not exist.
    """
    from ._kinematic import KINEMATIC_FIGURES, kinematic_figures

    tables = load_tables(tables_dir)
    specs = possible_figures(tables)
    extra = set(KINEMATIC_FIGURES.values())  # boosts and scalings: not paper figures
    if only:
        unknown = [o for o in only if o not in extra and not any(_selected(s, [o]) for s in specs)]
        if unknown:
            have = ", ".join(s.stem for s in specs) or "none"
            raise ValueError(f"no inputs for figure(s) {', '.join(unknown)} (possible: {have})")
    written: list[Path] = []
    formats = list(formats)
    for spec in specs:
        if not _selected(spec, only):
            continue
        fig = plot_figure(spec, tables, ranges, resolution)
        written += save_figure(fig, out_dir, spec.stem, formats)
    return written + kinematic_figures(tables_dir, out_dir, only, formats)
