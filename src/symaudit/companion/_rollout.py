"""Autoregressive rollouts of a trained emulator from the analysis trajectories, and the
cross-time influence they are compared with (lanl/PDEHats ``scripts/Benchmark/plot_rollout.jl``,
``scripts/Plot/HatMatrix/pcs.jl``; companion paper, "Inference Performance")."""

from __future__ import annotations

import numpy as np

__all__ = ["cross_time_ratio", "pearson", "rollout_errors"]


def rollout_errors(model, trajectories, starts) -> np.ndarray:
    """Cumulative one-step SMSE of autoregressive rollouts q_{k+1} = f(q_k) from the true state.

    ``trajectories``: (class, frames, channel, y, x); ``starts``: the start frames t₀ (a
    sequence: the analysis transitions' input frames, :func:`symaudit.outputs.transition_frames`)
    or an int n for t₀ = 0 .. n − 1.  For every class b, start t₀ (its index i) and horizon
    dt = 1 .. frames − 1 (model steps = frames): error[b, i, dt − 1] = Σ_{k=1..dt}
    SMSE(q_k, s_{t₀+k}) with q₀ = s_{t₀} (SMSE: squared error over the per-channel RMS of the
    target + 1e-6, averaged over channel, y, x: :func:`symaudit.losses.smse`); NaN where
    t₀ + dt ≥ frames.

    Returns (class, len(starts), frames − 1) float64."""
    import torch

    with torch.no_grad():
        return _rollout_errors(model, torch.as_tensor(np.asarray(trajectories)), starts)


def _rollout_errors(model, x, starts) -> np.ndarray:
    import torch

    from symaudit.losses import smse

    param = next(model.parameters())
    x = x.to(device=param.device, dtype=param.dtype)
    classes, frames = x.shape[:2]
    if np.ndim(starts) == 0:
        if not 1 <= starts < frames:
            raise ValueError(f"rollouts from {starts} start times need more than {frames} frames")
        starts = np.arange(starts)
    starts = np.asarray(starts, dtype=np.int64)
    if not starts.size or starts.min() < 0 or starts.max() >= frames - 1:
        raise ValueError(f"rollouts from start frames {starts.tolist()}: {frames} frames")
    n = starts.size
    out = np.full((classes, n, frames - 1), np.nan)
    q = x[:, torch.from_numpy(starts)].reshape(classes * n, *x.shape[2:])  # (b, t₀) flattened
    t0 = np.tile(starts, classes)
    i0 = np.tile(np.arange(n), classes)
    b = np.repeat(np.arange(classes), n)
    total = np.zeros(classes * n)
    for dt in range(1, frames):
        live = t0 + dt < frames
        if not live.any():
            break
        q = model(q)
        target = x[b, np.minimum(t0 + dt, frames - 1)]
        step = smse(q, target, reduction="per_example").double().cpu().numpy()
        total = total + step
        out[b[live], i0[live], dt - 1] = total[live]
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
