"""The action on fields: :func:`act`, the ONE implementation for D4 x translations, and
:func:`act_transition`, the action on an (input, target) pair, where elements whose action on the
target differs from that on the input (boosts, scalings: :mod:`._kinematic`) are dispatched."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from ._channels import channel_map, kinds
from ._elements import Element, parse
from ._kinematic import Boost, Negate, Scale, parse_kinematic, pointwise, velocity


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


def parse_transition(element) -> Element | Boost | Scale | Negate:
    """Any element name: an :class:`Element` of D4 x translations (:func:`parse`), or a
    :class:`Boost` / :class:`Scale` / :class:`Negate`, which act on transitions only
    (:func:`act_transition`)."""
    if isinstance(element, Element | Boost | Scale | Negate):
        return element
    found = parse_kinematic(str(element))
    return found if found is not None else parse(element)


def act_transition(
    element,
    inputs,
    targets,
    channels: Sequence[Mapping | str],
    *,
    dt: float | None = None,
    extent: tuple[float, float] = (1.0, 1.0),
):
    """The element applied to a transition: ``(g . inputs, g . targets)``, both of layout
    ``(..., channel, y, x)`` (numpy or torch, as :func:`act`), the target one frame after the
    input.  Either may be ``None`` and is then returned as ``None`` (e.g. pulling a prediction
    back with the target action of ``inverse(g)``).

    * D4 x translations act on a frame without regard to its time: both are :func:`act`.
    * ``boost(m,n)``: U = (m Lx / (Nx dt), n Ly / (Ny dt)) (``dt`` the dataset's frame spacing,
      ``extent`` = (Lx, Ly) the domain, the grid's cells from the fields' shape; both from the
      store by :func:`frame_geometry`).  Input: the pointwise boost B_U by channel role
      (velocity + U; density kept; momentum + rho U; energy + m . U + rho |U|^2 / 2).  Target:
      B_U, then a periodic roll by (m, n) cells.  Affine and, for compressible Euler,
      channel-mixing, so the channels need ``role`` (:data:`ROLES`).
    * ``scale(alpha)``: density, momentum and energy times alpha on both (refused without a
      density channel: incompressible NS has no exact scaling at fixed viscosity and grid).
    * ``neg``: velocity and momentum negated on both (density and energy kept).

    Boosts and scalings are not elements of a finite group: no twirl over them.
    """
    g = parse_transition(element)
    if isinstance(g, Element):
        return tuple(None if f is None else act(g, f, channels) for f in (inputs, targets))
    for f in (inputs, targets):
        if f is not None and f.shape[-3] != len(channels):
            raise ValueError(
                f"fields have {f.shape[-3]} channels (axis -3 of shape {tuple(f.shape)}) but "
                f"the channel list names {len(channels)}"
            )
    if isinstance(g, Scale | Negate):
        return tuple(None if f is None else pointwise(g, f, channels) for f in (inputs, targets))
    shape = tuple((inputs if inputs is not None else targets).shape[-2:])
    u = velocity(g, shape, dt, extent)
    moved_in = None if inputs is None else pointwise(g, inputs, channels, u)
    moved_out = None
    if targets is not None:
        moved_out = act(Element(dx=g.m, dy=g.n), pointwise(g, targets, channels, u), channels)
    return moved_in, moved_out
