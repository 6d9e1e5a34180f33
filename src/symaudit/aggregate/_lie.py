"""The Lie-derivative table and the sub-cell profile (docs/algorithms.md §9.2-9.3) from the
per-run :data:`symaudit.outputs.LIE` files (``symaudit lie``).

* ``tables/lie_derivative.csv``: one row per (dataset, model, direction): type-7 quantiles
  ``q1, median, q3`` of ||L f(x)|| / ||f(x)|| pooled over seeds x batches x examples, ``n``
  (finite values), ``n_seeds``, ``min``, ``max``;
* ``tables/lie_profile.csv``: one row per (dataset, model, direction, shift): the same quantiles
  of R(eps) pooled likewise;
* ``figures/lie_profile.png``: the median R(eps) with its quartile band against eps in [0, 1)
  cell, one panel per direction, one line per (dataset, model).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from symaudit import outputs
from symaudit._io import write_atomic

__all__ = ["lie_figure", "lie_tables", "write_lie"]

_Q = (0.25, 0.5, 0.75)
_Q_NAMES = ("q1", "median", "q3")


def _stats(values: np.ndarray) -> dict:
    v = np.asarray(values, dtype=np.float64).ravel()
    v = v[np.isfinite(v)]
    if not v.size:
        return dict.fromkeys((*_Q_NAMES, "min", "max"), np.nan) | {"n": 0}
    q = np.quantile(v, _Q, method="linear")
    return dict(zip(_Q_NAMES, q, strict=True)) | {"n": int(v.size), "min": v.min(), "max": v.max()}


def lie_tables(paths: Sequence[str | os.PathLike]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(lie_derivative, lie_profile) tables of the LIE files ``paths`` (module docstring)."""
    runs: dict[tuple[str, str], list] = {}
    for p in paths:
        with outputs.read(p, "lie") as out:
            ds = out.dataset.load()
        runs.setdefault((out.identity.dataset, out.identity.model), []).append(ds)
    lie_rows, profile_rows = [], []
    for (dataset, model), members in sorted(runs.items()):
        shifts = members[0]["shift"].values
        for ds in members[1:]:
            if not np.array_equal(ds["shift"].values, shifts):
                raise ValueError(f"{dataset}/{model}: the seeds' lie files have different shifts")
        for direction in ("x", "y"):
            key = {"dataset": dataset, "model": model, "direction": direction}
            lie = [ds["lie_derivative"].sel(direction=direction).values for ds in members]
            seeds = sum(bool(np.isfinite(v).any()) for v in lie)
            lie_rows.append(key | _stats(np.concatenate([v.ravel() for v in lie])) | {
                "n_seeds": seeds})  # fmt: skip
            for i, eps in enumerate(shifts):
                prof = [ds["subcell_profile"].sel(direction=direction).values[i] for ds in members]
                stats = _stats(np.concatenate([v.ravel() for v in prof]))
                profile_rows.append(key | {"shift": float(eps)} | stats)
    return pd.DataFrame(lie_rows), pd.DataFrame(profile_rows)


def lie_figure(profile: pd.DataFrame, path: str | os.PathLike) -> Path:
    """``figures/lie_profile.png``: median R(eps) and its quartile band per (dataset, model)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(9, 3.4), sharey=True, constrained_layout=True)
    for ax, direction in zip(axes, ("x", "y"), strict=True):
        part = profile[profile["direction"] == direction]
        for (dataset, model), rows in part.groupby(["dataset", "model"], sort=True):
            rows = rows.sort_values("shift")
            line = ax.plot(
                rows["shift"], rows["median"], marker="o", ms=3, label=f"{dataset} {model}"
            )
            ax.fill_between(
                rows["shift"], rows["q1"], rows["q3"], alpha=0.2, color=line[0].get_color()
            )
        ax.axhline(1.0, color="k", lw=0.6, ls=":")
        ax.set_xlabel(f"sub-cell shift along {direction} (cells)")
        ax.set_xlim(0, 1)
    axes[0].set_ylabel("R(eps) (median, quartiles)")
    axes[0].legend(fontsize=7)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, lambda tmp: fig.savefig(tmp, format="png", dpi=120))
    plt.close(fig)
    return path


def write_lie(paths, tables_dir, figures_dir) -> list[Path]:
    """Write both tables and the figure; returns the paths written."""
    lie, profile = lie_tables(paths)
    tables, written = Path(tables_dir), []
    tables.mkdir(parents=True, exist_ok=True)
    for name, df in (("lie_derivative.csv", lie), ("lie_profile.csv", profile)):
        written.append(write_atomic(tables / name, lambda tmp, df=df: df.to_csv(tmp, index=False)))
    written.append(lie_figure(profile, Path(figures_dir) / "lie_profile.png"))
    return written
