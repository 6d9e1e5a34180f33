"""The audit's tables, through the studies' own statistics (:mod:`symaudit.aggregate`).

The relative errors of one model on one data set become the studies' array of dims
``(seed, element, batch, transition, class)`` with one seed and one class (batch = the file's
trajectory, transition = the input frame), so :func:`symaudit.aggregate.equivariance_statistics`
computes exactly the columns of ``tables/equivariance_<set>.csv`` and its ``_per_seed``
companion (with a single seed the summary's q1 = median = q3 = the per-seed Q3; the per-seed
table holds the quartiles over the examples), with the studies' bootstrap interval columns
(``*_lo``, ``*_hi``, ``n_clusters``, ``ci_note``: trajectories are the clusters; NaN with the
reason in ``ci_note`` when there are too few).  Beside them, per element: ``dtype`` (the model's),
``tolerance`` (:data:`._measure.TOLERANCE` of that dtype), ``residual_max`` (max over examples of
||f(g x) - g f(x)|| / ||f(x)||) and ``within_tolerance`` (residual_max <= tolerance).
With ``--influence``, ``influence_<set>.csv`` likewise through
:func:`symaudit.aggregate.influence_statistics` (batch = trajectory).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from symaudit._io import write_atomic
from symaudit.aggregate import equivariance_statistics, influence_statistics, table_stem
from symaudit.aggregate._bootstrap import Bootstrap
from symaudit.aggregate._intervals import equivariance_intervals, influence_intervals
from symaudit.aggregate._tables import _frame

__all__ = ["equivariance_tables", "influence_table", "write_influence", "write_tables"]


def _as_study(relative: np.ndarray, elements: list[str], index: np.ndarray) -> xr.DataArray:
    """``(E, n)`` -> dims ``(seed, element, batch, transition, class)`` on the (trajectory, frame)
    grid of ``index`` (every trajectory has the same frames)."""
    trajs, frames = np.unique(index[:, 0]), np.unique(index[:, 1])
    grid = relative.reshape(len(elements), len(trajs), len(frames))
    return xr.DataArray(
        grid[None, :, :, :, None],
        dims=("seed", "element", "batch", "transition", "class"),
        coords={
            "seed": [0],
            "element": elements,
            "batch": trajs,
            "transition": frames,
            "class": [0],
        },
    )


def equivariance_tables(
    measured, element_set: str, dataset: str, model: str
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(summary, per-seed) tables of one element set, with the tolerance columns."""
    rel = _as_study(measured.relative, measured.elements, measured.index)
    summary, per_seed = equivariance_statistics(rel)
    key = f"equivariance/{element_set}/{dataset}/{model}"
    summary, per_seed = equivariance_intervals(rel, summary, per_seed, Bootstrap(), key)
    extra = {
        "dtype": measured.dtype,
        "tolerance": measured.tolerance,
        "residual_max": np.nanmax(measured.residual, axis=1),
    }
    extra["within_tolerance"] = extra["residual_max"] <= measured.tolerance
    out = []
    for stats in (summary, per_seed):
        df = _frame(stats, dataset, model, element_set)
        order = {g: i for i, g in enumerate(measured.elements)}
        df = df.iloc[np.argsort([order[g] for g in df["element"]], kind="stable")]
        rows = [order[g] for g in df["element"]]
        for key, value in extra.items():
            df[key] = np.asarray(value)[rows] if np.ndim(value) else value
        out.append(df.reset_index(drop=True))
    return out[0], out[1]


def write_tables(out_dir: Path, element_set: str, summary, per_seed) -> list[Path]:
    """``equivariance_<set>.csv`` and ``equivariance_<set>_per_seed.csv`` under ``out_dir``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for df, per in ((summary, False), (per_seed, True)):
        path = out_dir / f"{table_stem('equivariance', element_set, per_seed=per)}.csv"
        write_atomic(path, lambda tmp, df=df: df.to_csv(tmp, index=False))
        written.append(path)
    return written


def influence_table(ds: xr.Dataset, element_set: str, dataset: str, model: str) -> pd.DataFrame:
    """The studies' influence table (pooled standardised diagonal) of one element set."""
    key = f"influence/{element_set}/{dataset}/{model}"
    stats = influence_intervals(ds, influence_statistics(ds), Bootstrap(), key)
    df = _frame(stats, dataset, model, element_set)
    df["converged"] = df["converged"].astype(bool)
    return df


def write_influence(out_dir: Path, element_set: str, table: pd.DataFrame) -> Path:
    """``influence_<set>.csv`` under ``out_dir``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{table_stem('influence', element_set)}.csv"
    return write_atomic(path, lambda tmp: table.to_csv(tmp, index=False))
