"""Twirling: the exactly D4-equivariant control model f_sym(x) = mean_g g^-1 f(g x)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
from torch import nn

from symaudit import groups


class Twirled(nn.Module):
    """Wrap ``model`` as f_sym(x) = 1/|G| sum_g g^-1 f(g x) over a finite group G (D4 by
    default).  Exactly G-equivariant for any ``model``; the parameters are ``model``'s own.

    Input and output layout ``(batch, channel, y, x)``; ``channels`` are the store's channel
    dicts, which fix how vector components transform.
    """

    def __init__(
        self, model: nn.Module, channels: Sequence[Mapping], elements: Sequence[str] = groups.D4
    ):
        super().__init__()
        self.model = model
        self.channels = [dict(c) for c in channels]
        self.elements = list(elements)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n = x.shape[0]
        # one batched forward pass over all |G| transformed copies
        stacked = torch.cat([groups.act(g, x, self.channels) for g in self.elements])
        out = self.model(stacked)
        parts = [
            groups.act(groups.inverse(g), out[i * n : (i + 1) * n], self.channels)
            for i, g in enumerate(self.elements)
        ]
        return torch.stack(parts).mean(dim=0)


def twirled(model: nn.Module, channels: Sequence[Mapping]) -> Twirled:
    """The contract's constructor: ``model`` twirled over D4."""
    return Twirled(model, channels)
