"""A small full-batch trainer for the conservation study, with every step's kernels recorded.

Arms (each a combination of three settings):

* ``augmentation``: ``"orbit"`` — orbit-complete: every step's batch holds EVERY element of the
  group applied to every example (exact group averaging of the loss); ``"random"`` — one random
  D4 element per example and step (the training loop's ``augment: {d4: true}``, through
  :func:`symaudit.training.augment`); ``"none"``.
* ``optimizer``: ``"gd"`` (plain gradient descent, ``torch.optim.SGD`` without momentum) or
  ``"adam"``.
* ``loss``: ``"mse"`` (mean over batch, channel, y, x) or ``"logcosh"`` (mean of
  log cosh(residual), a non-polynomial analytic loss).

Layout ``(batch, channel, y, x)``; the run is deterministic for a given ``seed``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import torch
from torch import nn

from symaudit import groups

__all__ = ["AUGMENTATIONS", "LOSSES", "OPTIMIZERS", "History", "logcosh", "train_full_batch"]

AUGMENTATIONS = ("orbit", "random", "none")
OPTIMIZERS = ("gd", "adam")
LOSSES = ("mse", "logcosh")


def logcosh(residual: torch.Tensor) -> torch.Tensor:
    """log cosh(r), computed without overflow as |r| + log1p(exp(-2|r|)) - log 2."""
    a = residual.abs()
    return a + torch.log1p(torch.exp(-2.0 * a)) - math.log(2.0)


@dataclass
class History:
    """What one run leaves: ``kernels`` ``(steps + 1, out, in, y, x)`` — the end-to-end kernel
    before step 1 and after every step; for a two-layer model also ``kernel1`` / ``kernel2``
    (the layers, same leading axis); ``loss`` ``(steps,)`` the training loss of each step
    (before its update)."""

    kernels: torch.Tensor
    loss: torch.Tensor
    kernel1: torch.Tensor | None = None
    kernel2: torch.Tensor | None = None
    settings: dict = field(default_factory=dict)


def _snapshot(model: nn.Module) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor | None]:
    with torch.no_grad():
        k = model.end_to_end_kernel().detach().clone()
        k1 = model.kernel1.detach().clone() if hasattr(model, "kernel1") else None
        k2 = model.kernel2.detach().clone() if hasattr(model, "kernel2") else None
    return k, k1, k2


def train_full_batch(
    model: nn.Module,
    inputs: torch.Tensor,
    targets: torch.Tensor,
    channels: Sequence[Mapping],
    *,
    steps: int,
    lr: float,
    augmentation: str = "orbit",
    optimizer: str = "gd",
    loss: str = "mse",
    seed: int = 0,
    elements: Sequence[str] = groups.D4,
    batch_size: int | None = None,
) -> History:
    """Train ``model`` (a :class:`~symaudit.models.LinearConv` or
    :class:`~symaudit.models.TwoLayerLinearConv`) in place for ``steps`` full-batch steps.

    ``inputs`` / ``targets`` ``(batch, channel, y, x)`` in the model's dtype.  Under
    ``"orbit"`` the batch of every step is ``cat_g (g inputs, g targets)`` (``|G| * batch``
    examples, G = ``elements``); under ``"random"`` a fresh element per example is drawn each
    step from a generator seeded with ``seed``.  ``batch_size``: draw that many examples
    (without replacement, same generator) each step before augmenting — SGD; ``None`` uses the
    full batch every step.
    """
    if augmentation not in AUGMENTATIONS:
        raise ValueError(f"augmentation {augmentation!r}: expected one of {AUGMENTATIONS}")
    if optimizer not in OPTIMIZERS:
        raise ValueError(f"optimizer {optimizer!r}: expected one of {OPTIMIZERS}")
    if loss not in LOSSES:
        raise ValueError(f"loss {loss!r}: expected one of {LOSSES}")
    if steps < 1 or not lr > 0:
        raise ValueError(f"need steps >= 1 and lr > 0, got steps={steps}, lr={lr}")
    from symaudit.training import augment  # the training loop's own augmentation

    params = [p for p in model.parameters() if p.requires_grad]
    opt = (
        torch.optim.SGD(params, lr=lr, momentum=0.0)
        if optimizer == "gd"
        else torch.optim.Adam(params, lr=lr)
    )
    gen = torch.Generator().manual_seed(seed)
    snaps = [_snapshot(model)]
    losses = []
    for _ in range(steps):
        x, y = inputs, targets
        if batch_size is not None:
            rows = torch.randperm(inputs.shape[0], generator=gen)[:batch_size]
            x, y = inputs[rows], targets[rows]
        if augmentation == "orbit":
            x, y = (
                torch.cat([groups.act(g, x, channels) for g in elements]),
                torch.cat([groups.act(g, y, channels) for g in elements]),
            )
        elif augmentation == "random":
            draw = torch.randint(len(groups.D4), (x.shape[0],), generator=gen)
            x, y = augment(x, y, channels, [groups.D4[i] for i in draw.tolist()])
        residual = model(x) - y
        value = residual.square().mean() if loss == "mse" else logcosh(residual).mean()
        opt.zero_grad(set_to_none=True)
        value.backward()
        opt.step()
        losses.append(float(value.detach()))
        snaps.append(_snapshot(model))
    k, k1, k2 = zip(*snaps, strict=True)
    return History(
        kernels=torch.stack(k),
        loss=torch.tensor(losses, dtype=torch.float64),
        kernel1=torch.stack(k1) if k1[0] is not None else None,
        kernel2=torch.stack(k2) if k2[0] is not None else None,
        settings=dict(
            steps=steps, lr=lr, augmentation=augmentation, optimizer=optimizer, loss=loss
        ),
    )
