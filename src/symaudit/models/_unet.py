"""The reference UNet (PDEHats ``src/Models/UNet``), docs/algorithms.md §2.1.

Layout ``(batch, channel, y, x)`` in and out, same shape; the model maps s_t -> s_{t+1}
directly (no residual formulation).  With ``c = chs`` and F input channels::

    proj_in  : CircConv11(F -> c)                                          [c,   N]
    down_1..4: Down(c, 9), Down(2c, 7), Down(4c, 5), Down(8c, 3)           [16c, N/16]
    across   : RMSNorm -> swish -> CircConv3(16c -> 32c) -> AttnBlock(32c, 4 heads, r=2)
    up_4..1  : Up(32c, 3), Up(16c, 5), Up(8c, 7), Up(4c, 9), skip concatenation up-path first
    proj_out : cat(up_1, proj_in) -> [RMSNorm -> swish -> CircConv11(2c -> 2c)] x 2
               -> Conv1x1(2c -> F)

All convolutions are circular + valid and initialised kaiming-normal (N(0, 2/fan_in)); the
attention projections are Lux-uniform and bias-free.  Because the padding is circular, the
pooling is a strided stencil and attention has no positional encoding, the whole network
commutes with periodic shifts by multiples of 16 pixels (its total stride).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from symaudit.models._layers import (
    Attention,
    CircularConv,
    InstanceNormSwish,
    SpatialRMSNorm,
    swish,
)

__all__ = ["UNet"]

_SQRT2 = math.sqrt(2.0)


class Down(nn.Module):
    """Residual down block, C_out = 2 C_in, spatial size halved.

    h = LN_swish(x); skip = AvgPool_K/2(circpad(Conv1x1(h))); main = ConvK -> LN_swish ->
    ConvK(stride 2); out = (main + skip) / sqrt(2).  The average pooling is a depth-wise conv
    with FIXED uniform weights 1/K^2 held in a buffer (Lux keeps it in the non-trainable state).
    """

    def __init__(self, c_in: int, k: int):
        super().__init__()
        c_out = 2 * c_in
        self.norm_in = InstanceNormSwish(c_in)
        self.skip = CircularConv(c_in, c_out, 1)
        self.conv1 = CircularConv(c_in, c_out, k)
        self.norm_mid = InstanceNormSwish(c_out)
        self.conv2 = CircularConv(c_out, c_out, k, stride=2)
        self.pad = (k - 1) // 2
        self.register_buffer("pool", torch.full((c_out, 1, k, k), 1.0 / k**2))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.norm_in(x)
        skip = nn.functional.pad(self.skip(h), (self.pad,) * 4, mode="circular")
        skip = nn.functional.conv2d(skip, self.pool, stride=2, groups=self.pool.shape[0])
        main = self.conv2(self.norm_mid(self.conv1(h)))
        return (main + skip) / _SQRT2


class Up(nn.Module):
    """Residual up block, C_out = C_in / 4, spatial size doubled by a pixel shuffle.

    h = PixelShuffle2(LN_swish(x)); out = ([ConvK -> LN_swish -> ConvK](h) + Conv1x1(h)) / sqrt(2).
    NNlib's pixel_shuffle under the d1 = x mapping is exactly ``torch.nn.functional.pixel_shuffle``.
    """

    def __init__(self, c_in: int, k: int):
        super().__init__()
        if c_in % 4:
            raise ValueError(f"Up block needs channels divisible by 4, got {c_in}")
        c_out = c_in // 4
        self.norm_in = InstanceNormSwish(c_in)
        self.conv1 = CircularConv(c_out, c_out, k)
        self.norm_mid = InstanceNormSwish(c_out)
        self.conv2 = CircularConv(c_out, c_out, k)
        self.skip = CircularConv(c_out, c_out, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = nn.functional.pixel_shuffle(self.norm_in(x), 2)
        return (self.conv2(self.norm_mid(self.conv1(h))) + self.skip(h)) / _SQRT2


class AttnBlock(nn.Module):
    """Bottleneck attention on the (N/16)^2 pixels as tokens.

    a = MHA(RMSNorm(x)); u = a + x; f = Conv1x1(rC -> C)(swish(Conv1x1(C -> rC)(RMSNorm(u))));
    out = (f + u) / sqrt(2).  Both RMSNorms are the spatial kind with one scalar gain.
    """

    def __init__(self, channels: int, heads: int = 4, ratio: int = 2):
        super().__init__()
        self.norm_attn = SpatialRMSNorm()
        self.attn = Attention(channels, heads)
        self.norm_mlp = SpatialRMSNorm()
        self.mlp_in = CircularConv(channels, ratio * channels, 1)
        self.mlp_out = CircularConv(ratio * channels, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c, h, w = x.shape
        # token order is irrelevant (no positional encoding); (n, c, h, w) -> (n, h*w, c)
        tokens = self.norm_attn(x).flatten(2).transpose(1, 2)
        u = self.attn(tokens).transpose(1, 2).reshape(n, c, h, w) + x
        f = self.mlp_out(swish(self.mlp_in(self.norm_mlp(u))))
        return (f + u) / _SQRT2


class UNet(nn.Module):
    """The reference UNet; input ``(batch, in_channels, N, N)`` with N divisible by 16.

    Parameters
    ----------
    in_channels : int
        F, the number of field channels (4 for CE, 2 for NS); the output has the same count.
    chs : int
        Base width c (paper: 24).
    heads : int
        Attention heads in the bottleneck (reference: 4).
    """

    kernels = (11, 9, 7, 5, 3)  # in/out, then down_1..down_4 (up blocks mirror them)
    stride = 16

    def __init__(self, in_channels: int, chs: int = 24, heads: int = 4):
        super().__init__()
        k, k1, k2, k3, k4 = self.kernels
        c = chs
        self.proj_in = CircularConv(in_channels, c, k)
        self.down_1 = Down(c, k1)
        self.down_2 = Down(2 * c, k2)
        self.down_3 = Down(4 * c, k3)
        self.down_4 = Down(8 * c, k4)
        self.across_norm = SpatialRMSNorm()
        self.across_conv = CircularConv(16 * c, 32 * c, 3)
        self.across_attn = AttnBlock(32 * c, heads=heads, ratio=2)
        self.up_4 = Up(32 * c, k4)
        self.up_3 = Up(16 * c, k3)
        self.up_2 = Up(8 * c, k2)
        self.up_1 = Up(4 * c, k1)
        self.out_norm_1 = SpatialRMSNorm()
        self.out_conv_1 = CircularConv(2 * c, 2 * c, k)
        self.out_norm_2 = SpatialRMSNorm()
        self.out_conv_2 = CircularConv(2 * c, 2 * c, k)
        self.out_proj = CircularConv(2 * c, in_channels, 1)
        self.in_channels = in_channels

    def check_input(self, x: torch.Tensor) -> None:
        if x.ndim != 4 or x.shape[1] != self.in_channels:
            raise ValueError(
                f"UNet expects (batch, {self.in_channels}, N, N), got shape {tuple(x.shape)}"
            )
        h, w = x.shape[-2:]
        if h != w or h % self.stride or h < self.stride:
            raise ValueError(
                f"UNet input shape {tuple(x.shape)}: the grid must be square with N divisible "
                f"by {self.stride} (four stride-2 levels)"
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.check_input(x)
        x0 = self.proj_in(x)
        d1 = self.down_1(x0)
        d2 = self.down_2(d1)
        d3 = self.down_3(d2)
        d4 = self.down_4(d3)
        a = self.across_attn(self.across_conv(swish(self.across_norm(d4))))
        u = self.up_4(a)
        u = self.up_3(torch.cat([u, d3], dim=1))
        u = self.up_2(torch.cat([u, d2], dim=1))
        u = self.up_1(torch.cat([u, d1], dim=1))
        y = torch.cat([u, x0], dim=1)
        y = self.out_conv_1(swish(self.out_norm_1(y)))
        y = self.out_conv_2(swish(self.out_norm_2(y)))
        return self.out_proj(y)
