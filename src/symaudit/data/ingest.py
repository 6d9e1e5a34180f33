"""PDEGym netCDF chunk files -> a symaudit Zarr store, with self-checks that decide the axis
convention from the data.

Input (docs/data.md §1.1): one or several PDEGym chunk files (``data_0.nc``, ``data_1.nc``, ... or
``velocity_*.nc``), each holding ONE float variable with dims ``(sample, time, channel, x, y)``:

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
import re
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from symaudit import datasets
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

INGESTER_VERSION = "1.0"
GAMMA = 1.4
ORDERS = ("numeric", "lexicographic")
#: what to do with a duplicated periodic endpoint (the last grid point repeating the first)
ENDPOINTS = ("drop", "refuse")
#: ``x_axis`` choices: decide from the data, or force the netCDF dim (name as in PDEGym) = x
X_AXES = ("auto", "x", "y")
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
    """One validated chunk file: ``variable`` has shape ``(n_samples, n_times, n_channels, n,
    n)`` with netCDF dims ``dims``."""

    path: Path
    variable: str
    n_samples: int
    n_times: int
    n_channels: int
    n: int
    dtype: str
    dims: tuple[str, ...]


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
    return [numbered[k] for k in sorted(numbered)]


def _one_line(err: BaseException) -> str:
    return " ".join(str(err).split())


def _open(path: Path):
    import netCDF4

    if not path.is_file():
        raise FileNotFoundError(f"input file {path} does not exist")
    try:
        return netCDF4.Dataset(path, "r")
    except OSError as err:
        raise ValueError(f"{path}: not a readable netCDF file ({_one_line(err)})") from None


def inspect_file(path: str | os.PathLike, family: str) -> SourceFile:
    """Open ``path`` and validate the family's variable: rank 5 ``(sample, time, channel, x,
    y)``, 5 channels for CE or >= 2 for NS, square grid, floating point.  Errors are one line
    naming the file, the variable and its shape."""
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
        shape = tuple(int(s) for s in var.shape)
        dims = tuple(str(d) for d in var.dimensions)
        dtype = np.dtype(var.dtype)
    what = f"{path}: variable {name!r} has shape {shape}"
    if len(shape) != 5:
        raise ValueError(f"{what}; expected rank 5 (sample, time, channel, x, y)")
    n, t, c, nx, ny = shape
    if fam.pde == CE and c != 5:
        raise ValueError(f"{what}; expected 5 channels [rho, u, v, p, E] on axis 2")
    if fam.pde == NS and c < 2:
        raise ValueError(f"{what}; expected at least 2 channels [u, v(, tracer)] on axis 2")
    if nx != ny:
        raise ValueError(f"{what}; expected a square grid (axes 3 and 4 of equal size)")
    if n < 1 or t < 1 or nx < 4:
        raise ValueError(f"{what}; expected at least 1 sample, 1 frame and a 4 x 4 grid")
    if dtype.kind != "f":
        raise ValueError(f"{path}: variable {name!r} has dtype {dtype}, expected floating point")
    return SourceFile(path, name, n, t, c, nx, dtype.name, dims)


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
    channel, x, y)`` as on disk, only the channels used (``RAW_CHANNELS``); NaN/inf raise a
    one-line error naming the file and the trajectory."""
    n_read = len(RAW_CHANNELS[pde])
    block = np.asarray(var[start:stop, :, :n_read], dtype=np.float32)
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


# --------------------------------------------------------------------------------------------
# self-check figures (all on float64 copies of the raw samples, layout (sample, time, channel,
# a, b) with a = netCDF axis 3 ("x") and b = netCDF axis 4 ("y"))


def endpoint_gaps(raw: np.ndarray) -> dict[str, float]:
    """Relative endpoint gap per netCDF spatial dim: max over channels of
    ``max|f[..., 0] - f[..., -1]| / max|f|`` along that axis.  About 0 means the grid repeats
    its first point at the end (a node grid including x = 1), so the stored grid is not the
    periodic one and ``roll`` is not an exact symmetry (docs/data.md §1.1)."""
    f = np.asarray(raw, dtype=np.float64)
    scale = np.abs(f).max(axis=(0, 1, 3, 4))
    live = scale > 0
    out = {}
    for name, axis in (("x", -2), ("y", -1)):
        gap = np.abs(np.take(f, 0, axis=axis) - np.take(f, -1, axis=axis)).max(axis=(0, 1, 3))
        out[name] = float((gap[live] / scale[live]).max()) if live.any() else 0.0
    return out


def _spectral_derivative(f: np.ndarray, axis: int) -> np.ndarray:
    """d/ds along ``axis`` of a periodic field on [0, 1) sampled at n points.  The Nyquist
    multiplier is zeroed: for a real signal the odd derivative of that mode is not defined
    consistently (k = -n/2 would be used for +n/2), and it would add noise to both pairings."""
    n = f.shape[axis]
    k = 2 * np.pi * np.fft.rfftfreq(n, 1.0 / n)
    if n % 2 == 0:
        k[-1] = 0.0
    shape = [1] * f.ndim
    shape[axis] = k.size
    return np.fft.irfft(np.fft.rfft(f, axis=axis) * (1j * k).reshape(shape), n=n, axis=axis)


def divergence_residuals(raw: np.ndarray) -> dict[str, np.ndarray]:
    """NS: relative spectral divergence per (sample, frame) under both pairings.

    ``raw``: ``(sample, time, channel >= 2, a, b)``, u = channel 0, v = channel 1.  Candidate
    ``"x"`` (u along a): ``div = d_a u + d_b v``; candidate ``"y"`` (u along b): ``d_b u + d_a
    v``.  Both are divided by the same candidate-free scale, the Frobenius norm of the velocity
    gradient ``sqrt(sum |d_a u|^2 + |d_b u|^2 + |d_a v|^2 + |d_b v|^2)``, so the two numbers
    compare like for like.  Frames with zero velocity give NaN.  Returns arrays
    ``(sample, time)`` for keys ``"x"``, ``"y"``, plus ``"sq_x"``, ``"sq_y"``, ``"sq_scale"``
    (the squared norms, for pooling).
    """
    n_s, n_t = raw.shape[:2]
    out = {k: np.full((n_s, n_t), np.nan) for k in ("x", "y")}
    sq = {k: np.zeros((n_s, n_t)) for k in ("sq_x", "sq_y", "sq_scale")}
    for i in range(n_s):  # one sample at a time keeps float64 temporaries small
        u = np.asarray(raw[i, :, 0], dtype=np.float64)
        v = np.asarray(raw[i, :, 1], dtype=np.float64)
        ua, ub = _spectral_derivative(u, -2), _spectral_derivative(u, -1)
        va, vb = _spectral_derivative(v, -2), _spectral_derivative(v, -1)
        sq["sq_scale"][i] = (ua**2 + ub**2 + va**2 + vb**2).sum(axis=(-2, -1))
        sq["sq_x"][i] = ((ua + vb) ** 2).sum(axis=(-2, -1))
        sq["sq_y"][i] = ((ub + va) ** 2).sum(axis=(-2, -1))
    live = sq["sq_scale"] > 0
    for k in ("x", "y"):
        out[k][live] = np.sqrt(sq[f"sq_{k}"][live] / sq["sq_scale"][live])
    return out | sq


def continuity_residuals(
    raw: np.ndarray, dt: float, modes: int = CONTINUITY_MODES
) -> dict[str, np.ndarray]:
    """CE: relative mass-continuity residual per (sample, time window) under both pairings.

    ``raw``: ``(sample, time >= 2, [rho, u, v, ...], a, b)`` on the periodic unit square, frames
    ``dt`` apart.  The residual of ``d_t rho + div(rho v) = 0`` is taken on the low Fourier
    modes ``0 < max(|k_a|, |k_b|) <= modes`` integrated over a window:
    ``r_k = rho_k(t+2) - rho_k(t) + integral 2 pi i (k . m_k) dt`` (Simpson over 3 frames; the
    trapezoid when there are only 2).  WHY low modes and the integral form: the fields have
    shocks, where the pointwise residual ``(rho_{t+1} - rho_t)/dt + div(rho v)`` is dominated
    by the 0.05 frame spacing and the derivative of a jump, whereas the low Fourier modes of the
    weak (integral) form hold exactly for discontinuous solutions and are smooth in time.

    Candidate ``"x"`` (u along a): ``k . m = k_a rho u + k_b rho v``; ``"y"``: ``k_b rho u +
    k_a rho v``.  Both are divided by the same scale ``sqrt(|drho|^2 + (|I_x|^2 + |I_y|^2)/2)``
    (I = the two flux integrals; symmetric in the candidates).  Returns ``(sample, window)``
    arrays ``"x"``, ``"y"`` and the squared norms ``"sq_x"``, ``"sq_y"``, ``"sq_scale"``.
    """
    n_s, n_t, _, na, nb = raw.shape
    if n_t < 2:
        raise ValueError("the continuity check needs at least 2 frames")
    ka, kb = np.fft.fftfreq(na, 1.0 / na), np.fft.fftfreq(nb, 1.0 / nb)
    sel_a, sel_b = np.flatnonzero(np.abs(ka) <= modes), np.flatnonzero(np.abs(kb) <= modes)
    grid_a, grid_b = np.meshgrid(ka[sel_a], kb[sel_b], indexing="ij")
    keep = (grid_a != 0) | (grid_b != 0)  # the mean mode carries no flux
    ka2, kb2 = 2j * np.pi * grid_a[keep], 2j * np.pi * grid_b[keep]
    n_w = n_t - 2 if n_t >= 3 else 1
    out = {k: np.full((n_s, n_w), np.nan) for k in ("x", "y")}
    sq = {k: np.zeros((n_s, n_w)) for k in ("sq_x", "sq_y", "sq_scale")}

    def low(f):  # (time, a, b) -> (time, modes)
        return np.fft.fft2(f)[:, sel_a][:, :, sel_b][:, keep]

    def integral(d):  # time integral over each window of d (time, modes)
        if n_t >= 3:
            return (2 * dt / 6) * (d[:-2] + 4 * d[1:-1] + d[2:])
        return (dt / 2) * (d[:-1] + d[1:])

    for i in range(n_s):
        rho = np.asarray(raw[i, :, 0], dtype=np.float64)
        r_hat = low(rho)
        mu_hat = low(rho * raw[i, :, 1].astype(np.float64))
        mv_hat = low(rho * raw[i, :, 2].astype(np.float64))
        d_rho = r_hat[2:] - r_hat[:-2] if n_t >= 3 else r_hat[1:] - r_hat[:-1]
        flux_x = integral(ka2 * mu_hat + kb2 * mv_hat)
        flux_y = integral(kb2 * mu_hat + ka2 * mv_hat)
        sq["sq_x"][i] = (np.abs(d_rho + flux_x) ** 2).sum(axis=-1)
        sq["sq_y"][i] = (np.abs(d_rho + flux_y) ** 2).sum(axis=-1)
        sq["sq_scale"][i] = (
            np.abs(d_rho) ** 2 + 0.5 * (np.abs(flux_x) ** 2 + np.abs(flux_y) ** 2)
        ).sum(axis=-1)
    live = sq["sq_scale"] > 0
    for k in ("x", "y"):
        out[k][live] = np.sqrt(sq[f"sq_{k}"][live] / sq["sq_scale"][live])
    return out | sq


def eos_sums(raw: np.ndarray, gamma: float = GAMMA) -> dict[str, float]:
    """CE: sums behind the EOS check ``E = p/(gamma-1) + rho (u^2+v^2)/2`` on raw
    ``(sample, time, [rho, u, v, p, E], a, b)``: ``sq_residual`` and ``sq_energy`` (relative
    residual = sqrt of their ratio) and ``p_eint``, ``p_p`` (best-fit ``gamma = 1 + p_p /
    p_eint`` from ``E - kinetic = p/(gamma-1)`` in least squares)."""
    f = np.asarray(raw, dtype=np.float64)
    rho, u, v, p, energy = (f[:, :, c] for c in range(5))
    kinetic = 0.5 * rho * (u**2 + v**2)
    residual = energy - (p / (gamma - 1.0) + kinetic)
    return {
        "sq_residual": float(np.sum(residual**2)),
        "sq_energy": float(np.sum(energy**2)),
        "p_eint": float(np.sum(p * (energy - kinetic))),
        "p_p": float(np.sum(p**2)),
    }


# --------------------------------------------------------------------------------------------
# the decision


def _num(value) -> float | None:
    """A JSON-safe float (attrs are JSON: no NaN/inf)."""
    value = float(value)
    return value if np.isfinite(value) else None


def _median(values: np.ndarray) -> float:
    values = np.asarray(values, dtype=np.float64).ravel()
    values = values[np.isfinite(values)]
    return float(np.median(values)) if values.size else float("nan")


def _ratio(best: float, other: float) -> float:
    if not (np.isfinite(best) and np.isfinite(other)):
        return float("nan")
    if best == other:
        return 1.0
    return other / max(best, np.finfo(np.float64).tiny)


@dataclass
class _Residuals:
    """What the per-file pass over the first K trajectories collects."""

    units: dict  # "x"/"y" -> per-file arrays of per-unit relative residuals
    pooled: dict  # sums of squares: sq_x, sq_y, sq_scale
    per_file: list  # one evidence entry per file
    gaps: list  # endpoint_gaps per file
    eos_per_file: list  # (relative EOS residual, source) per file (CE)
    eos_total: dict  # pooled EOS sums (CE)


def _gather_residuals(sources, pde: str, k: int, dt: float, progress) -> _Residuals:
    """Both pairings' residuals, endpoint gaps and (CE) EOS sums, file by file."""
    n_times = sources[0].n_times
    units = {"x": [], "y": []}
    pooled = {"sq_x": 0.0, "sq_y": 0.0, "sq_scale": 0.0}
    per_file, gaps_all, eos_all = [], [], []
    eos_total = dict.fromkeys(("sq_residual", "sq_energy", "p_eint", "p_p"), 0.0)
    for src in sources:
        with _open(src.path) as ds:
            raw = _read(_variable(ds, src), src, pde, 0, min(k, src.n_samples))
        gaps = endpoint_gaps(raw)
        dup = {a: gaps[a] <= DUPLICATE_TOLERANCE for a in ("x", "y")}
        # a duplicated endpoint column is not part of the periodic grid: drop it before the
        # spectral tests, whose derivatives would otherwise see a spurious jump at the seam
        trimmed = raw[..., : src.n - int(dup["x"]), : src.n - int(dup["y"])]
        res = None
        if pde == NS:
            res = divergence_residuals(trimmed)
        elif n_times >= 2:
            res = continuity_residuals(trimmed, dt)
        entry = {"file": str(src.path), "trajectories": int(raw.shape[0]),
                 "endpoint_gap": gaps}
        if res is not None:
            for c in ("x", "y"):
                units[c].append(res[c].ravel())
                entry[c] = _num(_median(res[c]))
            for key in pooled:
                pooled[key] += float(res[key].sum())
        if pde == CE:
            sums = eos_sums(raw)
            for key in eos_total:
                eos_total[key] += sums[key]
            rel = np.sqrt(sums["sq_residual"] / max(sums["sq_energy"], 1e-300))
            entry["eos_relative_residual"] = float(rel)
            eos_all.append((rel, src))
        gaps_all.append(gaps)
        per_file.append(entry)
        progress(f"checked {src.path} ({raw.shape[0]} trajectories)")
    return _Residuals(units, pooled, per_file, gaps_all, eos_all, eos_total)


def _check_eos(r: _Residuals, thresholds: Mapping[str, float]) -> dict:
    """CE: the EOS tells whether the channels are [rho, u, v, p, E] with gamma = 1.4."""
    eos_total = r.eos_total
    rel = float(np.sqrt(eos_total["sq_residual"] / max(eos_total["sq_energy"], 1e-300)))
    gamma_fit = (
        1.0 + eos_total["p_p"] / eos_total["p_eint"] if eos_total["p_eint"] else float("nan")
    )
    eos = {"gamma": GAMMA, "relative_residual": rel, "gamma_fit": _num(gamma_fit),
           "tolerance": thresholds["eos"],
           "formula": "||E - (p/(gamma-1) + rho(u^2+v^2)/2)|| / ||E||"}
    worst, src = max(r.eos_per_file, key=lambda t: t[0])
    if worst > thresholds["eos"]:
        raise ValueError(
            f"{src.path}: the energy channel does not match E = p/(gamma-1) + rho|v|^2/2 "
            f"with gamma = {GAMMA} (relative residual {worst:.3g} > {thresholds['eos']:g}, "
            f"best-fit gamma {gamma_fit:.4g}); expected channels [rho, u, v, p, E]"
        )
    return eos


@dataclass
class _AxisDecision:
    medians: dict  # "x"/"y" -> median relative residual with u along that netCDF dim
    preferred: str
    other: str
    ratio: float
    wins: float | None  # fraction of units in which the preferred pairing fits better
    chosen: str
    decided_by: str


def _decide_axis(r: _Residuals) -> _AxisDecision:
    """The pairing the residuals prefer (``chosen`` and ``decided_by`` are set by the caller)."""
    units = r.units
    medians = {c: _median(np.concatenate(units[c])) if units[c] else float("nan")
               for c in ("x", "y")}
    preferred = "x" if not medians["y"] < medians["x"] else "y"
    other = "y" if preferred == "x" else "x"
    ratio = _ratio(medians[preferred], medians[other])
    # fraction of (trajectory, frame) units in which the preferred pairing fits better
    mine = np.concatenate(units[preferred]) if units[preferred] else np.empty(0)
    theirs = np.concatenate(units[other]) if units[other] else np.empty(0)
    valid = np.isfinite(mine) & np.isfinite(theirs)
    wins = float(np.mean(mine[valid] < theirs[valid])) if valid.any() else None
    return _AxisDecision(medians, preferred, other, ratio, wins, preferred, "")


def _require_clear_pairing(a: _AxisDecision, r: _Residuals, where: str, pde: str,
                           n_times: int, thresholds: Mapping[str, float]) -> None:
    """``x_axis="auto"``: refuse unusable, poor, ambiguous or file-by-file mixed pairings."""
    medians, preferred, other = a.medians, a.preferred, a.other
    hint = "pass --x-axis x|y to decide explicitly"
    if not np.isfinite(medians[preferred]):
        need = " (needs at least 2 frames)" if pde == CE and n_times < 2 else ""
        raise ValueError(f"{where}: no usable frames to decide the axis pairing{need}; {hint}")
    figures = (f"median relative residual {medians['x']:.3g} with u along netCDF dim 'x' "
               f"vs {medians['y']:.3g} along 'y'")
    if medians[preferred] > thresholds["max_best"]:
        raise ValueError(
            f"{where}: neither axis pairing fits ({figures}; need <= "
            f"{thresholds['max_best']:g}); check the channel order, units and grid, or {hint}"
        )
    if a.ratio < thresholds["min_ratio"]:
        raise ValueError(
            f"{where}: ambiguous axis pairing ({figures}; ratio {a.ratio:.3g} < "
            f"{thresholds['min_ratio']:g}); {hint}"
        )
    for entry in r.per_file:  # every file must agree: mixed conventions are not supported
        best_f, other_f = entry.get(preferred), entry.get(other)
        if best_f is None or other_f is None:
            continue
        if (other_f <= thresholds["max_best"]
                and _ratio(other_f, best_f) >= thresholds["min_ratio"]):
            raise ValueError(
                f"{entry['file']}: its first trajectories pair u with netCDF dim {other!r} "
                f"(residual {other_f:.3g} vs {best_f:.3g}) but the files together pair it "
                f"with {preferred!r}; files with mixed conventions are not supported"
            )


def _evidence(r: _Residuals, a: _AxisDecision, pde: str, test: str, k: int, n_times: int,
              thresholds: Mapping[str, float]) -> dict:
    """The figures behind the decision, recorded in the store's attrs."""
    medians, pooled = a.medians, r.pooled
    evidence = {
        "test": test,
        "candidates_key": "netCDF dim (as PDEGym names it) taken to be x, i.e. paired with u",
        "statistic": ("median over (trajectory, frame) of the relative residual" if pde == NS
                      else "median over (trajectory, 3-frame window) of the relative residual"),
        "candidates": {
            c: {"median": _num(medians[c]),
                "pooled": _num(np.sqrt(pooled[f"sq_{c}"] / pooled["sq_scale"]))
                if pooled["sq_scale"] > 0 else None}
            for c in ("x", "y")
        },
        "preferred": a.preferred if np.isfinite(medians[a.preferred]) else None,
        "ratio": _num(a.ratio),
        "wins": a.wins,
        "thresholds": {"max_best": thresholds["max_best"], "min_ratio": thresholds["min_ratio"]},
        "trajectories_per_file": int(k),
        "per_file": r.per_file,
    }
    if pde == NS:
        evidence["formula"] = ("||d_a u + d_b v|| / ||grad(u, v)|| (spectral, Nyquist zeroed; a = "
                               "the axis taken as x)")
    else:
        evidence["formula"] = ("low Fourier modes of rho(t+2) - rho(t) + int div(rho v) dt, "
                               "relative (see symaudit.data.ingest.continuity_residuals)")
        evidence["modes"] = CONTINUITY_MODES
        evidence["dt"] = _num(1.0 / (n_times - 1) if n_times > 1 else float("nan"))
        evidence["time_rule"] = "simpson" if n_times >= 3 else "trapezoid"
    return evidence


def _self_check(
    sources: Sequence[SourceFile],
    pde: str,
    family: str,
    k: int,
    x_axis: str,
    thresholds: Mapping[str, float],
    progress: Callable[[str], None],
) -> dict:
    """Run the checks on the first ``k`` samples of every file; return ``axis_convention``."""
    n_times = sources[0].n_times
    dt = 1.0 / (n_times - 1) if n_times > 1 else float("nan")
    test = "spectral_divergence" if pde == NS else "mass_continuity"
    r = _gather_residuals(sources, pde, k, dt, progress)
    eos = _check_eos(r, thresholds) if pde == CE else None

    where = (f"{family}: first {k} trajectories of each of {len(sources)} file(s), "
             f"{test.replace('_', ' ')}")
    a = _decide_axis(r)
    if x_axis == "auto":
        _require_clear_pairing(a, r, where, pde, n_times, thresholds)
        a.chosen, a.decided_by = a.preferred, test
    else:
        a.chosen, a.decided_by = x_axis, "override"

    chosen = a.chosen
    y_name = "y" if chosen == "x" else "x"
    max_gap = {ax: max(g[ax] for g in r.gaps) for ax in ("x", "y")}
    duplicate = {ax: all(g[ax] <= DUPLICATE_TOLERANCE for g in r.gaps) for ax in ("x", "y")}
    evidence = _evidence(r, a, pde, test, k, n_times, thresholds)
    convention = {
        "x_axis": {"netcdf_dim": chosen, "netcdf_axis": NETCDF_AXIS[chosen],
                   "file_dim_name": sources[0].dims[NETCDF_AXIS[chosen]]},
        "y_axis": {"netcdf_dim": y_name, "netcdf_axis": NETCDF_AXIS[y_name],
                   "file_dim_name": sources[0].dims[NETCDF_AXIS[y_name]]},
        "transposed": chosen == "x",
        "rule": "x = the netCDF spatial axis paired with channel u; stored as the last axis",
        "decided_by": a.decided_by,
        "agrees_with_evidence": (None if evidence["preferred"] is None
                                 else evidence["preferred"] == chosen),
        "reference_pdehats_x_axis": REFERENCE_X_AXIS,
        "agrees_with_reference": chosen == REFERENCE_X_AXIS,
        "evidence": evidence,
        "periodicity": {
            "max_relative_endpoint_gap": {f"netcdf_{ax}": max_gap[ax] for ax in ("x", "y")},
            "duplicate_endpoint": {"x": duplicate[chosen], "y": duplicate[y_name]},
            "tolerance": DUPLICATE_TOLERANCE,
            "formula": "max over channels of max|f[..., 0] - f[..., -1]| / max|f| per axis",
        },
    }
    if eos is not None:
        convention["eos"] = eos
    return convention


def _endpoint_decision(convention: Mapping, endpoint: str) -> bool:
    """Whether to drop a duplicated periodic endpoint; a one-line error when it must be refused
    (``endpoint="refuse"``, one axis only, or files that disagree)."""
    per_file = convention["evidence"]["per_file"]
    flags = [{a: e["endpoint_gap"][a] <= DUPLICATE_TOLERANCE for a in ("x", "y")}
             for e in per_file]
    for a in ("x", "y"):
        have = [f[a] for f in flags]
        if any(have) and not all(have):
            odd = per_file[have.index(not have[0])]["file"]
            raise ValueError(
                f"{odd}: its first trajectories {'do' if not have[0] else 'do not'} repeat the "
                f"first grid point at the end of netCDF dim {a!r} but {per_file[0]['file']}'s "
                f"{'do not' if not have[0] else 'do'}; files with different grids are not "
                "supported"
            )
    dup = flags[0]
    if not (dup["x"] or dup["y"]):
        return False
    gaps = convention["periodicity"]["max_relative_endpoint_gap"]
    figures = ", ".join(f"{k} {v:.3g}" for k, v in gaps.items())
    if dup["x"] != dup["y"]:
        one = "x" if dup["x"] else "y"
        raise ValueError(
            f"{per_file[0]['file']}: the last grid point repeats the first along netCDF dim "
            f"{one!r} only (relative endpoint gaps {figures}); a non-square periodic grid is "
            "not supported"
        )
    if endpoint == "refuse":
        raise ValueError(
            f"{per_file[0]['file']}: duplicated periodic endpoint (the last grid point repeats "
            f"the first, relative endpoint gaps {figures} <= {DUPLICATE_TOLERANCE:g}): shifts "
            "and flips would be off by one cell; use --endpoint drop to drop it"
        )
    return True


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
    sources: Sequence[SourceFile], pde: str, shard: int, x_axis: str,
    progress: Callable[[str], None], drop_endpoint: bool = False,
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
    if x_axis not in X_AXES:
        raise ValueError(f"x_axis must be one of {', '.join(X_AXES)}, got {x_axis!r}")
    if check_trajectories < 1:
        raise ValueError(f"check_trajectories must be >= 1, got {check_trajectories}")
    if endpoint not in ENDPOINTS:
        raise ValueError(f"endpoint must be one of {', '.join(ENDPOINTS)}, got {endpoint!r}")
    limits = dict(THRESHOLDS[fam.pde]) | dict(thresholds or {})
    say = progress or (lambda message: None)
    paths = order_files(files, order)
    sources = [inspect_file(p, fam.name) for p in paths]
    _check_consistent(sources)
    out = Path(out)
    if out.exists() and not (out / "zarr.json").is_file():
        # StoreBuilder.commit replaces the target wholesale; never let a typo delete a directory
        raise ValueError(f"refusing to replace {out}: it exists and is not a Zarr store")

    convention = _self_check(sources, fam.pde, fam.name, check_trajectories, x_axis, limits, say)
    chosen = convention["x_axis"]["netcdf_dim"]
    n_total = sum(s.n_samples for s in sources)
    n_times, n = sources[0].n_times, sources[0].n
    drop = _endpoint_decision(convention, endpoint)
    n_stored = n - int(drop)
    try:
        builder = StoreBuilder(out, n_total, n_times, fam.channels, n_stored, shard)
    except PermissionError:
        raise
    except OSError as err:  # e.g. a parent that is a file: still the user's output path
        raise PermissionError(f"cannot create output store {out}: {_one_line(err)}") from None
    try:
        parts = [builder.write(start, block)
                 for start, block in _stream(sources, fam.pde, builder.shard, chosen, say, drop)]
        attrs = {
            "family": fam.name,
            "dataset": fam.dataset,
            "pde": fam.pde,
            "channels": fam.channels,
            "time": np.linspace(0.0, 1.0, n_times).tolist(),
            "grid": {
                "N": n_stored,
                "domain": [[0, 1], [0, 1]],
                "boundary": "periodic",
                # PDEGym files carry no coordinates; a repeated endpoint means grid nodes
                "layout": "node" if drop else "unknown",
                "duplicate_endpoint": convention["periodicity"]["duplicate_endpoint"],
            },
            "provenance": {
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
                "files": [{"path": str(s.path), "n_trajectories": s.n_samples,
                           "dims": list(s.dims), "dtype": s.dtype} for s in sources],
                "netcdf_variable": fam.netcdf_variable,
                "conversion": (
                    "fields[:, :, c, y, x] = [rho, rho*u, rho*v, E] (float32 products) of "
                    "netCDF [rho, u, v, p, E]; p dropped" if fam.pde == CE else
                    "fields[:, :, c, y, x] = netCDF channels [u, v]; tracer dropped"
                ),
                "git_revision": git_revision(),
                "store_dtype": "float32",
                "wall_time_s": round(time.perf_counter() - began, 3),
            },
            "axis_convention": convention,
        }
        extra = {
            "source_file": np.concatenate(
                [np.full(s.n_samples, i, dtype=np.int32) for i, s in enumerate(sources)]),
            "source_sample": np.concatenate(
                [np.arange(s.n_samples, dtype=np.int64) for s in sources]),
        }
        return builder.commit(attrs, parts, extra)
    except BaseException:
        builder.abort()
        raise
