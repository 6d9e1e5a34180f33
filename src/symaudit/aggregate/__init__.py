"""Aggregation stage: quantile tables from the per-job stores, the paper's figures, captions.

Pipeline (each step a CLI the Snakemake rules call)::

    results/{study}/equivariance/**.nc, influence/**.nc
      --symaudit aggregate-->  results/{study}/tables/<kind>_<set>.csv|.nc
      --symaudit figures--->   results/{study}/figures/figNN_<set>_<what>[_<model>]_<data>.png

Public API
----------
Tables
    :func:`aggregate` (all tables of a study), :func:`discover`, :func:`open_equivariance`,
    :func:`open_influence` (lazy xarray views), :func:`equivariance_statistics`,
    :func:`influence_statistics` (the reference's statistics on any such view),
    :func:`read_table`; the damping robustness's :data:`GALERKIN` key, :data:`STABLE_TAU`
    and :func:`kendall_tau`.
Figures
    :func:`make_figures`, :func:`possible_figures`, :func:`plot_figure` (returns a matplotlib
    ``Figure``), :func:`plot_d4`, :func:`plot_shift_line`, :func:`plot_shift_box`,
    :func:`save_figure`, :func:`load_tables`.
File lists for the rules
    :func:`expected_tables`, :func:`expected_figures`, :func:`figure_specs`,
    :class:`FigureSpec`, :data:`LINE_FIGURES`, :data:`BOX_FIGURES` (paper figure numbers).
Report
    :func:`write_report_sources` (regenerates ``workflow/report/*.rst``),
    :func:`caption_file`, :func:`figure_caption`, :func:`table_caption`.
Testing
    :func:`write_synthetic_study` (stores in the on-disk layout, with made-up numbers).

The plot functions import matplotlib and seaborn on first use, so ``import symaudit.aggregate``
stays light for the table stage.
"""

from __future__ import annotations

from ._captions import (
    ALL_MODELS,
    caption_file,
    figure_caption,
    table_caption,
    workflow_description,
    write_report_sources,
)
from ._figures import load_tables, make_figures, plot_figure, possible_figures
from ._io import save_figure
from ._layout import (
    BOX_FIGURES,
    ELEMENT_SETS,
    FIGURE_SUFFIXES,
    KINDS,
    LINE_FIGURES,
    PAPER_RANGES,
    TABLE_SUFFIXES,
    VALIDATION_SETS,
    FigureSpec,
    expected_figures,
    expected_tables,
    figure_specs,
    table_stem,
)
from ._robustness import GALERKIN, STABLE_TAU, kendall_tau
from ._stores import StoreFile, discover, open_equivariance, open_influence
from ._synthetic import write_synthetic_study
from ._tables import (
    element_order,
    equivariance_statistics,
    equivariance_tables,
    influence_statistics,
    influence_table,
    read_table,
)
from ._write import aggregate

#: the plot functions, imported on first use: matplotlib + seaborn cost ~1 s to import and only
#: the figures stage needs them
_PLOTS = ("plot_d4", "plot_shift_box", "plot_shift_line")

__all__ = [
    "ALL_MODELS",
    "BOX_FIGURES",
    "ELEMENT_SETS",
    "FIGURE_SUFFIXES",
    "GALERKIN",
    "KINDS",
    "LINE_FIGURES",
    "PAPER_RANGES",
    "STABLE_TAU",
    "VALIDATION_SETS",
    "TABLE_SUFFIXES",
    "FigureSpec",
    "StoreFile",
    "aggregate",
    "caption_file",
    "discover",
    "element_order",
    "equivariance_statistics",
    "equivariance_tables",
    "expected_figures",
    "expected_tables",
    "figure_caption",
    "figure_specs",
    "influence_statistics",
    "influence_table",
    "kendall_tau",
    "load_tables",
    "make_figures",
    "open_equivariance",
    "open_influence",
    "plot_figure",
    "possible_figures",
    "read_table",
    "save_figure",
    "table_caption",
    "table_stem",
    "workflow_description",
    "write_report_sources",
    "write_synthetic_study",
    *_PLOTS,
]


def __getattr__(name: str):
    if name in _PLOTS:
        from . import _plots

        return getattr(_plots, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
