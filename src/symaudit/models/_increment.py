"""The increment form of an emulator: s_{t+1} = s_t + gain · f((s_t − shift) / scale).

the_well's "delta" targets, with the network's input standardised by the training data's
statistics.  Layout ``(batch, channel, y, x)`` in and out.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
from torch import nn

__all__ = ["Increment", "input_normalisation"]


class Increment(nn.Module):
    """Wrap ``model`` as x -> x + gain · model((x − shift) / scale).

    * The network predicts the change over one step, so it need not learn the identity map.
    * ``gain`` is a learned scalar that starts at 0 (ReZero, Bachlechner et al. 2021): the
      untrained model IS persistence (s_{t+1} = s_t).  Starting it at 1 instead leaves the
      randomly initialised head's O(1) output in the prediction, and the network then spends
      its training suppressing that noise and learns to ignore its input.
    * ``shift`` / ``scale`` (buffers ``(channel, 1, 1)``, set by :func:`input_normalisation`
      from the training stores' statistics; 0 / 1 until then) give the network unit-scale
      input.  The ViT needs it: with raw fields (velocity std ≈ 0.45) the input-dependent part
      of its tokens is drowned by the unit-scale positional embedding and block outputs.

    Symmetry: the identity commutes with every group element, and the normalisation is chosen
    to commute with D4 and translations (a common scale and zero shift for the components of
    a vector, zero shift for a pseudoscalar), so x + gain·f(normalise(x)) is g-equivariant
    exactly when f is.  Parameters: ``gain`` plus ``model``'s own (state-dict prefix
    ``model.``).
    """

    def __init__(self, model: nn.Module, in_channels: int):
        super().__init__()
        self.model = model
        self.gain = nn.Parameter(torch.zeros(()))
        self.register_buffer("shift", torch.zeros(in_channels, 1, 1))
        self.register_buffer("scale", torch.ones(in_channels, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        z = (x - self.shift.to(x.dtype)) / self.scale.to(x.dtype)
        return x + self.gain.to(x.dtype) * self.model(z)


def input_normalisation(
    channels: Sequence[Mapping], stats: Sequence[Mapping], counts: Sequence[int]
) -> tuple[torch.Tensor, torch.Tensor]:
    """Symmetry-respecting per-channel ``(shift, scale)``, each ``(channel, 1, 1)`` float64,
    pooled over stores.

    ``stats`` are the stores' ``attrs["stats"]`` (per-channel ``mean`` and ``rms`` over all
    trajectories and times) and ``counts`` their sizes (trajectories × times), used as
    pooling weights.  Scalar channels: shift = mean, scale = std.  The components of a vector:
    shift 0 and one scale, sqrt(mean of the squared components) — a rotation mixes them.
    Pseudoscalars: shift 0 (a reflection flips the sign), scale = rms.
    """
    if len(stats) != len(counts) or not stats:
        raise ValueError(f"input_normalisation: {len(stats)} stats for {len(counts)} counts")
    weights = torch.tensor(counts, dtype=torch.float64)
    weights = (weights / weights.sum()).view(-1, 1)
    mean = (weights * torch.tensor([s["mean"] for s in stats], dtype=torch.float64)).sum(0)
    rms = torch.tensor([s["rms"] for s in stats], dtype=torch.float64)
    meansq = (weights * rms**2).sum(0)
    shift = torch.zeros(len(channels), dtype=torch.float64)
    scale = torch.ones(len(channels), dtype=torch.float64)
    vectors: dict[str, list[int]] = {}
    for c, ch in enumerate(channels):
        if ch["kind"] == "scalar":
            shift[c] = mean[c]
            scale[c] = torch.sqrt(torch.clamp(meansq[c] - mean[c] ** 2, min=0.0))
        elif ch["kind"] == "vector":
            vectors.setdefault(ch["vector"], []).append(c)
        else:  # pseudoscalar
            scale[c] = torch.sqrt(meansq[c])
    for members in vectors.values():
        scale[members] = torch.sqrt(meansq[members].mean())
    # a constant channel would divide by zero: leave it unscaled
    scale = torch.where(scale > 0, scale, torch.ones_like(scale))
    return shift.view(-1, 1, 1), scale.view(-1, 1, 1)
