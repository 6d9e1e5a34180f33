"""Closed forms for linear periodic convolutions trained with MSE under exact D4 averaging.

Notation (derivation in ``docs/conservation.md``): fields u ``(batch, channel, y, x)`` on an
N x N periodic grid, spectra ``fft2`` (unnormalised), kernels ``(out, in, y, x)``.  Wave-vectors
k = (kx, ky) are the FFT indices taken modulo N; D4 acts on them as on points, k -> M_g k, and
splits them into orbits (sizes 1, 4 or 8).  Every function here is float64 and exact up to
round-off; nothing is fitted.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import torch

from symaudit import groups
from symaudit.losses import rms_scale
from symaudit.models._linear import act_kernel, twirl_kernel

__all__ = [
    "channel_anisotropy",
    "equiv_closed_form",
    "equiv_orbit_form",
    "gd_factors",
    "orbit_averaged",
    "predicted_perp",
    "safe_lr",
    "twirled_second_moment",
    "wavevector_orbits",
]


def wavevector_orbits(n: int, elements: Sequence[str] = groups.D4) -> np.ndarray:
    """Orbit labels ``(ky, kx)`` -> 0 .. n_orbits - 1 of the wave-vectors of an n x n grid
    under ``elements`` (k -> M_g k mod n), numbered in order of first appearance (row-major),
    so the zero wave-vector is orbit 0."""
    ky, kx = np.meshgrid(np.arange(n), np.arange(n), indexing="ij")
    labels = -np.ones((n, n), dtype=np.int64)
    mats = [groups.matrix(g) for g in elements]
    next_label = 0
    for y0, x0 in zip(ky.ravel(), kx.ravel(), strict=True):
        if labels[y0, x0] >= 0:
            continue
        for m in mats:
            x1 = (m[0, 0] * x0 + m[0, 1] * y0) % n
            y1 = (m[1, 0] * x0 + m[1, 1] * y0) % n
            labels[y1, x1] = next_label
        next_label += 1
    return labels


def _spectra(fields: torch.Tensor) -> torch.Tensor:
    """``(batch, channel, y, x)`` -> ``(batch, ky, kx, channel)`` complex128."""
    return torch.fft.fft2(fields.to(torch.float64)).permute(0, 2, 3, 1)


def twirled_second_moment(
    inputs: torch.Tensor,
    channels: Sequence[Mapping | str],
    elements: Sequence[str] | None = groups.D4,
) -> torch.Tensor:
    """S(k) = mean over examples and g of u_g^(k) u_g^(k)^H, ``(ky, kx, channel, channel)``.

    u_g = g u (:func:`symaudit.groups.act`); ``elements=None`` means no averaging (the plain
    second moment).  With the full group, S(M_g k) = R_g S(k) R_g^T for every g.
    """
    if elements is None:
        batch = inputs
    else:
        batch = torch.cat([groups.act(g, inputs, channels) for g in elements])
    u = _spectra(batch)
    return torch.einsum("byxc,byxd->yxcd", u, u.conj()) / u.shape[0]


def channel_anisotropy(second_moment: torch.Tensor) -> float:
    """max over k of ||S(k) - tr S(k)/C I|| / ||S(k)|| (Frobenius): 0 exactly when every S(k)
    is a multiple of the identity on the channels, the condition under which the per-orbit
    DIRECTION of the non-equivariant part is conserved (always 0 for one channel)."""
    c = second_moment.shape[-1]
    eye = torch.eye(c, dtype=second_moment.dtype)
    trace = torch.einsum("yxcc->yx", second_moment)[..., None, None] / c
    dev = torch.linalg.matrix_norm(second_moment - trace * eye)
    norm = torch.linalg.matrix_norm(second_moment)
    return float((dev / norm.clamp_min(torch.finfo(torch.float64).tiny)).max())


def orbit_averaged(values: torch.Tensor, labels: np.ndarray) -> torch.Tensor:
    """Average a ``(ky, kx)`` real array over each orbit: ``(n_orbits,)``."""
    lab = torch.as_tensor(labels.ravel())
    flat = values.reshape(-1).to(torch.float64)
    sums = torch.zeros(int(lab.max()) + 1, dtype=torch.float64).index_add_(0, lab, flat)
    counts = torch.bincount(lab).to(torch.float64)
    return sums / counts


def gd_factors(second_moment: torch.Tensor, lr: float) -> torch.Tensor:
    """A(k) = I - 2 lr S(k) / (C N^2), ``(ky, kx, C, C)``: the exact one-step map of the
    non-equivariant part under full-batch gradient descent on the orbit-averaged MSE
    (mean over examples, group elements, channels and pixels).  One channel: the scalar
    lambda_O = 1 - 2 lr s_O / N^2, the same on every wave-vector of an orbit."""
    n = second_moment.shape[0]
    c = second_moment.shape[-1]
    eye = torch.eye(c, dtype=second_moment.dtype)
    return eye - (2.0 * lr / (c * n * n)) * second_moment


def safe_lr(inputs: torch.Tensor, fraction: float = 0.5) -> float:
    """A GD step size for the MSE of a linear convolution on ``inputs`` ``(batch, channel, y,
    x)`` under ANY choice of group elements per example: ``fraction`` C N^2 / (2 m) with
    m = mean_b max_k sum_c |u_bc^(k)|^2, a bound on the largest eigenvalue of every batch's
    second moment, so every factor lies in [1 - fraction, 1] (no divergence in any arm)."""
    c, n = inputs.shape[1], inputs.shape[-1]
    power = torch.fft.fft2(inputs.to(torch.float64)).abs().square().sum(dim=1)  # (b, y, x)
    m = float(power.flatten(1).max(dim=1).values.mean())
    return fraction * c * n * n / (2.0 * m)


def predicted_perp(
    kernel0: torch.Tensor,
    factors: torch.Tensor,
    steps: int,
    channels: Sequence[Mapping | str],
) -> torch.Tensor:
    """Spectra of the non-equivariant part after 0 .. ``steps`` GD steps,
    ``(steps + 1, ky, kx, out, in)``: fft2(K0 - P K0)(k) A(k)^n."""
    perp = kernel0.to(torch.float64) - twirl_kernel(kernel0.to(torch.float64), channels)
    current = torch.fft.fft2(perp).permute(2, 3, 0, 1)  # (ky, kx, out, in)
    out = [current]
    a = factors.to(current.dtype)
    for _ in range(steps):
        current = current @ a
        out.append(current)
    return torch.stack(out)


def equiv_closed_form(
    kernel: torch.Tensor,
    inputs: torch.Tensor,
    targets: torch.Tensor,
    channels: Sequence[Mapping | str],
    elements: Sequence[str] = groups.D4,
) -> torch.Tensor:
    """L_equiv per example, ``(batch,)``, of f = ``kernel`` * (.) in closed form::

        L_equiv(u) = 1/(C N^4) sum_c w_c sum_k mean_g |[(g.K - P K)^(k) u^(k)]_c|^2

    with w_c = 1 / (RMS_c(y) + 1e-6) the SMSE weights of the target (the weighting of
    :func:`symaudit.equivariance.twirl_decomposition`), by Parseval."""
    k = kernel.to(torch.float64)
    n = k.shape[-1]
    c = k.shape[0]
    pk = twirl_kernel(k, channels, elements=elements)
    u = torch.fft.fft2(inputs.to(torch.float64))  # (b, i, y, x)
    w = 1.0 / rms_scale(targets.to(torch.float64))[:, :, 0, 0]  # (b, c)
    total = torch.zeros(inputs.shape[0], dtype=torch.float64)
    for g in elements:
        dk = torch.fft.fft2(act_kernel(g, k, channels) - pk)
        h = torch.einsum("oiyx,biyx->boyx", dk, u)
        total += (w[:, :, None, None] * h.abs().square()).sum(dim=(1, 2, 3))
    return total / (len(elements) * c * n**4)


def equiv_orbit_form(
    kernel: torch.Tensor, inputs: torch.Tensor, targets: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The one-channel (scalar field) closed form L_equiv = sum_O s_O ||K^perp_O||^2.

    Returns ``(per_example, s, perp_norm2)``: ``per_example`` ``(batch,)``; ``s``
    ``(batch, n_orbits)`` = w / N^4 * mean_{k in O} |u^(k)|^2; ``perp_norm2`` ``(n_orbits,)``
    = sum_{k in O} |(K - P K)^(k)|^2.  Dataset level: mean over the batch, i.e. with
    s_bar_O = mean_b s_{b,O}."""
    if kernel.shape[:2] != (1, 1) or inputs.shape[1] != 1:
        raise ValueError("the orbit form is for one scalar channel; use equiv_closed_form")
    k = kernel.to(torch.float64)
    n = k.shape[-1]
    labels = wavevector_orbits(n)
    perp = torch.fft.fft2(k - twirl_kernel(k, ["scalar"]))[0, 0]
    lab = torch.as_tensor(labels.ravel())
    n_orb = int(lab.max()) + 1
    perp_norm2 = torch.zeros(n_orb, dtype=torch.float64).index_add_(
        0, lab, perp.abs().square().reshape(-1)
    )
    power = torch.fft.fft2(inputs.to(torch.float64))[:, 0].abs().square()  # (b, y, x)
    w = 1.0 / rms_scale(targets.to(torch.float64))[:, 0, 0, 0]
    s = torch.stack([orbit_averaged(p, labels) for p in power]) * (w[:, None] / n**4)
    return s @ perp_norm2, s, perp_norm2
