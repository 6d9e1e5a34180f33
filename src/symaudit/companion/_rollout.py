"""Autoregressive rollouts of a trained emulator from the analysis trajectories, and the
cross-time influence they are compared with (lanl/PDEHats ``scripts/Benchmark/plot_rollout.jl``,
``scripts/Plot/HatMatrix/pcs.jl``; companion paper, "Inference Performance")."""

from __future__ import annotations

import numpy as np

__all__ = ["cross_time_ratio", "pearson", "rollout_errors"]


def rollout_errors(model, trajectories, starts: int) -> np.ndarray:
    """Cumulative one-step SMSE of autoregressive rollouts q_{k+1} = f(q_k) from the true state.

    ``trajectories``: (class, frames, channel, y, x).  For every class b, start time t₀ <
    ``starts`` and horizon dt = 1 .. frames − 1: error[b, t₀, dt − 1] = Σ_{k=1..dt}
    SMSE(q_k, s_{t₀+k}) with q₀ = s_{t₀} (SMSE: squared error over the per-channel RMS of the
    target + 1e-6, averaged over channel, y, x: :func:`symaudit.losses.smse`); NaN where
    t₀ + dt ≥ frames.

    Returns (class, starts, frames − 1) float64."""
    import torch

    with torch.no_grad():
        return _rollout_errors(model, torch.as_tensor(np.asarray(trajectories)), starts)


def _rollout_errors(model, x, starts: int) -> np.ndarray:
    from symaudit.losses import smse

    param = next(model.parameters())
    x = x.to(device=param.device, dtype=param.dtype)
    classes, frames = x.shape[:2]
    if not 1 <= starts < frames:
        raise ValueError(f"rollouts from {starts} start times need more than {frames} frames")
    out = np.full((classes, starts, frames - 1), np.nan)
    q = x[:, :starts].reshape(classes * starts, *x.shape[2:])  # (b, t₀) flattened
    t0 = np.tile(np.arange(starts), classes)
    b = np.repeat(np.arange(classes), starts)
    total = np.zeros(classes * starts)
    for dt in range(1, frames):
        live = t0 + dt < frames
        if not live.any():
            break
        q = model(q)
        target = x[b, np.minimum(t0 + dt, frames - 1)]
        step = smse(q, target, reduction="per_example").double().cpu().numpy()
        total = total + step
        out[b[live], t0[live], dt - 1] = total[live]
    return out


def cross_time_ratio(pi_raw) -> np.ndarray:
    """Cross-time over equal-time raw influence per class (``pcs.jl``):
    Σ_{t ≠ t'} Π[t, b, t', b] / Σ_t Π[t, b, t, b].

    ``pi_raw``: (..., bra_transition, bra_class, ket_transition, ket_class).  Returns
    (..., class)."""
    pi = np.asarray(pi_raw, dtype=np.float64)
    classes = pi.shape[-1]
    intra = np.stack([pi[..., :, b, :, b] for b in range(classes)], axis=-3)  # (..., b, t, t')
    diag = np.trace(intra, axis1=-2, axis2=-1)
    return (intra.sum(axis=(-2, -1)) - diag) / diag


def pearson(x, y) -> float:
    """Pearson's r of the finite pairs (NaN with fewer than 3 or a constant side)."""
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    keep = np.isfinite(x) & np.isfinite(y)
    x, y = x[keep], y[keep]
    if len(x) < 3 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return float("nan")
    return float(np.corrcoef(x, y)[0, 1])
