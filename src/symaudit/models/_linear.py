"""Linear periodic-convolution emulators: f(u) = K * u, and a two-layer f(u) = K2 * (K1 * u).

These are the "tensorizable" models of the conservation study: their output is linear in the
input and the MSE training dynamics under exact group averaging are known in closed form (see
``docs/conservation.md``).  Layout everywhere ``(batch, channel, y, x)``.

A kernel ``K`` has layout ``(out_channel, in_channel, y, x)`` on the full N x N periodic grid
with its origin at index ``(0, 0)``: ``(K * u)_o(X) = sum_i sum_Y K[o, i, Y] u_i(X - Y)``, i.e.
``fft2(K * u)[b, o] = sum_i fft2(K)[o, i] fft2(u)[b, i]``.  The model itself mixes all
channels; the kinds of the channels (scalar / vector / pseudoscalar, from the store's
metadata) enter through the group action on kernels, :func:`act_kernel`, which is the
conjugation ``f -> g o f o g^-1`` written on ``K``:

    (g . K)[Z] = R_g K[M_g^-1 Z] R_g^T        (Z taken modulo N)

with M_g the 2x2 matrix of the element on (x, y) and R_g the signed channel permutation that
:func:`symaudit.groups.act` applies (so vector components rotate with the grid and
pseudoscalars change sign under reflections).  :func:`twirl_kernel` is the average over a
group, the orthogonal projection P onto the kernels of equivariant maps.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
import torch
from torch import nn

from symaudit import groups

__all__ = [
    "LinearConv",
    "TwoLayerLinearConv",
    "act_kernel",
    "channel_matrix",
    "periodic_conv",
    "twirl_kernel",
]


def periodic_conv(kernel: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Circular convolution of ``x`` ``(batch, in_channel, y, x)`` with ``kernel``
    ``(out_channel, in_channel, y, x)`` (same N x N grid), computed with real FFTs."""
    n_y, n_x = x.shape[-2:]
    if tuple(kernel.shape[-2:]) != (n_y, n_x):
        raise ValueError(
            f"kernel grid {tuple(kernel.shape[-2:])} differs from the field grid {(n_y, n_x)}"
        )
    k_hat = torch.fft.rfft2(kernel)
    x_hat = torch.fft.rfft2(x)
    out = torch.einsum("oiyx,biyx->boyx", k_hat, x_hat)
    return torch.fft.irfft2(out, s=(n_y, n_x))


def channel_matrix(element: str, channels: Sequence[Mapping | str]) -> np.ndarray:
    """R_g, the ``(channel, channel)`` signed permutation by which ``element`` mixes channels
    at a point: ``act(g, u)[c](X) = sum_j R_g[c, j] u_j(M_g^-1 X)``.  Read off
    :func:`symaudit.groups.act` itself applied to the unit vectors on a 1 x 1 grid."""
    c = len(channels)
    basis = np.eye(c, dtype=np.float64)[:, :, None, None]  # (unit vector j, channel, 1, 1)
    return np.ascontiguousarray(groups.act(element, basis, channels)[:, :, 0, 0].T)


def _source_index(element: str, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Index arrays (iy, ix), shape (n, n): the point M_g^-1 Z (mod n) for every Z = (x, y)."""
    m_inv = np.linalg.inv(groups.matrix(element)).round().astype(np.int64)
    ys, xs = np.meshgrid(np.arange(n), np.arange(n), indexing="ij")
    sx = (m_inv[0, 0] * xs + m_inv[0, 1] * ys) % n
    sy = (m_inv[1, 0] * xs + m_inv[1, 1] * ys) % n
    return sy, sx


def act_kernel(
    element: str,
    kernel: torch.Tensor,
    out_channels: Sequence[Mapping | str],
    in_channels: Sequence[Mapping | str] | None = None,
) -> torch.Tensor:
    """The kernel of g o f o g^-1 for f = ``kernel`` * (.), a D4 ``element``.

    ``kernel`` is ``(..., out_channel, in_channel, y, x)`` (torch, any float dtype) and the
    result has the same layout.  The same formula holds in Fourier space (the spectrum of a
    kernel rotates like the kernel), which is what makes the twirl act orbit by orbit on
    wave-vectors.  Exact: only gathers, permutes and sign flips.
    """
    if groups.parse(element).is_translation:
        return kernel  # a convolution commutes with every periodic shift
    in_channels = out_channels if in_channels is None else in_channels
    n = kernel.shape[-1]
    if kernel.shape[-2] != n:
        raise ValueError(f"D4 needs a square kernel grid, got {tuple(kernel.shape[-2:])}")
    sy, sx = _source_index(element, n)
    spatial = kernel[..., torch.as_tensor(sy), torch.as_tensor(sx)]
    r_out = torch.as_tensor(channel_matrix(element, out_channels), dtype=kernel.dtype)
    r_in = torch.as_tensor(channel_matrix(element, in_channels), dtype=kernel.dtype)
    return torch.einsum("oa,...abyx,ib->...oiyx", r_out, spatial, r_in)


def twirl_kernel(
    kernel: torch.Tensor,
    out_channels: Sequence[Mapping | str],
    in_channels: Sequence[Mapping | str] | None = None,
    elements: Sequence[str] = groups.D4,
) -> torch.Tensor:
    """P(K) = mean_g g . K: the kernel of the twirled map mean_g g^-1 o f o g (the same set
    because ``elements`` is a group).  An orthogonal projection (Frobenius inner product) onto
    the kernels of ``elements``-equivariant convolutions."""
    return torch.stack([act_kernel(g, kernel, out_channels, in_channels) for g in elements]).mean(
        dim=0
    )


class _PeriodicConvModel(nn.Module):
    """What both linear models share: the fixed N x N grid (``resolution``), the scale of their
    initial Fourier coefficients (``init_scale``) and the normal initialisation of a kernel."""

    def __init__(self, resolution: int, init_scale: float):
        super().__init__()
        self.resolution = int(resolution)
        self.init_scale = float(init_scale)

    @staticmethod
    def _init_kernel(kernel: torch.Tensor, scale: float, generator: torch.Generator | None) -> None:
        """``kernel`` ``(out, in, N, N)`` i.i.d. normal with standard deviation
        ``scale / (N sqrt(in))``: Fourier coefficients of order ``scale``."""
        std = scale / (kernel.shape[-1] * math.sqrt(kernel.shape[1]))
        nn.init.normal_(kernel, 0.0, std, generator=generator)


class LinearConv(_PeriodicConvModel):
    """f(u) = K * u: one full-grid periodic convolution, no bias.

    Input and output ``(batch, channel, y, x)`` on the fixed N x N grid (``resolution``).
    ``kernel`` is ``(out_channels, in_channels, N, N)``, initialised i.i.d. normal with standard
    deviation ``init_scale / (N sqrt(in_channels))`` so that its Fourier coefficients are of order
    ``init_scale``.
    """

    def __init__(
        self,
        in_channels: int,
        resolution: int,
        out_channels: int | None = None,
        init_scale: float = 1.0,
    ):
        super().__init__(resolution, init_scale)
        out_channels = in_channels if out_channels is None else out_channels
        self.kernel = nn.Parameter(torch.empty(out_channels, in_channels, resolution, resolution))
        self.reset_parameters()

    def reset_parameters(self, generator: torch.Generator | None = None) -> None:
        self._init_kernel(self.kernel, self.init_scale, generator)

    def end_to_end_kernel(self) -> torch.Tensor:
        """The kernel of the whole map, ``(out_channel, in_channel, N, N)``."""
        return self.kernel

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return periodic_conv(self.kernel, x)


class TwoLayerLinearConv(_PeriodicConvModel):
    """f(u) = K2 * (K1 * u): a deep linear periodic convolution with ``hidden`` channels.

    ``kernel1`` ``(hidden, in_channels, N, N)``, ``kernel2`` ``(out_channels, hidden, N, N)``;
    the end-to-end map is the convolution with ``fft2^-1(fft2(K2) fft2(K1))`` (a matrix product
    per wave-vector).  Layout ``(batch, channel, y, x)``.
    """

    def __init__(
        self,
        in_channels: int,
        resolution: int,
        hidden: int = 4,
        out_channels: int | None = None,
        init_scale: float = 1.0,
    ):
        super().__init__(resolution, init_scale)
        out_channels = in_channels if out_channels is None else out_channels
        n = self.resolution
        self.kernel1 = nn.Parameter(torch.empty(hidden, in_channels, n, n))
        self.kernel2 = nn.Parameter(torch.empty(out_channels, hidden, n, n))
        self.reset_parameters()

    def reset_parameters(self, generator: torch.Generator | None = None) -> None:
        # each layer's Fourier coefficients of order sqrt(init_scale)
        for k in (self.kernel1, self.kernel2):
            self._init_kernel(k, math.sqrt(self.init_scale), generator)

    def end_to_end_kernel(self) -> torch.Tensor:
        prod = torch.einsum(
            "ohyx,hiyx->oiyx", torch.fft.fft2(self.kernel2), torch.fft.fft2(self.kernel1)
        )
        return torch.fft.ifft2(prod).real

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return periodic_conv(self.kernel2, periodic_conv(self.kernel1, x))
