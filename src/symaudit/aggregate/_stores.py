"""The per-job NetCDF stores of a study: finding them, reading which job wrote each from its
attributes (:func:`symaudit.outputs.identify`, never from its path), and opening them lazily
(xarray + dask), one dataset per (dataset, model, element set).

Inputs (one file per job; formats :data:`symaudit.outputs.EQUIVARIANCE` and
:data:`symaudit.outputs.INFLUENCE`, paths :data:`symaudit.names.EQUIVARIANCE` and
:data:`symaudit.names.INFLUENCE`): the aggregation reads ``relative_error`` (element, batch,
transition, class), ``pi_std`` (element, batch, bra_transition, bra_class, ket_transition,
ket_class) and ``ket_converged`` (batch, ket_transition, ket_class); a file written before the
transition dims were named so (``time``, ``bra_time``, ``ket_time``) is read with today's names
(:func:`symaudit.outputs.upgrade_dims`).

A seed missing a chunk is opened with NaN for that chunk's elements (an outer join), so the
statistics of :mod:`._tables` skip them and their counts show it.
"""

from __future__ import annotations

import os
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from symaudit import names, outputs
from symaudit.errors import UserError
from symaudit.outputs import EXAMPLE_DIMS, KET_DIMS, PI_DIMS

from ._layout import KINDS

__all__ = [
    "EXAMPLE_DIMS",
    "StoreFile",
    "close_all",
    "discover",
    "open_equivariance",
    "open_influence",
    "parse_files",
]

#: where each kind's per-job files lie under results/{study}/: its path template, every field
#: a wildcard (only to find the files; which job wrote a file is read from its attributes)
_GLOBS = {
    kind: getattr(names, outputs.FORMATS[kind].template).format(
        dataset="*", model="*", seed="*", set="*", chunk="*"
    )
    for kind in KINDS
}


@dataclass(frozen=True, order=True)
class StoreFile:
    """One per-job NetCDF file and the job that wrote it, from the file's attributes (an
    influence file holds every analysis batch of its run along a ``batch`` dimension)."""

    kind: str
    dataset: str
    model: str
    element_set: str
    seed: int
    chunk: int
    path: Path
    #: the precision of its forward passes (:func:`symaudit.outputs.analysis_precision`)
    analysis_dtype: str = field(default="float32", compare=False)

    @classmethod
    def read(cls, path: str | os.PathLike, kind: str | None = None) -> StoreFile:
        """The file at ``path``, its job from its attributes (:func:`symaudit.outputs.read`,
        which refuses a missing, corrupt or foreign file with one line naming it)."""
        with outputs.read(path, kind) as out:
            who, precision = out.identity, outputs.analysis_precision(out.dataset.attrs)
        return cls(
            who.kind,
            who.dataset,
            who.model,
            who.element_set,
            who.seed,
            who.chunk,
            Path(path),
            precision,
        )


def discover(study_dir: str | os.PathLike, kinds: Sequence[str] = KINDS) -> list[StoreFile]:
    """All per-job stores under ``study_dir`` (= ``results/{study}``).

    Files outside the layout (``twirl.nc``) and hidden ones (an atomic write's temporary
    ``.{name}.XXXX.nc``, in progress or left by a killed job) are not looked at.
    """
    root = Path(study_dir)
    return sorted(
        StoreFile.read(p, kind)
        for kind in kinds
        for p in root.glob(_GLOBS[kind])
        if not p.name.startswith(".")
    )


def parse_files(
    study_dir: str | os.PathLike, paths: Sequence[str | os.PathLike], kinds: Sequence[str] = KINDS
) -> list[StoreFile]:
    """Exactly the given per-job stores (a workflow rule's declared inputs) of ``kinds``;
    ``twirl.nc`` files are skipped; a file that is not an equivariance or influence store is
    one :class:`~symaudit.errors.UserError` line naming it.  (``study_dir`` is not read: the
    files say which job wrote them.)"""
    found = []
    for raw in paths:
        item = StoreFile.read(raw)
        if item.kind == "twirl":
            continue
        if item.kind not in KINDS:
            raise UserError(
                f"input {raw}: a {item.kind} file, not an equivariance or influence store"
            )
        if item.kind in kinds:
            found.append(item)
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
    ds = outputs.upgrade_dims(ds)
    rel = _require(ds, "relative_error", outputs.EQUIVARIANCE.dims["relative_error"])
    return rel.to_dataset(name="relative_error")


def _influence_preprocess(ds: xr.Dataset) -> xr.Dataset:
    """Keep only the variables the tables need (per-file work is kept minimal on purpose:
    xarray's per-operation overhead, not arithmetic, dominates when there are thousands of
    small files, so the diagonal is taken once after concatenation)."""
    ds = outputs.upgrade_dims(ds)
    pi = _require(ds, "pi_std", PI_DIMS)
    sizes = pi.sizes
    square = sizes["bra_transition"] == sizes["ket_transition"]
    if not square or sizes["bra_class"] != sizes["ket_class"]:
        raise ValueError(
            f"{_source(ds)}: pi_std is not square in (transition, class): {dict(pi.sizes)}"
        )
    conv = _require(ds, "ket_converged", KET_DIMS)
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
    ``(seed, element, batch, transition, class)``.

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
        ``diag`` (seed, batch, element, transition, class) = Pi_std[g, t, b, t, b];
        ``n_unconverged`` and ``n_kets`` (seed, batch, element): ket solves of that run that did
        not converge / in total.  NaN where a (seed, batch) lacks an element.

    Each file (``seed{s}/{set}_chunk{c}.nc``) holds every analysis batch of its run along a
    ``batch`` dimension of ``pi_std`` and ``ket_converged``.  ``opened``: as for
    :func:`open_equivariance`.
    """
    ds = _open_files(files, _influence_preprocess, opened)
    pi = ds["pi_std"]
    nt, nb = pi.sizes["bra_transition"], pi.sizes["bra_class"]
    # Pointwise (vectorised) indexing with shared new dims picks Pi[g, t, b, t, b]: the
    # influence of example (t, b)'s update on the loss of its own transform g.(t, b).
    t = xr.DataArray(np.arange(nt), dims="transition")
    b = xr.DataArray(np.arange(nb), dims="class")
    diag = pi.isel(bra_transition=t, ket_transition=t, bra_class=b, ket_class=b)
    index = pi["bra_transition"].values if "bra_transition" in pi.coords else np.arange(nt)
    klass = pi["bra_class"].values if "bra_class" in pi.coords else np.arange(nb)
    diag = diag.drop_vars([c for c in diag.coords if c not in ("seed", "batch", "element")])
    diag = diag.assign_coords(
        transition=("transition", np.asarray(index)), **{"class": ("class", klass)}
    )

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
