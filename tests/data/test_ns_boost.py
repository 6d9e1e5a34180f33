"""The NS solver under Galilean boosts (docs/algorithms.md §9.4): exact to round-off.

A boost by U = (m, n) / (N dt) moves a solution by whole cells per frame: the solution of the
boosted initial condition u0 + U at t = dt is the unboosted one rolled by (m, n) cells plus U.
The solver advances the mean flow with an integrating factor (exact in time) and takes its step
count relative to the frame, so this holds to FFT round-off (~3e-16 measured at N = 16); the
solver without the frame (the mean flow advected inside RK4, step count from |u|) is off by
6e-5 to 2e-4 (time-step error), which the last test shows.  The Kolmogorov forcing
A (sin(2 pi k y), 0) commutes with x-boosts only: in a frame moving along y the forcing moves,
so every y-boost, even by whole forcing periods, is an expected failure (~1e-2 measured).
The boost is written by hand here (u -> u + U, target rolled); the group element comes later.
A boost with U dt N not whole is exact too, with the band-limited shift
(:func:`symaudit.equivariance.shift_subcell`) in place of the roll, and so is a sub-cell shift
of the initial condition given the same step count: the dealiased solver commutes with every
band-limited translation (its Lie derivative along translations is 0).
Oracle precision: float64 throughout.
"""

from __future__ import annotations

from unittest import mock

import numpy as np
import pytest
import torch

from symaudit.data import _ns, generators
from symaudit.datasets import FAMILIES
from symaudit.equivariance import shift_subcell

N = 16
TIMES = np.linspace(0.0, 1.0, 21)[:2]  # the stores' frame spacing dt = 1/20
DT = TIMES[1] - TIMES[0]
NS_FAMILIES = [f for f in FAMILIES if FAMILIES[f].pde == "incompressible_ns"]
BOOSTS = [(1, 0), (0, 1), (2, -3), (-5, 7)]


def boost_deviation(family: str, m: int, n: int, seed: int = 3) -> float:
    """max |S(u0 + U)(dt) - (roll(S(u0)(dt), (m, n) cells) + U)| / max |target|, with
    U = (m, n) / (N dt) (velocity_x, velocity_y) on layout (channel, y, x)."""
    x0 = generators.initial_condition(family, N, seed)
    velocity = (np.array([m, n], dtype=np.float64) / (N * DT))[:, None, None]
    reference = generators.solve(family, x0, TIMES)[1]
    boosted = generators.solve(family, x0 + velocity, TIMES)[1]
    target = np.roll(reference, (n, m), axis=(-2, -1)) + velocity
    return float(np.abs(boosted - target).max() / np.abs(target).max())


@pytest.mark.parametrize("family", NS_FAMILIES)
@pytest.mark.parametrize("m,n", BOOSTS)
def test_ns_boost_exact(family, m, n):
    assert boost_deviation(family, m, n) <= 1e-10


@pytest.mark.parametrize("m", [1, -3])
def test_kolmogorov_x_boost_exact(m):
    assert boost_deviation("NS-Kolmogorov", m, 0) <= 1e-10


@pytest.mark.parametrize("m,n", [(0, 1), (2, -3), (0, 4)])
def test_kolmogorov_y_boost_is_not_exact(m, n):
    """Expected failure: (0, 4) shifts by a whole forcing period (N / k = 4) at t = dt, but the
    forcing moves continuously in between, so even that boost is not a symmetry."""
    assert boost_deviation("NS-Kolmogorov", m, n) >= 1e-3


def test_frame_velocity_rounds_to_the_quantum():
    q = _ns.FRAME_QUANTUM
    assert q == 2.0**-20
    got = _ns.frame_velocity(np.array([1.25 + 1e-17, -3e-17]))
    assert got.tolist() == [1.25, 0.0]
    got = _ns.frame_velocity(np.array([0.3, -0.3]))
    assert abs(got[0] - 0.3) <= q / 2 and got[1] == -got[0]  # odd: F(-U) = -F(U)
    assert (got[0] / q).is_integer()


@pytest.mark.parametrize("family", [*NS_FAMILIES, "NS-Kolmogorov"])
def test_zero_mean_data_is_bitwise_the_frameless_solver(family):
    """Zero-mean data (mean ~1e-17 from the FFT) has frame 0, and then the solver does exactly
    the operations of the frameless one: the generated stores do not move."""
    x0 = generators.initial_condition(family, N, 1)
    solver = generators._generator(family).solver(N)
    assert not np.any(_ns.frame_velocity(solver.to_spectral(x0)[1]))
    times = np.linspace(0.0, 1.0, 6)
    with_frame = generators.solve(family, x0, times)
    with mock.patch.object(_ns, "frame_velocity", lambda mean: np.zeros(2)):
        frameless = generators.solve(family, x0, times)
    assert np.array_equal(with_frame, frameless)


def test_frameless_solver_is_only_time_step_exact():
    """The test can fail: without the frame (mean flow inside RK4, step count from |u|) the
    boost error is the time-step error, far above 1e-10."""
    with mock.patch.object(_ns, "frame_velocity", lambda mean: np.zeros(2)):
        assert boost_deviation("NS-Gauss", 1, 0) > 1e-6


def _shift(a: np.ndarray, cells_x: float, cells_y: float) -> np.ndarray:
    """The band-limited shift by (cells_x, cells_y) cells of a (..., y, x) float64 array."""
    moved = shift_subcell(torch.from_numpy(np.ascontiguousarray(a)), cells_x, -1)
    return shift_subcell(moved, cells_y, -2).numpy()


def test_boost_by_a_fraction_of_a_cell_is_exact():
    """U = (0.5, -0.75) (multiples of the frame quantum) moves the flow by U dt N = (0.4, -0.6)
    cells per frame: the target is the band-limited shift of the unboosted solution plus U."""
    x0 = generators.initial_condition("NS-Sines", N, 4)
    velocity = np.array([0.5, -0.75])[:, None, None]
    reference = generators.solve("NS-Sines", x0, TIMES)[1]
    boosted = generators.solve("NS-Sines", x0 + velocity, TIMES)[1]
    target = _shift(reference, 0.5 * DT * N, -0.75 * DT * N) + velocity
    assert np.abs(boosted - target).max() <= 1e-10 * np.abs(target).max()


def test_solver_commutes_with_subcell_shifts_at_a_fixed_step_count():
    """The step count comes from the grid values' max, which a sub-cell shift changes (a
    different count is a time-step-level difference); pinned, the solver commutes with the
    band-limited shift to round-off (measured ~5e-16)."""
    x0 = generators.initial_condition("NS-Gauss", N, 2)
    times = [0.0, 0.05, 0.1]
    with mock.patch.object(_ns.NSSolver, "steps_for", lambda self, velocity, interval: 7):
        reference = generators.solve("NS-Gauss", x0, times)
        for cells_x, cells_y in ((0.37, 0.0), (0.0, -1.6), (2.25, 0.5)):
            moved = generators.solve("NS-Gauss", _shift(x0, cells_x, cells_y), times)
            target = _shift(reference, cells_x, cells_y)
            assert np.abs(moved - target).max() <= 1e-10 * np.abs(target).max()
