"""Influence between examples through the damped Gauss–Newton metric.

Π[i, j] = ∇θ C_bra,i ᵀ (M + λI)⁻¹ ∇θ C_ket,j with M = Jᵀ J / D the Gauss–Newton (empirical NTK)
metric of a metric batch (D its number of scalar outputs).

One call (the contract)::

    result = influence_matrix(model, x, x, y, gx, gy, damping=1e-3, rtol=1e-4)
    result.values        # (n_bra, n_ket) float64 raw Π
    result.standardised  # rows divided by their std over kets (+1e-6), as the reference
    result.records       # one KetRecord per ket (iterations, residuals, λ/λ_max, bound, ...)

Solve once, many bras (the workflow)::

    sol = solve_kets(model, x, x, y, damping={"mode": "relative", "value": 1e-3}, rtol=1e-4)
    sol.save("kets.pt"); sol = KetSolution.load("kets.pt")
    pi_g = bra_influence(model, sol, act(g, x, ch), act(g, y, ch))   # gradient + dot product

Building blocks: :class:`GaussNewtonOperator` (matrix-free M), :func:`block_cg`,
:func:`lockstep_cg`, :class:`NystromPreconditioner`, :func:`lanczos_lambda_max`,
:func:`per_example_gradients`, :func:`standardise`.  Design notes: docs/algorithms.md §6.
"""

from symaudit.influence._bras import InfluenceResult, bra_influence, influence_matrix
from symaudit.influence._galerkin import GalerkinKets, GalerkinResult
from symaudit.influence._gradients import BRA_LOSSES, per_example_gradients
from symaudit.influence._linalg import orthonormalize
from symaudit.influence._operator import GaussNewtonOperator, ParameterSpace, gram, row_norms
from symaudit.influence._solution import (
    Damping,
    DampingPath,
    InfluenceConvergenceError,
    KetRecord,
    KetSolution,
)
from symaudit.influence._solve import METHODS, SolveOptions, solve_kets
from symaudit.influence._solver import SolveStats, block_cg, lockstep_cg
from symaudit.influence._spectral import NystromPreconditioner, lanczos_lambda_max
from symaudit.influence._standardise import STANDARDISE_EPS, standardise

__all__ = [
    "BRA_LOSSES",
    "METHODS",
    "STANDARDISE_EPS",
    "Damping",
    "DampingPath",
    "GalerkinKets",
    "GalerkinResult",
    "GaussNewtonOperator",
    "InfluenceConvergenceError",
    "InfluenceResult",
    "KetRecord",
    "KetSolution",
    "NystromPreconditioner",
    "ParameterSpace",
    "SolveOptions",
    "SolveStats",
    "block_cg",
    "bra_influence",
    "gram",
    "influence_matrix",
    "lanczos_lambda_max",
    "lockstep_cg",
    "orthonormalize",
    "per_example_gradients",
    "row_norms",
    "solve_kets",
    "standardise",
]
