"""Small dense linear algebra on row blocks, shared by the Krylov solvers, the Nyström
preconditioner and the Galerkin inverse.

Vectors are ROWS: W (m, P) holds m vectors of P parameters in the working precision (fp32 for a
fp32 model); Gram matrices and the small systems solved here are float64
(:func:`~symaudit.influence._operator.gram`).
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from symaudit.influence._operator import gram

__all__ = ["Apply", "orthonormalize", "spd_solve", "sym"]

#: a row-block map V (k, P) -> (k, P): an operator product or a preconditioner application
Apply = Callable[[torch.Tensor], torch.Tensor]


def sym(a: torch.Tensor) -> torch.Tensor:
    """The symmetric part (A + Aᵀ)/2 of a small square matrix (round-off asymmetry)."""
    return 0.5 * (a + a.T)


def orthonormalize(W: torch.Tensor, rank_tol: float = 1e-6, passes: int = 2) -> torch.Tensor:
    """Orthonormal row basis of span(rows of W), dropping numerically dependent directions.

    W (m, P) -> Q (k, P), k ≤ m.  Each pass eigen-decomposes the fp64 Gram matrix W Wᵀ and keeps
    the directions whose singular value exceeds ``rank_tol`` × the largest; the second pass
    repairs the orthonormality lost by forming Q in the working precision (CholQR2-style).
    Never forms a fp64 copy of W, so it scales to P ~ 10^7.
    """
    Q = W
    for i in range(passes):
        if Q.shape[0] == 0:
            return Q
        G = sym(gram(Q, Q))
        evals, evecs = torch.linalg.eigh(G)
        top = float(evals[-1]) if evals.numel() else 0.0
        if not top > 0.0:
            return Q[:0]
        # first pass: the rank decision; later passes only re-normalise what survived
        cut = (rank_tol**2) * top if i == 0 else 1e-2 * top * torch.finfo(torch.float64).eps
        keep = evals > cut
        T = evecs[:, keep] / evals[keep].sqrt()  # (m, k)
        Q = T.T.to(W.dtype) @ Q
    return Q


def spd_solve(A: torch.Tensor, B: torch.Tensor) -> torch.Tensor:
    """Solve A X = B for a small fp64 SPD A (Cholesky; eigen pseudo-inverse if that fails)."""
    L, info = torch.linalg.cholesky_ex(A)
    if int(info) == 0:
        return torch.cholesky_solve(B, L)
    evals, evecs = torch.linalg.eigh(A)
    inv = torch.where(evals > evals[-1] * 1e-14, 1.0 / evals, torch.zeros_like(evals))
    return evecs @ (inv[:, None] * (evecs.T @ B))
