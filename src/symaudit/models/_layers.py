"""Layers shared by the UNet and the ViT, faithful to the reference (Lux.jl v1.24) semantics.

Everything here works on layout ``(batch, channel, y, x)`` (images) or ``(batch, token, feature)``
(tokens).  Read docs/algorithms.md §2 and §2.3 before "simplifying" anything: the
normalisations are deliberately NOT ``nn.LayerNorm``/``nn.RMSNorm``, the attention has no biases,
and the initialisation follows Lux, not PyTorch.

Every parametrised layer has ``reset_parameters(generator)`` so a whole model can be initialised
from one explicit :class:`torch.Generator` (seeded runs never touch the global RNG).
"""

from __future__ import annotations

import contextlib
import math

import torch
import torch.nn.functional as F  # noqa: N812 (torch convention)
from torch import nn

__all__ = [
    "Attention",
    "CircularConv",
    "Dense",
    "InstanceNormSwish",
    "SpatialRMSNorm",
    "TokenRMSNorm",
    "fused_attention",
    "reset_parameters",
    "swish",
]

EPS = 1e-5  # Lux's default epsilon for RMSNorm and LayerNorm

# Scaled-dot-product attention through ``F.scaled_dot_product_attention`` is faster and lighter
# on a GPU, but its CPU/CUDA kernels have no forward-mode AD (the influence stage needs JVPs).
# The explicit softmax(q k^T / sqrt(d)) v is therefore the default; training may opt in.
_FUSED_ATTENTION = False


@contextlib.contextmanager
def fused_attention(enabled: bool = True):
    """Use ``torch.nn.functional.scaled_dot_product_attention`` inside the block.

    Same mathematics as the default explicit attention (differences at round-off), faster and
    O(L) in memory on a GPU, but without forward-mode AD: never enable it around ``torch.func.jvp``.
    """
    global _FUSED_ATTENTION
    previous, _FUSED_ATTENTION = _FUSED_ATTENTION, bool(enabled)
    try:
        yield
    finally:
        _FUSED_ATTENTION = previous


def swish(x: torch.Tensor) -> torch.Tensor:
    """swish(x) = x * sigmoid(x) (Lux/NNlib ``swish``; torch's ``silu``)."""
    return F.silu(x)


def _lux_uniform_(weight: torch.Tensor, fan_in: int, generator) -> None:
    # Lux's default weight init: kaiming-uniform with gain 1, i.e. U(+-sqrt(3/fan_in));
    # PyTorch's default would be U(+-1/sqrt(fan_in)) (docs/algorithms.md §2.3).
    bound = math.sqrt(3.0 / fan_in)
    nn.init.uniform_(weight, -bound, bound, generator=generator)


def _bias_uniform_(bias: torch.Tensor, fan_in: int, generator) -> None:
    bound = 1.0 / math.sqrt(fan_in)
    nn.init.uniform_(bias, -bound, bound, generator=generator)


class CircularConv(nn.Module):
    """Circular padding by ``(k - 1) // 2`` on both spatial axes, then a valid convolution.

    The domain is periodic, so zero padding would break translation equivariance at the border.
    ``init="kaiming_normal"`` (UNet) draws N(0, 2 / fan_in); ``"lux"`` (ViT) U(+-sqrt(3/fan_in)).
    Biases are U(+-1/sqrt(fan_in)) either way.  Layout ``(batch, channel, y, x)``.
    """

    def __init__(
        self,
        c_in: int,
        c_out: int,
        k: int,
        stride: int = 1,
        bias: bool = True,
        init: str = "kaiming_normal",
    ):
        super().__init__()
        if k % 2 != 1:
            raise ValueError(f"circular conv needs an odd kernel, got {k}")
        self.pad, self.stride, self.init = (k - 1) // 2, stride, init
        self.weight = nn.Parameter(torch.empty(c_out, c_in, k, k))
        self.bias = nn.Parameter(torch.empty(c_out)) if bias else None
        self.reset_parameters()

    @property
    def fan_in(self) -> int:
        return self.weight.shape[1] * self.weight.shape[2] * self.weight.shape[3]

    def reset_parameters(self, generator: torch.Generator | None = None) -> None:
        if self.init == "kaiming_normal":
            nn.init.normal_(self.weight, 0.0, math.sqrt(2.0 / self.fan_in), generator=generator)
        elif self.init == "lux":
            _lux_uniform_(self.weight, self.fan_in, generator)
        else:
            raise ValueError(f"unknown init {self.init!r}")
        if self.bias is not None:
            _bias_uniform_(self.bias, self.fan_in, generator)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.pad:
            x = F.pad(x, (self.pad,) * 4, mode="circular")
        return F.conv2d(x, self.weight, self.bias, stride=self.stride)


class Dense(nn.Module):
    """Lux ``Dense``: y = W x (+ b) on the last axis.

    W ~ U(+-sqrt(3/fan_in)), b ~ U(+-1/sqrt(fan_in)) (Lux defaults, not PyTorch's)."""

    def __init__(self, d_in: int, d_out: int, bias: bool = True):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(d_out, d_in))
        self.bias = nn.Parameter(torch.empty(d_out)) if bias else None
        self.reset_parameters()

    def reset_parameters(self, generator: torch.Generator | None = None) -> None:
        _lux_uniform_(self.weight, self.weight.shape[1], generator)
        if self.bias is not None:
            _bias_uniform_(self.bias, self.weight.shape[1], generator)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, self.weight, self.bias)


class _ScalarGainRMSNorm(nn.Module):
    """x / sqrt(mean over ``dims`` of x^2 + 1e-5) * gamma with ONE scalar gain gamma (init 1)."""

    dims: tuple[int, ...] = ()

    def __init__(self):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(1))

    def reset_parameters(self, generator: torch.Generator | None = None) -> None:
        nn.init.ones_(self.weight)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        rms = torch.sqrt(x.square().mean(dim=self.dims, keepdim=True) + EPS)
        return x / rms * self.weight


class SpatialRMSNorm(_ScalarGainRMSNorm):
    """Lux ``RMSNorm((1, 1))`` on an image: x / sqrt(mean_{y,x} x^2 + 1e-5) * gamma.

    One RMS per (example, channel), taken over SPACE, and a single scalar gain gamma (init 1).
    Not ``nn.RMSNorm``, which normalises over channels with a per-channel gain
    (docs/algorithms.md §2.3).
    """

    dims = (-2, -1)


class TokenRMSNorm(_ScalarGainRMSNorm):
    """Lux ``RMSNorm((1,))`` on tokens ``(batch, token, feature)``: RMS over the features of
    each token, single scalar gain (init 1)."""

    dims = (-1,)


class InstanceNormSwish(nn.Module):
    """Lux ``LayerNorm((1, 1, C), swish; dims=(1, 2))``: per-example, per-channel normalisation
    over space (biased variance, eps 1e-5), per-channel affine (init 1, 0), then swish.

    This is an instance norm; examples stay independent (no batch statistics)."""

    def __init__(self, channels: int):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(channels))
        self.bias = nn.Parameter(torch.zeros(channels))

    def reset_parameters(self, generator: torch.Generator | None = None) -> None:
        nn.init.ones_(self.weight)
        nn.init.zeros_(self.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mean = x.mean(dim=(-2, -1), keepdim=True)
        var = (x - mean).square().mean(dim=(-2, -1), keepdim=True)
        y = (x - mean) / torch.sqrt(var + EPS)
        return swish(y * self.weight[:, None, None] + self.bias[:, None, None])


class Attention(nn.Module):
    """Lux ``MultiHeadAttention(d; nheads=h)`` on tokens ``(batch, token, feature)``.

    q, k, v and output projections are bias-free ``Dense(d, d)`` (docs/algorithms.md §2.3);
    head ``j`` owns the contiguous features ``d_h * j ... d_h * (j + 1) - 1``; plain softmax(q k^T /
    sqrt(d_h)) v, no dropout, no positional encoding (the ViT adds its own embedding).
    """

    def __init__(self, dim: int, heads: int):
        super().__init__()
        if dim % heads:
            raise ValueError(f"attention dim {dim} is not divisible by {heads} heads")
        self.heads = heads
        self.q = Dense(dim, dim, bias=False)
        self.k = Dense(dim, dim, bias=False)
        self.v = Dense(dim, dim, bias=False)
        self.out = Dense(dim, dim, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, length, dim = x.shape
        dh = dim // self.heads

        def split(t: torch.Tensor) -> torch.Tensor:  # (n, L, d) -> (n, heads, L, d_h)
            return t.view(n, length, self.heads, dh).transpose(1, 2)

        q, k, v = split(self.q(x)), split(self.k(x)), split(self.v(x))
        if _FUSED_ATTENTION:
            y = F.scaled_dot_product_attention(q, k, v)
        else:
            scores = torch.matmul(q, k.transpose(-2, -1)) / math.sqrt(dh)
            y = torch.matmul(scores.softmax(dim=-1), v)
        return self.out(y.transpose(1, 2).reshape(n, length, dim))


def reset_parameters(model: nn.Module, generator: torch.Generator | None = None) -> nn.Module:
    """Re-initialise every layer of ``model`` in module order from ``generator``.

    The order is the deterministic ``model.modules()`` order, so one seed gives one set of
    weights independent of anything else the process did with the global RNG.
    """
    # each module's reset_parameters initialises only its OWN direct parameters
    for module in model.modules():
        if hasattr(module, "reset_parameters"):
            module.reset_parameters(generator)
    return model
