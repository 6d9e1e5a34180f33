"""The reference ViT (PDEHats ``src/Models/ViT``), docs/algorithms.md §2.2.

Layout ``(batch, channel, y, x)`` in and out, same shape, N divisible by 4::

    PatchEmbed : circular pad 2 -> Conv5x5(F -> c, stride 4)   overlapping 5x5 patches centred on
                 the 4-stride lattice; token p = i_x + (N/4) i_y (row-major over (y, x))
    PosEmbed   : x + E, E in R^{L x c} ~ N(0, 1), learned (so the grid is fixed at build time)
    Encoder    : depth x [x += MHA(RMSNorm(x));
                          x += Dense(2c -> c)(swish(Dense(c -> 2c)(RMSNorm(x))))]
    Head       : RMSNorm -> Dense(c -> 16 F)
    Unpatchify : the reference's SCRAMBLED reshape (see :func:`unpatchify`)

The token RMSNorms normalise over features with ONE scalar gain; attention is bias-free.
"""

from __future__ import annotations

import torch
from torch import nn

from symaudit.models._layers import Attention, CircularConv, Dense, TokenRMSNorm, swish

__all__ = ["ViT", "unpatchify"]

PATCH = 4  # stride of the patch embedding
PIXELS_PER_TOKEN = PATCH * PATCH  # each token writes 16 output pixels per channel


def unpatchify(y: torch.Tensor, channels: int, n: int) -> torch.Tensor:
    """Map head outputs ``(batch, L, 16 F)`` to fields ``(batch, F, n, n)`` exactly as the
    reference does.

    Feature ``a + 16 f`` of token ``p`` (a in 0..15) goes to channel f, flat pixel ``16 p + a`` of
    the row-major (y, x) grid, i.e. y = (16 p + a) // n, x = (16 p + a) % n.  At n = 128 token p
    writes the 1 x 16 horizontal strip x = 16 (p mod 8) + a, y = p // 8 — NOT its own 4 x 4
    patch.  This scramble is part of the inductive bias the paper analyses
    (docs/algorithms.md §2.3); do not replace it with a standard fold.
    """
    batch, length, features = y.shape
    if features != PIXELS_PER_TOKEN * channels or length * PIXELS_PER_TOKEN != n * n:
        raise ValueError(
            f"unpatchify: head output {tuple(y.shape)} does not tile {channels} x {n} x {n}"
        )
    return (
        y.view(batch, length, channels, PIXELS_PER_TOKEN)
        .permute(0, 2, 1, 3)
        .reshape(batch, channels, n, n)
    )


class Block(nn.Module):
    """Pre-norm transformer block with residuals, MLP ratio ``ratio``."""

    def __init__(self, dim: int, heads: int, ratio: int = 2):
        super().__init__()
        self.norm_attn = TokenRMSNorm()
        self.attn = Attention(dim, heads)
        self.norm_mlp = TokenRMSNorm()
        self.mlp_in = Dense(dim, ratio * dim)
        self.mlp_out = Dense(ratio * dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.norm_attn(x))
        return x + self.mlp_out(swish(self.mlp_in(self.norm_mlp(x))))


class ViT(nn.Module):
    """The reference ViT for inputs ``(batch, in_channels, resolution, resolution)``.

    Parameters
    ----------
    in_channels : int
        F (4 for CE, 2 for NS); the output has the same count.
    resolution : int
        N, divisible by 4; fixes the token grid (N/4)^2 and the positional embedding's size.
    chs, depth, heads, ratio : int
        Width c (paper 256), encoder depth (code 8; the papers say 6, see docs/algorithms.md §8),
        attention heads (8), MLP ratio (2).
    """

    def __init__(
        self,
        in_channels: int,
        resolution: int = 128,
        chs: int = 256,
        depth: int = 8,
        heads: int = 8,
        ratio: int = 2,
    ):
        super().__init__()
        if resolution % PATCH or resolution < PATCH:
            raise ValueError(
                f"ViT resolution {resolution} must be a positive multiple of the patch "
                f"stride {PATCH}"
            )
        self.in_channels, self.resolution = in_channels, resolution
        self.tokens = (resolution // PATCH) ** 2
        self.embed = CircularConv(in_channels, chs, 5, stride=PATCH, init="lux")
        self.pos_embed = nn.Parameter(torch.empty(self.tokens, chs))
        self.blocks = nn.ModuleList([Block(chs, heads, ratio) for _ in range(depth)])
        self.norm_out = TokenRMSNorm()
        self.head = Dense(chs, PIXELS_PER_TOKEN * in_channels)
        self.reset_parameters()

    def reset_parameters(self, generator: torch.Generator | None = None) -> None:
        """Initialise the model's OWN parameter (the positional embedding, N(0, 1) unscaled)."""
        nn.init.normal_(self.pos_embed, 0.0, 1.0, generator=generator)

    def check_input(self, x: torch.Tensor) -> None:
        expected = (self.in_channels, self.resolution, self.resolution)
        if x.ndim != 4 or tuple(x.shape[1:]) != expected:
            raise ValueError(
                f"ViT input shape {tuple(x.shape)} does not match its patch grid: expected "
                f"(batch, {', '.join(map(str, expected))}) (the model was built for "
                f"resolution {self.resolution})"
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.check_input(x)
        # (n, c, N/4, N/4) -> (n, L, c), token p = i_x + (N/4) i_y
        t = self.embed(x).flatten(2).transpose(1, 2) + self.pos_embed
        for block in self.blocks:
            t = block(t)
        return unpatchify(self.head(self.norm_out(t)), self.in_channels, self.resolution)
