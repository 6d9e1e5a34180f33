"""The equivariance tables of boost and scale sets (``equivariance_boost.csv``,
``equivariance_scale.csv``; docs/algorithms.md §5.3): the paper's raw statistic in the usual
columns (``q1, median, q3`` over seeds of the per-seed Q3, their intervals, ``min``/``max``), and
the same statistic of the NORMALISED relative error SMSE(g_out^-1 f(g_in x), y) / SMSE(f(x), y)
beside it in columns prefixed ``normalised_`` (1 for an exactly equivariant model; raw R = alpha
for scale(alpha)).  The element columns are ``boost_x, boost_y`` (the boost's (m, n), cells per
frame) for boosts, ``alpha`` for scalings and ``negate`` (0 for e, 1 for neg) for the negation.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from symaudit import outputs

from ._bootstrap import Bootstrap
from ._intervals import equivariance_intervals
from ._stores import EXAMPLE_DIMS, StoreFile, _open_files, _require, close_all
from ._tables import _compute, _frame, _stack, equivariance_statistics, equivariance_tables

__all__ = ["KINEMATIC_FIGURES", "NORMALISED_PREFIX", "kinematic_figures", "kinematic_tables"]

NORMALISED_PREFIX = "normalised_"
#: columns shared by the raw and the normalised statistic (counts), not repeated
_SHARED = {"n", "n_seeds", "n_examples", "n_examples_per_seed_min", "n_clusters", "ci_confidence"}


def _normalised(ds):
    ds = outputs.upgrade_dims(ds)
    dims = outputs.EQUIVARIANCE.dims["normalised_error"]
    return _require(ds, "normalised_error", dims).to_dataset(name="relative_error")


def _normalised_tables(files: Sequence[StoreFile], element_set: str, boot: Bootstrap):
    grouped: dict[tuple[str, str], list[StoreFile]] = defaultdict(list)
    for f in files:
        if f.kind == "equivariance" and f.element_set == element_set:
            grouped[f.dataset, f.model].append(f)
    keys, opened = sorted(grouped), []
    try:
        views = [
            _open_files(grouped[k], _normalised, opened)["relative_error"].transpose(
                "seed", "element", *EXAMPLE_DIMS
            )
            for k in keys
        ]
        computed = _compute([(equivariance_statistics(v), v) for v in views])
    finally:
        close_all(opened)
    summaries, per_seeds = [], []
    for (d, m), ((summary, per_seed), rel) in zip(keys, computed, strict=True):
        key = f"equivariance/{element_set}/{d}/{m}"  # the raw statistic's resamples: paired
        summary, per_seed = equivariance_intervals(rel, summary, per_seed, boot, key)
        summaries.append(_frame(summary, d, m, element_set))
        per_seeds.append(_frame(per_seed, d, m, element_set))
    return _stack(summaries), _stack(per_seeds, by=["seed"])


def _beside(raw: pd.DataFrame, normalised: pd.DataFrame, on: list[str]) -> pd.DataFrame:
    """``raw`` with the statistic columns of ``normalised`` (prefixed) appended."""
    if raw.empty:
        return raw
    stats = [c for c in normalised.columns if c not in on and c not in _SHARED]
    stats = [c for c in stats if c not in ("boost_x", "boost_y", "alpha", "negate")]
    right = normalised[on + stats].rename(columns={c: NORMALISED_PREFIX + c for c in stats})
    return raw.merge(right, on=on, how="left", validate="one_to_one")


def kinematic_tables(
    files: Sequence[StoreFile], element_set: str, boot: Bootstrap | None = None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(summary, per-seed) tables of a boost or scale set: raw and normalised statistics."""
    boot = boot or Bootstrap()
    summary, per_seed = equivariance_tables(files, element_set, boot)
    n_summary, n_per_seed = _normalised_tables(files, element_set, boot)
    on = ["dataset", "model", "element_set", "element"]
    return _beside(summary, n_summary, on), _beside(per_seed, n_per_seed, [*on, "seed"])


#: the figure of each boost / scale table: ``figures/{set}_error.png`` (and ``.pdf``)
KINEMATIC_FIGURES: dict[str, str] = {
    "boost": "boost_error",
    "scale": "scale_error",
    "negation": "negation_error",
}


def kinematic_figure(df: pd.DataFrame, element_set: str):
    """Raw (open markers) and normalised (filled) relative error per element, one panel per
    dataset, one colour per model: the headline median with its bootstrap interval (bars where
    defined); the dotted line at 1 is what an exactly equivariant model scores normalised."""
    import matplotlib.pyplot as plt

    datasets = sorted(df["dataset"].unique())
    fig, axes = plt.subplots(1, len(datasets), figsize=(4.8 * len(datasets), 3.4), squeeze=False)
    for ax, dataset in zip(axes[0], datasets, strict=True):
        part = df[df["dataset"] == dataset]
        models = sorted(part["model"].unique())
        for j, (model, rows) in enumerate(part.groupby("model", sort=True)):
            x = np.arange(len(rows)) + (j - (len(models) - 1) / 2) * 0.15
            for prefix, marker in (("", "o"), (NORMALISED_PREFIX, "s")):
                med = rows[f"{prefix}median"].to_numpy(float)
                lo = rows.get(f"{prefix}median_lo", pd.Series(np.nan, index=rows.index))
                hi = rows.get(f"{prefix}median_hi", pd.Series(np.nan, index=rows.index))
                err = np.abs(np.vstack([med - lo.to_numpy(float), hi.to_numpy(float) - med]))
                ax.errorbar(x, med, yerr=np.nan_to_num(err), fmt=marker, ms=4, capsize=2,
                            color=f"C{j}", mfc="none" if not prefix else f"C{j}",
                            label=f"{model} {'normalised' if prefix else 'raw'}")  # fmt: skip
        ax.set_xticks(np.arange(len(rows)), list(rows["element"]), rotation=60, fontsize=7)
        ax.axhline(1.0, color="k", lw=0.6, ls=":")
        ax.set_title(f"{element_set}: {dataset}")
        ax.set_ylabel("relative error (Q3 over examples, median over seeds)")
        ax.legend(fontsize=6)
    fig.tight_layout()
    return fig


def kinematic_figures(tables_dir, out_dir, only, formats) -> list:
    """Draw :data:`KINEMATIC_FIGURES` whose tables exist (and ``only`` selects, if given)."""
    import matplotlib.pyplot as plt

    from ._io import save_figure
    from ._tables import read_table

    written = []
    for element_set, stem in KINEMATIC_FIGURES.items():
        path = Path(tables_dir) / f"equivariance_{element_set}.csv"
        if (only and stem not in only) or not path.is_file():
            continue
        df = read_table(path)
        if df.empty:
            continue
        fig = kinematic_figure(df, element_set)
        written += save_figure(fig, out_dir, stem, formats)
        plt.close(fig)
    return written
