"""The generating solver's commutator c_g (symaudit.data.commutator) against its oracles: 0 to
round-off where the NS solver commutes (D4, shifts, boosts, p*g*p at e, r2, sr, sr3), positive
at exactly r, r3, s, sr2 of the wrong pairing and at the negation, where it equals c_neg; its
SMSE is the equivariance stage's; and on a synthetic model f = Phi + noise, the law
R_hat = 1 + c_g / SMSE(f(x), y) predicts the measured R of the equivariance stage."""

import numpy as np
import pytest
import torch

from symaudit import groups, losses
from symaudit.data import commutator as cm
from symaudit.data import generators
from symaudit.datasets import channels_for
from symaudit.equivariance import relative_errors

N, DT = 16, 0.05
NS = channels_for("NS-Gauss")
SWAPPED = [f"p*{g}*p" for g in groups.D4]
FOUR = [f"p*{g}*p" for g in groups.D4 if not groups.commutes_with_exchange(g)]


@pytest.fixture(scope="module")
def example():
    """Three consecutive NS-Gauss transitions on a 16^2 grid, float32 as a store holds them."""
    gen = generators.GENERATORS["NS-Gauss"]
    traj = gen.solve(gen.initial_condition(N, 3), np.arange(4) * DT).astype(np.float32)
    return gen, traj[:-1], traj[1:]


@pytest.fixture(scope="module")
def found(example):
    gen, x, y = example
    elements = [*groups.D4, "t(3,0)", "t(0,5)", "boost(1,0)", *SWAPPED, "neg"]
    return elements, cm.commutators(gen, x, y, elements, NS, dt=DT)


def test_smse_is_the_equivariance_stages(example):
    _, x, y = example
    ours = cm.smse(x, y)
    theirs = losses.smse(torch.from_numpy(x).double(), torch.from_numpy(y).double(), "per_example")
    np.testing.assert_allclose(ours, theirs.numpy(), rtol=1e-13, atol=0)


def test_ns_commutes_with_d4_shifts_boosts_and_four_swapped(found, example):
    elements, out = found
    scale = cm.smse(example[1], example[2])  # the persistence SMSE: c_g in its units
    c = dict(zip(elements, out["commutator"] / scale, strict=True))
    commuting = [*groups.D4, "t(3,0)", "t(0,5)", "boost(1,0)"]
    commuting += [g for g in SWAPPED if g not in FOUR]
    for g in commuting:
        assert np.all(c[g] < 1e-20), (g, c[g])
    for g in [*FOUR, "neg"]:
        assert np.all(c[g] > 1e-2), (g, c[g])  # order 1 in persistence units (~3.4 here)
    for g in FOUR:  # p*g*p = g o neg and the solver commutes with g
        np.testing.assert_allclose(c[g], c["neg"], rtol=1e-9)
    # the store's frames are Phi of the previous one up to float32 and the step count
    assert np.all(out["resolve_smse"] / scale < 1e-8)


def test_store_solver_knows_generated_stores_only():
    info = generators.generator_info("NS-Gauss")
    attrs = {"family": "NS-Gauss", "provenance": {"source": "generated", "generator": info}}
    gen, why = cm.store_solver(attrs)
    assert gen is generators.GENERATORS["NS-Gauss"] and why is None
    gen, why = cm.store_solver({"family": "NS-Gauss", "provenance": {"source": "pdegym"}})
    assert gen is None and "not known" in why
    other = {**info, "version": "0.0.1"}
    attrs = {"family": "NS-Gauss", "provenance": {"source": "generated", "generator": other}}
    gen, why = cm.store_solver(attrs)
    assert gen is None and "version" in why


class _PhiPlusNoise(torch.nn.Module):
    """f(x) = Phi(x) + sigma * RMS(Phi(x)) * xi(x): xi standard normal, a fixed function of x
    (seeded by the input's bytes), independent of the commutator."""

    def __init__(self, gen, sigma):
        super().__init__()
        self.gen, self.sigma = gen, sigma
        self.dummy = torch.nn.Parameter(torch.zeros((), dtype=torch.float64))

    def forward(self, x):
        states = x.detach().cpu().numpy().astype(np.float64)
        phi = cm.advance(self.gen, states, DT)
        rms = np.sqrt((phi**2).mean(axis=(-2, -1), keepdims=True))
        out = []
        for s, p, r in zip(states, phi, rms, strict=True):
            seed = int.from_bytes(np.float64(s.sum() * 1e6 + s[0, 1, 2]).tobytes()[:4], "little")
            xi = np.random.default_rng(seed).standard_normal(p.shape)
            out.append(p + self.sigma * r * xi)
        return torch.from_numpy(np.stack(out)).to(x.dtype)


def test_the_law_predicts_the_measured_ratio_of_a_phi_plus_noise_model(example, found):
    gen, x, y = example
    elements, out = found
    model = _PhiPlusNoise(gen, sigma=0.05)
    xs, ys = torch.from_numpy(x).double(), torch.from_numpy(y).double()
    wanted = ["r", "t(3,0)", "neg", "p*r*p", "p*s*p"]
    measured = relative_errors(model, xs, ys, wanted, NS).numpy()
    base = losses.smse(model(xs), ys, "per_example").numpy()
    c = {g: out["commutator"][elements.index(g)] for g in wanted}
    for g, r in zip(wanted, measured, strict=True):
        rhat = cm.predicted_ratio(c[g], base)
        assert np.all(np.abs(r / rhat - 1.0) < 0.15), (g, r, rhat)
    # and the law is not trivially 1: the negation's prediction is large
    assert np.all(cm.predicted_ratio(c["neg"], base) > 5)
