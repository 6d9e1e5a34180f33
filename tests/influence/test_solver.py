"""The ket solves against dense solves with (JᵀJ/D + λI): block CG, CG, the preconditioner, the
convergence control on the true residual, and damping paths (every λ of a path)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from symaudit.influence import (
    InfluenceConvergenceError,
    influence_matrix,
    solve_kets,
)

from ._oracles import (
    EASY,
    REL,
    _data,
    _net,
    dense_influence,
    loop_gradients,
    rel_err,
)

pytestmark = pytest.mark.usefixtures("one_thread")


# --- influence against the dense formula --------------------------------------------------------


@pytest.mark.parametrize("method,rank", [("block_cg", 0), ("block_cg", 24), ("cg", 0), ("cg", 24)])
def test_influence_matrix_equals_dense_formula(problem, method, rank):
    net, x, y, M, G = problem["net"], problem["x"], problem["y"], problem["M"], problem["G"]
    xb, yb = _data(n=5, seed=7)
    res = influence_matrix(
        net, x, x, y, xb, yb, damping=REL, rtol=1e-8, method=method, preconditioner_rank=rank
    )
    lam = res.solution.damping
    assert abs(lam / (1e-3 * problem["lambda_max"]) - 1) <= 1e-8
    ref = dense_influence(M, loop_gradients(net, xb, yb), G, lam)
    assert res.values.dtype == torch.float64 and res.values.shape == (5, 6)
    assert rel_err(res.values, ref) <= 1e-6
    for rec in res.records:
        assert rec.converged and rec.relres_true <= 1e-8
        assert abs(rec.damping_relative - 1e-3) <= 1e-12
        assert rec.preconditioner_rank == rank and rec.wall_time > 0
        assert rec.error_bound >= rec.residual_bound * 0  # filled, finite
        assert np.isfinite(rec.error_bound)


def test_preconditioner_and_block_save_matvecs(problem):
    net, x, y = problem["net"], problem["x"], problem["y"]
    kw = dict(damping=REL, rtol=1e-6)
    seq = solve_kets(net, x, x, y, method="sequential_cg", **kw)
    blk = solve_kets(net, x, x, y, method="block_cg", **kw)
    pre = solve_kets(net, x, x, y, method="block_cg", preconditioner_rank=48, **kw)
    total = {
        s.method + str(s.records[0].preconditioner_rank): sum(
            {r.block: r.matvecs for r in s.records}.values()
        )
        for s in (seq, blk, pre)
    }
    assert total["block_cg0"] < total["sequential_cg0"]
    assert total["block_cg48"] < total["block_cg0"]


def test_block_cg_equals_sequential_cg(problem):
    net, x, y = problem["net"], problem["x"], problem["y"]
    kw = dict(damping=EASY, rtol=1e-8)
    seq = solve_kets(net, x, x, y, method="sequential_cg", **kw)
    blk = solve_kets(net, x, x, y, method="block_cg", block_size=4, **kw)  # blocks of 4 and 2
    assert [r.block for r in blk.records] == [0, 0, 0, 0, 1, 1]
    assert rel_err(blk.vectors, seq.vectors) <= 1e-6
    Pb, Ps = problem["G"] @ blk.vectors.T, problem["G"] @ seq.vectors.T
    assert rel_err(Pb, Ps) <= 1e-7


def test_one_block_iteration_equals_galerkin_in_ket_span(problem):
    net, x, y = problem["net"], problem["x"], problem["y"]
    one = solve_kets(
        net,
        x,
        x,
        y,
        damping=REL,
        rtol=1e-8,
        method="block_cg",
        max_iterations=1,
        max_restarts=0,
        fail_on_unconverged=False,
    )
    assert all(r.iterations == 1 and not r.converged for r in one.records)
    gal = solve_kets(
        net,
        x,
        x,
        y,
        damping=one.damping,
        rtol=1e-8,
        method="galerkin",
        galerkin_energy=0.0,
        lambda_max=one.lambda_max,
    )
    assert gal.setup["galerkin_rank"] == 6
    assert rel_err(gal.vectors, one.vectors) <= 1e-10
    # exact in its subspace: converged, subspace residual at rounding; the full-space residual
    # is recorded under its own name (information, never a failure)
    assert all(r.converged and r.relres_true < 1e-12 for r in gal.records)
    rel = [r.relres_full_space for r in gal.records]
    assert np.allclose(rel, [r.relres_true for r in one.records], rtol=1e-6)


def test_galerkin_reproduces_reference_pipeline(problem):
    """numpy transcription of docs/algorithms.md §6.4 (``qr_eqv.jl``): SVD of [G_ket, G_bra],
    99.99 % energy, JQ,
    χ̂⁻¹ = V' diag(1/((S'/√D)² + ε)) V'ᵀ, Π = Ĝ_braᵀ χ̂⁻¹ Ĝ_ket."""
    net, x, y, J = problem["net"], problem["x"], problem["y"], problem["J"]
    xb, yb = _data(n=4, seed=11)
    xb = x[:4] + 1e-3 * xb  # bras close to kets: a nearly dependent span, so truncation bites
    yb = y[:4]
    eps = 1e-6
    res = influence_matrix(net, x, x, y, xb, yb, damping=eps, rtol=1e-4, method="galerkin")
    Gk, Gb = problem["G"].numpy().T, loop_gradients(net, xb, yb).numpy().T  # p × n
    U, S, _ = np.linalg.svd(np.concatenate([Gk, Gb], axis=1), full_matrices=False)
    tail = 1 - np.cumsum(S**2) / np.sum(S**2)
    k = int(np.flatnonzero(tail <= 1e-4)[0]) + 1
    Q = U[:, :k]
    JQ = J.numpy() @ Q
    _, S2, V2t = np.linalg.svd(JQ, full_matrices=False)
    D = J.shape[0]
    chi = V2t.T @ np.diag(1 / ((S2 / np.sqrt(D)) ** 2 + eps)) @ V2t
    ref = (Q.T @ Gb).T @ chi @ (Q.T @ Gk)
    assert res.solution.setup["galerkin_rank"] == k < 10
    assert rel_err(res.values, torch.from_numpy(ref)) <= 1e-8


# --- convergence control ------------------------------------------------------------------------


@pytest.mark.parametrize("rtol,rank", [(1e-3, 0), (1e-6, 16), (1e-9, 0)])
def test_every_ket_meets_rtol_on_its_true_residual(problem, rtol, rank):
    net, x, y, M, G = problem["net"], problem["x"], problem["y"], problem["M"], problem["G"]
    sol = solve_kets(net, x, x, y, damping=REL, rtol=rtol, preconditioner_rank=rank, block_size=4)
    A = M + sol.damping * torch.eye(M.shape[0], dtype=M.dtype)
    true = (G - sol.vectors @ A).norm(dim=1) / G.norm(dim=1)
    for rec, t in zip(sol.records, true.tolist(), strict=True):
        assert rec.converged and rec.relres_true <= rtol  # max over kets, not the mean
        assert abs(rec.relres_true - t) <= 1e-6 * rtol + 1e-14


def test_entrywise_bound_holds(problem):
    net, x, y, M, G = problem["net"], problem["x"], problem["y"], problem["M"], problem["G"]
    xb, yb = _data(n=5, seed=5)
    res = influence_matrix(net, x, x, y, xb, yb, damping=REL, rtol=1e-3)
    err = res.values - dense_influence(M, loop_gradients(net, xb, yb), G, res.solution.damping)
    assert bool((err.abs() <= res.bounds * (1 + 1e-9)).all())
    assert float(err.abs().max()) > 0  # the bound is tested on a genuinely inexact solve
    for j, rec in enumerate(res.records):
        assert rec.error_bound == pytest.approx(float(res.bounds[:, j].max()))


def test_bad_start_is_caught_by_the_true_residual():
    """x₀ = b (pyDVL's start) on a fp32 metric with ‖A‖ ~ 1e5: the recursion reports success
    while the true residual is floored far above rtol
    (docs/algorithms.md §6.3: start from x₀ = 0)."""
    net = _net(dtype=torch.float32, scale=10.0)
    x, y = _data(dtype=torch.float32)
    kw = dict(damping=REL, rtol=1e-4, normalization="none")
    good = solve_kets(net, x, x, y, **kw)
    assert good.converged and good.lambda_max > 1e4
    with pytest.raises(InfluenceConvergenceError) as info:
        solve_kets(net, x, x, y, x0="rhs", max_restarts=0, **kw)
    bad = info.value.solution.records
    assert max(r.relres_recursive for r in bad) <= 1e-4  # the recursion claims convergence
    assert max(r.relres_true for r in bad) > 1e-3  # ... the true residual does not
    fixed = solve_kets(net, x, x, y, x0="rhs", max_restarts=2, **kw)  # restart repairs it
    assert fixed.converged and max(r.restarts for r in fixed.records) >= 1


def test_unconverged_is_flagged_and_raises(problem):
    net, x, y = problem["net"], problem["x"], problem["y"]
    kw = dict(damping={"mode": "relative", "value": 1e-5}, rtol=1e-8, max_iterations=3)
    with pytest.raises(InfluenceConvergenceError, match="did not converge") as info:
        influence_matrix(net, x, x, y, x, y, **kw)
    assert "\n" not in str(info.value) and "rtol=1e-08" in str(info.value)
    sol = solve_kets(net, x, x, y, fail_on_unconverged=False, **kw)
    assert not sol.converged and all(not r.converged for r in sol.records)
    assert all(r.relres_true > 1e-8 and r.iterations == 3 for r in sol.records)


@pytest.mark.parametrize("start,rank", [("warm", 0), ("cold", 0), ("warm", 16)])
def test_damping_path_every_lambda_against_dense(problem, start, rank):
    """A path in one call: (n_damping, n_bra, n_ket) values, one record per (λ, ket), and every
    λ within the solve's a-posteriori accuracy of a dense fp64 solve."""
    net, x, y, M, G = problem["net"], problem["x"], problem["y"], problem["M"], problem["G"]
    xb, yb = _data(n=4, seed=17)
    Gb = loop_gradients(net, xb, yb)
    rels = [1e-2, 1e-4, 1e-3]  # not sorted: solved largest first, returned in this order
    path = {"mode": "relative", "values": rels, "primary": 1e-3}
    rtol = 1e-8
    res = influence_matrix(
        net,
        x,
        x,
        y,
        xb,
        yb,
        damping=path,
        rtol=rtol,
        path_start=start,
        preconditioner_rank=rank,
        lambda_max=problem["lambda_max"],
    )
    assert res.values.shape == (3, 4, 6) and res.bounds.shape == (3, 4, 6)
    assert len(res.records) == 3 * 6 and isinstance(res.solution, list)
    for i, rel in enumerate(rels):
        lam = rel * problem["lambda_max"]
        recs = res.records[6 * i : 6 * (i + 1)]
        assert all(r.damping == pytest.approx(lam, rel=1e-15) and r.converged for r in recs)
        assert all(r.relres_true <= rtol for r in recs)
        ref = dense_influence(M, Gb, G, lam)
        assert rel_err(res.values[i], ref) <= 10 * rtol / rel  # κ ≤ 1/rel amplifies rtol
        assert ((res.values[i] - ref).abs() <= res.bounds[i] * (1 + 1e-6) + 1e-14).all()
        assert res.solution[i].meta["damping_primary"] == pytest.approx(
            1e-3 * problem["lambda_max"]
        )
    single = influence_matrix(
        net,
        x,
        x,
        y,
        xb,
        yb,
        damping=REL,
        rtol=rtol,
        preconditioner_rank=rank,
        lambda_max=problem["lambda_max"],
    )
    assert rel_err(res.values[2], single.values) <= 10 * rtol / 1e-3


def test_damping_path_config_errors_name_the_key():
    from symaudit.influence import DampingPath

    with pytest.raises(ValueError, match=r"primary 0\.5 is not one of influence\.damping\.values"):
        DampingPath.parse({"mode": "relative", "values": [1e-2, 1e-3], "primary": 0.5})
    with pytest.raises(ValueError, match=r"influence\.damping\.values: repeated"):
        DampingPath.parse([1e-3, 1e-3])
    p = DampingPath.parse({"mode": "relative", "values": [1e-2, 1e-3], "primary": 1e-3})
    assert p.is_path and p.primary == 1 and p.needs_lambda_max
    assert not DampingPath.parse(1e-3).is_path
