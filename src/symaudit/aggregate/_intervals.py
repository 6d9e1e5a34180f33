"""The tables' bootstrap columns: the numbers of :mod:`._bootstrap` put beside the quantile
columns of the equivariance and influence statistics (:mod:`._tables`; docs/algorithms.md §7.1).
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from ._bootstrap import Bootstrap, note, pooled_intervals, seed_quantile_intervals

__all__ = ["QUANTILES", "Q_NAMES", "equivariance_intervals", "influence_intervals"]

#: the tables' quantiles (numpy type 7) and their column names
QUANTILES = (0.25, 0.5, 0.75)
Q_NAMES = ("q1", "median", "q3")


def _examples(da: xr.DataArray) -> np.ndarray:
    """(seed, batch, element, transition, class) -> numpy (seed, batch, element, example)."""
    v = da.transpose("seed", "batch", "element", "transition", "class").values
    return v.reshape(*v.shape[:3], -1)


def _with_intervals(stats: xr.Dataset, lohi, n_clusters, notes, confidence) -> xr.Dataset:
    """``stats`` with ``X_lo``, ``X_hi`` right after each quantile column X (``lohi``: (2,
    len(QUANTILES), *dims)), then ``n_clusters``, ``ci_confidence`` and ``ci_note``."""
    dims = stats["median"].dims
    out = {}
    for name, da in stats.data_vars.items():
        out[name] = da
        if name in Q_NAMES:
            i = Q_NAMES.index(name)
            out[f"{name}_lo"] = (dims, lohi[0, i])
            out[f"{name}_hi"] = (dims, lohi[1, i])
    out["n_clusters"] = (dims, np.asarray(n_clusters))
    out["ci_confidence"] = (dims, np.full(np.shape(n_clusters), confidence))
    out["ci_note"] = (dims, np.asarray(notes, dtype=object).reshape(np.shape(n_clusters)))
    return xr.Dataset(out, coords=stats.coords, attrs=stats.attrs)


def equivariance_intervals(
    rel: xr.DataArray, summary: xr.Dataset, per_seed: xr.Dataset, boot: Bootstrap, key: str
) -> tuple[xr.Dataset, xr.Dataset]:
    """Both equivariance tables with their bootstrap intervals (``rel`` computed, numpy)."""
    values = _examples(rel)
    lohi, n = seed_quantile_intervals(values, QUANTILES[2], QUANTILES, boot, key)
    n_seeds = np.isfinite(values).any((1, 3)).sum(0)
    summary = _with_intervals(summary, lohi, n, note(n, n_seeds, boot), boot.confidence)
    parts = [
        pooled_intervals(values[i : i + 1], QUANTILES, boot, f"{key}/seed{seed}")
        for i, seed in enumerate(rel["seed"].values)
    ]
    lohi_s = np.stack([p[0] for p in parts], axis=2)  # (2, q, seed, element)
    n_s = np.stack([p[1] for p in parts])
    notes = note(n_s, np.ones_like(n_s), boot, per_seed=True)
    per_seed = per_seed.transpose("seed", "element")
    return summary, _with_intervals(per_seed, lohi_s, n_s, notes, boot.confidence)


def influence_intervals(ds: xr.Dataset, stats: xr.Dataset, boot: Bootstrap, key: str):
    """The influence table with its bootstrap intervals (``ds`` computed, numpy)."""
    values = _examples(ds["diag"])
    lohi, n = pooled_intervals(values, QUANTILES, boot, key)
    n_seeds = np.isfinite(values).any((1, 3)).sum(0)
    return _with_intervals(stats, lohi, n, note(n, n_seeds, boot), boot.confidence)
