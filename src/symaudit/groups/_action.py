"""The action on fields: :func:`act`, the ONE implementation, and :func:`act_transition`, the
seam for elements whose action on a model's target differs from that on its input."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from ._channels import channel_map, kinds
from ._elements import Element, parse


def act(element: str | Element, fields, channels: Sequence[Mapping | str]):
    """Apply a group element to ``fields`` of layout ``(..., channel, y, x)``.

    ``fields`` is a numpy array or a torch tensor (the result has the same type, dtype and
    device; autograd flows through).  ``channels`` is the store's channel list: dicts with
    ``kind`` (``scalar`` | ``vector`` | ``pseudoscalar`` | ``tensor``) and, for the components
    of a vector or tensor, its name (``vector`` / ``tensor``) and ``axis`` (``x`` | ``y``; a
    tensor's index pair ``xx`` | ``xy`` | ``yx`` | ``yy``), see :mod:`symaudit.groups._channels`.
    The odd elements of D4 (r, r3, sr, sr3) need a square grid; e, r2, s, sr2 act on any
    rectangle.  A product ``h*t(dx,dy)`` shifts first, then applies h;
    ``p*g*p`` applies g with every component paired to the wrong axes (the same code with the
    axis labels exchanged).
    """
    g = parse(element)
    if fields.shape[-3] != len(channels):
        raise ValueError(
            f"fields have {fields.shape[-3]} channels (axis -3 of shape {tuple(fields.shape)}) "
            f"but the channel list names {len(channels)}"
        )
    is_numpy = isinstance(fields, np.ndarray)
    if (g.dx, g.dy) != (0, 0):  # the translation part acts first (P commutes with it)
        if is_numpy:
            fields = np.roll(fields, shift=(g.dy, g.dx), axis=(-2, -1))
        else:
            import torch

            fields = torch.roll(fields, shifts=(g.dy, g.dx), dims=(-2, -1))
    if g.rotate == 0 and g.reflect == 0:  # P e P = e
        return fields
    if g.rotate % 2 and fields.shape[-1] != fields.shape[-2]:  # r2, s, sr2 keep any rectangle
        raise ValueError(
            f"{g.name} needs a square grid, got (y, x) = {tuple(fields.shape[-2:])} "
            "(a rectangle admits only e, r2, s, sr2)"
        )
    d4_part = Element(rotate=g.rotate, reflect=g.reflect)
    source, sign = channel_map(d4_part, kinds(channels, swap=g.swap))
    # Spatial part: s'(X) = s(M^-1 X).  r^k is rot90(., -k) on (y, x); s is a flip along x.
    if is_numpy:
        out = np.rot90(fields, k=-g.rotate, axes=(-2, -1)) if g.rotate else fields
        out = np.flip(out, axis=-1) if g.reflect else out
        out = out[..., list(source), :, :]
        if any(s < 0 for s in sign):
            out = out * np.asarray(sign, dtype=out.dtype)[:, None, None]
        return np.ascontiguousarray(out)
    import torch

    out = torch.rot90(fields, k=-g.rotate, dims=(-2, -1)) if g.rotate else fields
    out = torch.flip(out, dims=(-1,)) if g.reflect else out
    out = out[..., list(source), :, :]
    if any(s < 0 for s in sign):
        out = out * torch.tensor(sign, dtype=out.dtype, device=out.device)[:, None, None]
    return out.contiguous()


def act_transition(element: str | Element, inputs, targets, channels: Sequence[Mapping | str]):
    """The element applied to a transition: ``(g . inputs, g . targets)``, both of layout
    ``(..., channel, y, x)``, the target one frame after the input.

    Every element of D4 x translations acts on a frame without regard to its time, so here both
    are :func:`act`.  This is the one place for an element kind whose action on the target
    differs from that on the input: a Galilean boost by U = (m, n) / (N dt) adds U to the
    velocity of both frames and rolls the target by (m, n) cells (the distance travelled over
    one frame).  Such a kind gets its own class beside :class:`Element` (and a name rule in
    :func:`parse`), and its two actions are dispatched here.
    """
    return act(element, inputs, channels), act(element, targets, channels)
