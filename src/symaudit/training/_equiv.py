"""A minimal D4 twirl decomposition of the SMSE, tracked during training.

For each example, the twisted predictions p_g = g^-1 f(g x) (g in D4) have mean mu.  With the
SMSE weights w = 1 / rms(target) (per example and channel) the weighted squared error splits
exactly (bias-variance identity):

    L = mean_g |p_g - y|_w^2 = |mu - y|_w^2 + mean_g |p_g - mu|_w^2 = L_mean + L_equiv,

so L_equiv / L in [0, 1] is the part of the loss caused by broken D4 equivariance (0 for an
exactly equivariant model).  The equivariance stage may replace this hook with its own.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch

from symaudit import groups
from symaudit.losses import rms_scale

__all__ = ["equivariance_fraction"]


@torch.no_grad()
def equivariance_fraction(
    model: torch.nn.Module,
    inputs: torch.Tensor,
    targets: torch.Tensor,
    channels: Sequence[Mapping],
    *,
    reduction: str = "ratio",
):
    """L_equiv / L over D4 for ``(batch, channel, y, x)`` inputs and targets.

    ``reduction="ratio"`` returns the float L_equiv / L; ``"terms"`` returns the pair of
    float64 tensors (sum over examples of L_equiv, sum over examples of L), so callers can
    accumulate over chunks and ranks before dividing.
    """
    weight = 1.0 / rms_scale(targets)  # (batch, channel, 1, 1)
    preds = torch.stack(
        [
            groups.act(groups.inverse(g), model(groups.act(g, inputs, channels)), channels)
            for g in groups.D4
        ]
    )  # (|G|, batch, channel, y, x)
    mu = preds.mean(dim=0)
    equiv = ((preds - mu).square() * weight).mean(dim=(0, 2, 3, 4)).double()
    total = ((preds - targets).square() * weight).mean(dim=(0, 2, 3, 4)).double()
    if reduction == "terms":
        return equiv.sum(), total.sum()
    if reduction == "ratio":
        return float(equiv.sum() / total.sum())
    raise ValueError(f"unknown reduction {reduction!r}: ratio | terms")
