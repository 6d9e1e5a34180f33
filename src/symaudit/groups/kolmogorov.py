"""The symmetry subgroup G(N, k) of Kolmogorov-forced flow on the periodic N x N square.

The forced PDE (solved by :class:`symaudit.data._kolmogorov.KolmogorovSolver`) adds the body force
F(x, y) = A (sin(2 pi k y), 0) to the momentum equation on the periodic unit square, so ``k``
whole forcing periods fit in y.  The force is sampled on cell centres y_j = (j + 1/2)/N, layout
``(channel, y, x)`` = (F_x, F_y), x the LAST axis (an index flip is the reflection y -> 1 - y).

Derivation
----------
A group element g = h o t(dx, dy) (translate first, then h in D4, acting as in
:mod:`symaudit.groups`: a vector field w maps to M w(M^-1 X)) commutes with the forced solution
operator iff it maps the forcing to itself AS A VECTOR FIELD, g . F = F: the unforced operator
commutes with all of D4 x translations, and g . (solve with force F) = solve with force g . F.

* translations: t(dx, dy) . F = A (sin(2 pi k (y - dy/N)), 0).  Every x-shift leaves F alone;
  a y-shift gives +F iff k dy / N is an integer (whole forcing periods, dy a multiple of N/k)
  and -F iff k dy / N is an integer plus 1/2 (half a period, dy an odd multiple of N/(2k)).
* D4 (M^-1 X then multiply by M):
  - e: F.  r2 (M = -I): -(sin(2 pi k (-y)), 0) = F.  Symmetric.
  - s (x -> -x, M = diag(-1, 1)): (-sin(2 pi k y), 0) = -F: the x component is negated.
  - sr2 (y -> -y, M = diag(1, -1)): (sin(2 pi k (-y)), 0) = -F.
  - r, r3, sr, sr3 (they exchange the axes): (0, +-sin(2 pi k x)), a force along y varying
    along x; no translation maps it back to +-F.
* so s and sr2 are symmetries exactly when composed with a half-period y-shift, which turns
  -F back into F: s o t(dx, N/(2k) + m N/k) maps F -> -F -> F.

Hence, on an N x N grid (dy mod N)::

    G(N, k) = { h o t(dx, dy) : h in {e, r2},  k dy / N in Z }
            u { h o t(dx, dy) : h in {s, sr2}, k dy / N in Z + 1/2 }

of order 4 N k when 2k divides N (2 N k when only k divides N: the reflections drop out),
index 2N / k in D4 x translations (8 N^2 elements).  Pure D4 elements inside: e and r2 only; s
and sr2 need the half-period shift; r, r3, sr, sr3 are never symmetries.  :func:`subgroup`
enumerates G; :func:`fixes_forcing` is the defining test on the grid forcing itself.

k = 4 (:data:`KOLMOGOROV_K`): the classic Kolmogorov-flow wavenumber (four shear layers per
period, as in the Kochkov et al. 2021 benchmark), small enough to survive the solver's 2/3
dealias mask (k <= (N - 1) // 3 needs N >= 13, :func:`check_wavenumber`) and such that 2k = 8
divides every power-of-two grid N >= 8 used by the studies, which is what makes the half-period
y-shift a grid shift.

Element words: ``"s*t(0,2)"`` means s o t(0,2), the translation applied FIRST (the convention of
:func:`symaudit.groups.compose`); a single name is a word too.
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np

from ._action import act
from ._elements import parse

__all__ = [
    "KOLMOGOROV_K",
    "check_wavenumber",
    "fixes_forcing",
    "forcing_field",
    "outside_sample",
    "subgroup",
    "subgroup_sample",
    "word",
]

KOLMOGOROV_K = 4
_VECTOR = [
    {"name": "force_x", "kind": "vector", "vector": "force", "axis": "x"},
    {"name": "force_y", "kind": "vector", "vector": "force", "axis": "y"},
]


def check_wavenumber(n: int, k: int) -> None:
    """Refuse a forcing wavenumber the N-grid's 2/3 dealias mask would remove (ValueError)."""
    if not 1 <= k <= (n - 1) // 3:
        raise ValueError(
            f"Kolmogorov forcing wavenumber k={k} must lie in 1..(N-1)//3={(n - 1) // 3} "
            f"(the 2/3 dealias mask of N={n}); use N >= {3 * k + 1}"
        )


def forcing_field(n: int, k: int = KOLMOGOROV_K, amplitude: float = 1.0) -> np.ndarray:
    """The body force A (sin(2 pi k y), 0) on cell centres: ``(channel, y, x)`` = (2, N, N)."""
    y = (np.arange(n) + 0.5) / n
    out = np.zeros((2, n, n))
    out[0] = amplitude * np.sin(2.0 * np.pi * k * y)[:, None]
    return out


def word(h: str, dx: int, dy: int) -> str:
    """The word of h o t(dx, dy): ``"h"``, ``"t(dx,dy)"`` or ``"h*t(dx,dy)"``."""
    return replace(parse(h), dx=dx, dy=dy).name


def _in_subgroup(h: str, dy: int, n: int, k: int) -> bool:
    twice = (2 * k * dy) % (2 * n)  # k dy / N integer <=> 0; integer + 1/2 <=> N
    if h in ("e", "r2"):
        return twice == 0
    if h in ("s", "sr2"):
        return twice == n
    return False


def subgroup(n: int, k: int = KOLMOGOROV_K) -> list[str]:
    """Every element of G(N, k) (module docstring) as a word, identity first.

    Order: the D4 part (e, r2, s, sr2), then dy, then dx, each translation in 0..N-1.
    """
    check_wavenumber(n, k)
    return [
        word(h, dx, dy)
        for h in ("e", "r2", "s", "sr2")
        for dy in range(n)
        if _in_subgroup(h, dy, n, k)
        for dx in range(n)
    ]


def fixes_forcing(name: str, n: int, k: int = KOLMOGOROV_K) -> bool:
    """Whether the element maps the grid forcing field to itself (the defining property)."""
    f = forcing_field(n, k)
    return bool(np.allclose(act(name, f, _VECTOR), f, rtol=0.0, atol=1e-12))


def subgroup_sample(n: int, k: int = KOLMOGOROV_K) -> list[str]:
    """A solver-check sample of G(N, k): each D4 part, x-shifts, whole- and half-period
    y-shifts (the latter with s and sr2), and a few combinations; all members of
    :func:`subgroup`."""
    members = set(subgroup(n, k))
    period = n // math.gcd(n, k)  # smallest y-shift by whole forcing periods
    half = period // 2 if (2 * k * (period // 2)) % (2 * n) == n else None
    cand = [
        "e",
        "r2",
        word("e", 3, 0),
        word("e", 0, period),
        word("e", 5, (-period) % n),
        word("r2", 3, period),
    ]
    if half is not None:
        cand += [
            word("s", 0, half),
            word("sr2", 0, half),
            word("s", 1, half + period),
            word("sr2", 7, n - half),
        ]
    out = [c for c in dict.fromkeys(cand) if c in members]
    if len(out) != len(dict.fromkeys(cand)):  # a wrong derivation, not a user error
        raise AssertionError(f"subgroup_sample: {sorted(set(cand) - members)} not in G({n},{k})")
    return out


def outside_sample(n: int, k: int = KOLMOGOROV_K) -> list[str]:
    """Elements of D4 x translations OUTSIDE G(N, k): the six pure D4 elements other than e, r2,
    a y-shift by one cell, a half-period y-shift alone and with r2."""
    members = set(subgroup(n, k))
    period = n // math.gcd(n, k)
    cand = ["r", "r3", "s", "sr", "sr2", "sr3", word("e", 0, 1)]
    if period % 2 == 0:
        cand += [word("e", 0, period // 2), word("r2", 0, period // 2)]
    cand += [word("sr", 0, period)]
    return [c for c in cand if c not in members]
