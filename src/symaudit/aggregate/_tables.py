"""Quantile tables from the per-job stores (:mod:`._stores`), evaluated in one dask graph.

Statistics (exactly those of the reference plotting scripts, docs/algorithms.md §7; all
quantiles are numpy's default type 7, ``method="linear"``):

* **equivariance** (``err_eqv_*.jl``): for every seed, Q3 of the relative SMSE over all its
  examples (batches x transitions x classes); the table holds Q1, median and Q3 of those per-seed Q3
  values over seeds.  The per-seed Q1/median/Q3 are kept in a ``*_per_seed`` companion table.
* **influence** (``influence_*.jl``): Q1, median and Q3 of the pooled standardised diagonal
  Pi-tilde^g[t, b, t, b] over seeds x batches x examples.
* beside them (not in the reference), ``min`` and ``max`` over every value pooled (equivariance:
  all seeds x examples, per seed in the companion table; influence: as the quantiles), so an
  exact property ("the relative error is 1 for every example") can be checked, not only
  its quartiles.

Beside every quantile column X (``q1``, ``median``, ``q3``) the tables carry ``X_lo`` and ``X_hi``,
the ends of its cluster-bootstrap percentile interval (:mod:`._bootstrap`, docs/algorithms.md
§7.1), ``n_clusters`` (the (seed, batch) clusters with data) and ``ci_note`` (why an interval is
NaN, or what it does not cover; empty otherwise).  ``min``/``max`` have no interval.

Every row carries the counts its quantiles came from.  NaNs (an element missing from one
seed's chunk, a failed example) are skipped, and the counts show how many values remained.
Influence rows carry ``converged`` (False when any ket solve of any contributing
(seed, batch) did not converge) and ``n_unconverged`` (how many such solves).
"""

from __future__ import annotations

import os
import warnings
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence

import pandas as pd
import xarray as xr

from symaudit import groups

from ._bootstrap import Bootstrap
from ._intervals import Q_NAMES, QUANTILES, equivariance_intervals, influence_intervals
from ._stores import (
    EXAMPLE_DIMS,
    StoreFile,
    close_all,
    open_equivariance,
    open_influence,
)

__all__ = [
    "element_order",
    "equivariance_statistics",
    "equivariance_tables",
    "influence_statistics",
    "influence_table",
    "read_table",
]


def element_order(name: str) -> tuple[int, ...]:
    """Sort key putting elements in the order of :func:`symaudit.groups.elements`.

    D4 in the paper's order (e, r, r2, r3, s, sr, sr2, sr3), translations by (dy, dx) as the
    shift-box set is listed, then products ``h*t(dx,dy)`` by (h, dy, dx); the wrong-pairing
    ``p*g*p`` after all of these, in the same order.  Needed because an outer join of string
    coordinates sorts them lexicographically (``t(10,0)`` before ``t(2,0)``).  Boosts and
    scalings (their own sets) in the order of :data:`symaudit.groups.BOOSTS` / ``SCALES``.
    """
    k = groups.parse_transition(name)
    if isinstance(k, groups.Boost):
        listed = (k.m, k.n) in groups.BOOSTS
        return (0, 3, groups.BOOSTS.index((k.m, k.n)) if listed else len(groups.BOOSTS), k.n, k.m)
    if isinstance(k, groups.Scale):
        listed = k.alpha in groups.SCALES
        return (0, 4, groups.SCALES.index(k.alpha) if listed else len(groups.SCALES), k.alpha)
    if isinstance(k, groups.Negate):
        return (0, 5)
    g = groups.parse(name)
    h = groups.D4.index(g.d4_name)
    if (g.dx, g.dy) == (0, 0):
        key = (0, 0, h)
    elif h == 0:
        key = (1, g.dy, g.dx)
    else:
        key = (2, h, g.dy, g.dx)
    return (int(g.swap), *key)


def _compute(lazy: list):
    """Evaluate all groups in one dask graph (shared file reads, every core busy)."""
    import dask

    with warnings.catch_warnings():
        # an element missing from every run of a seed is an all-NaN slice: NaN is the answer
        warnings.filterwarnings("ignore", "All-NaN slice", RuntimeWarning)
        return dask.compute(*lazy)


# --- statistics -----------------------------------------------------------------------------


def _quantiles(da: xr.DataArray, dims: Sequence[str]) -> xr.Dataset:
    """Type-7 quantiles over ``dims`` skipping NaN, plus the count of non-NaN values."""
    da = da.chunk({d: -1 for d in dims}) if da.chunks is not None else da
    q = da.quantile(list(QUANTILES), dim=list(dims), method="linear", skipna=True)
    out = {name: q.sel(quantile=p, drop=True) for name, p in zip(Q_NAMES, QUANTILES, strict=True)}
    out["n"] = da.count(dim=list(dims))
    return xr.Dataset(out)


def _extremes(da: xr.DataArray, dims: Sequence[str]) -> dict[str, xr.DataArray]:
    """NaN-skipping min and max over ``dims`` (NaN where every value is NaN)."""
    return {"min": da.min(dim=list(dims), skipna=True), "max": da.max(dim=list(dims), skipna=True)}


def equivariance_statistics(rel: xr.DataArray) -> tuple[xr.Dataset, xr.Dataset]:
    """The reference's equivariance statistic.

    Parameters
    ----------
    rel
        Relative SMSE, dims ``(seed, element, batch, transition, class)`` (numpy- or
        dask-backed).

    Returns
    -------
    summary
        dims ``(element,)``: ``q1, median, q3`` over seeds of the per-seed Q3, ``n_seeds``
        (seeds with a finite per-seed Q3), ``n_examples`` (finite values over all seeds),
        ``n_examples_per_seed_min``, and ``min``/``max`` over all seeds x examples.
    per_seed
        dims ``(seed, element)``: per-seed ``q1, median, q3`` over the seed's examples, ``n``,
        and ``min``/``max`` over them.
    """
    per_seed = _quantiles(rel, EXAMPLE_DIMS)
    per_seed = per_seed.assign(_extremes(rel, EXAMPLE_DIMS))
    across = _quantiles(per_seed["q3"], ["seed"])
    summary = xr.Dataset(
        {
            "q1": across["q1"],
            "median": across["median"],
            "q3": across["q3"],
            "n_seeds": across["n"],
            "n_examples": per_seed["n"].sum("seed"),
            "n_examples_per_seed_min": per_seed["n"].min("seed"),
            "min": per_seed["min"].min("seed", skipna=True),
            "max": per_seed["max"].max("seed", skipna=True),
        }
    )
    return summary, per_seed


def influence_statistics(ds: xr.Dataset) -> xr.Dataset:
    """Pooled quantiles of the standardised diagonal over seeds x batches x examples.

    Parameters
    ----------
    ds
        Output of :func:`open_influence`.

    Returns
    -------
    xr.Dataset
        dims ``(element,)``: ``q1, median, q3``, ``n`` (pooled finite values), ``n_seeds``,
        ``n_batches`` ((seed, batch) pairs holding the element), ``n_unconverged`` (ket solves
        that did not converge, summed over those pairs), ``n_kets``, ``converged``, and
        ``min``/``max`` of the pooled values.
    """
    stats = _quantiles(ds["diag"], ["seed", "batch", "transition", "class"])
    present = ds["diag"].notnull().any(["transition", "class"])
    stats["n_seeds"] = present.any("batch").sum("seed")
    stats["n_batches"] = present.sum(["seed", "batch"])
    stats["n_unconverged"] = ds["n_unconverged"].where(present).sum(["seed", "batch"])
    stats["n_kets"] = ds["n_kets"].where(present).sum(["seed", "batch"])
    stats["converged"] = stats["n_unconverged"] == 0
    return stats.assign(_extremes(ds["diag"], ["seed", "batch", "transition", "class"]))


# --- tables ---------------------------------------------------------------------------------

_INT_COLUMNS = (
    "n",
    "n_seeds",
    "n_examples",
    "n_examples_per_seed_min",
    "n_batches",
    "n_unconverged",
    "n_kets",
    "n_clusters",
)


def _element_columns(names) -> dict[str, list]:
    """The columns describing each element: dx, dy, rotate, reflect for D4 x translations;
    boost_x, boost_y (the boost's m, n: cells per frame) for boosts; alpha for scalings;
    negate (0 for e, 1 for neg) for the negation set."""
    elements = [groups.parse_transition(e) for e in names]
    if any(isinstance(g, groups.Negate) for g in elements):
        return {"negate": [int(isinstance(g, groups.Negate)) for g in elements]}
    if elements and all(isinstance(g, groups.Boost) for g in elements):
        return {"boost_x": [g.m for g in elements], "boost_y": [g.n for g in elements]}
    if elements and all(isinstance(g, groups.Scale) for g in elements):
        return {"alpha": [g.alpha for g in elements]}
    elements = [groups.parse(e) for e in names]
    return {
        "dx": [g.dx for g in elements],
        "dy": [g.dy for g in elements],
        "rotate": [g.rotate for g in elements],
        "reflect": [g.reflect for g in elements],
    }


def _frame(stats: xr.Dataset, dataset: str, model: str, element_set: str) -> pd.DataFrame:
    df = stats.to_dataframe().reset_index()
    head = pd.DataFrame(
        {
            "dataset": dataset,
            "model": model,
            "element_set": element_set,
            "element": df["element"].astype(str),
            **_element_columns(df["element"].astype(str)),
        }
    )
    body = df.drop(columns=["element"])
    for col in _INT_COLUMNS:
        if col in body:
            body[col] = body[col].fillna(0).astype("int64")
    return pd.concat([head, body], axis=1)


def _stack(frames: list[pd.DataFrame], by: Sequence[str] = ()) -> pd.DataFrame:
    """The frames as one table sorted by dataset, model, ``by`` and element order."""
    if not frames:
        return pd.DataFrame()
    df = pd.concat(frames, ignore_index=True)
    key = df["element"].map(element_order)
    df = df.assign(_key=key).sort_values(["dataset", "model", *by, "_key"], kind="stable")
    return df.drop(columns="_key").reset_index(drop=True)


def _by_group(
    files: Iterable[StoreFile], kind: str, element_set: str, statistic: Callable
) -> list[tuple[tuple[str, str], object]]:
    """``((dataset, model), statistic(opened view))`` for every (dataset, model) among the
    ``kind`` files of ``element_set``, in sorted order, all evaluated in one dask graph and
    the files closed afterwards."""
    opener = open_equivariance if kind == "equivariance" else open_influence
    grouped: dict[tuple[str, str], list[StoreFile]] = defaultdict(list)
    for f in files:
        if f.kind == kind and f.element_set == element_set:
            grouped[f.dataset, f.model].append(f)
    keys = sorted(grouped)
    opened: list = []
    try:
        computed = _compute([statistic(opener(grouped[k], opened)) for k in keys])
    finally:
        close_all(opened)
    return list(zip(keys, computed, strict=True))


def _and_view(statistic: Callable) -> Callable:
    """``view -> (statistic(view), view)``: the data come back computed for the bootstrap."""
    return lambda view: (statistic(view), view)


def _precisions(
    files: Iterable[StoreFile], kind: str, element_set: str
) -> dict[tuple[str, str], str]:
    """(dataset, model) -> the precision of its ``kind`` files' forward passes (influence:
    the bras'); files of mixed precision: the lowest (the findings' tolerance must hold for
    every file)."""
    found: dict[tuple[str, str], set[str]] = defaultdict(set)
    for f in files:
        if f.kind == kind and f.element_set == element_set:
            found[f.dataset, f.model].add(f.analysis_dtype)
    bits = {"float64": 64, "float32": 32}
    return {k: min(v, key=lambda p: bits.get(p, 0)) for k, v in found.items()}


def equivariance_tables(
    files: Sequence[StoreFile], element_set: str, boot: Bootstrap | None = None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(summary, per-seed) tables of one element set over every (dataset, model) in ``files``,
    with bootstrap intervals (``boot``; default settings if None) and ``analysis_dtype``, the
    precision of the forward passes (config ``analysis.dtype``; :func:`_precisions`)."""
    boot = boot or Bootstrap()
    results = _by_group(files, "equivariance", element_set, _and_view(equivariance_statistics))
    precision = _precisions(files, "equivariance", element_set)
    summaries, per_seeds = [], []
    for (d, m), ((summary, per_seed), rel) in results:
        key = f"equivariance/{element_set}/{d}/{m}"
        summary, per_seed = equivariance_intervals(rel, summary, per_seed, boot, key)
        summaries.append(_frame(summary, d, m, element_set).assign(analysis_dtype=precision[d, m]))
        per_seeds.append(_frame(per_seed, d, m, element_set).assign(analysis_dtype=precision[d, m]))
    return _stack(summaries), _stack(per_seeds, by=["seed"])


def influence_table(
    files: Sequence[StoreFile], element_set: str, boot: Bootstrap | None = None
) -> pd.DataFrame:
    """Pooled-diagonal influence table of one element set over every (dataset, model), with
    bootstrap intervals (``boot``; default settings if None) and ``analysis_dtype``, the
    precision of the bras (config ``analysis.dtype``; :func:`_precisions`)."""
    boot = boot or Bootstrap()
    results = _by_group(files, "influence", element_set, _and_view(influence_statistics))
    precision = _precisions(files, "influence", element_set)
    frames = [
        _frame(
            influence_intervals(ds, s, boot, f"influence/{element_set}/{d}/{m}"), d, m, element_set
        ).assign(analysis_dtype=precision[d, m])
        for (d, m), (s, ds) in results
    ]
    df = _stack(frames)
    if not df.empty:
        df["converged"] = df["converged"].astype(bool)
    return df


def read_table(path: str | os.PathLike) -> pd.DataFrame:
    """Read a table CSV written by :func:`aggregate` with the right dtypes."""
    df = pd.read_csv(path, dtype={"element": str, "dataset": str, "model": str, "ci_note": str})
    if "ci_note" in df:  # an empty note is "" (the CSV's empty field), not NaN
        df["ci_note"] = df["ci_note"].fillna("")
    return df
