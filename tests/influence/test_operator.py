"""The Gauss–Newton operator, its spectrum (Lanczos, Nyström) and per-example gradients against
dense oracles (``jacrev`` Jacobians, a plain autograd loop); tiny float64 conv nets."""

from __future__ import annotations

import warnings

import pytest
import torch

from symaudit.influence import (
    GaussNewtonOperator,
    NystromPreconditioner,
    lanczos_lambda_max,
    per_example_gradients,
)

from ._oracles import (
    _data,
    _net,
    dense_metric,
    loop_gradients,
    rel_err,
)

pytestmark = pytest.mark.usefixtures("one_thread")


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
