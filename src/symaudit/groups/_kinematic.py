"""Elements that act on transitions by channel ROLE (not by kind alone): Galilean boosts
``boost(m,n)`` (whose action on a model's target differs from that on its input), the mass scaling
``scale(alpha)`` of compressible Euler and the velocity negation ``neg``.

Neither belongs to a finite group (boosts form a copy of Z^2 acting by unbounded velocities,
scalings the multiplicative group of positive reals), so there is no twirl over them; they act
on a transition (input s_t, target s_{t+1} one frame later) through
:func:`symaudit.groups.act_transition`, and a single field has no action of its own.

* ``boost(m,n)``: U = (m Lx / (Nx dt), n Ly / (Ny dt)) with the dataset's frame spacing ``dt``,
  the grid's Nx x Ny cells and the domain's side lengths (Lx, Ly) (the unit square by default),
  so that U dt is exactly (m, n) cells.  The input gets the pointwise boost B_U, the target B_U
  and then a periodic roll by (m, n) cells (u(x, t) -> u(x - U t, t) + U with t = dt).  B_U by
  channel ROLE: velocity u -> u + U; density rho -> rho; momentum m -> m + rho U; energy
  E -> E + m . U + rho |U|^2 / 2 (with the unboosted m).
* ``scale(alpha)``: density, momentum and energy times alpha (velocity unchanged, u = m / rho)
  on input and target alike; channels without a density (incompressible NS) are refused.
* ``neg``: the velocity negation u -> -u on input and target alike: velocity and momentum
  channels negated, density and energy kept (E = p / (gamma - 1) + rho |u|^2 / 2 is even in u).
  An involution (neg o neg = e) that commutes with every element of D4 x translations (a D4
  element maps a vector by a matrix M, and M (-w) = -(M w)).  It is NOT a symmetry of NS or
  Euler (the advection u . grad u keeps its sign while d/dt u flips: negation is time reversal
  without reversing time), so its relative error measures how well a model reproduces a
  solver commutator c_g > 0 (docs/validation.md, "the law R_g ~ 1 + c_g / rho").  For a vector
  field the wrong pairing of case 6 is g o neg at the four D4 elements whose matrix
  anticommutes with the exchange P (P M P = -M for r, r3, s, sr2): ``p*g*p`` = g o ``neg`` on
  velocity-only data.  A finite group {e, neg}, but evaluated through
  :func:`symaudit.groups.act_transition` like the boosts (its action reads roles), so there is
  no twirl over it either.

Roles come from the store's channel list (key ``role``, :data:`ROLES`, written by
:mod:`symaudit.datasets`); a boost or a scaling of channels without roles is refused.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

#: channel roles the boost and the scaling read (key ``role`` of a channel)
ROLES: tuple[str, ...] = ("density", "momentum", "energy", "velocity")
_ROLE_KIND = {"density": "scalar", "energy": "scalar", "momentum": "vector", "velocity": "vector"}

#: the name of the velocity negation
NEGATE = "neg"

_BOOST_RE = re.compile(r"^boost\((-?\d+),(-?\d+)\)$")
_SCALE_RE = re.compile(r"^scale\(([^()]+)\)$")


@dataclass(frozen=True)
class Boost:
    """The Galilean boost by (m, n) cells per frame (module docstring)."""

    m: int = 0
    n: int = 0

    @property
    def name(self) -> str:
        return f"boost({self.m},{self.n})"


@dataclass(frozen=True)
class Scale:
    """The mass scaling of compressible Euler by ``alpha`` > 0 (module docstring)."""

    alpha: float = 1.0

    @property
    def name(self) -> str:
        text = repr(float(self.alpha))
        return f"scale({text.removesuffix('.0')})"


@dataclass(frozen=True)
class Negate:
    """The velocity negation u -> -u (module docstring)."""

    @property
    def name(self) -> str:
        return NEGATE


Kinematic = Boost | Scale | Negate


def parse_kinematic(name: str) -> Kinematic | None:
    """A :class:`Boost`, :class:`Scale` or :class:`Negate` from its name, None for any other."""
    text = str(name).replace(" ", "")
    if text == NEGATE:
        return Negate()
    match = _BOOST_RE.match(text)
    if match:
        return Boost(int(match.group(1)), int(match.group(2)))
    match = _SCALE_RE.match(text)
    if match is None:
        return None
    try:
        alpha = float(match.group(1))
    except ValueError:
        alpha = float("nan")
    if not (math.isfinite(alpha) and alpha > 0):
        raise ValueError(f"group element {name!r}: scale(alpha) needs a finite alpha > 0")
    return Scale(alpha)


def compose_kinematic(a: Kinematic, b: Kinematic) -> str:
    """The name of a o b: boosts add (m, n), scalings multiply alpha, neg o neg = e."""
    if isinstance(a, Negate) and isinstance(b, Negate):
        return "e"
    if isinstance(a, Boost) and isinstance(b, Boost):
        return Boost(a.m + b.m, a.n + b.n).name
    if isinstance(a, Scale) and isinstance(b, Scale):
        return Scale(a.alpha * b.alpha).name
    raise ValueError(f"composing {a.name} with {b.name} is not supported (a boost with a scaling)")


def inverse_kinematic(g: Kinematic) -> str:
    """The name of g^-1: boost(-m,-n), scale(1/alpha), neg (an involution)."""
    if isinstance(g, Negate):
        return NEGATE
    return Boost(-g.m, -g.n).name if isinstance(g, Boost) else Scale(1.0 / g.alpha).name


def is_trivial(g: Kinematic) -> bool:
    """boost(0,0) and scale(1) act as the identity on input and target (neg never)."""
    return g == Boost(0, 0) or (isinstance(g, Scale) and g.alpha == 1.0)


def roles(g: Kinematic, channels: Sequence[Mapping | str]) -> dict:
    """role -> channel index (density, energy) or {axis: index} (momentum, velocity), checked:
    every channel has a role of :data:`ROLES` matching its kind, each role at most once, a
    momentum or an energy only with a density, and (scale) a density at all."""
    found: dict = {}
    for c, ch in enumerate(channels):
        role = ch.get("role") if isinstance(ch, Mapping) else None
        label = ch.get("name", c) if isinstance(ch, Mapping) else c
        if role not in ROLES:
            raise ValueError(
                f"{g.name} needs every channel's role ({'|'.join(ROLES)}); channel {label!r} "
                f"has {'none' if role is None else repr(role)}"
            )
        kind = ch.get("kind")
        if kind != _ROLE_KIND[role]:
            raise ValueError(f"channel {label!r}: role {role} needs kind {_ROLE_KIND[role]}")
        if kind == "vector":
            axes = found.setdefault(role, {})
            if ch.get("axis") in axes or ch.get("axis") not in ("x", "y"):
                raise ValueError(f"{g.name}: channel {label!r} repeats or lacks a {role} axis")
            axes[ch["axis"]] = c
        elif role in found:
            raise ValueError(f"{g.name}: two channels have role {role}")
        else:
            found[role] = c
    for role in ("momentum", "velocity"):
        if role in found and set(found[role]) != {"x", "y"}:
            raise ValueError(f"{g.name}: the {role} needs both an x and a y component")
    if ("momentum" in found or "energy" in found) and "density" not in found:
        raise ValueError(f"{g.name}: a momentum or an energy channel needs a density channel")
    if "energy" in found and "momentum" not in found:
        raise ValueError(f"{g.name}: an energy channel needs the momentum channels")
    if isinstance(g, Scale) and "density" not in found:
        raise ValueError(
            f"{g.name}: no exact scaling without a density (incompressible NS: its velocity has "
            "no exact scaling at fixed viscosity and grid); scale() is for compressible Euler"
        )
    return found


def velocity(g: Boost, shape: tuple[int, int], dt: float | None, extent=(1.0, 1.0)):
    """U = (m Lx / (Nx dt), n Ly / (Ny dt)) of a boost on a ``shape = (Ny, Nx)`` grid."""
    if dt is None or not (math.isfinite(dt) and dt > 0):
        raise ValueError(
            f"{g.name} needs the frame spacing dt > 0 (the store's attrs 'time', "
            f"groups.frame_geometry), got {dt!r}"
        )
    lx, ly = (float(v) for v in extent)
    ny, nx = shape
    return g.m * lx / (nx * dt), g.n * ly / (ny * dt)


def _stack(parts: list, like):
    if isinstance(like, np.ndarray):
        return np.stack(parts, axis=-3)
    import torch

    return torch.stack(parts, dim=-3)


def pointwise(g: Kinematic, fields, channels, u: tuple[float, float] = (0.0, 0.0)):
    """The pointwise part of ``g`` (boost B_U by ``u`` = U, the scaling or the negation), by
    role."""
    found = roles(g, channels)
    parts = [fields[..., c, :, :] for c in range(fields.shape[-3])]
    if isinstance(g, Negate):
        for role in ("velocity", "momentum"):
            for c in found.get(role, {}).values():
                parts[c] = -parts[c]
        return _stack(parts, fields)
    if isinstance(g, Scale):
        a = g.alpha
        for role in ("density", "energy"):
            if role in found:
                parts[found[role]] = parts[found[role]] * a
        for c in found.get("momentum", {}).values():
            parts[c] = parts[c] * a
        return _stack(parts, fields)
    ux, uy = u
    for axis, comp in (("x", ux), ("y", uy)):
        if "velocity" in found:
            c = found["velocity"][axis]
            parts[c] = parts[c] + comp
    if "density" in found and "momentum" in found:
        rho = fields[..., found["density"], :, :]
        mx = fields[..., found["momentum"]["x"], :, :]
        my = fields[..., found["momentum"]["y"], :, :]
        parts[found["momentum"]["x"]] = mx + rho * ux
        parts[found["momentum"]["y"]] = my + rho * uy
        if "energy" in found:
            c = found["energy"]
            parts[c] = parts[c] + (mx * ux + my * uy) + 0.5 * (ux * ux + uy * uy) * rho
    return _stack(parts, fields)


def frame_geometry(attrs: Mapping) -> dict:
    """``{"dt": frame spacing, "extent": (Lx, Ly)}`` of a store from its attrs (``time``
    uniform, ``grid.domain``), for :func:`symaudit.groups.act_transition`'s keywords."""
    times = np.asarray(attrs.get("time") or [], dtype=np.float64)
    if times.size < 2:
        raise ValueError("store attrs 'time' need at least 2 frames for a frame spacing")
    steps = np.diff(times)
    dt = float((times[-1] - times[0]) / (times.size - 1))  # 1/20 exactly-rounded for [0, 1]
    if not dt > 0 or np.max(np.abs(steps - dt)) > 1e-9 * dt:
        raise ValueError(f"store attrs 'time' are not uniform and increasing: {times.tolist()}")
    domain = (attrs.get("grid") or {}).get("domain") or [[0.0, 1.0], [0.0, 1.0]]
    (x0, x1), (y0, y1) = domain
    return {"dt": dt, "extent": (float(x1) - float(x0), float(y1) - float(y0))}
