"""Solving the kets: X = (M + λI)⁻¹ G_ket with block CG (+ Nyström), lock-step CG, one CG per
ket, or the reference's Galerkin inverse; one :class:`KetSolution` per λ (docs/algorithms.md §6.3,
§6.4).

:class:`SolveOptions` holds every setting of a solve; :func:`solve_kets` accepts one, or the same
names as keywords.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields, replace

import numpy as np
import torch
from torch import nn

from symaudit.influence import _solver
from symaudit.influence._galerkin import GalerkinKets
from symaudit.influence._gradients import per_example_gradients
from symaudit.influence._operator import OPERATOR_MODES, GaussNewtonOperator, row_norms
from symaudit.influence._solution import (
    DampingPath,
    InfluenceConvergenceError,
    KetRecord,
    KetSolution,
    _stats_records,
    _unconverged_message,
)
from symaudit.influence._solver import SolveStats
from symaudit.influence._spectral import NystromPreconditioner, lanczos_lambda_max
from symaudit.settings import INFLUENCE

__all__ = ["METHODS", "SETTINGS_KEYS", "SolveOptions", "solve_kets"]

#: solver methods: block CG (default), lock-step CG ("cg"), one RHS at a time, the reference's
#: gradient-span Galerkin inverse
METHODS = ("block_cg", "cg", "sequential_cg", "galerkin")

#: the solve's settings that a study's ``influence`` section sets (its other keys,
#: ``include_unconverged`` and ``galerkin_reference``, concern the bras)
SETTINGS_KEYS = (
    "damping",
    "rtol",
    "normalization",
    "method",
    "preconditioner_rank",
    "max_iterations",
    "fail_on_unconverged",
    "galerkin_energy",
    "operator_mode",
    "vmap_chunk",
    "block_size",
)


@dataclass(frozen=True)
class SolveOptions:
    """Every setting of :func:`solve_kets`.

    Attributes
    ----------
    damping : float or {"mode": "absolute"|"relative", "value": v} or Damping, or a path
        λ (absolute) or v·λ_max(M) (relative; λ_max estimated by Lanczos unless given).  A
        list of such values, or ``{"mode": m, "values": [...], "primary": v}``, is a damping
        path: one operator, gradient set, λ_max estimate and Nyström sketch serve every λ,
        solved from the largest λ down (see ``path_start``); returns a list of solutions.
    rtol : float
        Per-ket ‖b − Ax‖/‖b‖ ≤ rtol for EVERY ket (max over kets), on the true residual.
    normalization : {"per_output", "per_example", "none"}
    method : {"block_cg", "cg", "sequential_cg", "galerkin"}
        Block CG; lock-step CG over the block; one CG per ket; or the reference's Galerkin
        inverse in the (energy-truncated) span of the ket gradients plus ``extra_span``.
        ``galerkin`` has no tolerance: its residuals are recorded but never raise.
    preconditioner_rank : int
        Rank of the randomized Nyström preconditioner (0 = none); built once, shared by all kets.
    max_iterations, max_restarts : int
        Per solve (block): iterations in total and true-residual restarts.
    fail_on_unconverged : bool
        Raise :class:`InfluenceConvergenceError` (one line; ``.solution`` attached) if any ket
        misses ``rtol``; otherwise only flag it in its record.
    block_size : int
        Kets per block solve (config ``influence.block_size``): the kets are solved in blocks
        of this size one after another, each ket to ``rtol``.  The block-CG state (~8
        parameter-sized rows per ket of the block) grows with it, not with the batch.
    chunk_size : int
        Vectors per vmap in products and examples per vmap in gradients (config
        ``influence.vmap_chunk``): peak memory grows with it.
    lambda_max : float, optional
        A known λ_max(M) (skips the Lanczos estimate).
    estimate_lambda_max : bool
        Estimate λ_max even for absolute damping (for the λ/λ_max record).
    lanczos_steps, seed : int
        Lanczos steps for λ_max; seed of the Lanczos start and the Nyström sketch.
    x0 : Tensor (n, P) or "rhs", optional
        Starting guess; ``"rhs"`` starts from b — a deliberately bad start for testing the
        true-residual check (docs/algorithms.md §6.3).
    extra_span : Tensor (m, P), optional
        Galerkin only: further gradients (the reference's bras) added to the subspace.
    galerkin_energy : float
        Galerkin only: discarded gradient energy (reference 1e-4; 0 keeps the full span).
    galerkin_defer : bool
        Galerkin only: solve nothing yet and store the ket gradients (``kind="ket_gradients"``,
        records ``converged=True`` with NaN residuals); the subspace span[G_ket, G_bra(g)]
        depends on the bras, so :class:`GalerkinKets` builds it per bra set (the workflow).
    path_start : {"cold", "warm"}
        Damping paths: start each λ from ``x0`` (``cold``: independent solves sharing the
        operator, gradients, λ_max and the Nyström sketch) or from the solution at the next
        larger λ (``warm``).  Cold is the default: at equal true residual warm starts saved
        nothing (tiny UNet, 24 kets, λ/λ_max = 1e-2, 1e-3, 1e-4: 1220 vs 1252 mat-vecs, with
        Nyström(32) 937 vs 945; ``bench/influence_path.py``).
    rank_tol : float
        Relative singular-value cut of the block-CG search block and the Galerkin basis.
    check_residual : bool
        Galerkin only: compute the true residuals (n extra products) for the records.
    operator_mode : {"linearize", "jvp"}
        How the operator forms J v (:class:`GaussNewtonOperator` ``mode``; config
        ``influence.operator_mode``): ``jvp`` holds no traced graph (memory).
    operator : GaussNewtonOperator, optional
        Reuse an operator built for this model and metric batch.
    meta : dict, optional
        Plain data stored with the solution.
    sink : callable (index, KetSolution) -> None, optional
        Called with each λ's solution as soon as it is solved (index in the path's order;
        e.g. to write it), after which its ``vectors`` are released (set to None): a path
        then holds one λ's n × P solutions at a time, not n_λ of them.
    """

    damping: object = None
    rtol: float = INFLUENCE["rtol"]
    normalization: str = INFLUENCE["normalization"]
    method: str = INFLUENCE["method"]
    preconditioner_rank: int = INFLUENCE["preconditioner_rank"]
    max_iterations: int = INFLUENCE["max_iterations"]
    max_restarts: int = 2
    fail_on_unconverged: bool = INFLUENCE["fail_on_unconverged"]
    block_size: int = INFLUENCE["block_size"]
    chunk_size: int = INFLUENCE["vmap_chunk"]
    lambda_max: float | None = None
    estimate_lambda_max: bool = True
    lanczos_steps: int = 30
    seed: int = 0
    x0: torch.Tensor | str | None = None
    extra_span: torch.Tensor | None = None
    galerkin_energy: float = INFLUENCE["galerkin_energy"]
    operator_mode: str = INFLUENCE["operator_mode"]
    galerkin_defer: bool = False
    path_start: str = "cold"
    rank_tol: float = 1e-6
    check_residual: bool = True
    operator: GaussNewtonOperator | None = None
    meta: Mapping | None = None
    sink: Callable[[int, KetSolution], None] | None = None

    def __post_init__(self):
        if self.damping is None:
            raise ValueError("solve_kets needs a damping (a number, {mode, value} or a path)")
        if self.operator_mode not in OPERATOR_MODES:
            raise ValueError(f"unknown operator_mode {self.operator_mode!r}: linearize | jvp")
        if self.method not in METHODS:
            raise ValueError(f"unknown method {self.method!r}: {' | '.join(METHODS)}")
        if self.block_size < 1:
            raise ValueError(f"block_size must be >= 1, got {self.block_size}")
        if self.path_start not in ("warm", "cold"):
            raise ValueError(f"path_start must be warm or cold, got {self.path_start!r}")
        if isinstance(self.x0, str) and self.x0 != "rhs":
            raise ValueError(f"x0 must be a tensor, None or 'rhs', got {self.x0!r}")

    @classmethod
    def names(cls) -> tuple[str, ...]:
        return tuple(f.name for f in fields(cls))

    @staticmethod
    def keywords(settings: Mapping) -> dict:
        """The :data:`SETTINGS_KEYS` of a RESOLVED ``influence`` section
        (``symaudit.influence._stage.resolve_settings``) as keywords of :func:`solve_kets` or
        :func:`~symaudit.influence.influence_matrix`."""
        missing = [k for k in SETTINGS_KEYS if k not in settings]
        if missing:
            raise ValueError(
                f"influence settings: {', '.join(missing)} missing (resolve them first)"
            )
        keywords = {k: settings[k] for k in SETTINGS_KEYS}
        keywords["chunk_size"] = keywords.pop("vmap_chunk")  # the config's name for it
        return keywords

    @classmethod
    def from_settings(cls, settings: Mapping, **overrides) -> SolveOptions:
        """The options a resolved ``influence`` section sets (:meth:`keywords`), plus
        ``overrides`` (e.g. ``galerkin_defer``, ``meta``)."""
        return cls(**{**cls.keywords(settings), **overrides})


@dataclass
class _Problem:
    """What every λ of one solve shares: the operator, the ket gradients, λ_max, the sketch."""

    op: GaussNewtonOperator
    G: torch.Tensor  # (n_ket, P) ket gradients, the right-hand sides
    setup: dict
    lambda_max: float | None
    nys: NystromPreconditioner | None
    t_start: float


# --- the shared setup ---------------------------------------------------------------------------


def _prepare(
    model, metric_inputs, ket_inputs, ket_targets, o: SolveOptions, path: DampingPath
) -> _Problem:
    """Operator, ket gradients, λ_max estimate and Nyström sketch, timed into ``setup``."""
    if o.operator is None and metric_inputs is None:
        raise ValueError("solve_kets needs metric_inputs (or a prebuilt operator)")
    t_start = time.perf_counter()
    op = o.operator or GaussNewtonOperator(
        model,
        metric_inputs,
        normalization=o.normalization,
        chunk_size=o.chunk_size,
        mode=o.operator_mode,
    )
    if o.operator is not None and o.operator.normalization != o.normalization:
        raise ValueError(
            f"operator normalization {o.operator.normalization!r} != requested {o.normalization!r}"
        )
    setup: dict = {
        "operator_seconds": op.setup_seconds,
        "operator_mode": op.mode,
        "parameters": op.size,
        "metric_outputs": op.num_outputs,
    }

    t0 = time.perf_counter()
    G = per_example_gradients(
        model, ket_inputs, ket_targets, chunk_size=o.chunk_size, space=op.space
    )
    setup["gradient_seconds"] = time.perf_counter() - t0

    lambda_max = o.lambda_max
    if lambda_max is None and (path.needs_lambda_max or o.estimate_lambda_max):
        t0 = time.perf_counter()
        lambda_max, products = lanczos_lambda_max(
            op.mm, op.size, dtype=op.dtype, device=op.device, steps=o.lanczos_steps, seed=o.seed
        )
        setup.update(lambda_max_seconds=time.perf_counter() - t0, lambda_max_matvecs=products)

    nys = None
    if o.preconditioner_rank and o.method != "galerkin":
        nys = NystromPreconditioner(
            op.mm, op.size, o.preconditioner_rank, dtype=op.dtype, device=op.device, seed=o.seed
        )
        setup.update(
            preconditioner_seconds=nys.build_seconds,
            preconditioner_matvecs=nys.build_matvecs,
            preconditioner_rank=nys.rank,
            nystrom_lambda_max=nys.lambda_max,
        )
    return _Problem(op, G, setup, lambda_max, nys, t_start)


# --- one λ, by method ---------------------------------------------------------------------------


def _one_block_records(stats: SolveStats, p: _Problem, o: SolveOptions, lam: float):
    """Records of a solve that treats all kets as one block without a preconditioner."""
    return _stats_records(
        stats,
        first=0,
        block=0,
        method=o.method,
        lam=lam,
        lambda_max=p.lambda_max,
        rank=0,
        rtol=o.rtol,
    )


def _deferred_galerkin(p: _Problem, o: SolveOptions, lam: float, local: dict):
    """Galerkin with the subspace built later per bra set: store the ket gradients."""
    n = p.G.shape[0]
    local["galerkin_energy"] = o.galerkin_energy
    nan = np.full(n, np.nan)
    stats = SolveStats(
        iterations=np.zeros(n, dtype=np.int64),
        relres_recursive=nan,
        relres_true=nan,
        residual_norms=nan,
        rhs_norms=row_norms(p.G).cpu().numpy(),
        converged=np.ones(n, dtype=bool),
        total_iterations=0,
        matvecs=0,
        wall_time=0.0,
    )
    records = _one_block_records(stats, p, o, lam)
    return p.G, records, None


def _galerkin(p: _Problem, o: SolveOptions, lam: float, local: dict):
    """The reference's exact inverse in span[G_ket, extra_span] (docs/algorithms.md §6.4)."""
    G, n = p.G, p.G.shape[0]
    t0 = time.perf_counter()
    basis = GalerkinKets(p.op, G)
    res = basis.influence(
        None if o.extra_span is None else o.extra_span.to(G),
        lam,
        energy=o.galerkin_energy,
        rank_tol=o.rank_tol,
        full_residual=o.check_residual,
        return_vectors=True,
    )
    stats = SolveStats(
        iterations=np.ones(n, dtype=np.int64),
        relres_recursive=np.full(n, np.nan),
        relres_true=res.relres_subspace,
        residual_norms=res.residual_norms,
        rhs_norms=res.rhs_norms,
        converged=np.ones(n, dtype=bool),
        total_iterations=1,
        matvecs=basis.jvps + res.jvps + res.vjps,
        wall_time=time.perf_counter() - t0,
    )
    local["galerkin_rank"] = res.rank
    local["galerkin_energy"] = o.galerkin_energy
    records = _one_block_records(stats, p, o, lam)
    for rec, full in zip(records, res.relres_full_space.tolist(), strict=True):
        rec.relres_full_space = float(full)
    return res.vectors, records, res


def _krylov(
    p: _Problem, o: SolveOptions, lam: float, start: torch.Tensor | None, precond, rank: int
):
    """Block CG, lock-step CG or one CG per ket, ``block_size`` kets at a time."""
    G, op, n = p.G, p.op, p.G.shape[0]

    def A(V: torch.Tensor) -> torch.Tensor:
        return op.mm(V).add_(V, alpha=lam)

    X = torch.empty_like(G)
    records: list[KetRecord] = []
    kw = dict(
        rtol=o.rtol, max_iterations=o.max_iterations, max_restarts=o.max_restarts, precond=precond
    )
    width = 1 if o.method == "sequential_cg" else o.block_size
    for b, first in enumerate(range(0, n, width)):
        sl = slice(first, first + width)
        x0_b = None if start is None else start[sl]
        if o.method == "block_cg":
            Xb, stats = _solver.block_cg(A, G[sl], x0=x0_b, rank_tol=o.rank_tol, **kw)
        else:
            Xb, stats = _solver.lockstep_cg(A, G[sl], x0=x0_b, **kw)
        X[sl] = Xb
        records += _stats_records(
            stats,
            first=first,
            block=b,
            method=o.method,
            lam=lam,
            lambda_max=p.lambda_max,
            rank=rank,
            rtol=o.rtol,
        )
    return X, records, None


def _solve_one(p: _Problem, o: SolveOptions, lam: float, start: torch.Tensor | None) -> KetSolution:
    """Solve at one λ (the Nyström sketch is shared: only its λ-shift changes)."""
    logging.getLogger("symaudit.influence").info(
        "%s: %d kets at damping %.4g (lambda_max ~ %.4g)",
        o.method,
        p.G.shape[0],
        lam,
        float("nan") if p.lambda_max is None else p.lambda_max,
    )
    local = dict(p.setup)
    precond, rank = None, 0
    if p.nys is not None:
        precond, rank = p.nys.for_damping(lam), p.nys.rank
        local["preconditioner_lambda_r_over_damping"] = p.nys.lambda_min / lam
    deferred = o.method == "galerkin" and o.galerkin_defer
    if deferred:
        X, records, res = _deferred_galerkin(p, o, lam, local)
    elif o.method == "galerkin":
        X, records, res = _galerkin(p, o, lam, local)
    else:
        X, records, res = _krylov(p, o, lam, start, precond, rank)
    local["total_seconds"] = time.perf_counter() - p.t_start
    solution = KetSolution(
        vectors=X,
        records=records,
        damping=float(lam),
        lambda_max=None if p.lambda_max is None else float(p.lambda_max),
        rtol=float(o.rtol),
        method=o.method,
        normalization=o.normalization,
        parameters=p.op.space.describe(),
        setup=local,
        meta=dict(o.meta or {}),
        kind="ket_gradients" if deferred else "solutions",
    )
    if res is not None:
        # Π of the span's own extra rows, straight from the fp64 coefficients
        solution._span_values = res.values
    return solution


# --- solve_kets ---------------------------------------------------------------------------------


def solve_kets(
    model: nn.Module,
    metric_inputs: torch.Tensor,
    ket_inputs: torch.Tensor,
    ket_targets: torch.Tensor,
    options: SolveOptions | None = None,
    **settings,
) -> KetSolution | list[KetSolution]:
    """Solve (M + λI) x_j = ∇θ SMSE(f(x_j), y_j) for every ket j.

    Parameters
    ----------
    model : nn.Module
    metric_inputs : Tensor (N, C, H, W)
        The batch defining M = Jᵀ J / D.
    ket_inputs, ket_targets : Tensor (n, C, H, W)
    options : SolveOptions, optional
        The settings; ``settings`` (the same names as keywords: ``damping=...``,
        ``rtol=...``) build one or override fields of ``options``.

    Returns
    -------
    KetSolution, or a list of them (one per λ, in the order given) for a damping path
    """
    unknown = set(settings) - set(SolveOptions.names())
    if unknown:
        raise TypeError(f"solve_kets: unknown settings {sorted(unknown)}")
    o = replace(options, **settings) if options is not None else SolveOptions(**settings)
    path = DampingPath.parse(o.damping)
    p = _prepare(model, metric_inputs, ket_inputs, ket_targets, o, path)
    lams = [d.resolve(p.lambda_max) for d in path.values]

    x0 = o.x0
    if isinstance(x0, str):
        x0 = p.G.clone()
    elif x0 is not None and tuple(x0.shape) != tuple(p.G.shape):
        raise ValueError(f"x0 shape {tuple(x0.shape)} != right-hand sides {tuple(p.G.shape)}")

    # from the largest λ (best conditioned) to the smallest; "warm" starts each solve from the
    # previous λ's solution
    solutions: list[KetSolution | None] = [None] * len(lams)
    previous = x0
    for i in sorted(range(len(lams)), key=lambda i: -lams[i]):
        solution = _solve_one(p, o, lams[i], previous if o.path_start == "warm" else x0)
        if path.is_path:
            solution.meta["damping_path"] = [float(v) for v in lams]
            solution.meta["damping_primary"] = float(lams[path.primary])
        if o.path_start == "warm" and o.method != "galerkin":
            previous = solution.vectors
        if o.sink is not None:  # written out: one λ's vectors in memory at a time
            o.sink(i, solution)
            solution.vectors = None
        solutions[i] = solution
    if o.fail_on_unconverged and o.method != "galerkin":
        for sol in solutions:
            if not sol.converged:
                raise InfluenceConvergenceError(
                    _unconverged_message(sol.records, o.rtol, o.max_iterations),
                    solutions if path.is_path else sol,
                )
    return solutions if path.is_path else solutions[0]
