"""Galerkin at a given damping λ and the exact ordering Π_G(x, x) ≤ Π(x, x) (docs/algorithms.md
§6.4): against a dense Q(QᵀAQ)⁻¹Qᵀ on the fp64 tiny net, A = JᵀJ/D + λI.

For A SPD and any Q with orthonormal columns, A^{1/2} Q(QᵀAQ)⁻¹Qᵀ A^{1/2} is the orthogonal
projector onto range(A^{1/2} Q), so Q(QᵀAQ)⁻¹Qᵀ ⪯ A⁻¹: the Galerkin self-influence never exceeds
the exact one AT THE SAME λ (whatever the subspace).  A solve to residual r gives gᵀx within
‖g‖ ‖r‖ / λ of gᵀA⁻¹g, the tolerance of the check."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from symaudit import groups
from symaudit.influence import GalerkinKets, GaussNewtonOperator, solve_kets
from symaudit.influence._chunk import SELF_INFLUENCE, _galerkin_reference

from ._oracles import NS_CHANNELS, dense_metric, loop_gradients, rel_err


def _dense_galerkin(M, lam, S, G_bra, G_ket, energy=0.0):
    """G_bra Q (Qᵀ(M + λI)Q)⁻¹ Qᵀ G_ketᵀ with Q the left singular vectors of Sᵀ (P, m) kept by
    the reference's energy rule (``qr.jl``): the smallest k with 1 − Σ_{i≤k} s_i²/Σ s_i² ≤
    ``energy``."""
    U, s, _ = torch.linalg.svd(S.T, full_matrices=False)
    e = s.square()
    tail = 1.0 - torch.cumsum(e, 0) / e.sum()
    tail[-1] = 0.0  # the whole span discards nothing (rounding leaves ~1e-16 there)
    k = int(torch.nonzero(tail <= energy).flatten()[0]) + 1
    Q = U[:, :k]
    A = M + lam * torch.eye(M.shape[0], dtype=M.dtype)
    return (G_bra @ Q) @ torch.linalg.solve(Q.T @ A @ Q, Q.T @ G_ket.T), k


def _rotated(problem, g="r"):
    gx, gy = groups.act_transition(g, problem["x"], problem["y"], NS_CHANNELS)
    return loop_gradients(problem["net"], gx, gy)


@pytest.mark.parametrize("energy", [0.0, 1e-4])
@pytest.mark.parametrize("normalization", ["per_output", "none"])
def test_galerkin_at_lambda_is_the_dense_subspace_inverse(problem, energy, normalization):
    net, x, G = problem["net"], problem["x"], problem["G"]
    Gb = _rotated(problem)
    M, _ = dense_metric(net, x, normalization)
    lam = 1e-3 * float(torch.linalg.eigvalsh(M)[-1])
    op = GaussNewtonOperator(net, x)  # per_output; the other normalisation through ``scale``
    basis = GalerkinKets(op, G)
    eps, mine = basis.influences(
        Gb, [(1e-6, None), (lam, op.scale_of(normalization))], energy=energy, full_residual=False
    )
    S = torch.cat([G, Gb])
    want, k = _dense_galerkin(M, lam, S, Gb, G, energy)
    assert mine.rank == k and mine.scale == op.scale_of(normalization)
    assert rel_err(mine.values, want) < 1e-9
    want_kk, _ = _dense_galerkin(M, lam, S, G, G, energy)
    assert rel_err(mine.ket_values, want_kk) < 1e-9
    # the first pair is the reference's call, bit for bit
    ref = basis.influence(Gb, 1e-6, energy=energy, full_residual=False)
    assert torch.equal(eps.values, ref.values)
    # self-influence in span(G_ket) (the identity element's subspace)
    want_self, _ = _dense_galerkin(M, lam, G, G, G, energy)
    got = basis.self_influence(lam, scale=op.scale_of(normalization), energy=energy)
    np.testing.assert_allclose(got, torch.diagonal(want_self).numpy(), rtol=1e-9)


def _exact_self(problem, lam_rel=1e-3, rtol=1e-4):
    net, x, y, G = problem["net"], problem["x"], problem["y"], problem["G"]
    damping = {"mode": "relative", "value": lam_rel}
    sol = solve_kets(net, x, x, y, damping=damping, rtol=rtol)
    exact = (G * sol.vectors).sum(1).numpy()
    bound = (G.norm(dim=1) * sol.residual_norms).numpy() / sol.damping
    return sol, exact, bound


@pytest.mark.parametrize("lam_rel", [1e-1, 1e-3, 1e-5])
def test_galerkin_self_influence_at_matched_damping_never_exceeds_the_exact(problem, lam_rel):
    net, x, G, M = problem["net"], problem["x"], problem["G"], problem["M"]
    sol, exact, bound = _exact_self(problem, lam_rel)
    assert sol.converged
    basis = GalerkinKets(GaussNewtonOperator(net, x), G)
    for energy in (0.0, 1e-4):
        gal = basis.self_influence(sol.damping, energy=energy)
        assert np.all(gal <= exact + bound), (gal - exact, bound)
    # the dense truth: gᵀA⁻¹g ≥ gᵀQ(QᵀAQ)⁻¹Qᵀg, and the solve's gᵀx within its bound
    A = M + sol.damping * torch.eye(M.shape[0], dtype=M.dtype)
    truth = (G * torch.linalg.solve(A, G.T).T).sum(1).numpy()
    assert np.all(np.abs(exact - truth) <= bound * (1 + 1e-9) + 1e-12 * np.abs(truth))
    assert np.all(basis.self_influence(sol.damping, energy=0.0) <= truth * (1 + 1e-12))


def test_the_ordering_fails_at_mismatched_damping(problem):
    """With ε = 1e-6 absolute (the reference's) below the exact solve's λ the ordering is no
    theorem: at λ = 0.1 λ_max the Galerkin values EXCEED the exact ones (ε is below the
    smallest eigenvalue of QᵀMQ, ≈ 0.09 λ_max here), while at the same λ they stay below.
    (At 1e-3 λ_max, far below every eigenvalue of QᵀMQ, ε and λ give nearly the same Galerkin
    values and the mismatched comparison happens to hold on this net: it is not guaranteed.)"""
    net, x, G = problem["net"], problem["x"], problem["G"]
    sol, exact, bound = _exact_self(problem, 1e-1)
    assert 1e-6 < sol.damping
    basis = GalerkinKets(GaussNewtonOperator(net, x), G)
    mismatched, matched = basis.self_influence(1e-6), basis.self_influence(sol.damping)
    assert np.any(mismatched > exact + bound)
    assert np.all(matched <= exact + bound)
    print(
        f"\nλ = {sol.damping:.3g}: Galerkin / exact at ε = 1e-6 "
        f"{np.round(mismatched / exact, 3)}, at λ {np.round(matched / exact, 3)}"
    )


def test_chunk_reference_stores_the_matched_self_influences(problem):
    """``_galerkin_reference`` with the primary solution: the ε values are unchanged, the new
    primary-λ values and raw self-influences agree with the library calls above."""
    net, x, y = problem["net"], problem["x"], problem["y"]
    sol, exact, bound = _exact_self(problem, 1e-3)
    elements = ["e", "r"]
    old = _galerkin_reference(net, x, y, elements, NS_CHANNELS, 1e-6, {}, chunk=8)
    new = _galerkin_reference(net, x, y, elements, NS_CHANNELS, 1e-6, {}, sol, chunk=8)
    assert set(old) == {"eps"} and np.array_equal(old["eps"], new["eps"])
    assert set(SELF_INFLUENCE) <= set(new) and new["primary"].shape == new["eps"].shape
    assert all(new[k].dtype == np.float64 for k in SELF_INFLUENCE)
    np.testing.assert_allclose(new["self_exact"], exact, rtol=1e-10)
    np.testing.assert_allclose(new["self_bound"], bound, rtol=1e-6)
    assert np.all(new["self_galerkin"] <= new["self_exact"] + new["self_bound"])
    # the identity element's subspace span[G_ket, G_ket] is span(G_ket): its diagonal is the
    # stored Galerkin self-influence
    n = x.shape[0]
    np.testing.assert_allclose(np.diagonal(new["primary"][:n]), new["self_galerkin"], rtol=1e-8)
    np.testing.assert_allclose(np.diagonal(new["eps"][:n]), new["self_galerkin_eps"], rtol=1e-6)
