"""Per-example loss gradients ∇θ C(x_i, y_i) as rows: the kets' and the bras' right-hand sides
(docs/algorithms.md §6.1, §6.6).

C is the per-example SMSE, or the mass / energy drift of the reference's conservation bras.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
from torch import nn
from torch.func import grad, vmap

from symaudit import losses
from symaudit.influence._operator import ParameterSpace

__all__ = ["BRA_LOSSES", "per_example_gradients"]

#: bra observables; mass and energy are the CE conservation bras (channel by name)
BRA_LOSSES = {"smse": None, "mass": "density", "energy": "energy"}
_DEFAULT_BRA_CHANNEL = {"mass": 0, "energy": 3}  # CE layout (density, m_x, m_y, energy)


def _bra_channel(loss: str, channel: int | None, channels: Sequence | None) -> int | None:
    if loss not in BRA_LOSSES:
        raise ValueError(f"unknown bra loss {loss!r}: {' | '.join(BRA_LOSSES)}")
    if loss == "smse":
        return None
    if channel is not None:
        return int(channel)
    if channels is not None:
        names = [c["name"] if isinstance(c, Mapping) else str(c) for c in channels]
        want = BRA_LOSSES[loss]
        if want not in names:
            raise ValueError(f"bra loss {loss!r} needs a {want!r} channel; channels: {names}")
        return names.index(want)
    return _DEFAULT_BRA_CHANNEL[loss]


def per_example_gradients(
    model: nn.Module,
    inputs: torch.Tensor,
    targets: torch.Tensor | None = None,
    *,
    loss: str = "smse",
    channel: int | None = None,
    channels: Sequence | None = None,
    chunk_size: int = 8,
    space: ParameterSpace | None = None,
) -> torch.Tensor:
    """∇θ C(x_i, y_i) for every example, as rows.

    Parameters
    ----------
    model : nn.Module
    inputs : Tensor (n, C, H, W)
    targets : Tensor (n, C, H, W), optional
        Needed for ``loss="smse"``.
    loss : {"smse", "mass", "energy"}
        Per-example SMSE (:func:`symaudit.losses.smse`) or the conservation drift
        (:func:`symaudit.losses.conservation_loss`) of the density / energy channel.
    channel : int, optional
        Channel index of the conservation bra (else looked up by name in ``channels``, else the
        CE layout: density 0, energy 3).
    chunk_size : int
        Examples per ``vmap`` call.

    Returns
    -------
    Tensor (n, P) in the model's dtype.
    """
    space = space or ParameterSpace(model)
    ch = _bra_channel(loss, channel, channels)
    if loss == "smse":
        if targets is None:
            raise ValueError("the smse bra/ket needs targets")
        if targets.shape[0] != inputs.shape[0]:
            raise ValueError(
                f"{inputs.shape[0]} inputs but {targets.shape[0]} targets (shapes "
                f"{tuple(inputs.shape)}, {tuple(targets.shape)})"
            )
    else:
        targets = inputs  # unused by the conservation losses; keeps one vmap signature

    def single(theta, x, y):
        pred = space.call(theta, x[None])
        if ch is None:
            return losses.smse(pred, y[None], reduction="sum")
        return losses.conservation_loss(pred, x[None], ch, reduction="sum")

    theta = space.theta
    x = inputs.to(dtype=space.dtype, device=space.device)
    y = targets.to(dtype=space.dtype, device=space.device)
    with torch.no_grad():
        if chunk_size == 1:  # no vmap: models that write in place (neuraloperator's FNO)
            one = grad(single)
            return torch.stack([one(theta, xi, yi) for xi, yi in zip(x, y, strict=True)])
        return vmap(grad(single), in_dims=(None, 0, 0), chunk_size=chunk_size)(theta, x, y)
