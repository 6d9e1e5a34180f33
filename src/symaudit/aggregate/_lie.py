"""The Lie-derivative table and the sub-cell profile (docs/algorithms.md §9.2-9.3) from the
per-run :data:`symaudit.outputs.LIE` files (``symaudit lie``).

* ``tables/lie_derivative.csv``: one row per (dataset, model, direction): type-7 quantiles
  ``q1, median, q3`` of ||L f(x)|| / ||f(x)|| pooled over seeds x batches x examples (the
  influence tables' statistic), each with its cluster-bootstrap interval ``*_lo``, ``*_hi``
  (:mod:`._bootstrap`: seeds, then whole analysis batches), ``n`` (finite values), ``min``,
  ``max``, ``n_seeds``, ``n_clusters``, ``ci_confidence``, ``ci_note``;
* ``tables/lie_profile.csv``: one row per (dataset, model, direction, shift): the same columns
  for R(eps) pooled likewise;
* ``figures/subcell_profile.png``: the median R(eps) with its quartile band against eps in [0, 1)
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

from ._bootstrap import Bootstrap, note, pooled_intervals
from ._intervals import QUANTILES

__all__ = ["lie_figure", "lie_tables", "write_lie"]

_Q_NAMES = ("q1", "median", "q3")


def _stats(values: np.ndarray) -> dict:
    """Type-7 quantiles, count, min and max of the finite ``values`` (any shape)."""
    v = np.asarray(values, dtype=np.float64).ravel()
    v = v[np.isfinite(v)]
    if not v.size:
        return dict.fromkeys((*_Q_NAMES, "min", "max"), np.nan) | {"n": 0}
    q = np.quantile(v, QUANTILES, method="linear")
    return dict(zip(_Q_NAMES, q, strict=True)) | {"n": int(v.size), "min": v.min(), "max": v.max()}


def _rows(key: dict, values: np.ndarray, boot: Bootstrap, boot_key: str) -> list[dict]:
    """One row per element of ``values`` (S, B, E, m): pooled quantiles with their intervals."""
    lohi, n_clusters = pooled_intervals(values, QUANTILES, boot, boot_key)
    n_seeds = np.isfinite(values).any(axis=(1, 3)).sum(axis=0)
    notes = note(n_clusters, n_seeds, boot)
    rows = []
    for e in range(values.shape[2]):
        stats = _stats(values[:, :, e])
        row = dict(key[e])
        for i, name in enumerate(_Q_NAMES):
            row |= {name: stats[name], f"{name}_lo": lohi[0, i, e], f"{name}_hi": lohi[1, i, e]}
        row |= {k: stats[k] for k in ("n", "min", "max")}
        row |= {"n_seeds": int(n_seeds[e]), "n_clusters": int(n_clusters[e])}
        rows.append(row | {"ci_confidence": boot.confidence, "ci_note": notes[e]})
    return rows


def _per_run(paths) -> dict[tuple[str, str], list]:
    """(dataset, model) -> [(seed, dataset)] of the LIE files, loaded, seeds in order."""
    runs: dict[tuple[str, str], list] = {}
    for p in paths:
        with outputs.read(p, "lie") as out:
            ds = out.dataset.load()
        runs.setdefault((out.identity.dataset, out.identity.model), []).append(
            (out.identity.seed, ds)
        )
    for (dataset, model), members in runs.items():
        members.sort(key=lambda m: m[0])
        first = members[0][1]
        for _, ds in members[1:]:
            for coord in ("shift", "batch"):
                if not np.array_equal(ds[coord].values, first[coord].values):
                    raise ValueError(f"{dataset}/{model}: the seeds' lie files differ in {coord}")
    return runs


def lie_tables(
    paths: Sequence[str | os.PathLike], boot: Bootstrap | None = None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(lie_derivative, lie_profile) tables of the LIE files ``paths`` (module docstring), with
    cluster-bootstrap intervals (seeds, then analysis batches; ``boot``: default settings)."""
    boot = boot or Bootstrap()
    lie_rows, profile_rows = [], []
    for (dataset, model), members in sorted(_per_run(paths).items()):
        run = {"dataset": dataset, "model": model}
        # (seed, batch, direction, example)
        lie = np.stack([ds["lie_derivative"].transpose("batch", "direction", ...).values
                        for _, ds in members])  # fmt: skip
        lie = lie.reshape(*lie.shape[:3], -1)
        keys = [run | {"direction": d} for d in ("x", "y")]
        lie_rows += _rows(keys, lie, boot, f"lie/{dataset}/{model}")
        shifts = members[0][1]["shift"].values
        prof = np.stack(
            [ds["subcell_profile"].transpose("batch", "direction", "shift", ...).values
             for _, ds in members]
        )  # fmt: skip
        prof = prof.reshape(*prof.shape[:2], 2 * len(shifts), -1)
        keys = [run | {"direction": d, "shift": float(e)} for d in ("x", "y") for e in shifts]
        profile_rows += _rows(keys, prof, boot, f"lie_profile/{dataset}/{model}")
    return pd.DataFrame(lie_rows), pd.DataFrame(profile_rows)


def lie_figure(profile: pd.DataFrame, path: str | os.PathLike) -> Path:
    """``figures/subcell_profile.png``: median R(eps) and its quartile band per (dataset, model)."""
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


def write_lie(paths, tables_dir, figures_dir, boot: Bootstrap | None = None) -> list[Path]:
    """Write both tables and the figure; returns the paths written."""
    lie, profile = lie_tables(paths, boot)
    tables, written = Path(tables_dir), []
    tables.mkdir(parents=True, exist_ok=True)
    for name, df in (("lie_derivative.csv", lie), ("lie_profile.csv", profile)):
        written.append(write_atomic(tables / name, lambda tmp, df=df: df.to_csv(tmp, index=False)))
    written.append(lie_figure(profile, Path(figures_dir) / "subcell_profile.png"))
    return written
