"""Finite-volume 2-D compressible Euler on the periodic unit square, BITWISE D4-equivariant.

Conservative state ``U = (density, momentum_x, momentum_y, energy)`` on layout
``(channel, y, x)`` (x is the LAST axis), cell averages on an N x N cell-centred grid of the
unit square, ideal gas with gamma = 1.4::

    p = (gamma - 1) * (E - (m_x u + m_y v) / 2),   u = m_x / rho,   v = m_y / rho.

Scheme: MUSCL reconstruction of the primitives (rho, u, v, p) with the MC limiter, Rusanov (or
HLL) flux, unsplit update, SSP-RK2 (or SSP-RK3), CFL time step clipped to land on output times.

Every floating-point expression below is written so that the 8 elements of D4 and integer rolls
commute with the step EXACTLY, not merely to round-off (docs/data.md §3.3).  The rules, and
why each holds:

* stencils are ``np.roll`` only, so a translation relabels cells and nothing else;
* the limiter is symmetric and odd in its two one-sided slopes (commutative ``+``, ``*``,
  ``min``; ``sign(-c) == -sign(c)``): a reflection maps (a, b) to (-b, -a) exactly.  Ratio
  limiters phi(a/b) * b are not bitwise symmetric (a/b and b/a round differently);
* the y flux is the SAME function as the x flux with the velocity components swapped on input
  and the momentum components swapped on output, so a transposition maps one onto the other;
* the Rusanov/HLL formulas are invariant under (L, R, u_n) -> (R, L, -u_n) with odd components
  negated, because IEEE rounding is sign-symmetric: fl(-a - -b) == -fl(a - b);
* the x and y flux differences are added FIRST, as one commutative two-term sum, and only then
  added to U (``(U - A) - B`` and ``(U - B) - A`` differ in the last bit);
* dt comes from a max over cells of ``(|u| + c) + (|v| + c)``: max is order-independent and the
  two-term sum commutative; there are no global sums anywhere in a step;
* the positivity fallback is pointwise (first order in a cell whose reconstructed rho or p would
  be <= 0 on either face), hence symmetric;
* no fused multiply-add: plain numpy ufuncs only (numba fastmath or torch.compile would contract
  a*b + c*d into an FMA, which is not swap-symmetric).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["GAMMA", "EulerSolver", "conservative", "pressure", "primitive"]

GAMMA = 1.4
_GM1 = GAMMA - 1.0


def primitive(state: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(rho, u, v, p) from the conservative state ``(4, ..., y, x)`` (leading axis = channel)."""
    rho, mx, my, energy = state[0], state[1], state[2], state[3]
    u = mx / rho
    v = my / rho
    p = _GM1 * (energy - 0.5 * (mx * u + my * v))
    return rho, u, v, p


def pressure(state: np.ndarray) -> np.ndarray:
    """Pressure of a conservative state ``(..., 4, y, x)`` (channel axis -3)."""
    return primitive(np.moveaxis(state, -3, 0))[3]


def conservative(rho, u, v, p) -> np.ndarray:
    """Stack (rho, m_x, m_y, E) on a new leading channel axis from primitive fields."""
    rho, u, v, p = np.broadcast_arrays(*(np.asarray(a, dtype=np.float64) for a in (rho, u, v, p)))
    energy = p / _GM1 + 0.5 * rho * (u * u + v * v)
    return np.stack([rho, rho * u, rho * v, energy])


def _mc_slopes(w: np.ndarray, axis: int) -> np.ndarray:
    """Monotonized-central slopes of every channel of ``w`` along ``axis``.

    s = [a b > 0] sign(c) min(2|a|, 2|b|, |c|), c = (a + b)/2: symmetric and odd in (a, b).
    """
    a = w - np.roll(w, 1, axis=axis)  # backward difference q_i - q_{i-1}
    b = np.roll(w, -1, axis=axis) - w  # forward difference q_{i+1} - q_i
    c = 0.5 * (a + b)
    mag = np.minimum(np.minimum(2.0 * np.abs(a), 2.0 * np.abs(b)), np.abs(c))
    return np.where(a * b > 0.0, np.sign(c) * mag, 0.0)


def _physical(rho, un, ut, p):
    """Conservative state, normal flux and sound speed of face states (normal/tangential)."""
    mn = rho * un
    mt = rho * ut
    energy = p / _GM1 + 0.5 * rho * (un * un + ut * ut)
    state = (rho, mn, mt, energy)
    flux = (mn, mn * un + p, mt * un, un * (energy + p))
    c = np.sqrt(GAMMA * p / rho)
    return state, flux, c


def _rusanov(left, right):
    """Local Lax-Friedrichs flux ``F/2(L) + F/2(R) - a/2 (U_R - U_L)`` in normal components."""
    ul, fl, cl = _physical(*left)
    ur, fr, cr = _physical(*right)
    a = 0.5 * np.maximum(np.abs(left[1]) + cl, np.abs(right[1]) + cr)
    return tuple(0.5 * (fl[k] + fr[k]) - a * (ur[k] - ul[k]) for k in range(4))


def _hll(left, right):
    """HLL flux ``((S_R F_L - S_L F_R) + S_L S_R (U_R - U_L)) / (S_R - S_L)``."""
    ul, fl, cl = _physical(*left)
    ur, fr, cr = _physical(*right)
    unl, unr = left[1], right[1]
    s_l = np.minimum(np.minimum(unl - cl, unr - cr), 0.0)
    s_r = np.maximum(np.maximum(unl + cl, unr + cr), 0.0)
    ss = s_l * s_r
    inv = 1.0 / (s_r - s_l)
    return tuple(((s_r * fl[k] - s_l * fr[k]) + ss * (ur[k] - ul[k])) * inv for k in range(4))


_FLUXES = {"rusanov": _rusanov, "hll": _hll}


@dataclass(frozen=True)
class EulerSolver:
    """Unsplit MUSCL finite-volume Euler solver on an N x N periodic cell-centred grid.

    Parameters
    ----------
    n : int
        Cells per side; spacing h = 1/N on the unit square.
    cfl : float
        Courant number C in dt = C h / max_cells[(|u| + c) + (|v| + c)].
    flux : {"rusanov", "hll"}
        Approximate Riemann solver (both bitwise reflection-symmetric; naive HLLC is not).
    rk : {2, 3}
        SSP Runge-Kutta order (Heun / Shu-Osher).
    max_steps : int
        Safety limit on the total number of steps of one :meth:`solve` call.
    """

    n: int
    cfl: float = 0.4
    flux: str = "rusanov"
    rk: int = 2
    max_steps: int = 1_000_000

    def __post_init__(self) -> None:
        if self.n < 4:
            raise ValueError(f"Euler grid needs at least 4 cells per side, got {self.n}")
        if self.flux not in _FLUXES:
            raise ValueError(f"flux must be one of {sorted(_FLUXES)}, got {self.flux!r}")
        if self.rk not in (2, 3):
            raise ValueError(f"rk must be 2 or 3, got {self.rk!r}")

    # --- one right-hand side --------------------------------------------------------------

    def _face_flux(self, w: np.ndarray, s: np.ndarray, axis: int, normal: int) -> tuple:
        """Numerical flux at faces i+1/2 along ``axis`` (1 = y, 2 = x of the (4, y, x) stack).

        ``w`` = primitives (rho, u, v, p) stacked, ``s`` their limited slopes along ``axis``;
        ``normal`` = index of the normal velocity in ``w`` (1 for x faces, 2 for y faces).
        Returns (F_rho, F_mn, F_mt, F_E) in normal/tangential components.
        """
        half = 0.5 * s
        wl = w + half  # cell i, face i+1/2
        wr = np.roll(w - half, -1, axis=axis)  # cell i+1, face i+1/2
        tangential = 3 - normal
        left = (wl[0], wl[normal], wl[tangential], wl[3])
        right = (wr[0], wr[normal], wr[tangential], wr[3])
        return _FLUXES[self.flux](left, right)

    def _limited_slopes(self, w: np.ndarray, axis: int) -> np.ndarray:
        s = _mc_slopes(w, axis)
        # Positivity fallback, pointwise: first order in cells where rho or p would be <= 0 at
        # either face.  The test treats both faces alike (an OR), so it is reflection-symmetric.
        half = 0.5 * s[[0, 3]]
        q = w[[0, 3]]
        bad = np.any((q + half <= 0.0) | (q - half <= 0.0), axis=0)
        if bad.any():
            s = np.where(bad, 0.0, s)
        return s

    def rhs(self, state: np.ndarray) -> np.ndarray:
        """-div F(U) by finite volumes; ``state`` and result are ``(4, y, x)``."""
        w = np.stack(primitive(state))
        # x faces: axis 2 of the stack (x is the last axis), normal velocity u = w[1].
        fr, fmn, fmt, fe = self._face_flux(w, self._limited_slopes(w, 2), axis=2, normal=1)
        f = np.stack([fr, fmn, fmt, fe])  # (rho, m_x, m_y, E) fluxes through x faces
        # y faces: the SAME function with (u, v) swapped on input and momenta on output.
        gr, gmn, gmt, ge = self._face_flux(w, self._limited_slopes(w, 1), axis=1, normal=2)
        g = np.stack([gr, gmt, gmn, ge])  # (rho, m_x, m_y, E) fluxes through y faces
        # Combine the two differences first, as one commutative two-term sum.
        div = (f - np.roll(f, 1, axis=2)) + (g - np.roll(g, 1, axis=1))
        return -div * float(self.n)  # divided by h = 1/N

    def max_speed(self, state: np.ndarray) -> float:
        """max over cells of (|u| + c) + (|v| + c): bitwise invariant under D4 and rolls."""
        rho, u, v, p = primitive(state)
        c = np.sqrt(GAMMA * p / rho)
        return float(np.max((np.abs(u) + c) + (np.abs(v) + c)))

    def step(self, state: np.ndarray, dt: float) -> np.ndarray:
        """One SSP-RK step of size ``dt`` (pointwise linear combinations only)."""
        u1 = state + dt * self.rhs(state)
        if self.rk == 2:
            return 0.5 * state + 0.5 * (u1 + dt * self.rhs(u1))
        u2 = 0.75 * state + 0.25 * (u1 + dt * self.rhs(u1))
        return (1.0 / 3.0) * state + (2.0 / 3.0) * (u2 + dt * self.rhs(u2))

    # --- driver ---------------------------------------------------------------------------

    def solve(self, state: np.ndarray, times) -> np.ndarray:
        """Integrate from ``times[0]`` and return the state at every output time.

        Parameters
        ----------
        state : ndarray, shape (4, N, N) = (channel, y, x)
            Conservative initial state (rho, m_x, m_y, E), with rho > 0 and p > 0; any float
            dtype, computed in float64.
        times : 1-D strictly increasing sequence
            Output times; ``state`` is at ``times[0]``.

        Returns
        -------
        ndarray, shape (T, 4, N, N), float64
            Frame 0 is ``state`` itself (bitwise).

        Raises
        ------
        FloatingPointError
            If the state loses positivity or finiteness, or ``max_steps`` is exceeded.
        """
        times = np.asarray(times, dtype=np.float64)
        if times.ndim != 1 or times.size < 1 or np.any(np.diff(times) <= 0):
            raise ValueError(f"times must be a non-empty strictly increasing 1-D array: {times}")
        u = np.array(state, dtype=np.float64)  # a copy, never a view of the caller's array
        if u.shape != (4, self.n, self.n):
            raise ValueError(
                f"Euler state must have shape (4, {self.n}, {self.n}) = (channel, y, x), "
                f"got {u.shape}"
            )
        self._check(u, float(times[0]))
        out = np.empty((times.size, 4, self.n, self.n))
        out[0] = u
        t = float(times[0])
        h = 1.0 / self.n
        nsteps = 0
        for i in range(1, times.size):
            t_next = float(times[i])
            while t < t_next:
                dt = self.cfl * h / self.max_speed(u)
                # Land exactly on the output time; a last step shorter than 1e-9 dt would be a
                # pure round-off artefact, so stretch the previous one instead.
                land = t + dt * (1.0 + 1e-9) >= t_next
                if land:
                    dt = t_next - t
                u = self.step(u, dt)
                t = t_next if land else t + dt
                nsteps += 1
                if nsteps > self.max_steps:
                    raise FloatingPointError(f"Euler solver exceeded {self.max_steps} steps")
            self._check(u, t)
            out[i] = u
        return out

    @staticmethod
    def _check(u: np.ndarray, t: float) -> None:
        rho, _, _, p = primitive(u)
        if not (np.all(np.isfinite(u)) and np.all(rho > 0.0) and np.all(p > 0.0)):
            raise FloatingPointError(f"Euler state lost positivity or finiteness at t = {t:.6g}")
