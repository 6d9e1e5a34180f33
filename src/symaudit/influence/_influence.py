"""Influence Π = ∇C_braᵀ (M + λI)⁻¹ ∇C_ket, split so that kets are solved once and bras are dots.

Pieces (each reusable on its own):

* :func:`per_example_gradients` — ∇θ C(x_i, y_i) for every example (``vmap`` over ``grad``, in
  chunks), C = per-example SMSE, or the mass / energy drift of the reference's conservation bras.
* :func:`solve_kets` — X = (M + λI)⁻¹ G_ket for the ket gradients, with one record per ket;
  returns a :class:`KetSolution` that can be saved (``torch.save``, loadable with
  ``weights_only=True``) and reused for any number of bras.
* :func:`bra_influence` — Π = G_bra Xᵀ for one set of bras (gradient + fp64 dot product).
* :func:`influence_matrix` — the contract's one-call version of both.
* :class:`GalerkinKets` — the reference's Galerkin influence (lanl/PDEHats ``qr_eqv.jl``): the
  exact inverse in span[G_ket, G_bra(g)], rebuilt per bra set from Gram matrices, with the
  kets' Jacobian products computed once.
* Damping paths (:class:`DampingPath`): several λ in one call, sharing the operator, the
  gradients, the λ_max estimate and the Nyström sketch; values gain a leading λ axis.

Why kets are the solved side: the kets are the 48 untransformed analysis examples, while the
bras are hundreds of transformed copies (D4, shifts, mass/energy); only the kets need solves
(influence-anchors.md §4.1).  Damping is absolute or relative to a Lanczos estimate of λ_max(M);
both are recorded.  Every entry carries the a-posteriori bound |ΔΠ_ij| ≤ ‖g_bra,i‖·‖r_j‖/λ,
which holds because M + λI ⪰ λI (r_j is the true residual of ket j).
"""

from __future__ import annotations

import logging
import math
import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.func import grad, vmap

from symaudit import losses
from symaudit.influence._operator import GaussNewtonOperator, ParameterSpace, gram, row_norms
from symaudit.influence._solver import (
    NystromPreconditioner,
    SolveStats,
    _spd_solve,
    _sym,
    block_cg,
    lanczos_lambda_max,
    lockstep_cg,
)
from symaudit.influence._standardise import standardise

__all__ = [
    "BRA_LOSSES",
    "METHODS",
    "Damping",
    "DampingPath",
    "GalerkinKets",
    "GalerkinResult",
    "InfluenceConvergenceError",
    "InfluenceResult",
    "KetRecord",
    "KetSolution",
    "bra_influence",
    "influence_matrix",
    "per_example_gradients",
    "solve_kets",
]

#: solver methods: block CG (default), lock-step CG ("cg"), one RHS at a time, the reference's
#: gradient-span Galerkin inverse
METHODS = ("block_cg", "cg", "sequential_cg", "galerkin")
#: bra observables; mass and energy are the CE conservation bras (channel by name)
BRA_LOSSES = {"smse": None, "mass": "density", "energy": "energy"}
_DEFAULT_BRA_CHANNEL = {"mass": 0, "energy": 3}  # CE layout (density, m_x, m_y, energy)

SOLUTION_FORMAT = "symaudit-ket-solution"
SOLUTION_VERSION = 1


class InfluenceConvergenceError(RuntimeError):
    """A ket solve missed its tolerance; ``.solution`` holds the (flagged) result."""

    def __init__(self, message: str, solution: KetSolution | None = None):
        super().__init__(message)
        self.solution = solution


# --- damping ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Damping:
    """λ as an absolute number or relative to λ_max(M) (the config's ``damping`` section)."""

    mode: str = "absolute"
    value: float = 0.0

    def __post_init__(self):
        if self.mode not in ("absolute", "relative"):
            raise ValueError(f"damping mode {self.mode!r}: absolute | relative")
        if not (self.value > 0 and math.isfinite(self.value)):
            raise ValueError(f"damping value must be positive and finite, got {self.value}")

    @classmethod
    def parse(cls, spec) -> Damping:
        """A float (absolute), ``{"mode": ..., "value": ...}`` or a :class:`Damping`."""
        if isinstance(spec, Damping):
            return spec
        if isinstance(spec, Mapping):
            unknown = set(spec) - {"mode", "value"}
            if unknown:
                raise ValueError(f"damping: unknown keys {sorted(unknown)} (mode, value)")
            return cls(str(spec.get("mode", "absolute")), float(spec["value"]))
        if isinstance(spec, int | float) and not isinstance(spec, bool):
            return cls("absolute", float(spec))
        raise ValueError(f"damping must be a number or {{mode, value}}, got {spec!r}")

    def resolve(self, lambda_max: float | None) -> float:
        if self.mode == "absolute":
            return self.value
        if lambda_max is None or not lambda_max > 0:
            raise ValueError(f"relative damping needs a positive λ_max estimate, got {lambda_max}")
        return self.value * lambda_max


@dataclass(frozen=True)
class DampingPath:
    """Several λ solved in one job (a damping path), one of them the study's ``primary``.

    Parsed from a single damping (a path of length 1, ``is_path`` False), a list of dampings
    (numbers or ``{mode, value}``; primary = the first), or the config's
    ``{"mode": ..., "values": [...], "primary": v}`` (primary = the value ``v``, which must be
    one of ``values``).
    """

    values: tuple[Damping, ...]
    primary: int = 0
    is_path: bool = False

    def __post_init__(self):
        if not self.values:
            raise ValueError("influence.damping: an empty damping path")
        keys = [(d.mode, d.value) for d in self.values]
        if len(set(keys)) != len(keys):
            raise ValueError(f"influence.damping.values: repeated values {keys}")
        if not 0 <= self.primary < len(self.values):
            raise ValueError(f"damping path: primary index {self.primary} out of range")

    @classmethod
    def parse(cls, spec) -> DampingPath:
        if isinstance(spec, DampingPath):
            return spec
        if isinstance(spec, Mapping) and "values" in spec:
            unknown = set(spec) - {"mode", "values", "primary"}
            if unknown:
                raise ValueError(
                    f"influence.damping: unknown keys {sorted(unknown)} (mode, values, primary)"
                )
            mode = str(spec.get("mode", "absolute"))
            vals = [float(v) for v in spec["values"]]
            primary = float(spec.get("primary", vals[0] if vals else 0.0))
            if primary not in vals:
                raise ValueError(
                    f"influence.damping.primary {primary:g} is not one of "
                    f"influence.damping.values {vals}"
                )
            return cls(tuple(Damping(mode, v) for v in vals), vals.index(primary), True)
        if isinstance(spec, Sequence) and not isinstance(spec, str | bytes):
            return cls(tuple(Damping.parse(v) for v in spec), 0, True)
        return cls((Damping.parse(spec),), 0, False)

    @property
    def needs_lambda_max(self) -> bool:
        return any(d.mode == "relative" for d in self.values)


# --- per-example gradients ----------------------------------------------------------------------


def _bra_channel(loss: str, channel: int | None, channels: Sequence | None) -> int | None:
    if loss not in BRA_LOSSES:
        raise ValueError(f"unknown bra loss {loss!r}: {' | '.join(BRA_LOSSES)}")
    if loss == "smse":
        return None
    if channel is not None:
        return int(channel)
    if channels is not None:
        names = [c["name"] if isinstance(c, Mapping) else str(c) for c in channels]
        want = BRA_LOSSES[loss]
        if want not in names:
            raise ValueError(f"bra loss {loss!r} needs a {want!r} channel; channels: {names}")
        return names.index(want)
    return _DEFAULT_BRA_CHANNEL[loss]


def per_example_gradients(
    model: nn.Module,
    inputs: torch.Tensor,
    targets: torch.Tensor | None = None,
    *,
    loss: str = "smse",
    channel: int | None = None,
    channels: Sequence | None = None,
    chunk_size: int = 8,
    space: ParameterSpace | None = None,
) -> torch.Tensor:
    """∇θ C(x_i, y_i) for every example, as rows.

    Parameters
    ----------
    model : nn.Module
    inputs : Tensor (n, C, H, W)
    targets : Tensor (n, C, H, W), optional
        Needed for ``loss="smse"``.
    loss : {"smse", "mass", "energy"}
        Per-example SMSE (:func:`symaudit.losses.smse`) or the conservation drift
        (:func:`symaudit.losses.conservation_loss`) of the density / energy channel.
    channel : int, optional
        Channel index of the conservation bra (else looked up by name in ``channels``, else the
        CE layout: density 0, energy 3).
    chunk_size : int
        Examples per ``vmap`` call.

    Returns
    -------
    Tensor (n, P) in the model's dtype.
    """
    space = space or ParameterSpace(model)
    ch = _bra_channel(loss, channel, channels)
    if loss == "smse":
        if targets is None:
            raise ValueError("the smse bra/ket needs targets")
        if targets.shape[0] != inputs.shape[0]:
            raise ValueError(
                f"{inputs.shape[0]} inputs but {targets.shape[0]} targets (shapes "
                f"{tuple(inputs.shape)}, {tuple(targets.shape)})"
            )
    else:
        targets = inputs  # unused by the conservation losses; keeps one vmap signature

    def single(theta, x, y):
        pred = space.call(theta, x[None])
        if ch is None:
            return losses.smse(pred, y[None], reduction="sum")
        return losses.conservation_loss(pred, x[None], ch, reduction="sum")

    theta = space.theta
    x = inputs.to(dtype=space.dtype, device=space.device)
    y = targets.to(dtype=space.dtype, device=space.device)
    g = vmap(grad(single), in_dims=(None, 0, 0), chunk_size=chunk_size)
    with torch.no_grad():
        return g(theta, x, y)


# --- records and solutions ----------------------------------------------------------------------


@dataclass
class KetRecord:
    """Convergence record of one ket solve (one per ket; also written as a CSV row).

    ``matvecs`` and ``wall_time`` belong to the solve of the ket's BLOCK (shared by the
    ``block_size`` kets solved together: sum them over distinct ``block`` values for totals).
    ``residual_bound`` = ‖r‖/λ bounds |ΔΠ| per unit bra-gradient norm; ``error_bound`` =
    max over bras of ‖g_bra‖·‖r‖/λ once bras are known (NaN before).

    Galerkin records (``method="galerkin"``): the solve is exact in its subspace, so
    ``converged`` is True and ``relres_true`` is the residual of the k × k subspace system
    (rounding); ``relres_full_space`` is ‖b − (M + λI)x‖/‖b‖ in the full parameter space, kept
    for information (it measures the subspace restriction, not a solver tolerance), and
    ``residual_norm`` / ``residual_bound`` / ``error_bound`` refer to that full-space residual
    (they bound the distance to the full-space inverse).  NaN for the Krylov methods and for
    a Galerkin ket-gradient solution whose subspaces are built per bra set.
    """

    ket: int
    iterations: int
    matvecs: int
    block: int
    block_size: int
    relres_recursive: float
    relres_true: float
    converged: bool
    rtol: float
    damping: float
    lambda_max: float
    damping_relative: float
    wall_time: float
    residual_norm: float
    rhs_norm: float
    residual_bound: float
    error_bound: float
    method: str
    preconditioner_rank: int
    restarts: int
    relres_full_space: float = float("nan")

    def as_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: Mapping) -> KetRecord:
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names})


@dataclass
class KetSolution:
    """Solved kets X = (M + λI)⁻¹ G_ket of one (model, metric batch), reusable for any bras.

    Attributes
    ----------
    vectors : Tensor (n_ket, P)
        The solutions, in the model's dtype (``kind="solutions"``), or the ket gradients
        themselves (``kind="ket_gradients"``: a Galerkin solution, whose subspace is rebuilt
        for every bra set by :func:`galerkin_bra_influence`).
    records : list of KetRecord
    damping : float
        The absolute λ used.
    lambda_max : float or None
        The λ_max(M) estimate (None when not estimated).
    rtol : float
    method, normalization : str
    parameters : dict
        ``names``, ``shapes``, ``size``, ``digest`` of the parameters the solve was made at.
    setup : dict
        Costs outside the solves (operator build, λ_max estimate, preconditioner).
    meta : dict
        Free-form plain data from the caller (dataset, model, seed, batch...).
    """

    vectors: torch.Tensor
    records: list[KetRecord]
    damping: float
    lambda_max: float | None
    rtol: float
    method: str
    normalization: str
    parameters: dict
    setup: dict = field(default_factory=dict)
    meta: dict = field(default_factory=dict)
    kind: str = "solutions"

    @property
    def residual_norms(self) -> torch.Tensor:
        """(n_ket,) float64 absolute true residual norms."""
        return torch.tensor([r.residual_norm for r in self.records], dtype=torch.float64)

    @property
    def converged(self) -> bool:
        return all(r.converged for r in self.records)

    def save(self, path: str | os.PathLike) -> Path:
        """Atomically write a ``torch.save`` file holding only plain data and tensors."""
        path = Path(path)
        payload = {
            "format": SOLUTION_FORMAT,
            "version": SOLUTION_VERSION,
            "vectors": self.vectors.detach().cpu(),
            "records": [r.as_dict() for r in self.records],
            "damping": float(self.damping),
            "lambda_max": None if self.lambda_max is None else float(self.lambda_max),
            "rtol": float(self.rtol),
            "method": self.method,
            "normalization": self.normalization,
            "parameters": self.parameters,
            "setup": self.setup,
            "meta": self.meta,
            "kind": self.kind,
        }
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
        torch.save(payload, tmp)
        os.replace(tmp, path)
        return path

    @classmethod
    def load(cls, path: str | os.PathLike, map_location="cpu") -> KetSolution:
        payload = torch.load(path, map_location=map_location, weights_only=True)
        if not isinstance(payload, dict) or payload.get("format") != SOLUTION_FORMAT:
            raise ValueError(f"{path}: not a symaudit ket solution")
        if payload.get("version") != SOLUTION_VERSION:
            raise ValueError(f"{path}: unsupported ket-solution version {payload.get('version')}")
        return cls(
            vectors=payload["vectors"],
            records=[KetRecord.from_dict(r) for r in payload["records"]],
            damping=payload["damping"],
            lambda_max=payload["lambda_max"],
            rtol=payload["rtol"],
            method=payload["method"],
            normalization=payload["normalization"],
            parameters=payload["parameters"],
            setup=payload.get("setup", {}),
            meta=payload.get("meta", {}),
            kind=payload.get("kind", "solutions"),
        )


# --- the Galerkin (reference) solve -------------------------------------------------------------


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
    evals, evecs = torch.linalg.eigh(_sym(K))
    evals, evecs = evals.flip(0), evecs.flip(1)
    k = _energy_rank(evals, energy)
    if k == 0:
        return K.new_zeros(0, K.shape[0])
    keep = evals[:k] > (rank_tol**2) * float(evals[0])
    W = (evecs[:, :k][:, keep] / evals[:k][keep].sqrt()).T
    e2, v2 = torch.linalg.eigh(_sym(W @ K @ W.T))
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
        cls, model: nn.Module, solution: KetSolution, metric_inputs: torch.Tensor, *,
        chunk_size: int = 8, check_parameters: bool = True,
    ) -> GalerkinKets:
        """The basis of a deferred Galerkin :class:`KetSolution` (``kind="ket_gradients"``),
        with M rebuilt on ``metric_inputs`` (N, C, H, W) — the untransformed batch."""
        if solution.kind != "ket_gradients":
            raise ValueError(f"GalerkinKets needs a ket-gradient solution, got {solution.kind!r}")
        op = GaussNewtonOperator(
            model, metric_inputs, normalization=solution.normalization, chunk_size=chunk_size
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
        """
        op, n, lam = self.op, self.n_ket, float(damping)
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
        H = _sym(op.scale * (W @ KJ @ W.T) + lam * (W @ K @ W.T))
        C = K[:n] @ W.T  # (n, k): Q G_ket
        Y = _spd_solve(H, C.T)  # (k, n)
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
            R = self.G - op.vjp_mm(JX).mul_(op.scale) - lam * X
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
            bra_norms=row_norms(Gb).cpu().numpy(),
            vectors=X if return_vectors else None,
            jvps=jvps,
            vjps=vjps,
        )


# --- solve_kets ---------------------------------------------------------------------------------


def _stats_records(stats: SolveStats, *, first: int, block: int, method: str, lam: float,
                   lambda_max: float | None, rank: int, rtol: float) -> list[KetRecord]:
    n = len(stats.relres_true)
    lmax = float("nan") if lambda_max is None else float(lambda_max)
    return [
        KetRecord(
            ket=first + j,
            iterations=int(stats.iterations[j]),
            matvecs=int(stats.matvecs),
            block=block,
            block_size=n,
            relres_recursive=float(stats.relres_recursive[j]),
            relres_true=float(stats.relres_true[j]),
            converged=bool(stats.converged[j]),
            rtol=float(rtol),
            damping=float(lam),
            lambda_max=lmax,
            damping_relative=float(lam / lmax) if lmax > 0 else float("nan"),
            wall_time=float(stats.wall_time),
            residual_norm=float(stats.residual_norms[j]),
            rhs_norm=float(stats.rhs_norms[j]),
            residual_bound=float(stats.residual_norms[j] / lam),
            error_bound=float("nan"),
            method=method,
            preconditioner_rank=int(rank),
            restarts=int(stats.restarts),
        )
        for j in range(n)
    ]


def _unconverged_message(records: Sequence[KetRecord], rtol: float, max_iterations: int) -> str:
    bad = [r for r in records if not r.converged]
    worst = max(bad, key=lambda r: r.relres_true)
    return (
        f"influence solve did not converge: {len(bad)}/{len(records)} kets above "
        f"rtol={rtol:g} after {max_iterations} iterations (worst true relative residual "
        f"{worst.relres_true:.3g} at ket {worst.ket}, λ/λ_max={worst.damping_relative:.3g}); "
        "raise max_iterations, damping or preconditioner_rank"
    )


def solve_kets(
    model: nn.Module,
    metric_inputs: torch.Tensor,
    ket_inputs: torch.Tensor,
    ket_targets: torch.Tensor,
    *,
    damping,
    rtol: float = 1e-4,
    normalization: str = "per_output",
    method: str = "block_cg",
    preconditioner_rank: int = 0,
    max_iterations: int = 500,
    max_restarts: int = 2,
    fail_on_unconverged: bool = True,
    block_size: int = 48,
    chunk_size: int = 8,
    lambda_max: float | None = None,
    estimate_lambda_max: bool = True,
    lanczos_steps: int = 30,
    seed: int = 0,
    x0: torch.Tensor | str | None = None,
    extra_span: torch.Tensor | None = None,
    galerkin_energy: float = 1e-4,
    galerkin_defer: bool = False,
    path_start: str = "cold",
    rank_tol: float = 1e-6,
    check_residual: bool = True,
    operator: GaussNewtonOperator | None = None,
    meta: Mapping | None = None,
) -> KetSolution:
    """Solve (M + λI) x_j = ∇θ SMSE(f(x_j), y_j) for every ket j.

    Parameters
    ----------
    model : nn.Module
    metric_inputs : Tensor (N, C, H, W)
        The batch defining M = Jᵀ J / D.
    ket_inputs, ket_targets : Tensor (n, C, H, W)
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
        Kets per block solve (larger sets are split).
    chunk_size : int
        Vectors per vmap in products and examples per vmap in gradients.
    lambda_max : float, optional
        A known λ_max(M) (skips the Lanczos estimate).
    estimate_lambda_max : bool
        Estimate λ_max even for absolute damping (for the λ/λ_max record).
    x0 : Tensor (n, P) or "rhs", optional
        Starting guess; ``"rhs"`` starts from b — a deliberately bad start for testing the
        true-residual check (influence-anchors §4.2).
    extra_span : Tensor (m, P), optional
        Galerkin only: further gradients (the reference's bras) added to the subspace.
    galerkin_energy : float
        Galerkin only: discarded gradient energy (reference 1e-4; 0 keeps the full span).
    path_start : {"cold", "warm"}
        Damping paths: start each λ from ``x0`` (``cold``: independent solves sharing the
        operator, gradients, λ_max and the Nyström sketch) or from the solution at the next
        larger λ (``warm``).  Cold is the default: at equal true residual warm starts saved
        nothing (tiny UNet, 24 kets, λ/λ_max = 1e-2, 1e-3, 1e-4: 1220 vs 1252 mat-vecs, with
        Nyström(32) 937 vs 945; ``bench/influence_path.py``).
    galerkin_defer : bool
        Galerkin only: solve nothing yet and store the ket gradients (``kind="ket_gradients"``,
        records ``converged=True`` with NaN residuals); the subspace span[G_ket, G_bra(g)]
        depends on the bras, so :class:`GalerkinKets` builds it per bra set (the workflow).
    check_residual : bool
        Galerkin only: compute the true residuals (n extra products) for the records.
    operator : GaussNewtonOperator, optional
        Reuse an operator built for this model and metric batch.
    meta : dict, optional
        Plain data stored with the solution.

    Returns
    -------
    KetSolution, or a list of them (one per λ, in the order given) for a damping path
    """
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}: {' | '.join(METHODS)}")
    if block_size < 1:
        raise ValueError(f"block_size must be >= 1, got {block_size}")
    path = DampingPath.parse(damping)
    if path_start not in ("warm", "cold"):
        raise ValueError(f"path_start must be warm or cold, got {path_start!r}")
    if operator is None and metric_inputs is None:
        raise ValueError("solve_kets needs metric_inputs (or a prebuilt operator)")
    t_start = time.perf_counter()
    op = operator or GaussNewtonOperator(
        model, metric_inputs, normalization=normalization, chunk_size=chunk_size
    )
    if operator is not None and operator.normalization != normalization:
        raise ValueError(
            f"operator normalization {operator.normalization!r} != requested {normalization!r}"
        )
    setup: dict = {
        "operator_seconds": op.setup_seconds,
        "operator_mode": op.mode,
        "parameters": op.size,
        "metric_outputs": op.num_outputs,
    }

    t0 = time.perf_counter()
    G = per_example_gradients(
        model, ket_inputs, ket_targets, chunk_size=chunk_size, space=op.space
    )
    setup["gradient_seconds"] = time.perf_counter() - t0

    if lambda_max is None and (path.needs_lambda_max or estimate_lambda_max):
        t0 = time.perf_counter()
        lambda_max, products = lanczos_lambda_max(
            op.mm, op.size, dtype=op.dtype, device=op.device, steps=lanczos_steps, seed=seed
        )
        setup.update(lambda_max_seconds=time.perf_counter() - t0, lambda_max_matvecs=products)
    lams = [d.resolve(lambda_max) for d in path.values]

    nys = None
    if preconditioner_rank and method != "galerkin":
        nys = NystromPreconditioner(
            op.mm, op.size, preconditioner_rank, dtype=op.dtype, device=op.device, seed=seed
        )
        setup.update(
            preconditioner_seconds=nys.build_seconds,
            preconditioner_matvecs=nys.build_matvecs,
            preconditioner_rank=nys.rank,
            nystrom_lambda_max=nys.lambda_max,
        )

    n = G.shape[0]
    if isinstance(x0, str):
        if x0 != "rhs":
            raise ValueError(f"x0 must be a tensor, None or 'rhs', got {x0!r}")
        x0 = G.clone()
    elif x0 is not None and tuple(x0.shape) != tuple(G.shape):
        raise ValueError(f"x0 shape {tuple(x0.shape)} != right-hand sides {tuple(G.shape)}")

    def one(lam: float, start: torch.Tensor | None) -> KetSolution:
        """Solve at one λ (the Nyström sketch is shared: only its λ-shift changes)."""
        logging.getLogger("symaudit.influence").info(
            "%s: %d kets at damping %.4g (lambda_max ~ %.4g)", method, n, lam,
            float("nan") if lambda_max is None else lambda_max,
        )
        local = dict(setup)
        precond, rank = None, 0
        if nys is not None:
            precond, rank = nys.for_damping(lam), nys.rank
            local["preconditioner_lambda_r_over_damping"] = nys.lambda_min / lam

        def A(V: torch.Tensor) -> torch.Tensor:
            return op.mm(V).add_(V, alpha=lam)

        X = torch.empty_like(G)
        records: list[KetRecord] = []
        kw = dict(rtol=rtol, max_iterations=max_iterations, max_restarts=max_restarts,
                  precond=precond)
        res = None
        if method == "galerkin" and galerkin_defer:
            X = G
            local["galerkin_energy"] = galerkin_energy
            nan = np.full(n, np.nan)
            stats = SolveStats(
                iterations=np.zeros(n, dtype=np.int64), relres_recursive=nan, relres_true=nan,
                residual_norms=nan, rhs_norms=row_norms(G).cpu().numpy(),
                converged=np.ones(n, dtype=bool), total_iterations=0, matvecs=0, wall_time=0.0,
            )
            records = _stats_records(stats, first=0, block=0, method=method, lam=lam,
                                     lambda_max=lambda_max, rank=0, rtol=rtol)
        elif method == "galerkin":
            t0 = time.perf_counter()
            basis = GalerkinKets(op, G)
            res = basis.influence(
                None if extra_span is None else extra_span.to(G), lam, energy=galerkin_energy,
                rank_tol=rank_tol, full_residual=check_residual, return_vectors=True,
            )
            X = res.vectors
            stats = SolveStats(
                iterations=np.ones(n, dtype=np.int64), relres_recursive=np.full(n, np.nan),
                relres_true=res.relres_subspace, residual_norms=res.residual_norms,
                rhs_norms=res.rhs_norms, converged=np.ones(n, dtype=bool), total_iterations=1,
                matvecs=basis.jvps + res.jvps + res.vjps, wall_time=time.perf_counter() - t0,
            )
            local["galerkin_rank"] = res.rank
            local["galerkin_energy"] = galerkin_energy
            records = _stats_records(stats, first=0, block=0, method=method, lam=lam,
                                     lambda_max=lambda_max, rank=0, rtol=rtol)
            for rec, full in zip(records, res.relres_full_space.tolist(), strict=True):
                rec.relres_full_space = float(full)
        else:
            width = 1 if method == "sequential_cg" else block_size
            for b, first in enumerate(range(0, n, width)):
                sl = slice(first, first + width)
                x0_b = None if start is None else start[sl]
                if method == "block_cg":
                    Xb, stats = block_cg(A, G[sl], x0=x0_b, rank_tol=rank_tol, **kw)
                else:
                    Xb, stats = lockstep_cg(A, G[sl], x0=x0_b, **kw)
                X[sl] = Xb
                records += _stats_records(stats, first=first, block=b, method=method, lam=lam,
                                          lambda_max=lambda_max, rank=rank, rtol=rtol)
        local["total_seconds"] = time.perf_counter() - t_start
        solution = KetSolution(
            vectors=X,
            records=records,
            damping=float(lam),
            lambda_max=None if lambda_max is None else float(lambda_max),
            rtol=float(rtol),
            method=method,
            normalization=normalization,
            parameters=op.space.describe(),
            setup=local,
            meta=dict(meta or {}),
            kind="ket_gradients" if method == "galerkin" and galerkin_defer else "solutions",
        )
        if res is not None:
            # Π of the span's own extra rows, straight from the fp64 coefficients
            solution._span_values = res.values
        return solution

    # from the largest λ (best conditioned) to the smallest; "warm" starts each solve from the
    # previous λ's solution
    solutions: list[KetSolution | None] = [None] * len(lams)
    previous = x0
    for i in sorted(range(len(lams)), key=lambda i: -lams[i]):
        solutions[i] = one(lams[i], previous if path_start == "warm" else x0)
        if path_start == "warm" and method != "galerkin":
            previous = solutions[i].vectors
    if fail_on_unconverged and method != "galerkin":
        for sol in solutions:
            if not sol.converged:
                raise InfluenceConvergenceError(
                    _unconverged_message(sol.records, rtol, max_iterations),
                    solutions if path.is_path else sol,
                )
    if path.is_path:
        for sol in solutions:
            sol.meta["damping_path"] = [float(v) for v in lams]
            sol.meta["damping_primary"] = float(lams[path.primary])
        return solutions
    return solutions[0]


# --- bras ---------------------------------------------------------------------------------------


def _check_parameters(space: ParameterSpace, solution: KetSolution) -> None:
    want = solution.parameters
    if list(space.names) != list(want["names"]) or [list(s) for s in space.shapes] != [
        list(s) for s in want["shapes"]
    ]:
        raise ValueError("bra model's parameters (names/shapes) differ from the solved kets'")
    if space.digest() != want["digest"]:
        raise ValueError(
            "bra model's parameter values differ from those the kets were solved at "
            f"(digest {space.digest()} != {want['digest']}); pass check_parameters=False to "
            "override"
        )


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
            model, bra_inputs[sl], None if bra_targets is None else bra_targets[sl], loss=loss,
            channel=channel, channels=channels, chunk_size=chunk_size, space=space,
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
        model, space, X, bra_inputs, bra_targets, loss=loss, channel=channel,
        channels=channels, chunk_size=chunk_size, bra_block=bra_block,
    )
    values = flat.reshape(flat.shape[0], len(solutions), -1).transpose(0, 1).contiguous()
    bounds = torch.stack([
        norms[:, None] * s.residual_norms[None, :] / s.damping for s in solutions
    ])
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
        model, metric_inputs, ket_inputs, ket_targets, damping=damping, rtol=rtol,
        normalization=normalization, method=method, **solve_options,
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
    bounds = torch.stack([
        norms[:, None] * sol.residual_norms[None, :] / sol.damping for sol in solutions
    ])
    records = []
    for sol, bound in zip(solutions, bounds, strict=True):
        col_max = bound.max(dim=0).values if bound.shape[0] else torch.zeros(bound.shape[1])
        for rec, b in zip(sol.records, col_max.tolist(), strict=True):
            rec.error_bound = float(b)
        records += sol.records
    if not isinstance(solved, list):
        values, bounds = values[0], bounds[0]
    return InfluenceResult(values=values, records=records, bounds=bounds, solution=solved)
