"""Symmetry groups of the periodic square: the dihedral group D4 and integer translations.

Element names (the contract; used in files, tables and figures):

* D4: ``e, r, r2, r3, s, sr, sr2, sr3``.  ``r`` rotates counter-clockwise by 90 degrees in the
  (x, y) plane, (x, y) -> (-y, x); ``s`` reflects x -> -x; ``srk`` = s o r^k (apply r^k first,
  then s).
* translations: ``t(dx,dy)`` shifts periodically by dx cells along x and dy cells along y.
* products: ``h*t(dx,dy)`` = h o t(dx,dy) (translate first, then the D4 element h), the normal
  form of every element of D4 x translations (the Kolmogorov subgroup of the validation study
  needs e.g. ``s*t(0,4)``).
* wrong velocity pairing (validation case 6, evaluation only): ``p*g*p`` = P o g o P, with P the
  exchange of the x and y components of every vector channel (no spatial change).  It is the
  action of g computed as if each vector's components were paired with the wrong axes (the
  netCDF axis pairing the other way round): the spatial part of g with the component matrix
  P M P.  For e, r2, sr, sr3 (M commutes with P) it IS g's action, for r, r3, s, sr2 it is not.
  P is not an element of the symmetry group; it only ever appears as ``p*g*p``.

Arrays are laid out ``(..., channel, y, x)``: x is the last axis.  A channel transforms by its
KIND (from the store's metadata, see :mod:`symaudit.datasets`):

* ``scalar``        s'(X) = s(M^-1 X)
* ``vector``        w'(X) = M w(M^-1 X) (the x and y components of one named vector mix)
* ``pseudoscalar``  p'(X) = det(M) p(M^-1 X)

where M is the 2x2 signed permutation matrix of the element.  Translations move every channel
and leave vector components alone.  :func:`act` is the ONE implementation of all of this, for
numpy arrays and torch tensors alike; it only permutes, flips, rolls and negates, so it is exact
(bitwise) and differentiable.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

__all__ = [
    "D4",
    "ELEMENT_SETS",
    "Element",
    "act",
    "commutes_with_exchange",
    "compose",
    "elements",
    "inverse",
    "matrix",
    "parse",
]

D4: tuple[str, ...] = ("e", "r", "r2", "r3", "s", "sr", "sr2", "sr3")

_ROT = np.array([[0, -1], [1, 0]], dtype=np.int64)  # (x, y) -> (-y, x)
_REF = np.array([[-1, 0], [0, 1]], dtype=np.int64)  # x -> -x
_SHIFT_RE = re.compile(r"^t\((-?\d+),(-?\d+)\)$")


@dataclass(frozen=True)
class Element:
    """An element (s^reflect r^rotate) o t(dx, dy) of D4 x translations (translate first).

    ``Element()`` is both ``e`` and ``t(0,0)``.  ``swap`` marks the wrong-pairing variant
    ``p*g*p`` (module docstring).  Elements with both a D4 part and a shift (``s*t(0,4)``) and
    swapped ones are evaluated (:func:`act`) but not composed: :func:`compose` rejects them.
    """

    rotate: int = 0  # k in r^k, 0..3
    reflect: int = 0  # 0 or 1
    dx: int = 0
    dy: int = 0
    swap: bool = False

    @property
    def is_translation(self) -> bool:
        """A pure non-trivial translation (no D4 part, not swapped)."""
        return (
            self.rotate == 0 and self.reflect == 0 and (self.dx, self.dy) != (0, 0)
        ) and not self.swap

    @property
    def is_mixed(self) -> bool:
        """Both a non-trivial D4 part and a non-zero shift (``h*t(dx,dy)``)."""
        return (self.rotate, self.reflect) != (0, 0) and (self.dx, self.dy) != (0, 0)

    @property
    def d4_name(self) -> str:
        """The name of the D4 part alone."""
        if self.reflect:
            return "s" if self.rotate == 0 else f"sr{'' if self.rotate == 1 else self.rotate}"
        return "e" if self.rotate == 0 else f"r{'' if self.rotate == 1 else self.rotate}"

    @property
    def name(self) -> str:
        if (self.dx, self.dy) == (0, 0):
            core = self.d4_name
        elif (self.rotate, self.reflect) == (0, 0):
            core = f"t({self.dx},{self.dy})"
        else:
            core = f"{self.d4_name}*t({self.dx},{self.dy})"
        return f"p*{core}*p" if self.swap else core


def parse(element: str | Element) -> Element:
    """Parse an element name (``"sr2"``, ``"t(3,0)"``, ``"s*t(0,4)"``, ``"p*r*p"``) into an
    :class:`Element`."""
    if isinstance(element, Element):
        return element
    name = str(element).replace(" ", "")
    if name.startswith("p*") and name.endswith("*p") and len(name) > 4:
        inner = parse(name[2:-2])
        if inner.swap:
            raise ValueError(f"group element {element!r}: p*(...)*p cannot be nested")
        return Element(inner.rotate, inner.reflect, inner.dx, inner.dy, swap=True)
    head, star, tail = name.partition("*")
    if star:
        h, t = parse(head), parse(tail)
        if (
            h.is_translation
            or h.swap
            or (t.rotate, t.reflect) != (0, 0)
            or t.swap
            or not (t.dx or t.dy)
        ):
            raise ValueError(
                f"group element {element!r}: a product must read 'h*t(dx,dy)' (h in D4, the "
                "shift applied first) or 'p*g*p'"
            )
        return Element(h.rotate, h.reflect, t.dx, t.dy)
    if name in D4:
        reflect = int(name.startswith("s"))
        rest = name[1:] if reflect else name
        rotate = 0 if rest in ("", "e") else (1 if rest == "r" else int(rest[1:]))
        return Element(rotate=rotate, reflect=reflect)
    match = _SHIFT_RE.match(name)
    if match:
        return Element(dx=int(match.group(1)), dy=int(match.group(2)))
    raise ValueError(
        f"unknown group element {element!r}: expected one of {', '.join(D4)} or 't(dx,dy)'"
    )


def matrix(element: str | Element) -> np.ndarray:
    """The 2x2 integer matrix M acting on (x, y) coordinates (identity for translations)."""
    g = parse(element)
    m = np.linalg.matrix_power(_ROT, g.rotate)
    return _REF @ m if g.reflect else m


def commutes_with_exchange(element: str | Element) -> bool:
    """True when the element's matrix commutes with the component exchange P = [[0,1],[1,0]]:
    then the wrong pairing ``p*g*p`` acts exactly as g (D4: e, r2, sr, sr3)."""
    m = matrix(element)
    p = np.array([[0, 1], [1, 0]], dtype=np.int64)
    return bool(np.array_equal(m @ p, p @ m))


def compose(a: str | Element, b: str | Element) -> str:
    """The name of a o b (apply ``b`` first, then ``a``).

    D4: s^m1 r^k1 s^m2 r^k2 = s^(m1+m2) r^((-1)^m2 k1 + k2).  Translations add.  Translations
    are composed modulo nothing (callers reduce modulo N when they need to).
    """
    ga, gb = parse(a), parse(b)
    for g, given in ((ga, a), (gb, b)):
        if g.is_mixed or g.swap:
            raise ValueError(f"composing {given!r} is not supported (a product or p*g*p)")
    if ga.is_translation or gb.is_translation:
        if (ga.rotate, ga.reflect, gb.rotate, gb.reflect) != (0, 0, 0, 0):
            raise ValueError(f"composing a rotation with a translation is not supported: {a}, {b}")
        return Element(dx=ga.dx + gb.dx, dy=ga.dy + gb.dy).name
    sign = -1 if gb.reflect else 1
    return Element(
        rotate=(sign * ga.rotate + gb.rotate) % 4, reflect=(ga.reflect + gb.reflect) % 2
    ).name


def inverse(element: str | Element) -> str:
    """The name of g^-1 (reflections are involutions, r^k -> r^-k, t(dx,dy) -> t(-dx,-dy))."""
    g = parse(element)
    if g.is_mixed:
        raise ValueError(f"the inverse of a product {element!r} is not supported")
    if g.swap:  # (P g P)^-1 = P g^-1 P
        return f"p*{inverse(Element(g.rotate, g.reflect, g.dx, g.dy))}*p"
    if g.is_translation:
        return Element(dx=-g.dx, dy=-g.dy).name
    if g.reflect:
        return g.name
    return Element(rotate=(-g.rotate) % 4).name


def _shift(dx: int, dy: int) -> str:
    # spelled out so the identity of a translation set reads t(0,0) in tables and figures
    return f"t({dx},{dy})"


def _shift_x(n: int, k: int | None) -> list[str]:
    return [_shift(i, 0) for i in range(n)]


def _shift_y(n: int, k: int | None) -> list[str]:
    return [_shift(0, i) for i in range(n)]


def _shift_box(n: int, k: int | None) -> list[str]:
    if k is None:
        raise ValueError("element set 'shift_box' needs K (the box side, config key 'shift_box_K')")
    if not 1 <= k <= n:
        raise ValueError(f"shift_box K={k} must lie in 1..N={n}")
    return [_shift(dx, dy) for dy in range(k) for dx in range(k)]


def _d4_swapped(n: int, k: int | None) -> list[str]:
    return [f"p*{g}*p" for g in D4]


def _kolmogorov(n: int, k: int | None) -> list[str]:
    # the data module's derivation of G(N, k); imported here (not at the top) because the data
    # package itself builds on this module
    from symaudit.data import _kolmogorov as kol

    inside = kol.subgroup_sample(n)
    outside = kol.outside_sample(n)
    return inside + [g for g in outside if g not in inside]


ELEMENT_SETS: Mapping[str, Callable[[int, int | None], list[str]]] = {
    "d4": lambda n, k: list(D4),
    "shift_x": _shift_x,
    "shift_y": _shift_y,
    "shift_box": _shift_box,
    "kolmogorov": _kolmogorov,
    "d4_swapped": _d4_swapped,
}


def elements(set_name: str, N: int, K: int | None = None) -> list[str]:  # noqa: N803 (contract)
    """Element names of a named set on an N x N grid.  The identity comes first.

    * ``d4``; ``shift_x`` / ``shift_y`` (all N shifts); ``shift_box`` (box side ``K``);
    * ``kolmogorov`` (validation case 3): a fixed sample of the Kolmogorov symmetry subgroup
      G(N, k = 4) (:func:`symaudit.data._kolmogorov.subgroup_sample`: e, r2, x-shifts, y-shifts
      by whole forcing periods N/k, s and sr2 with half-period y-shifts N/(2k), products)
      followed by elements outside it (:func:`symaudit.data._kolmogorov.outside_sample`: r, r3,
      s, sr, sr2, sr3, t(0,1), half-period shifts alone and with r2, sr with a period shift);
    * ``d4_swapped`` (validation case 6): ``p*g*p`` for every g of D4, the action with the
      vector components paired to the wrong axes (module docstring).
    """
    try:
        make = ELEMENT_SETS[set_name]
    except KeyError:
        raise ValueError(
            f"unknown element set {set_name!r}; known: {', '.join(ELEMENT_SETS)}"
        ) from None
    return make(N, K)


# --- the action on arrays ------------------------------------------------------------------


@lru_cache(maxsize=256)
def _channel_map(element: Element, kinds: tuple[tuple[str, str | None, str | None], ...]):
    """For each output channel: (source channel, sign).  Encodes the linear part of the action."""
    m = matrix(element)
    det = int(round(np.linalg.det(m)))
    axis_index = {"x": 0, "y": 1}
    vectors: dict[str, dict[str, int]] = {}
    for c, (kind, vector, axis) in enumerate(kinds):
        if kind == "vector":
            if axis not in axis_index or vector is None:
                raise ValueError(f"channel {c}: a vector component needs 'vector' and axis x|y")
            vectors.setdefault(vector, {})[axis] = c
    for name, comps in vectors.items():
        if set(comps) != {"x", "y"}:
            raise ValueError(
                f"vector {name!r} needs both an x and a y component, got {sorted(comps)}"
            )
    source, sign = [], []
    for c, (kind, vector, axis) in enumerate(kinds):
        if kind == "scalar":
            source.append(c), sign.append(1)
        elif kind == "pseudoscalar":
            source.append(c), sign.append(det)
        elif kind == "vector":
            row = m[axis_index[axis]]  # w'_axis = sum_j M[axis, j] w_j: exactly one nonzero
            j = int(np.flatnonzero(row)[0])
            source.append(vectors[vector]["xy"[j]]), sign.append(int(row[j]))
        else:
            raise ValueError(f"channel {c}: unknown kind {kind!r} (scalar|vector|pseudoscalar)")
    return tuple(source), tuple(sign)


def _kinds(
    channels: Sequence[Mapping | str], swap: bool = False
) -> tuple[tuple[str, str | None, str | None], ...]:
    """(kind, vector, axis) per channel; ``swap`` pairs every vector component with the other
    axis (x <-> y), which turns the action of g into P o g o P (module docstring)."""
    other = {"x": "y", "y": "x"}
    out = []
    for ch in channels:
        if isinstance(ch, str):  # a bare kind is allowed for scalars and pseudoscalars
            out.append((ch, None, None))
        else:
            axis = ch.get("axis")
            if swap and ch["kind"] == "vector":
                axis = other.get(axis, axis)
            out.append((ch["kind"], ch.get("vector"), axis))
    return tuple(out)


def act(element: str | Element, fields, channels: Sequence[Mapping | str]):
    """Apply a group element to ``fields`` of layout ``(..., channel, y, x)``.

    ``fields`` is a numpy array or a torch tensor (the result has the same type, dtype and
    device; autograd flows through).  ``channels`` is the store's channel list: dicts with
    ``kind`` (``scalar`` | ``vector`` | ``pseudoscalar``) and, for vectors, ``vector`` (the
    vector's name) and ``axis`` (``x`` | ``y``).  D4 elements need a square grid.  A product
    ``h*t(dx,dy)`` shifts first, then applies h; ``p*g*p`` applies g with every vector's
    components paired to the wrong axes (the same code with the axis labels exchanged).
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
    if fields.shape[-1] != fields.shape[-2]:
        raise ValueError(f"D4 needs a square grid, got (y, x) = {tuple(fields.shape[-2:])}")
    d4_part = Element(rotate=g.rotate, reflect=g.reflect)
    source, sign = _channel_map(d4_part, _kinds(channels, swap=g.swap))
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
