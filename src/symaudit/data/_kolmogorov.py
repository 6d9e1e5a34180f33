"""Kolmogorov-forced 2-D incompressible Navier–Stokes: the solver.

The PDE is the unforced one of :mod:`symaudit.data._ns` plus a body force in the momentum
equation::

    du/dt + (u . grad) u = -grad p + nu laplace(u) + F,   F(x, y) = A (sin(2 pi k y), 0)

on the periodic unit square (so ``k`` whole forcing periods fit in y), i.e. in vorticity form
``d(omega)/dt + u . grad(omega) = nu laplace(omega) + curl F`` with
``curl F = d_x F_y - d_y F_x = -2 pi k A cos(2 pi k y)``.  State layout is the velocity
``(channel, y, x)`` = (velocity_x, velocity_y), x the LAST axis, on cell centres
y_j = (j + 1/2)/N (the grid of :mod:`symaudit.data._ic`, so an index flip is the reflection
y -> 1 - y).

k = 4 (``KOLMOGOROV_K``, chosen in :mod:`symaudit.groups.kolmogorov`).  Amplitude A = 1
(``KOLMOGOROV_AMPLITUDE``) adds O(1) velocity over the unit horizon against initial velocities
of std ~0.6 (NS-Gauss initial conditions), so the forcing visibly breaks the symmetries outside
the subgroup.

Its symmetry subgroup G(N, k) (the elements of D4 x translations that map F to itself as a
vector field) is derived and enumerated in :mod:`symaudit.groups.kolmogorov`, with k and the
dealias bound on N (``KOLMOGOROV_K``, ``check_wavenumber``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..groups.kolmogorov import KOLMOGOROV_K, check_wavenumber
from ._ns import NSSolver

__all__ = ["KOLMOGOROV_AMPLITUDE", "KOLMOGOROV_K", "KolmogorovSolver"]

KOLMOGOROV_AMPLITUDE = 1.0


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
        check_wavenumber(self.n, self.k)
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
