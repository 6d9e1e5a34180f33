"""The metric's top spectrum, built once per metric and shared by every right-hand side and
damping: :class:`NystromPreconditioner` (randomized Nyström, Frangella, Tropp & Udell 2023) and
:func:`lanczos_lambda_max` (λ_max of M for relative damping and diagnostics).  Vectors are rows
``(k, P)`` in the operator's precision; scalars and small matrices float64 (docs/algorithms.md
§6.3).
"""

from __future__ import annotations

import math
import time

import numpy as np
import torch

from symaudit.influence._linalg import Apply, orthonormalize, spd_solve, sym
from symaudit.influence._operator import gram, row_norms

__all__ = ["NystromPreconditioner", "lanczos_lambda_max"]


# --- randomized Nyström preconditioner ----------------------------------------------------------


class NystromPreconditioner:
    """Randomized Nyström approximation M ≈ U diag(Λ̂) Uᵀ and the preconditioner it defines.

    Built once per metric (independent of the damping): Ω (rank, P) random orthonormal rows,
    Y = M Ω, shift ν = √P·eps·‖Y‖_F for stability, and a Rayleigh–Ritz step in an orthonormal
    basis of span(Y) — which keeps U orthonormal to working precision, so the preconditioner
    stays SPD even when λ/λ̂₁ is tiny.  For a damping μ it applies

        P⁻¹ r = r + U ((λ̂_r + μ)/(Λ̂ + μ) − 1) Uᵀ r

    (Frangella, Tropp & Udell 2023).  λ̂_r/μ is the diagnostic: ≲ 1 means the sketch captured
    every eigenvalue above the damping.

    Parameters
    ----------
    matmat : callable
        Undamped row-block product V (k, P) -> M V.
    size : int
        P.
    rank : int
        Sketch size (products spent on the build).
    dtype, device
        Of the vectors.
    seed : int
        Seed of the random test matrix.
    """

    def __init__(self, matmat: Apply, size: int, rank: int, *, dtype, device, seed: int = 0):
        if rank < 1:
            raise ValueError(f"Nyström rank must be >= 1, got {rank}")
        t0 = time.perf_counter()
        rank = min(int(rank), size)
        gen = torch.Generator(device="cpu").manual_seed(int(seed))
        omega = torch.randn(rank, size, generator=gen, dtype=torch.float64)
        omega = orthonormalize(omega.to(dtype=dtype, device=device))
        Y = matmat(omega)
        yf = float(row_norms(Y).square().sum().sqrt())
        nu = math.sqrt(size) * torch.finfo(dtype).eps * yf
        Y = Y + nu * omega
        basis = orthonormalize(Y)  # (k, P), span(Y_ν)
        S = sym(gram(omega, Y))  # Ωᵀ Y_ν = Ωᵀ M Ω + ν I, SPD
        T = gram(basis, Y)  # (k, r)
        K = sym(T @ spd_solve(S, T.T))  # the Nyström approximation in the basis
        evals, evecs = torch.linalg.eigh(K)
        order = torch.argsort(evals, descending=True)
        evals, evecs = evals[order], evecs[:, order]
        lam = (evals - nu).clamp_min(0.0)
        keep = lam > 0
        self.eigenvalues: torch.Tensor = lam[keep]  # fp64, descending
        self.U: torch.Tensor = evecs[:, keep].T.to(dtype) @ basis  # (k, P) orthonormal rows
        self.rank = int(self.eigenvalues.numel())
        self.requested_rank = rank
        self.shift = nu
        self.build_matvecs = rank
        self.build_seconds = time.perf_counter() - t0

    @property
    def lambda_max(self) -> float:
        """Largest Nyström eigenvalue: a lower bound on λ_max(M)."""
        return float(self.eigenvalues[0]) if self.rank else 0.0

    @property
    def lambda_min(self) -> float:
        """Smallest retained Nyström eigenvalue λ̂_r."""
        return float(self.eigenvalues[-1]) if self.rank else 0.0

    def for_damping(self, mu: float) -> Apply:
        """The preconditioner P⁻¹ for M + μI, as a row-block map."""
        if not mu > 0:
            raise ValueError(f"the Nyström preconditioner needs a positive damping, got {mu}")
        if self.rank == 0:
            return lambda R: R
        coef = (self.lambda_min + mu) / (self.eigenvalues + mu) - 1.0  # (k,) in (-1, 0]
        U = self.U

        def apply(R: torch.Tensor) -> torch.Tensor:
            C = gram(R, U) * coef  # (m, k) fp64
            return R + C.to(R.dtype) @ U

        return apply


# --- λ_max -------------------------------------------------------------------------------------


def lanczos_lambda_max(
    matmat: Apply,
    size: int,
    *,
    dtype,
    device,
    steps: int = 30,
    tol: float = 1e-6,
    seed: int = 0,
) -> tuple[float, int]:
    """Largest eigenvalue of a symmetric PSD operator by Lanczos with full re-orthogonalisation.

    Returns ``(estimate, products)``.  The top Ritz value converges fast on the GGN's
    outlier-dominated spectrum; iteration stops when it changes by less than ``tol`` relative.
    The estimate is a lower bound (a Ritz value).
    """
    gen = torch.Generator(device="cpu").manual_seed(int(seed))
    q = torch.randn(1, size, generator=gen, dtype=torch.float64).to(dtype=dtype, device=device)
    q = q / float(row_norms(q)[0])
    basis = [q]
    alphas: list[float] = []
    betas: list[float] = []
    prev = 0.0
    theta = 0.0
    products = 0
    for k in range(min(steps, size)):
        w = matmat(basis[-1])
        products += 1
        alphas.append(float(gram(basis[-1], w)[0, 0]))
        Qb = torch.cat(basis)
        for _ in range(2):  # full re-orthogonalisation, twice is enough
            w = w - gram(w, Qb).to(dtype) @ Qb
        beta = float(row_norms(w)[0])
        T = np.diag(alphas) + np.diag(betas, 1) + np.diag(betas, -1)
        theta = float(np.linalg.eigvalsh(T)[-1])
        if k > 0 and abs(theta - prev) <= tol * abs(theta):
            break
        prev = theta
        if beta <= 1e-12 * max(abs(theta), 1e-300):
            break  # invariant subspace found: theta is exact
        betas.append(beta)
        basis.append(w / beta)
    return theta, products
