"""The increment form of an emulator: s_{t+1} = s_t + f(s_t) (the_well's "delta" targets)."""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["Increment"]


class Increment(nn.Module):
    """Wrap ``model`` as x -> x + model(x); layout ``(batch, channel, y, x)`` in and out.

    A network that predicts the change of the state over one step starts from persistence
    (s_{t+1} = s_t) instead of having to learn the identity map first; the map it represents is
    still one function of s_t, so every audit applies unchanged.  Equivariance is unaffected:
    the identity commutes with every group element, so x + f(x) is g-equivariant exactly when
    f is.

    The increment is scaled by a learned scalar ``gain`` that starts at 0 (ReZero, Bachlechner
    et al. 2021): the untrained model IS persistence, whatever the wrapped network's
    initialisation, instead of starting from a random O(1) perturbation of it that the first
    epochs spend undoing.  Parameters: ``gain`` plus ``model``'s own (state-dict prefix
    ``model.``).
    """

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model
        self.gain = nn.Parameter(torch.zeros(()))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.gain.to(x.dtype) * self.model(x)
