"""Elements of D4 x translations (and the wrong-pairing variant ``p*g*p``): names, parsing,
matrices, composition and inverses.  The naming contract is in :mod:`symaudit.groups`."""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from ._kinematic import compose_kinematic, inverse_kinematic, parse_kinematic

D4: tuple[str, ...] = ("e", "r", "r2", "r3", "s", "sr", "sr2", "sr3")

_ROT = np.array([[0, -1], [1, 0]], dtype=np.int64)  # (x, y) -> (-y, x)
_REF = np.array([[-1, 0], [0, 1]], dtype=np.int64)  # x -> -x
_SHIFT_RE = re.compile(r"^t\((-?\d+),(-?\d+)\)$")


@dataclass(frozen=True)
class Element:
    """An element (s^reflect r^rotate) o t(dx, dy) of D4 x translations (translate first).

    ``Element()`` is both ``e`` and ``t(0,0)``.  ``swap`` marks the wrong-pairing variant
    ``p*g*p`` (:mod:`symaudit.groups`).  Elements with both a D4 part and a shift
    (``s*t(0,4)``) and swapped ones are evaluated (:func:`symaudit.groups.act`) but not
    composed: :func:`compose` rejects them.
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
    if parse_kinematic(name) is not None:
        raise ValueError(
            f"group element {element!r} acts differently on a model's input and target (not an "
            "element of D4 x translations): apply it with groups.act_transition"
        )
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
    are composed modulo nothing (callers reduce modulo N when they need to).  Boosts add
    (boost(m,n) o boost(m',n') = boost(m+m',n+n')), scalings multiply.
    """
    ka, kb = parse_kinematic(str(a)), parse_kinematic(str(b))
    if ka is not None and kb is not None:
        return compose_kinematic(ka, kb)
    if ka is not None or kb is not None:
        raise ValueError(f"composing {a!r} with {b!r} is not supported (a boost or a scaling)")
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
    """The name of g^-1 (reflections are involutions, r^k -> r^-k, t(dx,dy) -> t(-dx,-dy),
    boost(m,n) -> boost(-m,-n), scale(alpha) -> scale(1/alpha))."""
    kinematic = None if isinstance(element, Element) else parse_kinematic(str(element))
    if kinematic is not None:
        return inverse_kinematic(kinematic)
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
