"""``influence.operator_mode``: the solve, the bras' Galerkin operator and the companion spectrum
form J v by ``linearize`` (a traced graph kept) or ``jvp`` (nothing kept; the paper's 128^2
setting, bench/operator_memory.py).  Both give the same influence to float rounding, the mode
is recorded in the solution and reused by whatever rebuilds its operator."""

from __future__ import annotations

import pytest
import torch

from symaudit.companion._spectrum import gradient_span_spectrum
from symaudit.influence import GalerkinKets, SolveOptions, solve_kets
from symaudit.settings import INFLUENCE

from ._oracles import rel_err


def test_the_default_is_linearize_and_jvp_is_accepted():
    assert INFLUENCE["operator_mode"] == "linearize"
    assert SolveOptions(damping=1e-3, operator_mode="jvp").operator_mode == "jvp"
    with pytest.raises(ValueError, match="operator_mode"):
        SolveOptions(damping=1e-3, operator_mode="trace")


def test_jvp_and_linearize_solves_agree_and_record_their_mode(problem):
    net, x, y, G = problem["net"], problem["x"], problem["y"], problem["G"]
    damping = {"mode": "relative", "value": 1e-3}
    sols = {
        mode: solve_kets(net, x, x, y, damping=damping, rtol=1e-10, operator_mode=mode)
        for mode in ("linearize", "jvp")
    }
    for mode, sol in sols.items():
        assert sol.setup["operator_mode"] == mode
    pi = {mode: G @ sol.vectors.T for mode, sol in sols.items()}
    assert rel_err(pi["jvp"], pi["linearize"]) < 1e-8


@pytest.mark.parametrize("mode", ["linearize", "jvp"])
def test_galerkin_basis_rebuilds_the_operator_in_the_solves_mode(problem, mode):
    net, x, y = problem["net"], problem["x"], problem["y"]
    sol = solve_kets(
        net, x, x, y, damping=1e-3, method="galerkin", galerkin_defer=True, operator_mode=mode
    )
    assert GalerkinKets.from_solution(net, sol, x).op.mode == mode


def test_companion_spectrum_is_the_same_in_both_modes(problem):
    net, x, y = problem["net"], problem["x"], problem["y"]
    a = gradient_span_spectrum(net, x, y, mode="linearize")
    b = gradient_span_spectrum(net, x, y, mode="jvp")
    assert a["rank"] == b["rank"]
    k = a["rank"]
    assert (
        rel_err(torch.as_tensor(b["eigenvalues"][:k]), torch.as_tensor(a["eigenvalues"][:k])) < 1e-8
    )


def test_vmap_chunk_reaches_the_solve_and_changes_no_value(problem):
    """``influence.vmap_chunk`` (default 8) is the solve's ``chunk_size``; per-example values
    do not depend on it beyond rounding."""
    from symaudit.influence._stage import resolve_settings

    assert INFLUENCE["vmap_chunk"] == 8
    assert SolveOptions.from_settings(resolve_settings({"vmap_chunk": 3})).chunk_size == 3
    net, x, y, G = problem["net"], problem["x"], problem["y"], problem["G"]
    pi = {
        chunk: G @ solve_kets(net, x, x, y, damping=1e-3, rtol=1e-10, chunk_size=chunk).vectors.T
        for chunk in (1, 8)
    }
    assert rel_err(pi[1], pi[8]) < 1e-8


@pytest.mark.parametrize("mode", ["linearize", "jvp"])
def test_the_vjp_closure_is_built_only_when_a_product_needs_it(problem, mode):
    """J v alone (the bras' Galerkin reference) keeps no vjp closure (its activations); the
    first M v builds it, and M stays the dense oracle's."""
    from symaudit.influence import GaussNewtonOperator

    net, x = problem["net"], problem["x"]
    op = GaussNewtonOperator(net, x, mode=mode)
    V = torch.randn(3, op.size, dtype=op.dtype)
    op.jvp_mm(V)
    assert op._vjp_closure is None
    J = torch.func.jacrev(op._f)(op.space.theta).reshape(-1, op.size)
    assert rel_err(op.mm(V), (J.T @ (J @ V.T)).T * op.scale) < 1e-10
    assert op._vjp_closure is not None
