"""The solved-kets format: damping specifications, one convergence record per ket, and the
:class:`KetSolution` that is saved once per (run, analysis batch) and reused for any bras
(docs/algorithms.md §6.1, §6.3)."""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import torch

from symaudit._io import atomic_path
from symaudit.influence._operator import ParameterSpace
from symaudit.influence._solver import SolveStats

__all__ = [
    "Damping",
    "DampingPath",
    "InfluenceConvergenceError",
    "KetRecord",
    "KetSolution",
    "check_parameters",
]

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

    @property
    def operator_mode(self) -> str:
        """The Gauss–Newton operator mode of the solve (``linearize`` for solutions written
        before the mode was recorded: the only mode then); rebuilt operators reuse it."""
        return self.setup.get("operator_mode", "linearize")

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
        with atomic_path(path) as tmp:
            torch.save(payload, tmp)
        return path

    @classmethod
    def load(cls, path: str | os.PathLike, map_location="cpu", mmap: bool = False) -> KetSolution:
        """Read a :meth:`save` file; ``mmap=True`` maps the vectors from the file instead of
        reading them (metadata at no memory cost until the vectors are used)."""
        payload = torch.load(path, map_location=map_location, weights_only=True, mmap=mmap)
        if not isinstance(payload, dict) or payload.get("format") != SOLUTION_FORMAT:
            raise ValueError(f"{path}: not a symaudit ket solution")
        if payload.get("version") != SOLUTION_VERSION:
            raise ValueError(f"{path}: unsupported ket-solution version {payload.get('version')}")
        # every field is stored under its own name; setup, meta and kind may be absent
        optional = {"setup": {}, "meta": {}, "kind": "solutions"}
        values = {
            f.name: payload.get(f.name, optional[f.name]) if f.name in optional else payload[f.name]
            for f in fields(cls)
        }
        values["records"] = [KetRecord.from_dict(r) for r in values["records"]]
        return cls(**values)


def check_parameters(space: ParameterSpace, solution: KetSolution) -> None:
    """Raise unless ``space`` holds the parameters (names, shapes, values) ``solution`` was
    solved at."""
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


# --- records from a solve ----------------------------------------------------------------------


def _stats_records(
    stats: SolveStats,
    *,
    first: int,
    block: int,
    method: str,
    lam: float,
    lambda_max: float | None,
    rank: int,
    rtol: float,
) -> list[KetRecord]:
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
