"""Pseudo-spectral 2-D incompressible Navier–Stokes on the periodic unit square, D4-equivariant.

Vorticity–streamfunction form, float64 throughout::

    d(omega)/dt + u . grad(omega) = nu * laplace(omega),   -laplace(psi) = omega,
    u_x = U_x + d(psi)/dy,   u_y = U_y - d(psi)/dx,        omega = d(u_y)/dx - d(u_x)/dy

where (U_x, U_y) is the spatially uniform mean flow (conserved exactly on a periodic domain and
carried along so that any periodic input is handled, not only zero-mean ones).  The mean flow
only translates the vorticity, a Fourier multiplier exp(-i k.U t), which the integrating factor
applies exactly (below), so a Galilean boost u -> u + U commutes with the solver to round-off.

State in and out is the VELOCITY on layout ``(channel, y, x)`` with channels
``(velocity_x, velocity_y)``: x is the LAST axis, y the one before.  The grid is the periodic
unit square with N x N points; physical wavenumbers are 2 pi times integers.

Why this design is equivariant under D4 and integer translations (to FFT round-off, about 1e-15
relative; see docs/data.md §3.2):

* every Fourier multiplier (dealias mask, viscosity, inverse Laplacian) depends only on
  ``|kx|`` and ``|ky|`` symmetrically, so it commutes with axis flips and the x<->y swap;
* the dealias mask is a SQUARE 2/3 mask ``|kx|, |ky| <= (N - 1) // 3`` which removes the Nyquist
  row and column, whose odd derivatives are not reflection-consistent (fftfreq labels the Nyquist
  bin -N/2, and a reflection maps it onto itself with the opposite sign);
* the mask is applied to the input too, so the state lives on the symmetric set of modes;
* the number of time steps per output interval is computed from ``max(|u_x - F_x| + |u_y - F_y|)``
  of the INPUT array, F the frame velocity below, a quantity that the group action (permute,
  flip, roll, negate) leaves bitwise unchanged, so x and g.x always take exactly the same steps.
  A CFL computed from an FFT-derived field could differ in the last bit and flip a ``ceil``.

Galilean boosts (docs/algorithms.md §9.4): the mean flow U (the FFT's DC term / N^2) is split into
a FRAME velocity F = U rounded to a multiple of :data:`FRAME_QUANTUM` = 2^-20 (exactly
representable, and bitwise the same for x and g.x unless U sits on a rounding tie: rounding is
odd-symmetric, permutations change only U's last bit) and a remainder U - F, |U - F| <= 2^-21.
The frame advection -i k.F is added to the integrating factor (exact in time), the remainder
stays in the explicit advection term of RK4 (its time-step error, ~(|k| |U - F| h)^5, lies far
below round-off).  The step count comes from u - F, which a boost by a multiple of the quantum
leaves unchanged (to the last bit of u + U - U).  Zero-mean data has |U| ~ 1e-17 (FFT
round-off), so F = 0 and every operation is the one of the solver before the frame was added:
generated stores are bitwise unchanged.  Hence, with frame spacing dt and U dt N = (m, n) whole
cells, ``solve(u0 + U)`` at dt equals ``roll(solve(u0), (n, m)) + U`` to round-off.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import scipy.fft as sfft

__all__ = ["FRAME_QUANTUM", "NSSolver", "frame_velocity"]

#: the frame velocity is the mean flow rounded to a multiple of this (a power of two, so the
#: rounding and the remainder are exact); see the module docstring
FRAME_QUANTUM = 2.0**-20


def frame_velocity(mean: np.ndarray) -> np.ndarray:
    """The mean flow ``(2,)`` rounded to a multiple of :data:`FRAME_QUANTUM`: the velocity the
    integrating factor advects exactly.  Odd (round half to even), so F(-U) = -F(U); exactly 0
    for the FFT round-off mean (~1e-17) of zero-mean data."""
    return np.round(np.asarray(mean, dtype=np.float64) / FRAME_QUANTUM) * FRAME_QUANTUM


@dataclass(frozen=True)
class NSSolver:
    """Integrating-factor RK4 pseudo-spectral NS solver on an N x N periodic grid.

    Parameters
    ----------
    n : int
        Grid points per side (N).  The domain is [0, 1)^2, spacing h = 1/N.
    nu : float
        Kinematic viscosity (units: length^2 / time, domain length 1).  Used when
        ``viscosity == "constant"``; about 4e-4 mimics PDEGym's effective viscosity.
    viscosity : {"constant", "spectral"}
        ``constant``: nu |k|^2 on every mode.  ``spectral``: the spectral-viscosity variant of
        PDEGym's AZEBAN solver, eps_N |k|^2 only on modes with |k_int| > sqrt(N), eps_N = 0.05/N.
        Both depend on |k|^2 only, hence are D4-symmetric.
    cfl : float
        Advective Courant number dt * max(|u_x| + |u_y|) / h.  IF-RK4 with a 2/3-dealiased
        spectral derivative is stable up to about 1.35, so 0.5 leaves a 2.7x margin for velocity
        growth after t = 0 (the bound is taken from the input field only, see module docstring).
    """

    n: int
    nu: float = 4e-4
    viscosity: str = "constant"
    cfl: float = 0.5
    _ops: dict = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.n < 4:
            raise ValueError(f"NS grid needs at least 4 points per side, got {self.n}")
        if self.viscosity not in ("constant", "spectral"):
            raise ValueError(f"viscosity must be 'constant' or 'spectral', got {self.viscosity!r}")
        n = self.n
        ky_int = np.fft.fftfreq(n, 1.0 / n)[:, None]  # axis -2 (y), full spectrum
        kx_int = np.fft.rfftfreq(n, 1.0 / n)[None, :]  # axis -1 (x), half spectrum (rfft)
        kmax = (n - 1) // 3  # strict 2/3 rule: 3 kmax < N, so no product mode aliases back
        mask = (np.abs(kx_int) <= kmax) & (np.abs(ky_int) <= kmax)
        kx = 2.0 * np.pi * kx_int
        ky = 2.0 * np.pi * ky_int
        k2 = kx * kx + ky * ky
        inv_k2 = np.zeros_like(k2)
        np.divide(1.0, k2, out=inv_k2, where=k2 > 0)
        if self.viscosity == "constant":
            decay = self.nu * k2
        else:
            kint2 = kx_int * kx_int + ky_int * ky_int
            decay = np.where(kint2 > n, (0.05 / n) * k2, 0.0)
        # Zeroing the multipliers outside the mask also kills the Nyquist bins of ikx, iky.
        ikx = np.where(mask, 1j * kx, 0.0)
        iky = np.where(mask, 1j * ky, 0.0)
        object.__setattr__(
            self,
            "_ops",
            {"mask": mask, "ikx": ikx, "iky": iky, "inv_k2": inv_k2 * mask, "decay": decay},
        )

    # --- transforms -----------------------------------------------------------------------

    def _fft(self, a: np.ndarray) -> np.ndarray:
        return sfft.rfft2(a, axes=(-2, -1))

    def _ifft(self, a: np.ndarray) -> np.ndarray:
        return sfft.irfft2(a, s=(self.n, self.n), axes=(-2, -1))

    def to_spectral(self, velocity: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Velocity ``(2, y, x)`` -> (masked vorticity spectrum, mean flow ``(2,)``).

        Taking the curl discards any gradient (divergent) part, so this is also the projection
        onto divergence-free fields; the mean flow is kept separately.
        """
        velocity = np.asarray(velocity, dtype=np.float64)
        if velocity.shape != (2, self.n, self.n):
            raise ValueError(
                f"NS state must have shape (2, {self.n}, {self.n}) = (channel, y, x), "
                f"got {velocity.shape}"
            )
        uh = self._fft(velocity)
        ops = self._ops
        w_hat = ops["ikx"] * uh[1] - ops["iky"] * uh[0]  # omega = d_x u_y - d_y u_x
        mean = uh[:, 0, 0].real / (self.n * self.n)
        return w_hat, mean

    def velocity_hat(self, w_hat: np.ndarray) -> np.ndarray:
        """Spectrum of the fluctuating velocity ``(2, ky, kx)`` from the vorticity spectrum."""
        ops = self._ops
        psi_hat = w_hat * ops["inv_k2"]
        return np.stack([ops["iky"] * psi_hat, -ops["ikx"] * psi_hat])

    def to_velocity(self, w_hat: np.ndarray, mean: np.ndarray) -> np.ndarray:
        """(vorticity spectrum, mean flow) -> velocity ``(2, y, x)`` float64."""
        u = self._ifft(self.velocity_hat(w_hat))
        return u + mean[:, None, None]

    def velocity_from_vorticity(self, vorticity: np.ndarray) -> np.ndarray:
        """Zero-mean, dealiased, divergence-free velocity ``(2, y, x)`` of a vorticity ``(y, x)``.

        The vorticity's own mean is dropped (a periodic velocity has zero mean vorticity).
        """
        w_hat = self._fft(np.asarray(vorticity, dtype=np.float64)) * self._ops["mask"]
        return self.to_velocity(w_hat, np.zeros(2))

    def vorticity(self, velocity: np.ndarray) -> np.ndarray:
        """Spectral vorticity d_x u_y - d_y u_x ``(..., y, x)`` of the dealiased velocity."""
        uh = self._fft(np.asarray(velocity, dtype=np.float64))
        return self._ifft(self._ops["ikx"] * uh[..., 1, :, :] - self._ops["iky"] * uh[..., 0, :, :])

    def project(self, velocity: np.ndarray) -> np.ndarray:
        """Dealias and project onto divergence-free fields (idempotent to round-off)."""
        return self.to_velocity(*self.to_spectral(velocity))

    # --- dynamics ------------------------------------------------------------------------

    def _nonlinear(self, w_hat: np.ndarray, mean: np.ndarray) -> np.ndarray:
        """-mask * FFT(u . grad omega), derivatives taken spectrally, 4 inverse + 1 forward FFT.

        ``mean`` is the part of the mean flow advected here explicitly: the remainder U - F of
        the module docstring (the frame velocity F is in the integrating factor)."""
        ops = self._ops
        psi_hat = w_hat * ops["inv_k2"]
        spec = np.stack(
            [ops["iky"] * psi_hat, -ops["ikx"] * psi_hat, ops["ikx"] * w_hat, ops["iky"] * w_hat]
        )
        ux, uy, wx, wy = self._ifft(spec)
        adv = (ux + mean[0]) * wx + (uy + mean[1]) * wy
        return -self._fft(adv) * ops["mask"]

    def relative_speed(self, velocity: np.ndarray) -> float:
        """max(|u_x - F_x| + |u_y - F_y|) of a velocity ``(2, y, x)`` in the frame F (module
        docstring; F = 0 for zero-mean data, and then the bits of max(|u_x| + |u_y|)).

        Exactly invariant under the group action (an elementwise sum of absolute values is the
        same bits after permuting, flipping and negating components, and F moves with them)."""
        frame = frame_velocity(self.to_spectral(velocity)[1])  # u - 0.0 is u, bit for bit
        return float(np.max(np.abs(velocity[0] - frame[0]) + np.abs(velocity[1] - frame[1])))

    def steps_for(self, velocity: np.ndarray, interval: float) -> int:
        """Number of RK4 steps for an output interval, from the input's speed relative to the
        frame (:meth:`relative_speed`): the frame's advection is exact whatever the step, so a
        Galilean boost leaves the step count unchanged."""
        speed = max(self.relative_speed(velocity), 1e-3)  # a resting fluid still needs a step
        h = 1.0 / self.n
        return max(1, math.ceil(interval * speed / (self.cfl * h)))

    def solve(self, velocity: np.ndarray, times) -> np.ndarray:
        """Integrate from ``times[0]`` through every entry of ``times``.

        Parameters
        ----------
        velocity : ndarray, shape (2, N, N) = (channel, y, x)
            Initial velocity (u_x, u_y); any float dtype, computed in float64.
        times : 1-D increasing sequence
            Output times (physical time units); the state ``velocity`` is at ``times[0]``.

        Returns
        -------
        ndarray, shape (T, 2, N, N), float64
            Velocity at each output time; frame 0 is the dealiased, divergence-free projection
            of the input.  Every frame is divergence-free to round-off.
        """
        times = np.asarray(times, dtype=np.float64)
        if times.ndim != 1 or times.size < 1 or np.any(np.diff(times) <= 0):
            raise ValueError(f"times must be a non-empty strictly increasing 1-D array: {times}")
        velocity = np.asarray(velocity, dtype=np.float64)
        w_hat, mean = self.to_spectral(velocity)
        frame = frame_velocity(mean)
        rest = mean - frame  # advected explicitly; bitwise the mean when frame == 0
        # The step count per unit time is fixed for the whole trajectory (see steps_for).
        out = np.empty((times.size, 2, self.n, self.n))
        out[0] = self.to_velocity(w_hat, mean)
        for i in range(1, times.size):
            interval = times[i] - times[i - 1]
            nsub = self.steps_for(velocity, interval)
            h = interval / nsub
            e1, e2 = self._factors(frame, h)
            for _ in range(nsub):
                w_hat = self._rk4(w_hat, rest, h, e1, e2)
            out[i] = self.to_velocity(w_hat, mean)
        if not np.all(np.isfinite(out)):
            raise FloatingPointError("NS solver produced non-finite values (time step too large?)")
        return out

    def _factors(self, frame: np.ndarray, h: float) -> tuple[np.ndarray, np.ndarray]:
        """Integrating factors over h and h/2: exp(-(decay + i k.F) t), the viscous decay and
        the frame's advection (a pure phase; 1 outside the dealias mask, whose ik are zeroed).
        Real (the decay alone) when F = 0, so zero-mean data takes the same operations as
        without a frame."""
        decay = self._ops["decay"]
        if not np.any(frame):
            return np.exp(-decay * h), np.exp(-decay * (0.5 * h))
        rate = decay + (self._ops["ikx"] * frame[0] + self._ops["iky"] * frame[1])
        return np.exp(-rate * h), np.exp(-rate * (0.5 * h))

    def _rk4(self, w, mean, h, e1, e2):
        """One integrating-factor RK4 step; the viscous decay and the frame's advection (in e1,
        e2) are integrated exactly."""
        a = self._nonlinear(w, mean)
        b = self._nonlinear(e2 * (w + (0.5 * h) * a), mean)
        c = self._nonlinear(e2 * w + (0.5 * h) * b, mean)
        d = self._nonlinear(e1 * w + h * (e2 * c), mean)
        return e1 * w + (h / 6.0) * (e1 * a + 2.0 * (e2 * (b + c)) + d)
