"""What the companion tables read per run: its files (:class:`CompanionRun`), the identity
element's influence of the influence stage, and its ``symaudit companion run`` diagnostics."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from symaudit import outputs

__all__ = ["OBSERVABLES", "CompanionRun", "read_diagnostics", "read_identity_influence"]

#: the CE drift bras of the influence stage (variables pi_mass_std, pi_energy_std)
OBSERVABLES = ("mass", "energy")


@dataclass(frozen=True)
class CompanionRun:
    """One trained run's files the companion stage reads."""

    dataset: str
    model: str
    seed: int
    influence: Path  # the influence output holding the identity element (first of its set)
    run_dir: Path  # the training run directory (splits.json, metrics.csv)
    stores: tuple[Path, ...] = field(default=())  # the group's class stores, in class order
    #: its ``symaudit companion run`` output (rollouts, spectra, earlier-epoch influence)
    diagnostics: Path | None = None


def read_diagnostics(path: str | os.PathLike, batches: Sequence[int]) -> dict:
    """The arrays of one ``symaudit companion run`` output at the analysis ``batches``:
    {"rollout": (batch, class, start, horizon), "starts": the rollouts' start frames,
    "eigenvalue": (epoch, batch, mode), "lambda_max": (epoch, batch), "epochs": [int],
    "earlier": {epoch: (batch, bra_transition, bra_class, ket_transition, ket_class) raw Π},
    "train_transitions", "last_epoch", "time_stride" (absent: 1)}."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"diagnostics file {path} does not exist (run stage_companion)")
    with outputs.read(path, "diagnostics") as opened:
        ds = opened.dataset
        missing = sorted(set(batches) - {int(b) for b in ds["batch"].values})
        if missing:
            raise ValueError(f"diagnostics file {path}: no analysis batch {missing}")
        ds = ds.sel(batch=list(batches))
        out = {
            "rollout": ds["rollout_error"].values,
            "starts": ds["start"].values.astype(np.int64),
            "eigenvalue": ds["eigenvalue"].values,
            "lambda_max": ds["lambda_max"].values,
            "epochs": [int(e) for e in ds["epoch"].values],
            "earlier": {},
            "train_transitions": int(ds.attrs["train_transitions"]),
            "last_epoch": int(ds.attrs["last_epoch"]),
            "time_stride": int(ds.attrs.get("time_stride", 1)),
        }
        if "pi_raw" in ds:
            for e in ds["influence_epoch"].values:
                raw = ds["pi_raw"].sel(influence_epoch=e).values
                keep = ds["ket_converged"].sel(influence_epoch=e).values  # (batch, t, class)
                out["earlier"][int(e)] = np.where(keep[:, None, None], raw, np.nan)
    return out


def read_identity_influence(path: str | os.PathLike) -> dict:
    """The identity element's standardised influence of one influence output.

    Returns {"smse": (batch, bra_transition, bra_class, ket_transition, ket_class) float64,
    "raw": the same unstandardised, "mass" / "energy" likewise when present (CE), "batches":
    [int], "classes": [family], "time_steps": T, "time_stride": the analysis frames' stride
    (absent: 1)}."""
    from symaudit import groups

    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"influence file {path} does not exist (run stage_influence)")
    with outputs.read(path, "influence") as opened:
        ds = opened.dataset
        names = [str(e) for e in ds["element"].values]
        found = [k for k, e in enumerate(names) if groups.parse(e) == groups.Element()]
        if not found:
            raise ValueError(f"influence file {path}: no identity element among {names}")
        k = found[0]
        dims = outputs.PI_DIMS[1:]
        out = {"smse": ds["pi_std"].isel(element=k).transpose(*dims).values.astype(np.float64)}
        out["raw"] = ds["pi_raw"].isel(element=k).transpose(*dims).values.astype(np.float64)
        for obs in OBSERVABLES:
            if f"pi_{obs}_std" in ds:
                var = ds[f"pi_{obs}_std"].isel(element=k).transpose(*dims)
                out[obs] = var.values.astype(np.float64)
        out["batches"] = [int(b) for b in ds["batch"].values]
        out["classes"] = [str(c) for c in ds["bra_class"].values]
        out["time_steps"] = int(ds.sizes["bra_transition"])
        out["time_stride"] = int(ds.attrs.get("time_stride", 1))
    return out
