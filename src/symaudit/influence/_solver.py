"""Krylov solvers for (M + λI) X = B with many right-hand sides, and their helpers.

Everything works on ROW blocks: B, X, residuals and search directions are ``(k, P)`` tensors in
the operator's precision (fp32 for a fp32 model); every inner product, Gram matrix and scalar is
float64 (:func:`~symaudit.influence._operator.gram`).  Design and measurements:
docs/algorithms.md §6.3.  In short:

* :func:`block_cg` — breakdown-free block (P)CG (Ji & Li 2017): the search block is
  re-orthonormalised by a rank-revealing eigen-decomposition of its fp64 Gram matrix (directions
  below ``rank_tol`` relative singular value are dropped), and only the right-hand sides still
  above tolerance feed new directions, while every column of X keeps being updated.  Sharing the
  block Krylov space cut mat-vecs ~3× against separate CG runs on the GGN's outlier-dominated
  spectrum.
* :func:`lockstep_cg` — plain per-column (P)CG run side by side (the fallback; one RHS = CG).
* both start from x₀ = 0 unless given a start, stop on the MAX over columns of the recursive
  relative residual ‖b − Ax‖/‖b‖ ≤ rtol (unsquared), recompute the TRUE residual at exit and
  restart from the current X if any column fails (fp32 recursions drift from κ ≳ 1e5).

Their preconditioner and λ_max come from :mod:`symaudit.influence._spectral`
(:class:`NystromPreconditioner`, :func:`lanczos_lambda_max`).

Both solvers log their progress to ``symaudit.influence`` (INFO): iteration, max / median
relative residual, columns still above rtol, products and time — after the first iteration,
every ``PROGRESS_EVERY`` iterations and at least every ``PROGRESS_SECONDS``, and at the end.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

import numpy as np
import torch

from symaudit.influence._linalg import Apply, orthonormalize, spd_solve, sym
from symaudit.influence._operator import gram, row_norms

__all__ = ["SolveStats", "block_cg", "lockstep_cg"]

log = logging.getLogger("symaudit.influence")

#: a solve logs its progress (INFO) after the first iteration, then every PROGRESS_EVERY
#: iterations and at least every PROGRESS_SECONDS seconds, and once at the end: hours-long
#: paper-scale solves show in the rule's log how far they are (the numbers are not touched)
PROGRESS_EVERY = 10
PROGRESS_SECONDS = 60.0


# --- results ------------------------------------------------------------------------------------


@dataclass
class SolveStats:
    """Per-column diagnostics of one solve of (M + λI) X = B with n right-hand sides.

    Attributes
    ----------
    iterations : ndarray (n,) int
        Iteration (block iteration for block CG) at which the column last reached tolerance;
        the total iteration count if it never did.
    relres_recursive, relres_true : ndarray (n,) float
        ‖r‖/‖b‖ from the recursion at exit and recomputed as ‖b − (M + λI)x‖/‖b‖.
    residual_norms, rhs_norms : ndarray (n,) float
        The absolute true residual ‖b − Ax‖ and ‖b‖.
    converged : ndarray (n,) bool
        relres_true ≤ rtol.
    total_iterations, matvecs, restarts : int
        Iterations of the whole solve, single-vector products (true residuals included), restarts.
    wall_time : float
        Seconds.
    history : list of float
        Max recursive relative residual over columns after every iteration.
    """

    iterations: np.ndarray
    relres_recursive: np.ndarray
    relres_true: np.ndarray
    residual_norms: np.ndarray
    rhs_norms: np.ndarray
    converged: np.ndarray
    total_iterations: int = 0
    matvecs: int = 0
    restarts: int = 0
    wall_time: float = 0.0
    history: list[float] = field(default_factory=list)


class _Counter:
    """Wraps the damped operator A = M + λI and counts single-vector products."""

    def __init__(self, apply: Apply):
        self.apply = apply
        self.count = 0

    def __call__(self, V: torch.Tensor) -> torch.Tensor:
        self.count += V.shape[0]
        return self.apply(V)


class _Progress:
    """Logs one solve's progress: iteration, max / median relative (recursive) residual over the
    columns, how many are still above ``rtol``, single-vector products and elapsed time."""

    def __init__(self, name: str, n: int, rtol: float, counter: _Counter):
        self.name, self.n, self.rtol, self.counter = name, n, rtol, counter
        self.t0 = self.last = time.perf_counter()

    def __call__(self, it: int, rel: np.ndarray) -> None:
        now = time.perf_counter()
        if it != 1 and it % PROGRESS_EVERY and now - self.last < PROGRESS_SECONDS:
            return
        self.last = now
        log.info(
            "%s iteration %d: relative residual max %.3e, median %.3e; %d/%d columns above "
            "rtol %.1e; %d products, %.1f s",
            self.name,
            it,
            float(np.max(rel)),
            float(np.median(rel)),
            int(np.sum(rel > self.rtol)),
            self.n,
            self.rtol,
            self.counter.count,
            now - self.t0,
        )


@dataclass
class _Loop:
    """What the inner recursion of either solver shares over one solve, restarts included."""

    bnorm: np.ndarray  # (n,) ‖b_j‖ (1 where b_j = 0): relative residuals are ‖r_j‖ / bnorm_j
    rtol: float
    max_iterations: int
    progress: _Progress
    iterations: np.ndarray  # (n,) int: iteration at which each column last reached rtol
    history: list[float] = field(default_factory=list)  # max relative residual per iteration
    it: int = 0  # iterations so far

    def record(self, rel: np.ndarray) -> None:
        """After iteration ``it``: the max relative residual into the history, and the log."""
        self.history.append(float(rel.max()))
        self.progress(self.it, rel)


# --- block CG -----------------------------------------------------------------------------------


def _solve_driver(inner, A: Apply, B, *, rtol, max_iterations=500, x0=None, max_restarts=2, **kw):
    """Common frame of both solvers: x₀, the inner recursion (``kw``: its own keywords, e.g.
    ``precond``), true residual at exit, restarts.  The defaults are :func:`block_cg`'s."""
    t0 = time.perf_counter()
    if B.ndim != 2:
        raise ValueError(f"right-hand sides must be a (n, P) block, got {tuple(B.shape)}")
    if not rtol > 0:
        raise ValueError(f"rtol must be positive, got {rtol}")
    A = _Counter(A)
    n = B.shape[0]
    name = "block CG" if inner is _block_cg_inner else "CG"
    bnorm = row_norms(B).cpu().numpy()
    safe_bnorm = np.where(bnorm > 0, bnorm, 1.0)
    if x0 is None:
        X = torch.zeros_like(B)
        R = B.clone()
    else:
        X = x0.to(dtype=B.dtype, device=B.device).clone()
        R = B - A(X)
    iterations = np.zeros(n, dtype=np.int64)
    loop = _Loop(safe_bnorm, rtol, max_iterations, _Progress(name, n, rtol, A), iterations)
    restarts = 0
    while True:
        rel_rec = inner(A, X, R, loop, **kw)
        # the recursive residual drifts from the true one in finite precision (and lies for a
        # start like x0 = b): always recompute it, and restart from X if any column fails
        R_true = B - A(X)
        res = row_norms(R_true).cpu().numpy()
        rel_true = res / safe_bnorm
        done = rel_true <= rtol
        if done.all() or restarts >= max_restarts or loop.it >= max_iterations:
            break
        R = R_true
        restarts += 1
        log.info(
            "%s: true relative residual max %.3e above rtol %.1e after %d iterations; "
            "restart %d of at most %d",
            name,
            float(rel_true.max()),
            rtol,
            loop.it,
            restarts,
            max_restarts,
        )
    never = rel_true > rtol
    iterations[never] = loop.it
    log.info(
        "%s done: %d iterations, %d restarts, %d products, %.1f s; true relative residual "
        "max %.3e, %d/%d columns converged (rtol %.1e)",
        name,
        loop.it,
        restarts,
        A.count,
        time.perf_counter() - t0,
        float(rel_true.max()),
        int(np.sum(~never)),
        n,
        rtol,
    )
    stats = SolveStats(
        iterations=iterations,
        relres_recursive=np.asarray(rel_rec, dtype=np.float64),
        relres_true=rel_true,
        residual_norms=res,
        rhs_norms=bnorm,
        converged=rel_true <= rtol,
        total_iterations=loop.it,
        matvecs=A.count,
        restarts=restarts,
        wall_time=time.perf_counter() - t0,
        history=loop.history,
    )
    return X, stats


def _block_cg_inner(A, X, R, loop: _Loop, precond=None, rank_tol=1e-6):
    """Block CG from the current X (n, P) and residual R (n, P), both updated in place, until
    every column is within ``loop.rtol`` or the iterations run out; (n,) relative residuals."""
    rtol, bnorm = loop.rtol, loop.bnorm
    rel = row_norms(R).cpu().numpy() / bnorm
    active = rel > rtol
    if not active.any():
        return rel
    act = torch.as_tensor(np.flatnonzero(active), device=R.device)
    Z = precond(R[act]) if precond is not None else R[act]
    P = orthonormalize(Z, rank_tol)
    while loop.it < loop.max_iterations and P.shape[0] > 0:
        Q = A(P)
        loop.it += 1
        delta = sym(gram(P, Q))  # Pᵀ A P, k × k
        alpha = spd_solve(delta, gram(P, R))  # k × n: A-optimal step for EVERY column
        a32 = alpha.T.to(R.dtype)
        X.add_(a32 @ P)
        R.sub_(a32 @ Q)
        rel = row_norms(R).cpu().numpy() / bnorm
        loop.record(rel)
        newly = (rel <= rtol) & active
        loop.iterations[newly] = loop.it
        active = rel > rtol  # a column may come back if round-off pushes it over again
        if not active.any():
            break
        act = torch.as_tensor(np.flatnonzero(active), device=R.device)
        Z = precond(R[act]) if precond is not None else R[act]
        beta = spd_solve(delta, gram(Q, Z))  # k × m: makes the new block A-conjugate to P
        P = orthonormalize(Z - beta.T.to(R.dtype) @ P, rank_tol)
    return rel


def block_cg(
    A: Apply,
    B: torch.Tensor,
    *,
    rtol: float,
    max_iterations: int = 500,
    precond: Apply | None = None,
    x0: torch.Tensor | None = None,
    max_restarts: int = 2,
    rank_tol: float = 1e-6,
) -> tuple[torch.Tensor, SolveStats]:
    """Breakdown-free block (preconditioned) CG for A X = B (see the module docstring).

    Parameters
    ----------
    A : callable
        Row-block product ``V (k, P) -> A V (k, P)`` with A symmetric positive definite.
    B : Tensor, shape (n, P)
        Right-hand sides as rows.
    rtol : float
        Stop when max_j ‖b_j − A x_j‖/‖b_j‖ ≤ rtol (recursive), confirmed on the true residual.
    max_iterations : int
        Block iterations in total, restarts included (one costs as many products as the block
        has directions, ≤ n).
    precond : callable, optional
        Row-block application of an SPD preconditioner ≈ A⁻¹.
    x0 : Tensor (n, P), optional
        Starting guess (default 0; never b — docs/algorithms.md §6.3).
    max_restarts : int
        Restarts from the current X when the true residual misses the tolerance.
    rank_tol : float
        Relative singular-value cut when re-orthonormalising the search block.

    Returns
    -------
    X : Tensor (n, P)
    stats : SolveStats
    """
    return _solve_driver(
        _block_cg_inner,
        A,
        B,
        rtol=rtol,
        max_iterations=max_iterations,
        x0=x0,
        max_restarts=max_restarts,
        precond=precond,
        rank_tol=rank_tol,
    )


# --- lock-step CG -------------------------------------------------------------------------------


def _rowdot(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return (a.double() * b.double()).sum(dim=1)


def _lockstep_inner(A, X, R, loop: _Loop, precond=None):
    """Per-column CG, the active columns side by side; as :func:`_block_cg_inner`."""
    rtol, bnorm = loop.rtol, loop.bnorm
    rel = row_norms(R).cpu().numpy() / bnorm
    active = np.flatnonzero(rel > rtol)
    if active.size == 0:
        return rel
    idx = torch.as_tensor(active, device=R.device)
    Z = precond(R[idx]) if precond is not None else R[idx].clone()
    D = Z.clone()  # search directions of the active columns
    rz = _rowdot(R[idx], Z)
    while loop.it < loop.max_iterations:
        Q = A(D)
        loop.it += 1
        alpha = rz / _rowdot(D, Q)
        a32 = alpha.to(R.dtype)[:, None]
        X[idx] += a32 * D
        R[idx] -= a32 * Q
        rel_act = row_norms(R[idx]).cpu().numpy() / bnorm[active]
        rel[active] = rel_act
        loop.record(rel)
        keep = rel_act > rtol
        loop.iterations[active[~keep]] = loop.it
        if not keep.any():
            break
        # finished columns leave the products (they cost nothing any more)
        k = torch.as_tensor(np.flatnonzero(keep), device=R.device)
        active, idx, D, rz = active[keep], idx[k], D[k], rz[k]
        Z = precond(R[idx]) if precond is not None else R[idx]
        rz_new = _rowdot(R[idx], Z)
        beta = (rz_new / rz).to(R.dtype)[:, None]
        D = Z + beta * D
        rz = rz_new
    return rel


def lockstep_cg(A: Apply, B: torch.Tensor, **options) -> tuple[torch.Tensor, SolveStats]:
    """Per-column (preconditioned) CG, all columns side by side; the contract and keywords of
    :func:`block_cg` but ``rank_tol`` (``max_iterations`` counts iterations of the lock-step
    loop)."""
    return _solve_driver(_lockstep_inner, A, B, **options)
