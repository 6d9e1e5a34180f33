"""Look-alike generators: exact equivariance, determinism, physics invariants, check-solver CLI.

Oracles: CE must be BITWISE equivariant (np.array_equal / deviation == 0.0) under all 8 D4
elements and integer rolls; NS to <= 1e-10 relative (FFT round-off, about 1e-15 measured);
conservation laws, divergence-free velocity, exact Taylor-Green decay and exact advection by a
uniform flow; and a deliberately non-symmetric limiter must be caught.  Budget: about 20 s on
2 cores (N = 32, short horizons except one long CE run).
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from symaudit import cli, groups
from symaudit.data import _euler, generators
from symaudit.data._euler import EulerSolver, conservative, primitive
from symaudit.data._ic import grid
from symaudit.data._ns import NSSolver
from symaudit.datasets import FAMILIES, channels_for

N = 32
FAMILY_NAMES = list(FAMILIES)
CE_FAMILIES = [f for f in FAMILY_NAMES if FAMILIES[f].pde == "compressible_euler"]
NS_FAMILIES = [f for f in FAMILY_NAMES if FAMILIES[f].pde == "incompressible_ns"]
ALL_ELEMENTS = list(groups.D4) + list(generators.SHIFTS)


# --- registry -----------------------------------------------------------------------------


def test_registry_covers_families_and_tolerances():
    assert list(generators.GENERATORS) == FAMILY_NAMES
    assert generators.TOLERANCE == {"compressible_euler": 0.0, "incompressible_ns": 1e-10}
    for name in FAMILY_NAMES:
        info = generators.generator_info(name)
        json.dumps(info)  # provenance must be storable as JSON attrs
        assert info["family"] == name and info["pde"] == FAMILIES[name].pde
        assert info["version"] == generators.GENERATOR_VERSION
        assert info["equivariance_tolerance"] == generators.TOLERANCE[info["pde"]]
        assert {"generator", "scheme", "parameters"} <= set(info)


@pytest.mark.parametrize(
    "call",
    [
        lambda: generators.initial_condition("CE-XX", N, 0),
        lambda: generators.solve("CE-XX", np.zeros((4, N, N)), [0.0, 1.0]),
        lambda: generators.simulate("CE-XX", N, 0),
        lambda: generators.check_solver("CE-XX", N),
        lambda: generators.generator_info("CE-XX"),
    ],
)
def test_unknown_family_names_the_known_ones(call):
    with pytest.raises(ValueError, match=r"unknown family 'CE-XX'.*CE-RP.*NS-Sines"):
        call()


# --- equivariance -------------------------------------------------------------------------


@pytest.mark.parametrize("family", FAMILY_NAMES)
def test_initial_condition_is_not_itself_symmetric(family):
    """Otherwise the equivariance checks below would pass vacuously."""
    x0 = generators.initial_condition(family, N, 0)
    channels = channels_for(family)
    for g in ALL_ELEMENTS[1:]:
        assert not np.allclose(groups.act(g, x0, channels), x0), g


@pytest.mark.parametrize("family", FAMILY_NAMES)
def test_check_solver_within_tolerance(family):
    # CE: t = 0.25 (about 60-100 steps at N = 32); NS: the full t in [0, 1].
    t_end = 0.25 if family in CE_FAMILIES else 1.0
    dev = generators.check_solver(family, N, seed=1, t_end=t_end, frames=3)
    assert list(dev) == ALL_ELEMENTS
    if family in CE_FAMILIES:
        assert all(v == 0.0 for v in dev.values()), dev  # bitwise
    else:
        assert dev["e"] == 0.0  # the solver is deterministic
        assert max(dev.values()) <= 1e-10, dev
        assert max(dev.values()) < 1e-13  # what the design actually delivers (~5e-15)


def test_euler_bitwise_over_hundreds_of_steps(monkeypatch):
    """CE-RPUI over the full t in [0, 1]: ~400 SSP-RK2 steps, np.array_equal for all elements."""
    calls = []
    step = EulerSolver.step

    def counting(self, state, dt):
        calls.append(dt)
        return step(self, state, dt)

    monkeypatch.setattr(EulerSolver, "step", counting)
    channels = channels_for("CE")
    x0 = generators.initial_condition("CE-RPUI", N, 0)
    times = np.linspace(0.0, 1.0, 5)
    reference = generators.solve("CE-RPUI", x0, times)
    steps = len(calls)
    assert steps >= 300
    for g in ALL_ELEMENTS:
        moved = generators.solve("CE-RPUI", groups.act(g, x0, channels), times)
        assert np.array_equal(moved, groups.act(g, reference, channels)), g
    assert len(calls) == steps * (1 + len(ALL_ELEMENTS))  # identical step sequence


@pytest.mark.parametrize("flux,rk", [("hll", 2), ("rusanov", 3)])
def test_euler_variants_bitwise(flux, rk):
    solver = EulerSolver(N, flux=flux, rk=rk)
    channels = channels_for("CE")
    x0 = generators.initial_condition("CE-CRP", N, 2)
    reference = solver.solve(x0, [0.0, 0.1])
    for g in ALL_ELEMENTS:
        moved = solver.solve(groups.act(g, x0, channels), [0.0, 0.1])
        assert np.array_equal(moved, groups.act(g, reference, channels)), g


def test_ratio_limiter_is_caught(monkeypatch):
    """A van Leer limiter in ratio form phi(a/b) b is symmetric only to round-off: the check
    must report a non-zero deviation (proves the bitwise test has teeth)."""

    def van_leer(w, axis):
        a = w - np.roll(w, 1, axis=axis)
        b = np.roll(w, -1, axis=axis) - w
        with np.errstate(divide="ignore", invalid="ignore"):
            r = np.where(b != 0, a / b, 0.0)
        return b * (r + np.abs(r)) / (1.0 + np.abs(r))

    monkeypatch.setattr(_euler, "_mc_slopes", van_leer)
    dev = generators.check_solver("CE-RP", 16, t_end=0.1)
    assert dev["e"] == 0.0
    assert max(dev.values()) > 0.0
    assert max(dev.values()) < 1e-12  # ... but only at round-off level


@pytest.mark.parametrize("family", NS_FAMILIES[1:2])
def test_ns_float32_equivariant(family):
    channels = channels_for(family)
    x0 = generators.initial_condition(family, N, 3)
    times = [0.0, 0.5, 1.0]
    # (a) the float32 cast of the float64 output: at most one float32 ulp apart, almost always 0
    ref = generators.solve(family, x0, times)
    ulp = np.spacing(np.float32(np.abs(ref).max()))
    differing = 0
    for g in groups.D4:
        moved = generators.solve(family, groups.act(g, x0, channels), times).astype(np.float32)
        expected = groups.act(g, ref, channels).astype(np.float32)
        assert np.max(np.abs(moved - expected)) <= ulp, g
        differing += int(np.count_nonzero(moved != expected))
    assert differing <= 1e-4 * ref.size * len(groups.D4)
    # (b) a float32 input is computed in float64 and stays equivariant
    x32 = x0.astype(np.float32)
    ref32 = generators.solve(family, x32, times)
    assert ref32.dtype == np.float64
    for g in ("r", "sr3", "t(7,-3)"):
        moved = generators.solve(family, groups.act(g, x32, channels), times)
        expected = groups.act(g, ref32, channels)
        assert np.max(np.abs(moved - expected)) <= 1e-10 * np.abs(ref32).max(), g


# --- determinism, shapes, physics ---------------------------------------------------------


@pytest.mark.parametrize("family", FAMILY_NAMES)
def test_deterministic_and_seeded(family):
    a = generators.simulate(family, 16, seed=7, time_steps=3, t_end=0.1)
    b = generators.simulate(family, 16, seed=7, time_steps=3, t_end=0.1)
    c = generators.initial_condition(family, 16, 8)
    assert a.shape == (3, len(channels_for(family)), 16, 16) and a.dtype == np.float64
    assert np.array_equal(a, b)
    assert not np.allclose(a[0], c)
    assert np.all(np.isfinite(a))


@pytest.mark.parametrize("family", CE_FAMILIES)
def test_euler_positive_conservative_and_frame0_exact(family):
    x0 = generators.initial_condition(family, N, 4)
    traj = generators.solve(family, x0, np.linspace(0.0, 1.0, 5))
    assert np.array_equal(traj[0], x0)
    assert np.all(np.isfinite(traj))
    rho, _, _, p = primitive(np.moveaxis(traj, 1, 0))
    assert rho.min() > 0.0 and p.min() > 0.0
    # periodic finite volumes conserve mass, momentum and energy to round-off
    totals = traj.sum(axis=(-2, -1))
    scale = np.abs(traj).sum(axis=(-2, -1)).max(axis=0)
    assert np.max(np.abs(totals - totals[0]) / scale) < 1e-13


def test_euler_uniform_state_and_smooth_advection():
    # a uniform state is a bitwise fixed point
    uniform = conservative(np.full((N, N), 0.7), 0.3, -0.2, 0.5)
    assert np.array_equal(EulerSolver(N).solve(uniform, [0.0, 0.3])[-1], uniform)
    # a density wave advected by a constant flow returns after one period (2nd order, MC)
    errors = []
    for n in (N, 2 * N):
        rho = 1.0 + 0.2 * np.sin(2 * np.pi * grid(n))[None, :] * np.ones((n, 1))
        u0 = conservative(rho, 1.0, 0.5, 1.0)
        errors.append(np.abs(EulerSolver(n).solve(u0, [0.0, 1.0])[-1] - u0).max())
    assert errors[0] < 0.02
    assert errors[0] / errors[1] > 2.5


@pytest.mark.parametrize("family", NS_FAMILIES)
def test_ns_divergence_free_energy_and_frame0(family):
    x0 = generators.initial_condition(family, N, 5)
    traj = generators.solve(family, x0, np.linspace(0.0, 1.0, 5))
    assert np.all(np.isfinite(traj))
    assert np.max(np.abs(traj[0] - x0)) <= 1e-13 * np.abs(x0).max()  # IC is already projected
    # spectral divergence over the FULL spectrum, x = last axis
    k = 2 * np.pi * np.fft.fftfreq(N, 1.0 / N)
    uh = np.fft.fft2(traj)
    div = np.fft.ifft2(1j * k[None, :] * uh[:, 0] + 1j * k[:, None] * uh[:, 1]).real
    grad = np.abs(np.fft.ifft2(1j * k[None, :] * uh[:, 0]).real).max()
    assert np.abs(div).max() <= 1e-13 * grad
    # zero mean flow is kept; kinetic energy never increases (viscous, energy-conserving
    # Galerkin truncation)
    assert np.abs(traj.mean(axis=(-2, -1))).max() < 1e-14
    energy = (traj**2).sum(axis=(1, 2, 3))
    assert np.all(np.diff(energy) <= 1e-12 * energy[0])


def test_ns_taylor_green_exact_decay_and_mean_flow_advection():
    """Taylor-Green is a steady Euler flow: it decays as exp(-2 nu (2 pi)^2 t), and a uniform
    mean flow U advects it exactly; at t = 1 with U = (1/4, 1/2) that is a roll by (8, 16)
    (docs/algorithms.md §9.4)."""
    solver = NSSolver(N, nu=4e-4)
    x = grid(N)
    ux = np.sin(2 * np.pi * x)[None, :] * np.cos(2 * np.pi * x)[:, None]
    uy = -np.cos(2 * np.pi * x)[None, :] * np.sin(2 * np.pi * x)[:, None]
    tg = np.stack([ux, uy])
    decay = np.exp(-2 * 4e-4 * (2 * np.pi) ** 2 * 1.0)
    out = solver.solve(tg, [0.0, 1.0])
    assert np.max(np.abs(out[-1] - decay * tg)) < 1e-13
    mean = np.array([0.25, 0.5])[:, None, None]
    moved = solver.solve(tg + mean, [0.0, 1.0])[-1]
    exact = decay * np.roll(tg, (N // 2, N // 4), axis=(-2, -1)) + mean
    # the mean flow is advanced by the integrating factor (exact in time): round-off only
    # (the mean flow advected inside RK4 was off by ~1e-7, the phase error of ~112 steps)
    assert np.max(np.abs(moved - exact)) < 1e-12


# --- check-solver command -----------------------------------------------------------------


def test_cli_check_solver_passes(capsys):
    rc = cli.main(["check-solver", "CE-RP", "--resolution", "32", "--t-end", "0.2"])
    out = capsys.readouterr().out.splitlines()
    assert rc == 0
    head = out[: len(ALL_ELEMENTS)]  # then boosts and scalings (tests/data/test_check_kinematic)
    assert [line.split()[0] for line in head] == ALL_ELEMENTS
    assert all(float(line.split()[1]) == 0.0 for line in head)
    assert out[-1].startswith("PASS")


def test_cli_check_solver_fails_on_broken_scheme(monkeypatch, capsys):
    monkeypatch.setattr(
        generators,
        "check_solver",
        lambda *a, **k: {g: (1e-3 if g == "s" else 0.0) for g in ALL_ELEMENTS},
    )
    rc = cli.main(["check-solver", "NS-Gauss", "--resolution", "16"])
    out = capsys.readouterr().out.splitlines()
    assert rc == 1
    assert out[-1].startswith("FAIL") and "exceeded by s" in out[-1]


def test_cli_unknown_family_is_a_one_line_error(capsys):
    rc = cli.main(["check-solver", "CE-XX", "--resolution", "32"])
    err = capsys.readouterr().err
    assert rc == 2
    assert err.count("\n") == 1 and "unknown family 'CE-XX'" in err and "CE-RP" in err
