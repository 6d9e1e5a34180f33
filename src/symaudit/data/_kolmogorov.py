"""Kolmogorov-forced 2-D incompressible Navier–Stokes and its exact symmetry subgroup.

The PDE is the unforced one of :mod:`symaudit.data._ns` plus a body force in the momentum
equation::

    du/dt + (u . grad) u = -grad p + nu laplace(u) + F,   F(x, y) = A (sin(2 pi k y), 0)

on the periodic unit square (so ``k`` whole forcing periods fit in y), i.e. in vorticity form
``d(omega)/dt + u . grad(omega) = nu laplace(omega) + curl F`` with
``curl F = d_x F_y - d_y F_x = -2 pi k A cos(2 pi k y)``.  State layout is the velocity
``(channel, y, x)`` = (velocity_x, velocity_y), x the LAST axis, on cell centres
y_j = (j + 1/2)/N (the grid of :mod:`symaudit.data._ic`, so an index flip is the reflection
y -> 1 - y).

Choice of k = 4 (``KOLMOGOROV_K``): the classic Kolmogorov-flow wavenumber (four shear layers
per period, as in the Kochkov et al. 2021 benchmark), small enough to survive the 2/3 dealias
mask (k <= (N - 1) // 3 needs N >= 13) and such that 2k = 8 divides every power-of-two grid
N >= 8 used by the studies, which is what makes the half-period y-shift (below) a grid shift.
Amplitude A = 1 (``KOLMOGOROV_AMPLITUDE``) adds O(1) velocity over the unit horizon against
initial velocities of std ~0.6 (NS-Gauss initial conditions), so the forcing visibly breaks
the symmetries outside the subgroup.

The symmetry subgroup (derivation)
----------------------------------
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

Element words: ``"s*t(0,2)"`` means s o t(0,2), the translation applied FIRST (the convention of
:func:`symaudit.groups.compose`); a single name is a word too.  :func:`symaudit.groups.act`
applies one (the one implementation of the action).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .. import groups
from ._ns import NSSolver

__all__ = [
    "KOLMOGOROV_AMPLITUDE",
    "KOLMOGOROV_K",
    "KolmogorovSolver",
    "fixes_forcing",
    "forcing_field",
    "outside_sample",
    "subgroup",
    "subgroup_sample",
    "word",
]

KOLMOGOROV_K = 4
KOLMOGOROV_AMPLITUDE = 1.0
_VECTOR = [
    {"name": "velocity_x", "kind": "vector", "vector": "velocity", "axis": "x"},
    {"name": "velocity_y", "kind": "vector", "vector": "velocity", "axis": "y"},
]


def _check_k(n: int, k: int) -> None:
    if not 1 <= k <= (n - 1) // 3:
        raise ValueError(
            f"Kolmogorov forcing wavenumber k={k} must lie in 1..(N-1)//3={(n - 1) // 3} "
            f"(the 2/3 dealias mask of N={n}); use N >= {3 * k + 1}"
        )


def forcing_field(n: int, k: int = KOLMOGOROV_K, amplitude: float = KOLMOGOROV_AMPLITUDE):
    """The body force A (sin(2 pi k y), 0) on cell centres: ``(channel, y, x)`` = (2, N, N)."""
    y = (np.arange(n) + 0.5) / n
    out = np.zeros((2, n, n))
    out[0] = amplitude * np.sin(2.0 * np.pi * k * y)[:, None]
    return out


@dataclass(frozen=True)
class KolmogorovSolver(NSSolver):
    """:class:`NSSolver` plus the body force A (sin(2 pi k y), 0) (see the module docstring).

    The vorticity forcing -2 pi k A cos(2 pi k y_j), y_j = (j + 1/2)/N, has exactly two rfft2
    modes, (ky, kx) = (+-k, 0), written analytically (no FFT round-off) and added to the
    nonlinear term of every RK4 stage.  The step count adds ``A * horizon`` to the input's
    speed relative to its frame (:meth:`NSSolver.relative_speed`): a force of size A raises the
    speed by at most A per unit time, and the bound stays exactly invariant under the group (A
    and horizon are constants).  The forcing is fixed in the lab frame, so it commutes with
    Galilean boosts along x only (docs/algorithms.md §9.4).
    """

    k: int = KOLMOGOROV_K
    amplitude: float = KOLMOGOROV_AMPLITUDE
    horizon: float = 1.0

    def __post_init__(self) -> None:
        super().__post_init__()
        _check_k(self.n, self.k)
        n, k = self.n, self.k
        # cos(2 pi k (j + 1/2)/N) = sum over +-k of e^{+-i pi k/N} e^{+-2 pi i k j/N} / 2
        coef = -2.0 * np.pi * k * self.amplitude * 0.5 * n * n
        f_hat = np.zeros((n, n // 2 + 1), dtype=np.complex128)
        f_hat[k, 0] = coef * np.exp(1j * np.pi * k / n)
        f_hat[n - k, 0] = coef * np.exp(-1j * np.pi * k / n)
        self._ops["forcing"] = f_hat * self._ops["mask"]

    def _nonlinear(self, w_hat: np.ndarray, mean: np.ndarray) -> np.ndarray:
        return super()._nonlinear(w_hat, mean) + self._ops["forcing"]

    def steps_for(self, velocity: np.ndarray, interval: float) -> int:
        speed = max(self.relative_speed(velocity), 1e-3) + abs(self.amplitude) * self.horizon
        return max(1, math.ceil(interval * speed / (self.cfl * (1.0 / self.n))))


# --- the subgroup ---------------------------------------------------------------------------


def word(h: str, dx: int, dy: int) -> str:
    """The word of h o t(dx, dy): ``"h"``, ``"t(dx,dy)"`` or ``"h*t(dx,dy)"``."""
    if (dx, dy) == (0, 0):
        return h
    shift = f"t({dx},{dy})"
    return shift if h == "e" else f"{h}*{shift}"


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
    _check_k(n, k)
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
    return bool(np.allclose(groups.act(name, f, _VECTOR), f, rtol=0.0, atol=1e-12))


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
