"""Quantile tables from the per-job NetCDF stores (xarray + dask, opened lazily).

Inputs (one file per job, written by the equivariance and influence stages)::

    {study}/equivariance/{dataset}/{model}/seed{s}/{set}_chunk{c:03d}.nc
        relative_error (element, batch, time, class)
    {study}/influence/{dataset}/{model}/seed{s}/{set}_chunk{c:03d}.nc
        pi_std (element, batch, bra_time, bra_class, ket_time, ket_class),
        ket_converged (batch, ket_time, ket_class)

Statistics (exactly those of the reference plotting scripts, docs/algorithms.md §7; all
quantiles are numpy's default type 7, ``method="linear"``):

* **equivariance** (``err_eqv_*.jl``): for every seed, Q3 of the relative SMSE over all its
  examples (batches x times x classes); the table holds Q1, median and Q3 of those per-seed Q3
  values over seeds.  The per-seed Q1/median/Q3 are kept in a ``*_per_seed`` companion table.
* **influence** (``influence_*.jl``): Q1, median and Q3 of the pooled standardised diagonal
  Pi-tilde^g[t, b, t, b] over seeds x batches x examples.
* beside them (not in the reference), ``min`` and ``max`` over every value pooled (equivariance:
  all seeds x examples, per seed in the companion table; influence: as the quantiles), so an
  exact property ("the relative error is 1 for every example") can be checked, not only
  its quartiles.

Every row carries the counts its quantiles came from.  NaNs (an element missing from one
seed's chunk, a failed example) are skipped, and the counts show how many values remained.
Influence rows carry ``converged`` (False when any ket solve of any contributing
(seed, batch) did not converge) and ``n_unconverged`` (how many such solves).
"""

from __future__ import annotations

import logging
import os
import re
import warnings
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from symaudit import groups

from ._io import write_atomic
from ._layout import ELEMENT_SETS, KINDS, TABLE_SUFFIXES, table_stem

__all__ = [
    "StoreFile",
    "aggregate",
    "close_all",
    "discover",
    "element_order",
    "equivariance_statistics",
    "equivariance_tables",
    "influence_statistics",
    "influence_table",
    "open_equivariance",
    "open_influence",
    "read_table",
]

QUANTILES = (0.25, 0.5, 0.75)
_Q_NAMES = ("q1", "median", "q3")
EXAMPLE_DIMS = ("batch", "time", "class")

_SET = "|".join(ELEMENT_SETS)
_PATTERNS = {
    kind: re.compile(
        rf"^{kind}/(?P<dataset>[^/]+)/(?P<model>[^/]+)/seed(?P<seed>\d+)/"
        rf"(?P<element_set>{_SET})_chunk(?P<chunk>\d+)\.nc$"
    )
    for kind in KINDS
}
_GLOBS = {kind: f"{kind}/*/*/seed*/*_chunk*.nc" for kind in KINDS}


@dataclass(frozen=True, order=True)
class StoreFile:
    """One per-job NetCDF file and what its path says about it (an influence file holds
    every analysis batch of its run along a ``batch`` dimension)."""

    kind: str
    dataset: str
    model: str
    element_set: str
    seed: int
    chunk: int
    path: Path


def discover(study_dir: str | os.PathLike, kinds: Sequence[str] = KINDS) -> list[StoreFile]:
    """All per-job stores under ``study_dir`` (= ``results/{study}``), parsed from their paths.

    Files that do not match the layout (``twirl.nc``, temporary files) are ignored.
    """
    root = Path(study_dir)
    found = []
    for kind in kinds:
        for path in root.glob(_GLOBS[kind]):
            item = _parse(root, path, kind)
            if item is not None:
                found.append(item)
    return sorted(found)


def _parse(root: Path, path: Path, kind: str) -> StoreFile | None:
    m = _PATTERNS[kind].match(path.relative_to(root).as_posix())
    if m is None:
        return None
    g = m.groupdict()
    return StoreFile(
        kind,
        g["dataset"],
        g["model"],
        g["element_set"],
        int(g["seed"]),
        int(g["chunk"]),
        path,
    )


def parse_files(
    study_dir: str | os.PathLike, paths: Sequence[str | os.PathLike], kinds: Sequence[str] = KINDS
) -> list[StoreFile]:
    """Exactly the given per-job stores (a workflow rule's declared inputs), parsed from their
    paths under ``study_dir``; ``twirl.nc`` files are skipped; any other path is an error."""
    root = Path(study_dir).resolve()
    found = []
    for raw in paths:
        path = Path(raw).resolve()
        if path.name == "twirl.nc":
            continue
        if not path.is_relative_to(root):
            raise ValueError(f"input {raw} is not under the study directory {study_dir}")
        parsed = [f for f in (_parse(root, path, k) for k in KINDS) if f is not None]
        if not parsed:
            raise ValueError(f"input {raw} is not a per-job equivariance or influence store")
        if parsed[0].kind in kinds:
            if not path.exists():
                raise FileNotFoundError(f"input {raw} does not exist")
            found.append(parsed[0])
    return sorted(found)


def element_order(name: str) -> tuple[int, ...]:
    """Sort key putting elements in the order of :func:`symaudit.groups.elements`.

    D4 in the paper's order (e, r, r2, r3, s, sr, sr2, sr3), translations by (dy, dx) as the
    shift-box set is listed, then products ``h*t(dx,dy)`` by (h, dy, dx); the wrong-pairing
    ``p*g*p`` after all of these, in the same order.  Needed because an outer join of string
    coordinates sorts them lexicographically (``t(10,0)`` before ``t(2,0)``).
    """
    g = groups.parse(name)
    h = groups.D4.index(g.d4_name)
    if (g.dx, g.dy) == (0, 0):
        key = (0, 0, h)
    elif h == 0:
        key = (1, g.dy, g.dx)
    else:
        key = (2, h, g.dy, g.dx)
    return (int(g.swap), *key)


# --- lazy opening ---------------------------------------------------------------------------


def _source(ds: xr.Dataset) -> str:
    return str(ds.encoding.get("source", "<unknown file>"))


def _require(ds: xr.Dataset, var: str, dims: Iterable[str]) -> xr.DataArray:
    if var not in ds:
        raise ValueError(f"{_source(ds)}: no variable {var!r} (has: {', '.join(ds.data_vars)})")
    missing = set(dims) - set(ds[var].dims)
    if missing:
        raise ValueError(
            f"{_source(ds)}: variable {var!r} has dims {ds[var].dims}, missing {sorted(missing)}"
        )
    if "element" not in ds.coords:
        raise ValueError(f"{_source(ds)}: no 'element' coordinate (element names)")
    return ds[var]


def _equivariance_preprocess(ds: xr.Dataset) -> xr.Dataset:
    rel = _require(ds, "relative_error", ("element",) + EXAMPLE_DIMS)
    return rel.to_dataset(name="relative_error")


_PI_DIMS = ("element", "batch", "bra_time", "bra_class", "ket_time", "ket_class")


def _influence_preprocess(ds: xr.Dataset) -> xr.Dataset:
    """Keep only the variables the tables need (per-file work is kept minimal on purpose:
    xarray's per-operation overhead, not arithmetic, dominates when there are thousands of
    small files, so the diagonal is taken once after concatenation)."""
    pi = _require(ds, "pi_std", _PI_DIMS)
    sizes = pi.sizes
    if sizes["bra_time"] != sizes["ket_time"] or sizes["bra_class"] != sizes["ket_class"]:
        raise ValueError(f"{_source(ds)}: pi_std is not square in (time, class): {dict(pi.sizes)}")
    conv = _require(ds, "ket_converged", ("batch", "ket_time", "ket_class"))
    # float, not bool: the outer join across runs fills missing elements with NaN
    return xr.Dataset({"pi_std": pi, "ket_unconverged": (~conv.astype(bool)).astype("float64")})


_MF_OPTIONS = dict(
    combine="nested",
    data_vars="all",  # every variable gets an element dim: carries a file's kets to its elements
    coords="minimal",
    compat="override",
    join="outer",
    chunks={},  # one dask chunk per file
    parallel=False,
    combine_attrs="drop",
)


def _open_files(files: Sequence[StoreFile], preprocess, opened: list | None) -> xr.Dataset:
    """Open one (dataset, model, set)'s files lazily as ONE dataset with dims
    ``(seed, element, ...)``, concatenating chunks along ``element`` in chunk order.

    A regular layout (every seed has the same chunks) is opened with a single nested
    :func:`xarray.open_mfdataset`, about half the overhead of concatenating seed by seed; a
    ragged one (a seed missing a chunk) falls back to an outer join over seeds, so the missing
    elements become NaN for that seed, and the quantiles skip them and the counts show it.
    """
    runs: dict[int, dict[int, Path]] = defaultdict(dict)
    for f in files:
        runs[f.seed][f.chunk] = f.path
    seeds = sorted(runs)
    chunk_sets = {tuple(sorted(c)) for c in runs.values()}
    if len(chunk_sets) == 1:
        chunks = next(iter(chunk_sets))
        nested = [[str(runs[s][c]) for c in chunks] for s in seeds]
        ds = xr.open_mfdataset(
            nested, concat_dim=["seed", "element"], preprocess=preprocess, **_MF_OPTIONS
        )
        if opened is not None:
            opened.append(ds)
        return ds.assign_coords(seed=seeds)
    per_seed = []
    for s in seeds:
        paths = [str(runs[s][c]) for c in sorted(runs[s])]
        ds = xr.open_mfdataset(paths, concat_dim="element", preprocess=preprocess, **_MF_OPTIONS)
        if opened is not None:
            opened.append(ds)
        per_seed.append(ds)
    # join="outer": a seed missing a chunk gets NaN for those elements.
    return xr.concat(
        per_seed,
        dim=pd.Index(seeds, name="seed"),
        join="outer",
        data_vars="all",
        coords="minimal",
        compat="override",
        fill_value=np.nan,
    )


def open_equivariance(files: Sequence[StoreFile], opened: list | None = None) -> xr.DataArray:
    """Relative errors of one (dataset, model, element set), lazily: dims
    ``(seed, element, batch, time, class)``.

    ``opened``, if given, collects the underlying datasets; close them (:func:`close_all`)
    once the result is computed.  Keeping files open after use is not just a leak: with
    netCDF-C/HDF5 2.x, re-opening a file that a lazy dataset still holds can segfault.
    """
    ds = _open_files(files, _equivariance_preprocess, opened)
    return ds["relative_error"].transpose("seed", "element", *EXAMPLE_DIMS)


def open_influence(files: Sequence[StoreFile], opened: list | None = None) -> xr.Dataset:
    """Standardised diagonal influence of one (dataset, model, element set), lazily.

    Returns
    -------
    xr.Dataset
        ``diag`` (seed, batch, element, time, class) = Pi_std[g, t, b, t, b];
        ``n_unconverged`` and ``n_kets`` (seed, batch, element): ket solves of that run that did
        not converge / in total.  NaN where a (seed, batch) lacks an element.

    Each file (``seed{s}/{set}_chunk{c}.nc``) holds every analysis batch of its run along a
    ``batch`` dimension of ``pi_std`` and ``ket_converged``.  ``opened``: as for
    :func:`open_equivariance`.
    """
    ds = _open_files(files, _influence_preprocess, opened)
    pi = ds["pi_std"]
    nt, nb = pi.sizes["bra_time"], pi.sizes["bra_class"]
    # Pointwise (vectorised) indexing with shared new dims picks Pi[g, t, b, t, b]: the
    # influence of example (t, b)'s update on the loss of its own transform g.(t, b).
    t = xr.DataArray(np.arange(nt), dims="time")
    b = xr.DataArray(np.arange(nb), dims="class")
    diag = pi.isel(bra_time=t, ket_time=t, bra_class=b, ket_class=b)
    time = pi["bra_time"].values if "bra_time" in pi.coords else np.arange(nt)
    klass = pi["bra_class"].values if "bra_class" in pi.coords else np.arange(nb)
    diag = diag.drop_vars([c for c in diag.coords if c not in ("seed", "batch", "element")])
    diag = diag.assign_coords(time=("time", np.asarray(time)), **{"class": ("class", klass)})

    bad = ds["ket_unconverged"]
    ket_dims = [d for d in bad.dims if d not in ("seed", "batch", "element")]
    # Every element of a (seed, batch) shares its ket solves, so each element inherits the count
    # of its run (NaN stays NaN for a run that lacks the element).
    n_bad = bad.sum(ket_dims, skipna=False)
    n_kets = bad.notnull().sum(ket_dims).where(n_bad.notnull())
    out = xr.Dataset({"diag": diag, "n_unconverged": n_bad, "n_kets": n_kets})
    return out.transpose("seed", "batch", "element", ...)


def _compute(lazy: list):
    """Evaluate all groups in one dask graph (shared file reads, every core busy)."""
    import dask

    with warnings.catch_warnings():
        # an element missing from every run of a seed is an all-NaN slice: NaN is the answer
        warnings.filterwarnings("ignore", "All-NaN slice", RuntimeWarning)
        return dask.compute(*lazy)


def close_all(opened: list) -> None:
    """Close the files behind the datasets collected by the ``opened`` lists."""
    while opened:
        opened.pop().close()


# --- statistics -----------------------------------------------------------------------------


def _quantiles(da: xr.DataArray, dims: Sequence[str]) -> xr.Dataset:
    """Type-7 quantiles over ``dims`` skipping NaN, plus the count of non-NaN values."""
    da = da.chunk({d: -1 for d in dims}) if da.chunks is not None else da
    q = da.quantile(list(QUANTILES), dim=list(dims), method="linear", skipna=True)
    out = {name: q.sel(quantile=p, drop=True) for name, p in zip(_Q_NAMES, QUANTILES, strict=True)}
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
        Relative SMSE, dims ``(seed, element, batch, time, class)`` (numpy- or dask-backed).

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
    stats = _quantiles(ds["diag"], ["seed", "batch", "time", "class"])
    present = ds["diag"].notnull().any(["time", "class"])
    stats["n_seeds"] = present.any("batch").sum("seed")
    stats["n_batches"] = present.sum(["seed", "batch"])
    stats["n_unconverged"] = ds["n_unconverged"].where(present).sum(["seed", "batch"])
    stats["n_kets"] = ds["n_kets"].where(present).sum(["seed", "batch"])
    stats["converged"] = stats["n_unconverged"] == 0
    return stats.assign(_extremes(ds["diag"], ["seed", "batch", "time", "class"]))


# --- tables ---------------------------------------------------------------------------------

_INT_COLUMNS = (
    "n",
    "n_seeds",
    "n_examples",
    "n_examples_per_seed_min",
    "n_batches",
    "n_unconverged",
    "n_kets",
)


def _frame(stats: xr.Dataset, dataset: str, model: str, element_set: str) -> pd.DataFrame:
    df = stats.to_dataframe().reset_index()
    elements = [groups.parse(e) for e in df["element"]]
    head = pd.DataFrame(
        {
            "dataset": dataset,
            "model": model,
            "element_set": element_set,
            "element": df["element"].astype(str),
            "dx": [g.dx for g in elements],
            "dy": [g.dy for g in elements],
            "rotate": [g.rotate for g in elements],
            "reflect": [g.reflect for g in elements],
        }
    )
    body = df.drop(columns=["element"])
    for col in _INT_COLUMNS:
        if col in body:
            body[col] = body[col].fillna(0).astype("int64")
    return pd.concat([head, body], axis=1)


def _sorted(df: pd.DataFrame, by: Sequence[str] = ()) -> pd.DataFrame:
    if df.empty:
        return df
    key = df["element"].map(element_order)
    df = df.assign(_key=key).sort_values(["dataset", "model", *by, "_key"], kind="stable")
    return df.drop(columns="_key").reset_index(drop=True)


def _groups(files: Iterable[StoreFile]) -> dict[tuple[str, str], list[StoreFile]]:
    out: dict[tuple[str, str], list[StoreFile]] = defaultdict(list)
    for f in files:
        out[f.dataset, f.model].append(f)
    return dict(sorted(out.items()))


def equivariance_tables(
    files: Sequence[StoreFile], element_set: str
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(summary, per-seed) tables of one element set over every (dataset, model) in ``files``."""
    files = [f for f in files if f.kind == "equivariance" and f.element_set == element_set]
    keys, lazy, opened = [], [], []
    try:
        for key, members in _groups(files).items():
            keys.append(key)
            lazy.append(equivariance_statistics(open_equivariance(members, opened)))
        computed = _compute(lazy)
    finally:
        close_all(opened)
    summary = [_frame(s, d, m, element_set) for (d, m), (s, _) in zip(keys, computed, strict=True)]
    seeds = [_frame(p, d, m, element_set) for (d, m), (_, p) in zip(keys, computed, strict=True)]
    empty = pd.DataFrame()
    return (
        _sorted(pd.concat(summary, ignore_index=True) if summary else empty),
        _sorted(pd.concat(seeds, ignore_index=True) if seeds else empty, by=["seed"]),
    )


def influence_table(files: Sequence[StoreFile], element_set: str) -> pd.DataFrame:
    """Pooled-diagonal influence table of one element set over every (dataset, model)."""
    files = [f for f in files if f.kind == "influence" and f.element_set == element_set]
    keys, lazy, opened = [], [], []
    try:
        for key, members in _groups(files).items():
            keys.append(key)
            lazy.append(influence_statistics(open_influence(members, opened)))
        computed = _compute(lazy)
    finally:
        close_all(opened)
    frames = [_frame(s, d, m, element_set) for (d, m), s in zip(keys, computed, strict=True)]
    df = _sorted(pd.concat(frames, ignore_index=True) if frames else pd.DataFrame())
    if not df.empty:
        df["converged"] = df["converged"].astype(bool)
    return df


_ATTRS = {
    "equivariance": {
        "statistic": "Q1/median/Q3 over seeds of the per-seed Q3 of the relative SMSE "
        "SMSE(f(g.x), g.y) / SMSE(f(x), y) over all examples (batches x times x classes)",
        "quantile_method": "numpy type 7 (linear)",
        "extremes": "min/max of the relative SMSE over all seeds x examples",
    },
    "equivariance_per_seed": {
        "statistic": "per-seed Q1/median/Q3 (and min/max) of the relative SMSE over the seed's "
        "examples",
        "quantile_method": "numpy type 7 (linear)",
    },
    "influence": {
        "statistic": "Q1/median/Q3 of the pooled standardised diagonal influence "
        "Pi_std^g[t,b,t,b] over seeds x batches x examples",
        "quantile_method": "numpy type 7 (linear)",
        "converged": "1 when every ket solve behind the element converged, else 0",
        "extremes": "min/max of the pooled standardised diagonal",
    },
}


def _to_netcdf(df: pd.DataFrame, kind: str, element_set: str, path: Path) -> None:
    """The table as a gridded Dataset: dims (dataset, model, [seed,] element)."""
    index = ["dataset", "model", *(["seed"] if "seed" in df else []), "element"]
    per_element = ["dx", "dy", "rotate", "reflect"]
    body = df.drop(columns=["element_set", *per_element])
    if "converged" in body:
        body["converged"] = body["converged"].astype("int8")
    ds = body.set_index(index).to_xarray()
    order = sorted(df["element"].unique(), key=element_order)
    ds = ds.reindex(element=order)
    first = df.drop_duplicates("element").set_index("element").loc[order]
    ds = ds.assign_coords({c: ("element", first[c].to_numpy()) for c in per_element})
    for name in ds.data_vars:
        if name.startswith("n") or name == "converged":  # counts: missing combos count 0
            ds[name] = ds[name].fillna(0).astype("int64" if name != "converged" else "int8")
    ds.attrs = {"element_set": element_set, **_ATTRS[kind]}
    ds.to_netcdf(path)


def _write_table(df: pd.DataFrame, out_dir: Path, stem: str, kind: str, element_set: str):
    written = []
    for suffix in TABLE_SUFFIXES:
        path = out_dir / f"{stem}{suffix}"
        if suffix == ".csv":
            write_atomic(path, lambda tmp: df.to_csv(tmp, index=False))
        else:
            write_atomic(path, lambda tmp: _to_netcdf(df, kind, element_set, tmp))
        written.append(path)
    return written


def aggregate(
    study_dir: str | os.PathLike,
    out_dir: str | os.PathLike,
    element_sets: Sequence[str] | None = None,
    kinds: Sequence[str] = KINDS,
    require: bool = False,
    inputs: Sequence[str | os.PathLike] | None = None,
) -> list[Path]:
    """Write every quantile table of a study; returns the paths written.

    Parameters
    ----------
    study_dir
        ``results/{study}``.
    out_dir
        Where the tables go (``results/{study}/tables``).
    element_sets
        Sets to aggregate; default: every set with inputs.
    kinds
        ``equivariance`` and/or ``influence``.
    require
        Raise :class:`FileNotFoundError` when a requested (kind, set) has no input files
        (the workflow passes this so a missing stage cannot yield a silently absent table).
    inputs
        Exactly the per-job stores to read (the workflow's declared inputs); default: every
        store found under ``study_dir``, leftovers of earlier configurations included.
    """
    files = discover(study_dir, kinds) if inputs is None else parse_files(study_dir, inputs, kinds)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    sets = (
        list(element_sets)
        if element_sets is not None
        else sorted({f.element_set for f in files}, key=ELEMENT_SETS.index)
    )
    written: list[Path] = []
    for name in sets:
        for kind in kinds:
            members = [f for f in files if f.kind == kind and f.element_set == name]
            if not members:
                if require:
                    raise FileNotFoundError(
                        f"no {kind} stores for element set {name!r} under {study_dir}"
                    )
                continue
            if kind == "equivariance":
                summary, per_seed = equivariance_tables(members, name)
                written += _write_table(summary, out, table_stem(kind, name), kind, name)
                stem = table_stem(kind, name, per_seed=True)
                written += _write_table(per_seed, out, stem, "equivariance_per_seed", name)
            else:
                table = influence_table(members, name)
                written += _write_table(table, out, table_stem(kind, name), kind, name)
                bad = table[~table["converged"]]
                for (d, m), rows in bad.groupby(["dataset", "model"]):
                    logging.getLogger("symaudit.aggregate").warning(
                        f"{kind} {name} {d}/{m}: {len(rows)} element(s) rest on ket "
                        f"solves that did not converge (column 'converged')"
                    )
    return written


def read_table(path: str | os.PathLike) -> pd.DataFrame:
    """Read a table CSV written by :func:`aggregate` with the right dtypes."""
    return pd.read_csv(path, dtype={"element": str, "dataset": str, "model": str})
