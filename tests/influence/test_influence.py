"""The influence matrix's structure and the reference's pipeline, on tiny float64 conv nets.

Symmetry and PSD of self-influence, a twirled model's D4 bras, the mass bra and the saved
solution format against dense oracles (``_oracles.py``); the per-element Galerkin mode against a
numpy transcription of the reference's pipeline (docs/algorithms.md §6.4) and the row
standardisation against numpy (§6.5).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from symaudit import groups
from symaudit.influence import (
    GalerkinKets,
    KetSolution,
    bra_influence,
    influence_matrix,
    per_example_gradients,
    solve_kets,
    standardise,
)
from symaudit.models._twirl import twirled

from ._oracles import (
    EASY,
    NS_CHANNELS,
    REL,
    TinyNet,
    _data,
    _net,
    dense_influence,
    loop_gradients,
    rel_err,
)

pytestmark = pytest.mark.usefixtures("one_thread")


# --- structure ----------------------------------------------------------------------------------


def test_self_influence_is_symmetric_psd(problem):
    net, x, y = problem["net"], problem["x"], problem["y"]
    Pi = influence_matrix(net, x, x, y, x, y, damping=REL, rtol=1e-10).values
    assert float((Pi - Pi.T).abs().max()) <= 1e-8 * float(Pi.abs().max())
    evals = torch.linalg.eigvalsh(0.5 * (Pi + Pi.T))
    assert float(evals[0]) >= -1e-10 * float(evals[-1])


def test_twirled_model_d4_bras_equal_identity():
    """An exactly D4-equivariant model and a D4-invariant loss: every D4 bra (g·x, g·y) has
    the identity's gradient, so Π^g = Π^e; the metric of a transformed batch is the same."""
    torch.manual_seed(3)
    model = twirled(TinyNet(hidden=6).double(), NS_CHANNELS)
    x, y = _data(n=4, seed=9)
    sol = solve_kets(model, x, x, y, damping=EASY, rtol=1e-9)
    ref = bra_influence(model, sol, x, y)
    for g in groups.D4:  # same solved kets: equal up to round-off, whatever the rtol
        gx, gy = groups.act(g, x, NS_CHANNELS), groups.act(g, y, NS_CHANNELS)
        assert rel_err(bra_influence(model, sol, gx, gy), ref) <= 1e-8, g
    gx = groups.act("sr", x, NS_CHANNELS)  # metric over the transformed batch: same M
    moved = influence_matrix(model, gx, x, y, x, y, damping=EASY, rtol=1e-9)
    assert rel_err(moved.values, ref) <= 1e-6  # two solves to rtol 1e-9 at κ ≤ 100


def test_mass_bra_against_dense(problem):
    net, x, y, M, G = problem["net"], problem["x"], problem["y"], problem["M"], problem["G"]
    xb = x.clone()
    xb[:, 0] += 1.5
    res = influence_matrix(
        net, x, x, y, xb, None, damping=REL, rtol=1e-9, bra_loss="mass", bra_channel=0
    )
    ref = dense_influence(
        M, loop_gradients(net, xb, loss="mass", channel=0), G, res.solution.damping
    )
    assert rel_err(res.values, ref) <= 1e-6


def test_ket_solution_roundtrip_and_parameter_check(problem, tmp_path):
    net, x, y = problem["net"], problem["x"], problem["y"]
    xb, yb = _data(n=3, seed=13)
    res = influence_matrix(net, x, x, y, xb, yb, damping=1e-3, rtol=1e-6, meta={"batch": 0})
    path = res.solution.save(tmp_path / "kets.pt")
    torch.load(path, weights_only=True)  # plain data only
    sol = KetSolution.load(path)
    # repr: NaN fields (relres_full_space of a Krylov solve) compare equal as text
    assert sol.meta == {"batch": 0} and repr(sol.records[0]) == repr(res.records[0])
    values, bounds = bra_influence(net, sol, xb, yb, return_bounds=True)
    assert torch.equal(values, res.values) and torch.allclose(bounds, res.bounds)
    blocked = bra_influence(net, sol, xb, yb, bra_block=2)  # bras in blocks of 2, 2 and 1
    assert float((blocked - values).abs().max()) <= 1e-14 * float(values.abs().max())
    other = _net(seed=99)
    with pytest.raises(ValueError, match="differ"):
        bra_influence(other, sol, xb, yb)


def test_standardise_matches_numpy():
    rng = np.random.default_rng(0)
    raw = rng.normal(size=(16, 3, 16, 3)) + 2.0
    flat = raw.reshape(48, 48)
    expect = np.empty_like(flat)
    for i in range(48):
        row = flat[i]
        std = np.sqrt(np.sum((row - row.mean()) ** 2) / (row.size - 1))  # Julia std, n − 1
        expect[i] = row / (std + 1e-6)  # no centring
    assert np.allclose(standardise(flat), expect, rtol=1e-14, atol=0)
    assert np.allclose(standardise(raw, ket_ndim=2).reshape(48, 48), expect, rtol=1e-14)
    t = standardise(torch.from_numpy(flat).float())
    assert t.dtype == torch.float64 and np.allclose(t.numpy(), expect, rtol=1e-6)


def _reference_galerkin(J, Gk, Gb, eps, energy=1e-4):
    """numpy transcription of lanl/PDEHats ``qr_eqv.jl``: SVD of [G_ket, G_bra] (p × 2n), the
    energy rule, JQ, χ̂⁻¹ = V' diag(1/((S'/√D)² + ε)) V'ᵀ, Π = (QᵀG_bra)ᵀ χ̂⁻¹ (QᵀG_ket)."""
    U, S, _ = np.linalg.svd(np.concatenate([Gk, Gb], axis=1), full_matrices=False)
    tail = 1 - np.cumsum(S**2) / np.sum(S**2)
    k = int(np.flatnonzero(tail <= energy)[0]) + 1
    Q = U[:, :k]
    _, S2, V2t = np.linalg.svd(J @ Q, full_matrices=False)
    chi = V2t.T @ np.diag(1 / ((S2 / np.sqrt(J.shape[0])) ** 2 + eps)) @ V2t
    return (Q.T @ Gb).T @ chi @ (Q.T @ Gk), k


def test_deferred_galerkin_per_element_equals_reference_formula(problem):
    """The workflow's path: ket gradients stored (no solve), then per element a subspace
    span[G_ket, G_bra(g)] from cached ket products; bras at rotated / reflected batches."""
    net, x, y, J = problem["net"], problem["x"], problem["y"], problem["J"].numpy()
    eps = 1e-6
    sol = solve_kets(net, x, x, y, damping=eps, rtol=1e-4, method="galerkin", galerkin_defer=True)
    assert sol.kind == "ket_gradients" and all(r.converged for r in sol.records)
    assert rel_err(sol.vectors, problem["G"]) <= 1e-12
    with pytest.raises(ValueError, match="ket gradients"):
        bra_influence(net, sol, x, y)
    basis = GalerkinKets.from_solution(net, sol, x)
    jvps_kets = basis.op.jvps
    for g in ("r", "sr2", "e"):
        gx, gy = groups.act(g, x, NS_CHANNELS), groups.act(g, y, NS_CHANNELS)
        Gb = per_example_gradients(net, gx, gy)
        res = basis.influence(Gb, sol.damping)
        ref, k = _reference_galerkin(J, problem["G"].numpy().T, Gb.numpy().T, eps)
        assert res.rank == k
        assert rel_err(res.values, torch.from_numpy(ref)) <= 1e-10, g
        # the full-space residual of x = Qᵀy, against the dense metric
        one = influence_matrix(net, x, x, y, gx, gy, damping=eps, rtol=1e-4, method="galerkin")
        assert rel_err(res.values, one.values) <= 1e-12
        A = problem["M"] + eps * torch.eye(problem["M"].shape[0], dtype=torch.float64)
        true = (problem["G"] - one.solution.vectors @ A).norm(dim=1)
        np.testing.assert_allclose(res.residual_norms, true.numpy(), rtol=1e-8)
        assert all(r.converged for r in one.records)
        np.testing.assert_allclose(
            [r.relres_full_space for r in one.records], res.relres_full_space, rtol=1e-8
        )
    # kets' Jacobian products were made once; each element adds only its bras' n JVPs
    assert basis.op.jvps - jvps_kets == 3 * x.shape[0]


def test_standardise_leaves_masked_kets_out():
    gen = np.random.default_rng(0)
    raw = gen.normal(size=(3, 4, 2, 4, 2))  # (element, bra_tr., bra_class, ket_tr., ket_class)
    keep = np.ones((4, 2), dtype=bool)
    keep[1, 0] = keep[3, 1] = False
    out = standardise(raw, ket_ndim=2, ket_mask=keep)
    assert np.isnan(out[..., 1, 0]).all() and np.isnan(out[..., 3, 1]).all()
    rows = raw.reshape(3, 4, 2, 8)[..., keep.reshape(-1)]
    want = rows / (rows.std(axis=-1, ddof=1, keepdims=True) + 1e-6)
    np.testing.assert_allclose(out.reshape(3, 4, 2, 8)[..., keep.reshape(-1)], want, rtol=1e-14)
    np.testing.assert_array_equal(
        standardise(raw, ket_ndim=2, ket_mask=np.ones((4, 2), bool)), standardise(raw, ket_ndim=2)
    )
