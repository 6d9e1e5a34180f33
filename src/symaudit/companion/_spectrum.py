"""The Gauss–Newton metric's spectrum restricted to the span of an analysis batch's
per-example gradients (lanl/PDEHats ``scripts/HatMatrix/qr.jl`` steps 1–4 and ``eigen.jl``:
the eigenvalues of Qᵀ (JᵀJ / D) Q), with the top of the full spectrum by Lanczos."""

from __future__ import annotations

import numpy as np

__all__ = ["ENERGY", "gradient_span_spectrum"]

#: the reference's subspace rule: keep the k leading singular directions of the gradients with
#: 1 − Σ_{i≤k} s_i² / Σ s_i² ≤ 1e-4
ENERGY = 1e-4


def gradient_span_spectrum(
    model, inputs, targets, energy: float = ENERGY, mode: str = "linearize", chunk_size: int = 8
) -> dict:
    """Spectrum of M = Jᵀ J / D (D = the batch's scalar outputs) in the gradient span.

    ``inputs``, ``targets``: (N, channel, y, x) tensors of one analysis batch.  The per-example
    SMSE gradients G (N, P) give Q (k, P), the orthonormal rows spanning their k leading
    singular directions (``energy`` rule); H = Q M Qᵀ = (J Qᵀ)ᵀ (J Qᵀ) / D from k JVPs over the
    batch.  Returns {"eigenvalues": (k,) float64 descending, "rank": k, "lambda_max": the
    largest eigenvalue of the full M by Lanczos (a lower bound, ≥ every eigenvalue above)}.
    """
    import torch

    from symaudit.influence import (
        GaussNewtonOperator,
        gram,
        lanczos_lambda_max,
        orthonormalize,
        per_example_gradients,
    )

    grads = per_example_gradients(model, inputs, targets, chunk_size=chunk_size)  # (N, P)
    s2, vecs = torch.linalg.eigh(gram(grads, grads))  # ascending, fp64
    s2, vecs = s2.flip(0).clamp_min(0.0), vecs.flip(1)
    total = float(s2.sum())
    op = GaussNewtonOperator(
        model, inputs, normalization="per_output", mode=mode, chunk_size=chunk_size
    )
    top, _ = lanczos_lambda_max(op.mm, op.size, dtype=op.dtype, device=op.device)
    if not total > 0.0:
        return {"eigenvalues": np.zeros(0), "rank": 0, "lambda_max": float(top)}
    left = 1.0 - torch.cumsum(s2, 0) / total
    k = int(torch.nonzero(left <= energy)[0, 0]) + 1
    q = (vecs[:, :k] / s2[:k].sqrt()).T.to(grads.dtype) @ grads  # (k, P) = Σ⁻¹ Vᵀ G
    q = orthonormalize(q, rank_tol=1e-12)  # repair the working-precision orthonormality
    jq = op.jvp_mm(q).reshape(q.shape[0], -1)
    h = (gram(jq, jq) * op.scale).cpu().numpy()
    eig = np.linalg.eigvalsh(0.5 * (h + h.T))[::-1].copy()
    return {"eigenvalues": eig, "rank": int(q.shape[0]), "lambda_max": float(top)}
