"""The per-job NetCDF stores of a study: finding them by path and opening them lazily (xarray +
dask), one dataset per (dataset, model, element set).

Inputs (one file per job, written by the equivariance and influence stages)::

    {study}/equivariance/{dataset}/{model}/seed{s}/{set}_chunk{c:03d}.nc
        relative_error (element, batch, time, class)
    {study}/influence/{dataset}/{model}/seed{s}/{set}_chunk{c:03d}.nc
        pi_std (element, batch, bra_time, bra_class, ket_time, ket_class),
        ket_converged (batch, ket_time, ket_class)

A seed missing a chunk is opened with NaN for that chunk's elements (an outer join), so the
statistics of :mod:`._tables` skip them and their counts show it.
"""

from __future__ import annotations

import os
import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from ._layout import ELEMENT_SETS, KINDS

__all__ = [
    "EXAMPLE_DIMS",
    "StoreFile",
    "close_all",
    "discover",
    "open_equivariance",
    "open_influence",
    "parse_files",
]

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


def close_all(opened: list) -> None:
    """Close the files behind the datasets collected by the ``opened`` lists."""
    while opened:
        opened.pop().close()
