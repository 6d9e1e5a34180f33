"""PDEGym netCDF chunk files -> a symaudit Zarr store, with self-checks that decide the axis
convention from the data.

Input (docs/data.md §1.1): one or several PDEGym chunk files (``data_0.nc``, ``data_1.nc``, ... or
``velocity_*.nc``), each holding ONE float variable with dims ``(sample, time, channel, x, y)``,
found by NAME (aliases and an override: ``symaudit.dims``, docs/data.md §1.4), in any order:

* CE families (variable ``data``): 5 primitive channels ``[rho, u, v, p, E]``;
* NS families (variable ``velocity``): ``[u, v(, tracer)]``; the tracer is ignored.

Output: a store (``symaudit.store``) with ``fields`` of layout ``(trajectory, time, channel, y,
x)``, float32; CE channels ``[rho, rho*u, rho*v, E]`` (conservative; p is dropped), NS channels
``[u, v]``.  Trajectories are the files' samples concatenated in chunk order (``numeric``:
by the integer in the file name, ``lexicographic``: plain string sort, as PDEGym's
``assemble_data.py`` does; docs/data.md §1.1).

Why the self-checks.  Nothing in the files says along which spatial axis the velocity component
``u`` points: the dims are merely *named* x and y, and the reference code may pair them the
wrong way (docs/algorithms.md §8).  A wrong pairing turns half of D4 into "symmetry + v -> -v",
which is exactly the kind of failure the study measures, so the ingester decides the pairing from
physics on the first K trajectories of every file (docs/data.md §1.3) and refuses to guess:

* NS: spectral divergence of (u, v) under both pairings; the right one is ~1e-6 (float32).
* CE: mass continuity ``d_t rho + div(rho v) = 0`` under both pairings, plus the ideal-gas EOS
  ``E = p/(gamma-1) + rho|v|^2/2`` (gamma = 1.4), which checks the channel order.
* Both: the duplicated-endpoint check ``max|f[..., 0] - f[..., -1]|`` per spatial axis.

The netCDF axis paired with ``u`` becomes ``x`` (the LAST store axis); the other becomes ``y``.
So the stored array is the netCDF one with the spatial axes swapped when u goes with the netCDF
dim called ``x`` (axis 3), and unchanged when u goes with the dim called ``y`` (axis 4, the
pairing the lanl/PDEHats reference assumes).  Decision and figures go to attrs
``axis_convention``.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path

import numpy as np

from symaudit import datasets
from symaudit.data._axis_check import (
    _endpoint_decision,
    _self_check,
    continuity_residuals,
    divergence_residuals,
    endpoint_gaps,
    eos_sums,
)
from symaudit.data._pdegym import (
    CE,
    DUPLICATE_TOLERANCE,
    ENDPOINTS,
    INGESTER_VERSION,
    ORDERS,
    THRESHOLDS,
    X_AXES,
    SourceFile,
    _check_consistent,
    _one_line,
    _open,
    _read,
    _variable,
    inspect_file,
    order_files,
    to_store_layout,
)
from symaudit.store import Store, StoreBuilder, git_revision

__all__ = [
    "INGESTER_VERSION",
    "ENDPOINTS",
    "ORDERS",
    "THRESHOLDS",
    "X_AXES",
    "SourceFile",
    "continuity_residuals",
    "divergence_residuals",
    "endpoint_gaps",
    "eos_sums",
    "inspect_file",
    "ingest",
    "order_files",
    "to_store_layout",
]

# --------------------------------------------------------------------------------------------
# streaming


def _drop_endpoint(raw: np.ndarray, src: SourceFile, start: int) -> np.ndarray:
    """Drop the duplicated last grid point of both spatial axes of raw samples ``(sample, time,
    channel, a, b)`` after checking that every sample really repeats its first point there (the
    self-check only saw the first K samples of each file)."""
    for i in range(raw.shape[0]):
        gaps = endpoint_gaps(raw[i : i + 1])
        for dim, gap in gaps.items():
            if gap > DUPLICATE_TOLERANCE:
                raise ValueError(
                    f"{src.path}: trajectory {start + i} (sample index in this file) does not "
                    f"repeat its first grid point at the end of netCDF dim {dim!r} (relative "
                    f"gap {gap:.3g} > {DUPLICATE_TOLERANCE:g}) although the first checked "
                    "trajectories do; refusing to drop a grid point that holds data"
                )
    return raw[..., :-1, :-1]


def _stream(
    sources: Sequence[SourceFile],
    pde: str,
    shard: int,
    x_axis: str,
    progress: Callable[[str], None],
    drop_endpoint: bool = False,
) -> Iterator[tuple[int, np.ndarray]]:
    """Yield ``(start, block)`` shard-aligned store blocks ``(trajectory, time, channel, y, x)``
    of ``shard`` trajectories (the last one may be shorter), reading at most ``shard`` samples
    at a time so a 5 GB chunk file is never loaded whole; blocks straddle file boundaries.
    ``drop_endpoint`` drops the duplicated last point of both spatial axes."""
    pending: list[np.ndarray] = []
    count = start = 0
    for src in sources:
        with _open(src.path) as ds:
            var = _variable(ds, src)
            for s0 in range(0, src.n_samples, shard):
                s1 = min(s0 + shard, src.n_samples)
                raw = _read(var, src, pde, s0, s1)
                if drop_endpoint:
                    raw = _drop_endpoint(raw, src, s0)
                pending.append(to_store_layout(raw, pde, x_axis))
                count += s1 - s0
                while count >= shard:
                    block = np.concatenate(pending) if len(pending) > 1 else pending[0]
                    yield start, block[:shard]
                    pending = [block[shard:]] if len(block) > shard else []
                    start += shard
                    count -= shard
        progress(f"read {src.path} ({src.n_samples} trajectories)")
    if count:
        yield start, np.concatenate(pending)


# --------------------------------------------------------------------------------------------
# the entry point


def ingest(
    files: Sequence[str | os.PathLike],
    family: str,
    out: str | os.PathLike,
    order: str = "numeric",
    check_trajectories: int = 8,
    x_axis: str = "auto",
    shard: int | None = None,
    thresholds: Mapping[str, float] | None = None,
    progress: Callable[[str], None] | None = None,
    endpoint: str = "drop",
    dims: Mapping[str, str] | str | None = None,
) -> Store:
    """Ingest PDEGym chunk files of ``family`` into the store ``out`` and return it.

    Parameters
    ----------
    files
        netCDF chunk files, variable ``data`` (CE, ``(sample, time, 5, x, y)`` primitive
        ``[rho, u, v, p, E]``) or ``velocity`` (NS, ``(sample, time, >= 2, x, y)``, ``[u, v,
        (tracer)]``), all with the same frame shape.
    family
        ``CE-RP``, ``CE-CRP``, ``CE-RPUI``, ``NS-BB``, ``NS-Gauss`` or ``NS-Sines``.
    out
        ``PATH.zarr``; written atomically; an existing store there is replaced, anything else
        existing there is refused.
    order
        ``numeric`` (by chunk number) or ``lexicographic`` (string sort, as
        ``assemble_data.py``); recorded in provenance.
    check_trajectories
        K: the self-checks use the first K samples of EVERY file (every chunk is checked, so a
        file with a different convention cannot slip through).
    x_axis
        ``auto`` decides from the data (and fails when the evidence is ambiguous); ``x`` or
        ``y`` force the netCDF dim taken as x (the figures are still recorded).
    shard
        Trajectories per store shard (default: about 32 MiB).
    thresholds
        Overrides of ``THRESHOLDS[pde]`` (``max_best``, ``min_ratio``, ``eos``).
    progress
        Called with one-line progress messages.
    endpoint
        A duplicated periodic endpoint (the last grid point of both spatial axes repeats the
        first, a node grid including x = 1, on which shifts and flips would be off by one
        cell): ``drop`` removes it (checked on every trajectory; recorded in provenance
        ``endpoint``), ``refuse`` fails with a one-line error.

    Returns
    -------
    Store
        ``fields`` ``(trajectory, time, channel, y, x)`` float32, CE ``[rho, rho u, rho v, E]``
        / NS ``[u, v]``; attrs family, pde, channels, time (``linspace(0, 1, T)``: PDEGym saves
        T frames uniformly on [0, 1]), grid, provenance, axis_convention, stats; arrays
        ``source_file`` (index into ``provenance.input_files``) and ``source_sample``.
    """
    began = time.perf_counter()
    fam = datasets.family(family)
    out = _check_options(out, x_axis, check_trajectories, endpoint, shard)
    limits = dict(THRESHOLDS[fam.pde]) | dict(thresholds or {})
    say = progress or (lambda message: None)
    paths = order_files(files, order)
    sources = [inspect_file(p, fam.name, dims) for p in paths]
    _check_consistent(sources)

    convention = _self_check(sources, fam.pde, fam.name, check_trajectories, x_axis, limits, say)
    chosen = convention["x_axis"]["netcdf_dim"]
    n_total, n_times = sum(s.n_samples for s in sources), sources[0].n_times
    drop = _endpoint_decision(convention, endpoint)
    builder = _builder(out, n_total, n_times, fam.channels, sources[0].n - int(drop), shard)
    try:
        parts = [
            builder.write(start, block)
            for start, block in _stream(sources, fam.pde, builder.shard, chosen, say, drop)
        ]
        attrs = _store_attrs(fam, sources, convention, order, drop)
        attrs["provenance"]["wall_time_s"] = round(time.perf_counter() - began, 3)
        return builder.commit(attrs, parts, _source_arrays(sources))
    except BaseException:
        builder.abort()
        raise


def _builder(out: Path, *shape_and_shard) -> StoreBuilder:
    """``StoreBuilder(out, ...)``; a failure to create it is the user's output path's fault."""
    try:
        return StoreBuilder(out, *shape_and_shard)
    except PermissionError:
        raise
    except OSError as err:  # e.g. a parent that is a file: still the user's output path
        raise PermissionError(f"cannot create output store {out}: {_one_line(err)}") from None


def _source_arrays(sources: Sequence[SourceFile]) -> dict[str, np.ndarray]:
    """Per stored trajectory, ``(trajectory,)``: the index of its file in
    ``provenance.input_files`` (``source_file``) and its sample in that file
    (``source_sample``)."""
    return {
        "source_file": np.concatenate(
            [np.full(s.n_samples, i, dtype=np.int32) for i, s in enumerate(sources)]
        ),
        "source_sample": np.concatenate([np.arange(s.n_samples, dtype=np.int64) for s in sources]),
    }


def _check_options(out, x_axis: str, check_trajectories: int, endpoint: str, shard=None) -> Path:
    """One-line errors for the options :func:`ingest` takes from the user, before any data is
    read; returns ``out`` as a Path."""
    if x_axis not in X_AXES:
        raise ValueError(f"x_axis must be one of {', '.join(X_AXES)}, got {x_axis!r}")
    if check_trajectories < 1:
        raise ValueError(f"check_trajectories must be >= 1, got {check_trajectories}")
    if shard is not None and shard < 1:
        raise ValueError(f"shard must be >= 1 trajectories, got {shard}")
    if endpoint not in ENDPOINTS:
        raise ValueError(f"endpoint must be one of {', '.join(ENDPOINTS)}, got {endpoint!r}")
    out = Path(out)
    if out.exists() and not (out / "zarr.json").is_file():
        # StoreBuilder.commit replaces the target wholesale; never let a typo delete a directory
        raise ValueError(f"refusing to replace {out}: it exists and is not a Zarr store")
    return out


def _store_attrs(fam, sources: Sequence[SourceFile], convention: dict, order: str, drop: bool):
    """The store attrs of an ingest (``provenance.wall_time_s`` is added by the caller)."""
    n = sources[0].n
    n_stored = n - int(drop)
    attrs = fam.store_attrs(
        sources[0].n_times,
        n_stored,
        # PDEGym files carry no coordinates; a repeated endpoint means grid nodes
        layout="node" if drop else "unknown",
        duplicate_endpoint=convention["periodicity"]["duplicate_endpoint"],
    )
    attrs["provenance"] = {
        "source": "pdegym",
        "ingester": {"name": "symaudit.data.ingest", "version": INGESTER_VERSION},
        "input_files": [str(s.path.resolve()) for s in sources],
        "order": order,
        "endpoint": {
            "duplicated": bool(drop),
            "action": "dropped the last point of x and y" if drop else "none",
            "file_N": n,
            "stored_N": n_stored,
            "tolerance": DUPLICATE_TOLERANCE,
        },
        "files": [
            {
                "path": str(s.path),
                "n_trajectories": s.n_samples,
                "dims": list(s.file_dims or s.dims),
                "read_as": dict(zip(s.dims, ("sample", "time", "channel", "x", "y"), strict=True)),
                "dtype": s.dtype,
            }
            for s in sources
        ],
        "netcdf_variable": fam.netcdf_variable,
        "conversion": (
            "fields[:, :, c, y, x] = [rho, rho*u, rho*v, E] (float32 products) of "
            "netCDF [rho, u, v, p, E]; p dropped"
            if fam.pde == CE
            else "fields[:, :, c, y, x] = netCDF channels [u, v]; tracer dropped"
        ),
        "git_revision": git_revision(),
        "store_dtype": "float32",
    }
    attrs["axis_convention"] = convention
    return attrs
