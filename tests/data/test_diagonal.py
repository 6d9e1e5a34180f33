"""NS-Diagonal (group NSD, validation case 6's control): NS data with a preferred diagonal.

Oracles: the stabiliser of the diagonal x = y computed from the element matrices; the
multiplier's symmetry, exactly, on arbitrary fields; seed for seed, the generator's initial
condition moved by h in {e, r2, sr, sr3} IS the initial condition of the moved Gaussian
parameters (which have the same law), and moved by r, r3, s, sr2 it is the MIRRORED family's
(weight of -beta); the sign and size of <u_x u_y> over seeds and over the analysis window of
generated trajectories, against NS-Gauss, whose isotropic ensemble shows none; the same solver
as the NS families (D4 x translations to round-off).  Budget ~30 s on a loaded core.
"""

from __future__ import annotations

import numpy as np
import pytest

from symaudit import datasets, groups
from symaudit.data import _ic, generators
from symaudit.data._kinematic_check import check_kinematic

FAMILY = "NS-Diagonal"
CHANNELS = datasets.channels_for("NSD")
BETA = _ic.DIAGONAL_BETA


def _corr(u: np.ndarray) -> np.ndarray:
    """<u_x u_y> / (<u_x^2> <u_y^2>)^(1/2) per field of ``(..., 2, y, x)``."""
    ux, uy = u[..., 0, :, :], u[..., 1, :, :]
    mean = lambda a: a.mean(axis=(-2, -1))  # noqa: E731
    return mean(ux * uy) / np.sqrt(mean(ux * ux) * mean(uy * uy))


def _stabiliser() -> list[str]:
    """The D4 elements mapping the diagonal direction (1, 1) to +-(1, 1)."""
    d = np.array([1, 1])
    return [g for g in groups.D4 if abs(int(groups.matrix(g) @ d @ d)) == 2]


SUBGROUP = _stabiliser()
COSET = [g for g in groups.D4 if g not in SUBGROUP]


def test_the_group_is_registered_with_the_diagonal_stabiliser():
    assert datasets.ALL_DATASETS["NSD"] == (FAMILY,)
    assert datasets.family(FAMILY).dataset == "NSD"
    assert CHANNELS == datasets.channels_for("NS")
    assert SUBGROUP == ["e", "r2", "sr", "sr3"] == list(datasets.DATA_SUBGROUP["NSD"])
    # a subgroup, and its coset is exactly the elements that anticommute with the exchange P
    assert all(groups.compose(a, b) in SUBGROUP for a in SUBGROUP for b in SUBGROUP)
    assert COSET == [g for g in groups.D4 if not groups.commutes_with_exchange(g)]
    assert FAMILY not in datasets.FAMILIES and "NSD" not in datasets.DATASETS  # not the paper's


def test_the_multiplier_commutes_with_the_subgroup_and_mirrors_under_the_coset():
    rng = np.random.default_rng(0)
    for n in (15, 16):  # odd and even (Nyquist) grids, an arbitrary field (not dealiased)
        omega = rng.standard_normal((1, n, n))
        scale = np.max(np.abs(omega))
        for g in groups.D4:
            moved = _ic.diagonal_filter(groups.act(g, omega, ["scalar"]))
            same = groups.act(g, _ic.diagonal_filter(omega), ["scalar"])
            mirrored = groups.act(g, _ic.diagonal_filter(omega, -BETA), ["scalar"])
            if g in SUBGROUP:
                assert np.max(np.abs(moved - same)) <= 1e-13 * scale, (n, g)
            else:
                assert np.max(np.abs(moved - mirrored)) <= 1e-13 * scale, (n, g)
                assert np.max(np.abs(moved - same)) >= 1e-2 * scale, (n, g)


def _moved_parameters(g: str, p: dict) -> dict:
    """NS-Gauss's parameters of g applied to the vorticity: centres X -> M X about the
    square's centre, alpha times det M (the vorticity is a pseudoscalar).  The law of the
    parameters is unchanged (uniform centres, alpha ~ U[-1, 1])."""
    m = groups.matrix(g)
    centres = m @ (np.stack([p["cx"], p["cy"]]) - 0.5) + 0.5
    det = round(float(np.linalg.det(m)))
    return {"alpha": det * p["alpha"], "sigma": p["sigma"], "cx": centres[0], "cy": centres[1]}


@pytest.mark.parametrize("seed", [0, 1])
def test_seed_for_seed_the_subgroup_keeps_the_family_the_coset_mirrors_it(seed):
    n = 16
    solver = generators.VALIDATION_GENERATORS[FAMILY].solver(n)

    def build(p, beta=BETA):
        return solver.velocity_from_vorticity(_ic.diagonal_filter(_ic.gauss_vorticity(n, p), beta))

    p = _ic.gauss_parameters(np.random.default_rng(seed))
    x0 = generators.initial_condition(FAMILY, n, seed)
    assert np.array_equal(x0, build(p))  # the generator is this construction
    scale = np.max(np.abs(x0))
    for g in groups.D4:
        moved = groups.act(g, x0, CHANNELS)
        if g in SUBGROUP:  # g x0 is the family's sample of equally likely parameters
            assert np.max(np.abs(moved - build(_moved_parameters(g, p)))) <= 1e-12 * scale, g
        else:  # g x0 is the mirrored family's sample, not this family's
            mirrored = build(_moved_parameters(g, p), -BETA)
            assert np.max(np.abs(moved - mirrored)) <= 1e-12 * scale, g
            assert np.max(np.abs(moved - build(_moved_parameters(g, p)))) >= 1e-2 * scale, g
        # the statistic: kept by the subgroup, negated by the coset, exactly
        sign = 1.0 if g in SUBGROUP else -1.0
        assert _corr(moved) == pytest.approx(sign * _corr(x0), abs=1e-12)


def test_initial_conditions_prefer_the_diagonal_and_ns_gauss_does_not():
    n, seeds = 32, range(48)
    diag = np.array([_corr(generators.initial_condition(FAMILY, n, s)) for s in seeds])
    gauss = np.array([_corr(generators.initial_condition("NS-Gauss", n, s)) for s in seeds])
    se = lambda a: a.std(ddof=1) / np.sqrt(a.size)  # noqa: E731
    assert diag.mean() > 0.4 and diag.mean() / se(diag) > 8, (diag.mean(), se(diag))
    assert (diag > 0).mean() >= 0.8
    assert abs(gauss.mean()) < 3 * se(gauss), (gauss.mean(), se(gauss))  # isotropic ensemble
    # a statistic odd under sr (and sr3): <u_x^2 - u_y^2> / <|u|^2>, mean 0 if sr keeps the law
    x = np.stack([generators.initial_condition(FAMILY, n, s) for s in seeds])
    odd = ((x[:, 0] ** 2 - x[:, 1] ** 2).mean((-2, -1))) / (x**2).sum(1).mean((-2, -1))
    assert abs(odd.mean()) < 3 * se(odd), (odd.mean(), se(odd))


def test_trajectories_keep_the_diagonal_over_the_analysis_window():
    # the first frames (the analysis batches' transitions t = 0..3 at dt = 1/20), 12 seeds
    corr = np.array([_corr(generators.simulate(FAMILY, 16, s, 5, t_end=0.2)) for s in range(12)])
    mean, se = corr.mean(0), corr.std(0, ddof=1) / np.sqrt(len(corr))
    assert np.all(mean > 0.3) and np.all(mean / se > 5), (mean, se)


def test_the_solver_is_the_ns_families_and_commutes_with_all_of_d4():
    dev = generators.check_solver(FAMILY, 16, seed=3, t_end=0.5)
    assert list(dev) == list(groups.D4) + list(generators.SHIFTS)
    assert max(dev.values()) <= generators.TOLERANCE["incompressible_ns"]
    assert generators.check_failures(FAMILY, 16, dev) == []
    assert generators.expected_symmetric(FAMILY, 16, "r")  # the solver; the DATA are not
    gauss, diag = generators.GENERATORS["NS-Gauss"], generators.VALIDATION_GENERATORS[FAMILY]
    assert (diag.name, diag.scheme, diag.parameters) == (gauss.name, gauss.scheme, gauss.parameters)
    assert diag.solver(16) is gauss.solver(16) and not diag.forcing_k
    info = generators.generator_info(FAMILY)
    assert info["initial_condition"]["beta"] == BETA and "symmetry" not in info
    # Galilean boosts, as for the NS families (case 7 checks the solver on those)
    rows = check_kinematic(diag, 16, seed=0, t_end=0.05, frames=2)
    assert {r["expect"] for r in rows} == {"exact"} and len(rows) >= 3
    assert max(r["deviation"] for r in rows) <= generators.TOLERANCE["incompressible_ns"]
