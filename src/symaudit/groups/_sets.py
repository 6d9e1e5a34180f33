"""Named element sets: :data:`ELEMENT_SETS` and :func:`elements` (the config's and the file
names' ``set``)."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from . import kolmogorov
from ._elements import D4
from ._kinematic import NEGATE, Boost, Scale


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
    inside = kolmogorov.subgroup_sample(n)
    outside = kolmogorov.outside_sample(n)
    return inside + [g for g in outside if g not in inside]


ELEMENT_SETS: Mapping[str, Callable[[int, int | None], list[str]]] = {
    "d4": lambda n, k: list(D4),
    "shift_x": _shift_x,
    "shift_y": _shift_y,
    "shift_box": _shift_box,
    "kolmogorov": _kolmogorov,
    "d4_swapped": _d4_swapped,
}


#: a small grid of boosts, both signs, identity first: (m, n) cells per frame
BOOSTS: tuple[tuple[int, int], ...] = (
    (0, 0), (1, 0), (-1, 0), (0, 1), (0, -1), (1, 1), (-1, -1), (1, -1), (-1, 1)
)  # fmt: skip
#: mass scalings: powers of two, exact in floating point
SCALES: tuple[float, ...] = (1.0, 0.5, 2.0)

#: sets of elements that act on transitions only (groups.act_transition; no twirl); the names
#: do not depend on the dataset, the boosts' velocities do (the store's frame spacing)
TRANSITION_SETS: Mapping[str, Callable[[int, int | None], list[str]]] = {
    "boost": lambda n, k: [Boost(m, q).name for m, q in BOOSTS],
    "scale": lambda n, k: [Scale(a).name for a in SCALES],
    "negation": lambda n, k: ["e", NEGATE],
}


def elements(set_name: str, N: int, K: int | None = None) -> list[str]:  # noqa: N803 (contract)
    """Element names of a named set on an N x N grid.  The identity comes first.

    * ``d4``; ``shift_x`` / ``shift_y`` (all N shifts); ``shift_box`` (box side ``K``);
    * ``kolmogorov`` (validation case 3): a fixed sample of the Kolmogorov symmetry subgroup
      G(N, k = 4) (:func:`symaudit.groups.kolmogorov.subgroup_sample`: e, r2, x-shifts,
      y-shifts by whole forcing periods N/k, s and sr2 with half-period y-shifts N/(2k),
      products) followed by elements outside it
      (:func:`symaudit.groups.kolmogorov.outside_sample`: r, r3, s, sr, sr2, sr3, t(0,1),
      half-period shifts alone and with r2, sr with a period shift);
    * ``d4_swapped`` (validation case 6): ``p*g*p`` for every g of D4, the action with the
      vector components paired to the wrong axes (:mod:`symaudit.groups`);
    * :data:`TRANSITION_SETS` (applied by :func:`symaudit.groups.act_transition`): ``boost``,
      boost(m,n) for (m, n) in :data:`BOOSTS`, and ``scale``, scale(alpha) for alpha in
      :data:`SCALES` (compressible Euler only), and ``negation``, e and ``neg`` (the velocity
      negation, not a symmetry: validation case 6 and the law R ~ 1 + c / rho).
    """
    make = ELEMENT_SETS.get(set_name) or TRANSITION_SETS.get(set_name)
    if make is None:
        known = ", ".join([*ELEMENT_SETS, *TRANSITION_SETS])
        raise ValueError(f"unknown element set {set_name!r}; known: {known}")
    return make(N, K)
