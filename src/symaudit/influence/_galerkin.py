"""The reference's Galerkin influence (lanl/PDEHats ``scripts/HatMatrix/qr.jl``, ``qr_eqv.jl``):
the exact inverse of the damped metric inside the energy-truncated gradient span, computed from
Gram matrices (docs/algorithms.md §6.4)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from symaudit.influence._linalg import spd_solve, sym
from symaudit.influence._operator import GaussNewtonOperator, gram, row_norms
from symaudit.influence._solution import KetSolution
from symaudit.influence._solution import check_parameters as _check_parameters

__all__ = ["GalerkinKets", "GalerkinResult"]


def _energy_rank(evals_desc: torch.Tensor, energy: float) -> int:
    """Smallest k with 1 − Σ_{i≤k} S_i²/Σ S_i² ≤ energy (reference ``qr.jl``); all if 0."""
    total = float(evals_desc.clamp_min(0).sum())
    if not total > 0:
        return 0
    tail = 1.0 - torch.cumsum(evals_desc.clamp_min(0), 0) / total
    hits = torch.nonzero(tail <= energy).flatten()
    return int(hits[0]) + 1 if hits.numel() else int(evals_desc.numel())


def _span_basis(K: torch.Tensor, energy: float, rank_tol: float) -> torch.Tensor:
    """Coefficients W (k, m) of an orthonormal basis Q = W S of the truncated span of S.

    ``K`` = S Sᵀ (m, m) fp64.  The first eigen-decomposition makes the rank decision (the
    energy rule on the singular values S_i² = eig(K), then ``rank_tol`` relative to the
    largest); the second re-normalises (W K Wᵀ = I to fp64 rounding).  Working in coefficient
    space never forms Q, so the Jacobian products of S can be cached and reused.
    """
    evals, evecs = torch.linalg.eigh(sym(K))
    evals, evecs = evals.flip(0), evecs.flip(1)
    k = _energy_rank(evals, energy)
    if k == 0:
        return K.new_zeros(0, K.shape[0])
    keep = evals[:k] > (rank_tol**2) * float(evals[0])
    W = (evecs[:, :k][:, keep] / evals[:k][keep].sqrt()).T
    e2, v2 = torch.linalg.eigh(sym(W @ K @ W.T))
    return (v2 / e2.clamp_min(torch.finfo(e2.dtype).tiny).sqrt()).T @ W


@dataclass
class GalerkinResult:
    """The reference's Galerkin influence for one set of bras (one group element).

    Attributes
    ----------
    values : Tensor (n_bra, n_ket) float64
        Π = (Q G_bra)ᵀ (Q M Qᵀ + λ I)⁻¹ (Q G_ket) with Q the orthonormal basis of the
        energy-truncated span[G_ket, G_bra].
    rank : int
        k, the dimension of the subspace.
    relres_subspace : ndarray (n_ket,)
        ‖Q b − (Q M Qᵀ + λ) y‖/‖Q b‖ of the k × k system (rounding only: the solve is exact).
    residual_norms : ndarray (n_ket,)
        Full-space ‖b − (M + λI) x‖ of the Galerkin solution x = Qᵀ y (NaN if not computed).
    rhs_norms : ndarray (n_ket,)
        ‖b‖ = ‖∇θ C_ket‖.
    bra_norms : ndarray (n_bra,)
        ‖∇θ C_bra‖ (for the bound ‖g_bra‖·‖r‖/λ against the full-space inverse).
    vectors : Tensor (n_ket, P) or None
        x = Qᵀ y in the model's dtype (only with ``return_vectors``).
    jvps, vjps : int
        Jacobian products spent on this call (the kets' were cached).
    ket_values : Tensor (n_ket, n_ket) float64
        The same subspace inverse between the kets: [i, j] = G_ket,iᵀ x_j (its diagonal is
        the raw Galerkin self-influence Π_G(x_j, x_j); no Jacobian product).
    damping, scale : float
        λ added in the subspace and the factor of M = scale · JᵀJ used.
    """

    values: torch.Tensor
    rank: int
    relres_subspace: np.ndarray
    residual_norms: np.ndarray
    rhs_norms: np.ndarray
    bra_norms: np.ndarray
    vectors: torch.Tensor | None
    jvps: int
    vjps: int
    ket_values: torch.Tensor | None = None
    damping: float = float("nan")
    scale: float = float("nan")

    @property
    def self_influence(self) -> np.ndarray:
        """(n_ket,) float64 raw Π_G(x_j, x_j) = G_ket,jᵀ x_j (the diagonal of ``ket_values``)."""
        return torch.diagonal(self.ket_values).numpy().copy()

    @property
    def relres_full_space(self) -> np.ndarray:
        return self.residual_norms / np.where(self.rhs_norms > 0, self.rhs_norms, 1.0)


class GalerkinKets:
    """The g-independent half of the reference's Galerkin influence (``qr.jl`` / ``qr_eqv.jl``).

    The reference inverts the damped Gauss–Newton metric of the untransformed batch exactly
    in Q = the energy-truncated left singular vectors of [G_ket, G_bra(g)], rebuilt for every
    bra set g: Π^g = (Q G_bra)ᵀ (Q (JᵀJ/D) Qᵀ + ε I)⁻¹ (Q G_ket).  Since Q = W [G_ket; G_bra]
    for a small coefficient matrix W, every quantity follows from the Gram matrices of the
    gradients and of their Jacobian products; the kets' part of both is computed here ONCE
    (n JVPs), and each bra set adds only its own n_bra JVPs (the reference recomputed all of
    it per element).

    Parameters
    ----------
    operator : GaussNewtonOperator
        M of the (untransformed) metric batch.
    ket_gradients : Tensor (n_ket, P)
        ∇θ C_ket rows, in the model's dtype.
    """

    def __init__(self, operator: GaussNewtonOperator, ket_gradients: torch.Tensor):
        self.op = operator
        self.G = ket_gradients
        n = ket_gradients.shape[0]
        jvps0 = operator.jvps
        self.JG = operator.jvp_mm(ket_gradients).reshape(n, -1)
        self.jvps = operator.jvps - jvps0
        self.K = gram(self.G, self.G)
        self.KJ = gram(self.JG, self.JG)
        self.rhs_norms = row_norms(self.G).cpu().numpy()

    @classmethod
    def from_solution(
        cls,
        model: nn.Module,
        solution: KetSolution,
        metric_inputs: torch.Tensor,
        *,
        chunk_size: int = 8,
        check_parameters: bool = True,
    ) -> GalerkinKets:
        """The basis of a deferred Galerkin :class:`KetSolution` (``kind="ket_gradients"``),
        with M rebuilt on ``metric_inputs`` (N, C, H, W) — the untransformed batch — in the
        operator mode the solve used (:attr:`KetSolution.operator_mode`)."""
        if solution.kind != "ket_gradients":
            raise ValueError(f"GalerkinKets needs a ket-gradient solution, got {solution.kind!r}")
        op = GaussNewtonOperator(
            model,
            metric_inputs,
            normalization=solution.normalization,
            chunk_size=chunk_size,
            mode=solution.operator_mode,
        )
        if check_parameters:
            _check_parameters(op.space, solution)
        return cls(op, solution.vectors.to(dtype=op.dtype, device=op.device))

    @property
    def n_ket(self) -> int:
        return int(self.G.shape[0])

    def influence(
        self,
        bra_gradients: torch.Tensor | None,
        damping: float,
        *,
        energy: float = 1e-4,
        rank_tol: float = 1e-6,
        full_residual: bool = True,
        return_vectors: bool = False,
        bra_in_span: bool = True,
        scale: float | None = None,
    ) -> GalerkinResult:
        """Π for one bra set.

        Parameters
        ----------
        bra_gradients : Tensor (n_bra, P) or None
            ∇θ C_bra rows (model dtype); None = no bras (the span of the kets alone).
        damping : float
            Absolute ε added in the subspace (the reference: 1e-6 with M = JᵀJ/D).
        energy : float
            Discarded gradient energy (reference 1e-4; 0 keeps the full span).
        full_residual : bool
            Also compute the full-space residual (n_ket VJPs): information only.
        bra_in_span : bool
            Add the bras to the subspace (the reference); False uses span(G_ket) alone.
        scale : float, optional
            The factor of M = scale · JᵀJ (default the operator's normalisation;
            ``op.scale_of(name)`` for another, e.g. the exact solve's).
        """
        return self.influences(
            bra_gradients,
            [(damping, scale)],
            energy=energy,
            rank_tol=rank_tol,
            full_residual=full_residual,
            return_vectors=return_vectors,
            bra_in_span=bra_in_span,
        )[0]

    def influences(
        self,
        bra_gradients: torch.Tensor | None,
        dampings,
        *,
        energy: float = 1e-4,
        rank_tol: float = 1e-6,
        full_residual: bool = True,
        return_vectors: bool = False,
        bra_in_span: bool = True,
    ) -> list[GalerkinResult]:
        """:meth:`influence` for several (damping, scale) pairs (scale None: the operator's)
        in the SAME subspace: the bras' Jacobian products and Gram matrices are computed once,
        each pair adds a k × k solve (and n_ket VJPs with ``full_residual``).  The first
        pair's JVP count is the call's; later pairs report 0."""
        op = self.op
        Gb = bra_gradients if bra_gradients is not None else self.G[:0]
        jvps0 = op.jvps
        if bra_in_span and Gb.shape[0]:
            JGb = op.jvp_mm(Gb).reshape(Gb.shape[0], -1)
            Kkb, Kbb = gram(self.G, Gb), gram(Gb, Gb)
            KJkb, KJbb = gram(self.JG, JGb), gram(JGb, JGb)
            K = torch.cat([torch.cat([self.K, Kkb], 1), torch.cat([Kkb.T, Kbb], 1)])
            KJ = torch.cat([torch.cat([self.KJ, KJkb], 1), torch.cat([KJkb.T, KJbb], 1)])
        else:
            JGb = None
            K, KJ = self.K, self.KJ
        jvps = op.jvps - jvps0
        W = _span_basis(K, energy, rank_tol)  # (k, m)
        bra_norms = row_norms(Gb).cpu().numpy()
        out = []
        for damping, scale in dampings:
            lam = float(damping)
            sc = op.scale if scale is None else float(scale)
            res = self._solve(K, KJ, W, Gb, JGb, lam, sc, full_residual, return_vectors)
            res.jvps, res.bra_norms = (jvps if not out else 0), bra_norms
            out.append(res)
        return out

    def _solve(self, K, KJ, W, Gb, JGb, lam, scale, full_residual, return_vectors):
        op, n = self.op, self.n_ket
        H = sym(scale * (W @ KJ @ W.T) + lam * (W @ K @ W.T))
        C = K[:n] @ W.T  # (n, k): Q G_ket
        Y = spd_solve(H, C.T)  # (k, n)
        sub = (C.T - H @ Y).norm(dim=0) / C.norm(dim=1).clamp_min(torch.finfo(C.dtype).tiny)
        Z = (W.T @ Y).T  # (n, m): x_j = Σ_i Z[j, i] S_i, S = [G_ket; G_bra]
        Zk, Zb = Z[:, :n], Z[:, n:]
        if JGb is not None:
            values = K[n:] @ Z.T
        elif Gb.shape[0]:
            values = gram(Gb, self.G) @ Zk.T
        else:
            values = K.new_zeros(0, n)
        X = None
        vjps = 0
        if full_residual or return_vectors:
            X = Zk.to(self.G.dtype) @ self.G
            if JGb is not None:
                X += Zb.to(Gb.dtype) @ Gb
        if full_residual:
            JX = Zk.to(self.JG.dtype) @ self.JG
            if JGb is not None:
                JX += Zb.to(JGb.dtype) @ JGb
            R = self.G - op.vjp_mm(JX).mul_(scale) - lam * X
            vjps = n
            res = row_norms(R).cpu().numpy()
        else:
            res = np.full(n, np.nan)
        return GalerkinResult(
            values=values.cpu(),
            rank=int(W.shape[0]),
            relres_subspace=sub.cpu().numpy(),
            residual_norms=res,
            rhs_norms=self.rhs_norms,
            bra_norms=np.zeros(0),
            vectors=X if return_vectors else None,
            jvps=0,
            vjps=vjps,
            ket_values=(K[:n] @ Z.T).cpu(),
            damping=lam,
            scale=scale,
        )

    def self_influence(
        self, damping: float, *, scale: float | None = None, energy: float = 1e-4
    ) -> np.ndarray:
        """(n_ket,) float64 raw Galerkin self-influence Π_G(x_j, x_j) = g_jᵀ Q(QᵀAQ)⁻¹Qᵀ g_j
        with A = scale · JᵀJ + λ I and Q the energy-truncated span(G_ket) (the reference's
        subspace for the identity element; no Jacobian product)."""
        res = self.influence(None, damping, energy=energy, full_residual=False, scale=scale)
        return res.self_influence
