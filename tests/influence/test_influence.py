"""Oracle tests of the influence engine on tiny float64 conv nets (dense Jacobians, P ≈ 900).

Every number is checked against an independent computation: a dense J from ``jacrev``,
per-example gradients from a plain autograd loop, dense solves with (JᵀJ/D + λI), and a numpy
transcription of the reference's Galerkin pipeline (docs/algorithms.md §6.4) and
standardisation (§6.5).
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from torch import nn

from symaudit import groups, losses
from symaudit.influence import (
    GalerkinKets,
    GaussNewtonOperator,
    InfluenceConvergenceError,
    KetSolution,
    NystromPreconditioner,
    bra_influence,
    influence_matrix,
    lanczos_lambda_max,
    per_example_gradients,
    solve_kets,
    standardise,
)
from symaudit.models._twirl import twirled

NS_CHANNELS = [
    {"name": "velocity_x", "kind": "vector", "vector": "velocity", "axis": "x"},
    {"name": "velocity_y", "kind": "vector", "vector": "velocity", "axis": "y"},
]
REL = {"mode": "relative", "value": 1e-3}
EASY = {"mode": "relative", "value": 1e-2}  # κ ≤ 100: fewer iterations where κ is not the point


class TinyNet(nn.Module):
    """Three 3×3 circular convolutions with tanh, a residual connection and an output scale."""

    def __init__(self, channels: int = 2, hidden: int = 8, scale: float = 1.0):
        super().__init__()
        conv = dict(kernel_size=3, padding=1, padding_mode="circular")
        self.a = nn.Conv2d(channels, hidden, **conv)
        self.b = nn.Conv2d(hidden, hidden, **conv)
        self.c = nn.Conv2d(hidden, channels, **conv)
        self.register_buffer("scale", torch.tensor(scale))

    def forward(self, x):
        return self.scale * self.c(torch.tanh(self.b(torch.tanh(self.a(x))))) + x


def _net(seed: int = 0, dtype=torch.float64, **kw) -> TinyNet:
    torch.manual_seed(seed)
    return TinyNet(**kw).to(dtype)


def _data(n: int = 6, seed: int = 1, dtype=torch.float64):
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 2, 8, 8, generator=gen, dtype=torch.float64)
    y = x + 0.3 * torch.randn(n, 2, 8, 8, generator=gen, dtype=torch.float64)
    return x.to(dtype), y.to(dtype)


def _flat_params(model):
    return [p for p in model.parameters() if p.requires_grad]


def dense_metric(model, inputs, normalization="per_output") -> torch.Tensor:
    """Jᵀ J / D from a dense ``jacrev`` Jacobian (independent of the operator's closures)."""
    params = {n: p.detach() for n, p in model.named_parameters() if p.requires_grad}
    consts = {
        **{n: p.detach() for n, p in model.named_parameters() if not p.requires_grad},
        **dict(model.named_buffers()),
    }
    jac = torch.func.jacrev(lambda ps: torch.func.functional_call(model, (ps, consts), (inputs,)))(
        params
    )
    J = torch.cat([j.reshape(inputs[0].numel() * inputs.shape[0], -1) for j in jac.values()], 1)
    scale = {"per_output": 1 / J.shape[0], "per_example": 1 / inputs.shape[0], "none": 1.0}
    return J.T @ J * scale[normalization], J


def loop_gradients(model, inputs, targets=None, loss="smse", channel=0) -> torch.Tensor:
    """Per-example gradients by a plain autograd loop (the oracle for the vmap version)."""
    rows = []
    for i in range(inputs.shape[0]):
        model.zero_grad()
        pred = model(inputs[i : i + 1])
        if loss == "smse":
            value = losses.smse(pred, targets[i : i + 1], reduction="sum")
        else:
            value = losses.conservation_loss(pred, inputs[i : i + 1], channel, reduction="sum")
        value.backward()
        rows.append(torch.cat([p.grad.reshape(-1) for p in _flat_params(model)]))
    return torch.stack(rows).detach()


def dense_influence(M, G_bra, G_ket, lam) -> torch.Tensor:
    A = M + lam * torch.eye(M.shape[0], dtype=M.dtype)
    return G_bra @ torch.linalg.solve(A, G_ket.T)


def rel_err(a, b) -> float:
    return float((a - b).norm() / b.norm())


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def problem():
    """A fp64 tiny net, a 6-example batch, and its dense oracle (M, λ_max, ket gradients)."""
    net = _net()
    x, y = _data()
    M, J = dense_metric(net, x)
    return {
        "net": net,
        "x": x,
        "y": y,
        "M": M,
        "J": J,
        "lambda_max": float(torch.linalg.eigvalsh(M)[-1]),
        "G": loop_gradients(net, x, y),
    }


# --- the operator -------------------------------------------------------------------------------


@pytest.mark.parametrize("normalization", ["per_output", "per_example", "none"])
def test_operator_equals_dense_gauss_newton(problem, normalization):
    net, x, J = problem["net"], problem["x"], problem["J"]
    M = J.T @ J * {"per_output": 1 / J.shape[0], "per_example": 1 / 6, "none": 1.0}[normalization]
    op = GaussNewtonOperator(net, x, normalization=normalization, chunk_size=3)
    assert op.mode == "linearize" and op.linearize_check < 1e-12
    V = torch.randn(7, op.size, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    assert rel_err(op.mm(V), V @ M) <= 1e-10  # 7 vectors: chunks of 3, 3 and a single
    assert rel_err(op.mv(V[0]), M @ V[0]) <= 1e-10
    assert op.matvecs == 8
    assert op.num_outputs == x.numel()


def test_operator_handles_buffers_and_frozen_parameters():
    net = _net(scale=0.7)
    net.a.bias.requires_grad_(False)  # frozen: a constant, not a coordinate of θ
    x, _ = _data()
    M, _ = dense_metric(net, x)
    op = GaussNewtonOperator(net, x)
    assert op.size == sum(p.numel() for p in net.parameters()) - net.a.bias.numel()
    V = torch.randn(4, op.size, dtype=torch.float64, generator=torch.Generator().manual_seed(3))
    assert rel_err(op.mm(V), V @ M) <= 1e-10


def test_linearize_guard_keeps_products_correct(problem):
    """Without the circular-pad rewrite torch 2.13's linearize mis-traces F.pad(circular);
    the self-check must then fall back to fresh JVPs (and say so) — never return wrong M v."""
    net, x, M = problem["net"], problem["x"], problem["M"]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        op = GaussNewtonOperator(net, x, patch_circular_pad=False)
    fell_back = op.mode == "jvp"
    assert fell_back == any("mis-traced" in str(w.message) for w in caught)
    V = torch.randn(3, op.size, dtype=torch.float64, generator=torch.Generator().manual_seed(4))
    assert rel_err(op.mm(V), V @ M) <= 1e-10


def test_lanczos_and_nystrom_against_eigendecomposition(problem):
    net, x, M = problem["net"], problem["x"], problem["M"]
    op = GaussNewtonOperator(net, x)
    evals = torch.linalg.eigvalsh(M)
    lmax, products = lanczos_lambda_max(op.mm, op.size, dtype=op.dtype, device=op.device)
    assert abs(lmax / float(evals[-1]) - 1) <= 1e-8 and products <= 30
    nys = NystromPreconditioner(op.mm, op.size, 40, dtype=op.dtype, device=op.device)
    U = nys.U
    assert float((U @ U.T - torch.eye(nys.rank, dtype=U.dtype)).abs().max()) <= 1e-10
    # a Nyström approximation never exceeds M: M − U Λ̂ Uᵀ is PSD, so λ̂₁ ≤ λ_max
    residual = M - U.T @ (nys.eigenvalues[:, None] * U)
    assert float(torch.linalg.eigvalsh(residual)[0]) >= -1e-10 * float(evals[-1])
    assert 0.5 * float(evals[-1]) <= nys.lambda_max <= float(evals[-1]) * (1 + 1e-10)
    # the preconditioner for M + μI is SPD and clusters the spectrum
    mu = 1e-3 * float(evals[-1])
    P = nys.for_damping(mu)(torch.eye(op.size, dtype=torch.float64))
    A = M + mu * torch.eye(op.size, dtype=torch.float64)
    assert float((P - P.T).abs().max()) <= 1e-12 and float(torch.linalg.eigvalsh(P)[0]) > 0
    L = torch.linalg.cholesky(P)
    kappa = torch.linalg.cond(L.T @ A @ L)
    assert kappa < 0.25 * torch.linalg.cond(A)  # rank 40 of a flat spectrum: a 4-6× gain


# --- gradients ----------------------------------------------------------------------------------


def test_per_example_gradients_match_autograd_loop(problem):
    net, x, y = problem["net"], problem["x"], problem["y"]
    assert rel_err(per_example_gradients(net, x, y, chunk_size=4), problem["G"]) <= 1e-12
    xb = x.clone()
    xb[:, 0] += 1.5  # keeps the conservation loss's (mean + 1e-6) denominator away from 0
    mass = per_example_gradients(net, xb, loss="mass", channel=0)
    assert rel_err(mass, loop_gradients(net, xb, loss="mass", channel=0)) <= 1e-12
    by_name = per_example_gradients(net, xb, loss="energy", channels=["density", "energy"])
    assert rel_err(by_name, loop_gradients(net, xb, loss="mass", channel=1)) <= 1e-12


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
    raw = gen.normal(size=(3, 4, 2, 4, 2))  # (element, bra_time, bra_class, ket_time, ket_class)
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
