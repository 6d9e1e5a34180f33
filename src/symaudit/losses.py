"""Losses of the reference code (PDEHats ``src/Losses``), on layout ``(batch, channel, y, x)``.

* :func:`smse` — scaled MSE: (target - pred)^2 divided by the per-example, per-channel spatial
  RMS of the target (the RMS itself, NOT its square) + 1e-6, averaged over (channel, y, x).
* :func:`conservation_loss` — the mass / energy observables used as influence bras for CE:
  (mean_xy pred[c] - mean_xy input[c])^2 / (mean_xy input[c] + 1e-6).
"""

from __future__ import annotations

import torch

__all__ = ["EPS", "conservation_loss", "rms_scale", "smse"]

EPS = 1e-6


def rms_scale(target: torch.Tensor) -> torch.Tensor:
    """Per-example, per-channel spatial RMS of the target + 1e-6: ``(batch, channel, 1, 1)``."""
    return target.square().mean(dim=(-2, -1), keepdim=True).sqrt() + EPS


def _reduce(per_example: torch.Tensor, reduction: str) -> torch.Tensor:
    if reduction == "per_example":
        return per_example
    if reduction == "mean":
        return per_example.mean()
    if reduction == "sum":
        return per_example.sum()
    raise ValueError(f"unknown reduction {reduction!r}: mean | per_example | sum")


def smse(pred: torch.Tensor, target: torch.Tensor, reduction: str = "mean") -> torch.Tensor:
    """The paper's scaled MSE.  ``reduction="per_example"`` gives shape ``(batch,)``."""
    if pred.shape != target.shape:
        raise ValueError(f"smse: pred shape {tuple(pred.shape)} != target {tuple(target.shape)}")
    per_example = ((target - pred).square() / rms_scale(target)).mean(dim=(-3, -2, -1))
    return _reduce(per_example, reduction)


def conservation_loss(
    pred: torch.Tensor, inputs: torch.Tensor, channel: int, reduction: str = "mean"
) -> torch.Tensor:
    """Squared drift of the spatial mean of ``channel`` from input to prediction, divided by
    the (unsquared) input mean + 1e-6 (reference ``loss_mass`` / ``loss_energy``)."""
    m_in = inputs[:, channel].mean(dim=(-2, -1))
    m_pred = pred[:, channel].mean(dim=(-2, -1))
    return _reduce((m_pred - m_in).square() / (m_in + EPS), reduction)
