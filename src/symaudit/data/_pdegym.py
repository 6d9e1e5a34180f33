"""PDEGym netCDF chunk files: constants, inspection, reading by dimension NAME into the files'
documented layout ``(sample, time, channel, x, y)`` and conversion to the store layout
(docs/data.md §1.1, §1.4)."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from symaudit import datasets
from symaudit.dims import resolve_dims
from symaudit.errors import UserError

INGESTER_VERSION = "1.0"
GAMMA = 1.4
ORDERS = ("numeric", "lexicographic")
#: what to do with a duplicated periodic endpoint (the last grid point repeating the first)
ENDPOINTS = ("drop", "refuse")
#: ``x_axis`` choices: decide from the data, or force the netCDF dim (name as in PDEGym) = x
X_AXES = ("auto", "x", "y")
#: the ingester's reading order, by canonical dim (symaudit.dims): PDEGym's documented layout
#: ``(sample, time, channel, x, y)``; a file whose dims come in another order is transposed
READ_ORDER = ("trajectory", "time", "channel", "x", "y")
#: position of the spatial dims PDEGym calls x and y in ``(sample, time, channel, x, y)``
NETCDF_AXIS = {"x": 3, "y": 4}
#: lanl/PDEHats treats u as the component along Julia d1 = netCDF axis 4 (docs/algorithms.md §8)
REFERENCE_X_AXIS = "y"

CE, NS = "compressible_euler", "incompressible_ns"
#: the raw channels read from disk (names for messages); NS reads only u, v (tracer ignored)
RAW_CHANNELS = {CE: ("rho", "u", "v", "p", "E"), NS: ("u", "v")}

#: Decision thresholds on the MEDIAN relative residual over (trajectory, frame): the better
#: pairing must be below ``max_best`` and the other at least ``min_ratio`` times larger, else
#: the ingester fails rather than guesses.  NS is spectrally exact (float32 round-off ~1e-6
#: against O(1) for the wrong pairing); the CE continuity test is limited by the 0.05 frame
#: spacing around shocks, hence the looser bounds.  ``eos``: max pooled relative EOS residual.
THRESHOLDS: dict[str, dict[str, float]] = {
    NS: {"max_best": 1e-2, "min_ratio": 10.0},
    CE: {"max_best": 0.2, "min_ratio": 5.0, "eos": 5e-2},
}
#: relative endpoint gap below which the last grid column is taken to duplicate the first
DUPLICATE_TOLERANCE = 1e-6
#: CE continuity is tested on Fourier modes with |k_a|, |k_b| <= this (see continuity_residuals)
CONTINUITY_MODES = 2

# --------------------------------------------------------------------------------------------
# input files


@dataclass(frozen=True)
class SourceFile:
    """One validated chunk file: ``variable`` read in :data:`READ_ORDER` has shape
    ``(n_samples, n_times, n_channels, n, n)``; ``dims`` are the file's dim names in that order,
    ``file_dims`` in the file's own order and ``perm`` the file axis of each."""

    path: Path
    variable: str
    n_samples: int
    n_times: int
    n_channels: int
    n: int
    dtype: str
    dims: tuple[str, ...]
    file_dims: tuple[str, ...] = ()
    perm: tuple[int, ...] = (0, 1, 2, 3, 4)


def order_files(files: Sequence[str | os.PathLike], order: str = "numeric") -> list[Path]:
    """Chunk files in trajectory order.

    ``numeric`` sorts by the last integer in the file name (``data_2.nc`` before
    ``data_10.nc``), the order in which the paper's assembled files were concatenated
    (docs/data.md §1.1); ``lexicographic`` sorts the paths as plain strings, reproducing
    ``assemble_data.py`` (``nc_files.sort()``: 0, 1, 10, 11, ..., 2, ...).
    One file (an assembled ``CE-RP.nc`` or a single chunk) needs no chunk number.
    """
    paths = [Path(f) for f in files]
    if not paths:
        raise ValueError("no input files given")
    if order not in ORDERS:
        raise ValueError(f"unknown order {order!r}; use one of {', '.join(ORDERS)}")
    if len(paths) == 1:
        return paths
    seen: dict[str, Path] = {}
    for p in paths:
        key = os.path.realpath(p)
        if key in seen:  # the same samples twice would silently duplicate trajectories
            raise ValueError(f"input file {p} is given twice")
        seen[key] = p
    if order == "lexicographic":
        numbers = {int(d[-1]): p for p in paths if (d := re.findall(r"\d+", p.stem))}
        if len(numbers) == len(paths):  # numbered chunks: a gap is a missing chunk either way
            _check_numbering(numbers)
        return sorted(paths, key=str)
    numbered: dict[int, Path] = {}
    for p in paths:
        digits = re.findall(r"\d+", p.stem)
        if not digits:
            raise ValueError(
                f"{p}: no chunk number in the file name, needed by --order numeric to place it "
                f"among {len(paths)} files (an assembled file goes alone, without its chunks; "
                "or use --order lexicographic)"
            )
        number = int(digits[-1])
        if number in numbered:
            raise ValueError(f"{numbered[number]} and {p} have the same chunk number {number}")
        numbered[number] = p
    _check_numbering(numbered)
    return [numbered[k] for k in sorted(numbered)]


def _check_numbering(numbered: dict[int, Path]) -> None:
    """Refuse a gap in the chunk numbers (``velocity_0``, ``velocity_2``): a missing chunk would
    silently shift every later trajectory's index (and the splits taken from the end)."""
    first, last = min(numbered), max(numbered)
    missing = [k for k in range(first, last + 1) if k not in numbered]
    if missing:
        shown = ", ".join(map(str, missing[:5])) + (" ..." if len(missing) > 5 else "")
        raise UserError(
            f"chunk files {numbered[first]} ... {numbered[last]}: chunk number(s) {shown} "
            f"missing (e.g. {_renumbered(numbered[first], missing[0])}); give every chunk "
            "between the first and the last, or ingest the parts into separate stores"
        )


def _renumbered(path: Path, number: int) -> str:
    """``path`` with its last integer replaced by ``number`` (the name of a missing chunk)."""
    head, digits, tail = re.match(r"(.*?)(\d+)(\D*)$", path.stem).groups()
    return str(path.with_name(f"{head}{number}{tail}{path.suffix}"))


def _one_line(err: BaseException) -> str:
    return " ".join(str(err).split())


def _open(path: Path):
    import netCDF4

    if path.is_dir():
        raise ValueError(f"input file {path} is a directory, not a netCDF file")
    if not path.is_file():
        raise FileNotFoundError(f"input file {path} does not exist")
    try:
        return netCDF4.Dataset(path, "r")
    except OSError as err:
        raise ValueError(f"{path}: not a readable netCDF file ({_one_line(err)})") from None


def inspect_file(
    path: str | os.PathLike, family: str, dims: Mapping[str, str] | str | None = None
) -> SourceFile:
    """Open ``path`` and validate the family's variable: rank 5, its dims found BY NAME
    (:func:`symaudit.dims.resolve_dims`, ``dims`` the override), 5 channels for CE or >= 2 for
    NS, a square grid, floating point.  Errors are one line naming the file, the variable and
    its dims and shape."""
    fam = datasets.family(family)
    path = Path(path)
    name = fam.netcdf_variable
    with _open(path) as ds:
        if name not in ds.variables:
            have = ", ".join(ds.variables) or "none"
            raise ValueError(
                f"{path}: no netCDF variable {name!r} (family {fam.name} reads {name!r}; "
                f"variables in the file: {have})"
            )
        var = ds.variables[name]
        file_shape = tuple(int(s) for s in var.shape)
        file_dims = tuple(str(d) for d in var.dimensions)
        dtype = np.dtype(var.dtype)
    what = f"{path}: variable {name!r} has dims ({', '.join(file_dims)}) of shape {file_shape}"
    if len(file_shape) != 5:
        raise ValueError(f"{what}; expected rank 5 (sample, time, channel, x, y)")
    dm = resolve_dims(file_dims, f"{path}: variable {name!r}", dims, required=READ_ORDER)
    perm = dm.perm(READ_ORDER)
    n, t, c, nx, ny = (file_shape[a] for a in perm)
    names = {canon: dm.name(canon) for canon in READ_ORDER}
    if fam.pde == CE and c != 5:
        raise ValueError(
            f"{what}; expected 5 channels [rho, u, v, p, E] along {names['channel']!r}"
        )
    if fam.pde == NS and c < 2:
        raise ValueError(
            f"{what}; expected at least 2 channels [u, v(, tracer)] along {names['channel']!r}"
        )
    if nx != ny:
        raise ValueError(
            f"{what}; expected a square grid ({names['x']!r} and {names['y']!r} equal)"
        )
    if n < 1 or t < 1 or nx < 4:
        raise ValueError(f"{what}; expected at least 1 sample, 1 frame and a 4 x 4 grid")
    if dtype.kind != "f":
        raise ValueError(f"{path}: variable {name!r} has dtype {dtype}, expected floating point")
    ordered = tuple(names[canon] for canon in READ_ORDER)
    return SourceFile(path, name, n, t, c, nx, dtype.name, ordered, file_dims, perm)


def _check_consistent(sources: Sequence[SourceFile]) -> None:
    first = sources[0]
    frame = (first.n_times, first.n_channels, first.n, first.n)
    for src in sources[1:]:
        other = (src.n_times, src.n_channels, src.n, src.n)
        if other != frame:
            raise ValueError(
                f"{src.path}: variable {src.variable!r} has frames of shape {other} "
                f"(time, channel, x, y) but {first.path} has {frame}"
            )


def _read(var, src: SourceFile, pde: str, start: int, stop: int) -> np.ndarray:
    """Samples ``[start, stop)`` of an open variable as float32, layout ``(sample, time,
    channel, x, y)`` whatever the file's dim order (``src.perm``), only the channels used
    (``RAW_CHANNELS``); NaN/inf raise a one-line error naming the file and the trajectory."""
    n_read = len(RAW_CHANNELS[pde])
    wanted = (slice(start, stop), slice(None), slice(0, n_read), slice(None), slice(None))
    index = [slice(None)] * 5
    for canon_axis, file_axis in enumerate(src.perm):
        index[file_axis] = wanted[canon_axis]
    block = np.asarray(var[tuple(index)], dtype=np.float32)
    if src.perm != (
        0,
        1,
        2,
        3,
        4,
    ):  # read by name: (sample, time, channel, x, y) whatever the file's order
        block = np.ascontiguousarray(block.transpose(src.perm))
    # with auto-masking off, never-written entries read as the fill value (netCDF default
    # 9.97e36 for floats): a finite number that would otherwise pass as data
    bad = ~np.isfinite(block) | (block == _fill_value(var))
    if bad.any():
        i, t, c, a, b = (int(v) for v in np.argwhere(bad)[0])
        value = block[i, t, c, a, b]
        kind = "NaN" if np.isnan(value) else "inf" if np.isinf(value) else "fill value (unwritten)"
        raise ValueError(
            f"{src.path}: {kind} in variable {src.variable!r} at trajectory {start + i} "
            f"(sample index in this file), time {t}, channel {RAW_CHANNELS[pde][c]!r}, "
            f"grid point ({a}, {b})"
        )
    return block


def _fill_value(var) -> np.float32:
    import netCDF4

    if "_FillValue" in var.ncattrs():
        fill = var.getncattr("_FillValue")
    else:
        fill = netCDF4.default_fillvals.get(np.dtype(var.dtype).str[1:], np.nan)
    with np.errstate(over="ignore"):  # a float64 fill beyond float32 range becomes inf: caught
        return np.float32(fill)


def _variable(ds, src: SourceFile):
    var = ds.variables[src.variable]
    var.set_auto_mask(False)  # plain ndarrays; a fill value must not hide as a masked entry
    return var


def to_store_layout(raw: np.ndarray, pde: str, x_axis: str) -> np.ndarray:
    """Raw ``(sample, time, channel, x, y)`` -> store ``(trajectory, time, channel, y, x)``.

    CE: ``[rho, u, v, p, E]`` -> ``[rho, rho*u, rho*v, E]``; the products are taken in float32,
    i.e. the correctly rounded float32 value of the exact product.  NS: ``[u, v]``.
    ``x_axis`` is the netCDF dim paired with ``u``: ``"x"`` (axis 3) means the spatial axes are
    swapped so that it ends up last; ``"y"`` (axis 4) means they stay as they are.
    """
    raw = np.asarray(raw, dtype=np.float32)
    if pde == CE:
        rho, u, v, energy = raw[:, :, 0], raw[:, :, 1], raw[:, :, 2], raw[:, :, 4]
        out = np.stack([rho, rho * u, rho * v, energy], axis=2)
    else:
        out = raw[:, :, :2]
    if x_axis == "x":
        out = out.swapaxes(-1, -2)
    elif x_axis != "y":
        raise ValueError(f"x_axis must be 'x' or 'y', got {x_axis!r}")
    return np.ascontiguousarray(out)
