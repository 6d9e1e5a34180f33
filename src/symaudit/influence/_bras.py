"""Bras: Π = G_bra Xᵀ for solved kets (gradients and fp64 dot products), and the one-call
:func:`influence_matrix` (docs/algorithms.md §6.1)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import nn

from symaudit.influence._gradients import per_example_gradients
from symaudit.influence._operator import ParameterSpace, gram, row_norms
from symaudit.influence._solution import KetRecord, KetSolution
from symaudit.influence._solution import check_parameters as _check_parameters
from symaudit.influence._solve import solve_kets
from symaudit.influence._standardise import standardise

__all__ = ["InfluenceResult", "bra_influence", "influence_matrix"]


def _dot_bras(
    model, space, X, bra_inputs, bra_targets, *, loss, channel, channels, chunk_size, bra_block
) -> tuple[torch.Tensor, torch.Tensor]:
    """(G_bra Xᵀ, ‖g_bra‖) computed ``bra_block`` bras at a time.

    The bra gradients are never held all at once: a chunk of 64 elements × 48 examples of the
    paper UNet would be 3072 × 13.9M floats (171 GB); per block only ``bra_block`` rows live.
    """
    n = bra_inputs.shape[0]
    if bra_targets is not None and bra_targets.shape[0] != n:
        raise ValueError(f"{n} bra inputs but {bra_targets.shape[0]} bra targets")
    values = torch.empty(n, X.shape[0], dtype=torch.float64)
    norms = torch.empty(n, dtype=torch.float64)
    for start in range(0, n, bra_block):
        sl = slice(start, start + bra_block)
        Gb = per_example_gradients(
            model,
            bra_inputs[sl],
            None if bra_targets is None else bra_targets[sl],
            loss=loss,
            channel=channel,
            channels=channels,
            chunk_size=chunk_size,
            space=space,
        )
        values[sl] = gram(Gb, X.to(dtype=Gb.dtype, device=Gb.device)).cpu()
        norms[sl] = row_norms(Gb).cpu()
    return values, norms


def bra_influence(
    model: nn.Module,
    solution: KetSolution | Sequence[KetSolution],
    bra_inputs: torch.Tensor,
    bra_targets: torch.Tensor | None = None,
    *,
    loss: str = "smse",
    channel: int | None = None,
    channels: Sequence | None = None,
    chunk_size: int = 8,
    bra_block: int = 64,
    check_parameters: bool = True,
    return_bounds: bool = False,
):
    """Raw Π[i, j] = ∇θ C_bra(x_i)ᵀ x_j for solved kets x_j (gradients + fp64 dots).

    Parameters
    ----------
    model : nn.Module
        The model the kets were solved at (checked by a parameter digest).
    solution : KetSolution, or a list of them (a damping path: each bra gradient is computed
        once and dotted with every λ's solutions)
    bra_inputs : Tensor (n_bra, C, H, W)
        E.g. ``groups.act(g, x, channels)``; any number (processed ``bra_block`` at a time).
    bra_targets : Tensor (n_bra, C, H, W), optional
        Needed for SMSE bras (e.g. ``groups.act(g, y, channels)``).
    loss, channel, channels
        As in :func:`per_example_gradients`.
    bra_block : int
        Bra gradients held in memory at once.
    return_bounds : bool
        Also return the entrywise bound ‖g_bra,i‖·‖r_j‖/λ, shaped like ``values``.

    Returns
    -------
    values : Tensor (n_bra, n_ket) float64 — (n_damping, n_bra, n_ket) for a list
    bounds : same shape, only with ``return_bounds``
    """
    solutions = list(solution) if isinstance(solution, Sequence) else [solution]
    if not solutions:
        raise ValueError("bra_influence: no solutions")
    if any(s.kind != "solutions" for s in solutions):
        raise ValueError(
            "bra_influence: this solution holds ket gradients (deferred Galerkin); use "
            "GalerkinKets.from_solution(...).influence(...) per bra set"
        )
    space = ParameterSpace(model)
    if check_parameters:
        for sol in solutions:
            _check_parameters(space, sol)
    X = torch.cat([s.vectors for s in solutions])
    flat, norms = _dot_bras(
        model,
        space,
        X,
        bra_inputs,
        bra_targets,
        loss=loss,
        channel=channel,
        channels=channels,
        chunk_size=chunk_size,
        bra_block=bra_block,
    )
    values = flat.reshape(flat.shape[0], len(solutions), -1).transpose(0, 1).contiguous()
    bounds = torch.stack(
        [norms[:, None] * s.residual_norms[None, :] / s.damping for s in solutions]
    )
    if not isinstance(solution, Sequence):
        values, bounds = values[0], bounds[0]
    if not return_bounds:
        return values
    return values, bounds


# --- the contract's one-call version ------------------------------------------------------------


@dataclass
class InfluenceResult:
    """Result of :func:`influence_matrix`.

    Attributes
    ----------
    values : Tensor (n_bra, n_ket) float64, or (n_damping, n_bra, n_ket) for a damping path
        Raw Π.
    records : list of KetRecord
        One per ket (per (λ, ket), λ-major, for a path), ``error_bound`` filled with the max
        over these bras.
    bounds : Tensor shaped like ``values``, float64
        Entrywise a-posteriori bound ‖g_bra,i‖·‖r_j‖/λ on |Π − Π_exact|.
    solution : KetSolution, or a list of them (one per λ) for a path
        The solved kets (reusable through :func:`bra_influence`).
    """

    values: torch.Tensor
    records: list[KetRecord]
    bounds: torch.Tensor
    solution: KetSolution

    @property
    def standardised(self) -> torch.Tensor:
        """Π with every bra row divided by the std of its ket entries (+1e-6); per λ."""
        return standardise(self.values)


def influence_matrix(
    model: nn.Module,
    metric_inputs: torch.Tensor,
    ket_inputs: torch.Tensor,
    ket_targets: torch.Tensor,
    bra_inputs: torch.Tensor,
    bra_targets: torch.Tensor | None,
    *,
    damping,
    rtol: float,
    normalization: str = "per_output",
    method: str = "block_cg",
    bra_loss: str = "smse",
    bra_channel: int | None = None,
    channels: Sequence | None = None,
    **solve_options,
) -> InfluenceResult:
    """Π[i, j] = ∇θ C_bra,i ᵀ (M + λI)⁻¹ ∇θ C_ket,j (the public contract).

    C_ket is the per-example SMSE on (ket_inputs, ket_targets); C_bra the per-example SMSE on
    (bra_inputs, bra_targets) or, with ``bra_loss="mass"|"energy"``, the conservation drift.
    M = Jᵀ J / D over ``metric_inputs`` (``normalization="none"``: Jᵀ J), λ = ``damping``
    (absolute, or ``{"mode": "relative", "value": v}``).  ``method="galerkin"`` reproduces the
    reference's inverse in span([G_ket, G_bra]).  Further keywords go to :func:`solve_kets`
    (``preconditioner_rank``, ``max_iterations``, ``fail_on_unconverged``, ...).

    A damping path (``damping=[λ1, λ2, ...]`` or ``{"mode", "values", "primary"}``) solves
    every λ in one call (see :func:`solve_kets`) and computes each bra gradient once.

    Returns
    -------
    InfluenceResult
        ``values`` (n_bra, n_ket) float64 raw Π — (n_damping, n_bra, n_ket) for a path, λ in
        the order given — ``records`` one per ket (per (λ, ket), λ-major, for a path; each
        record names its λ), ``bounds`` shaped like ``values``.
    """
    space = ParameterSpace(model)
    chunk = int(solve_options.get("chunk_size", 8))
    bra = dict(loss=bra_loss, channel=bra_channel, channels=channels, chunk_size=chunk)
    span_bras = method == "galerkin" and "extra_span" not in solve_options
    Gb = None
    if span_bras:
        # the reference's subspace includes the bras: their gradients are needed up front
        Gb = per_example_gradients(model, bra_inputs, bra_targets, space=space, **bra)
        solve_options["extra_span"] = Gb
    solved = solve_kets(
        model,
        metric_inputs,
        ket_inputs,
        ket_targets,
        damping=damping,
        rtol=rtol,
        normalization=normalization,
        method=method,
        **solve_options,
    )
    solutions = solved if isinstance(solved, list) else [solved]
    if span_bras:
        values = torch.stack([sol._span_values for sol in solutions])
        norms = row_norms(Gb).cpu()
    else:
        # one gradient per bra for the whole path: dot it with every λ's solutions at once
        X = torch.cat([sol.vectors for sol in solutions])
        flat, norms = _dot_bras(model, space, X, bra_inputs, bra_targets, bra_block=64, **bra)
        values = flat.reshape(flat.shape[0], len(solutions), -1).transpose(0, 1).contiguous()
    bounds = torch.stack(
        [norms[:, None] * sol.residual_norms[None, :] / sol.damping for sol in solutions]
    )
    records = []
    for sol, bound in zip(solutions, bounds, strict=True):
        col_max = bound.max(dim=0).values if bound.shape[0] else torch.zeros(bound.shape[1])
        for rec, b in zip(sol.records, col_max.tolist(), strict=True):
            rec.error_bound = float(b)
        records += sol.records
    if not isinstance(solved, list):
        values, bounds = values[0], bounds[0]
    return InfluenceResult(values=values, records=records, bounds=bounds, solution=solved)
