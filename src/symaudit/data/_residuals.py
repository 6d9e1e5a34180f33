"""The self-check figures: endpoint gaps, spectral divergence (NS), mass continuity (CE) and
the equation of state (CE), on float64 copies of raw samples ``(sample, time, channel, a, b)``
with a = netCDF axis 3 ("x") and b = netCDF axis 4 ("y") (docs/data.md §1.3)."""

from __future__ import annotations

import numpy as np

from symaudit.data._pdegym import CONTINUITY_MODES, GAMMA


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
