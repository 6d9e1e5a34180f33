"""One audit from start to end: :func:`audit` (what ``symaudit audit`` runs)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from symaudit._device import choose_device
from symaudit._io import write_atomic
from symaudit.errors import UserError
from symaudit.settings import DEFAULTS

from ._data import read_data
from ._group import DEFAULT_SETS, allowed
from ._html import write_report
from ._influence import check_differentiable, influence_diagonals, influence_study
from ._layout import Adapter, parse_layout
from ._measure import (
    Measured,
    history_channels,
    measure,
    persistence_smse,
    tolerance,
    transitions,
)
from ._pairing import pairing_lines
from ._spec import load_model
from ._tables import equivariance_tables, influence_table, write_influence, write_tables

__all__ = ["audit", "parse_outputs"]

log = logging.getLogger("symaudit.audit")
QUALITY = DEFAULTS["quality"]


def parse_outputs(text: str | None, channels: Sequence[dict]) -> list[int]:
    """``--outputs``: the input channels (names or indices) the model's output channels are,
    in the model's output order; default: every channel, in order."""
    if not text:
        return list(range(len(channels)))
    names = [c["name"] for c in channels]
    out = []
    for part in (p.strip() for p in str(text).split(",") if p.strip()):
        if part in names:
            out.append(names.index(part))
        elif part.isdigit() and int(part) < len(names):
            out.append(int(part))
        else:
            raise UserError(f"--outputs {part!r}: not a channel of the data ({', '.join(names)})")
    return out


def _place(module: torch.nn.Module, device: str | None) -> torch.device:
    dev = choose_device(device or "auto")
    try:
        module.to(dev)
    except (RuntimeError, NotImplementedError) as err:  # an exported program may refuse
        if dev.type != "cpu":
            log.warning(f"model stays on the CPU ({type(err).__name__}: {err})")
        dev = torch.device("cpu")
    return dev


@dataclass
class _Job:
    """What every element set of one audit shares."""

    model: torch.nn.Module
    name: str
    kind: str
    dataset: str
    x: np.ndarray
    y: np.ndarray
    index: np.ndarray
    in_ch: list[dict]
    out_ch: list[dict]
    device: torch.device
    batch_size: int
    out: Path


def _one_set(job: _Job, name: str, members: list[str], influence: bool) -> dict:
    """Measure one element set, write its tables; returns the tables by kind."""
    rel, res, dtype, base = measure(
        job.model, job.x, job.y, members, job.in_ch, job.out_ch,
        device=job.device, batch_size=job.batch_size,
    )  # fmt: skip
    dt = str(dtype).removeprefix("torch.")
    measured = Measured(members, rel, res, job.index, dt, tolerance(dtype))
    summary, per_seed = equivariance_tables(measured, name, job.dataset, job.name)
    write_tables(job.out / "tables", name, summary, per_seed)
    bad = per_seed[~per_seed["within_tolerance"].astype(bool)]["element"].tolist()
    log.info(
        f"{name}: {len(members) - len(bad)}/{len(members)} elements within tolerance "
        f"{measured.tolerance:g} ({dt}); beyond: {', '.join(bad) or 'none'}"
    )
    tables = {"equivariance": per_seed, "dtype": dtype, "smse": base}
    if influence:
        diag, unconverged, kets = influence_diagonals(
            job.model, job.x, job.y, job.index, members, job.in_ch, job.out_ch, device=job.device
        )
        ds = influence_study(diag, unconverged, kets, members, job.index)
        tables["influence"] = influence_table(ds, name, job.dataset, job.name)
        write_influence(job.out / "tables", name, tables["influence"])
        if unconverged.sum():
            log.warning(f"{name}: {int(unconverged.sum())} ket solve(s) did not converge")
    return tables


def _quality(job: _Job, results: dict, history: int, outputs, max_ratio: float) -> str:
    """``tables/model_quality.csv`` (the studies' analysis columns): the model's mean SMSE on
    these transitions against persistence's; a line for the report and the log."""
    first = next(iter(results.values()), None)
    if first is None:
        return "-"
    model, persist = float(np.mean(first["smse"])), float(np.mean(persistence_smse(
        job.x, job.y, history, outputs)))  # fmt: skip
    ratio = model / persist if persist > 0 else float("nan")
    passes = bool(ratio <= max_ratio)
    row = {
        "dataset": job.dataset, "model": job.name, "analysis_smse": model,
        "analysis_persistence_smse": persist, "analysis_ratio": ratio, "passes": passes,
    }  # fmt: skip
    (job.out / "tables").mkdir(parents=True, exist_ok=True)
    path = job.out / "tables" / "model_quality.csv"
    write_atomic(path, lambda tmp: pd.DataFrame([row]).to_csv(tmp, index=False))
    line = f"{ratio:.3g} (model {model:.3g}, persistence {persist:.3g})"
    if not passes:
        line += f": ABOVE the gate {max_ratio:g}: its audit numbers are flagged"
        log.warning(f"quality: SMSE / persistence = {line}")
    else:
        log.info(f"quality: SMSE / persistence = {line}")
    return line


def audit(
    model: str,
    data: str | Path,
    out: str | Path,
    *,
    weights: str | None = None,
    layout: str = "b c y x",
    history: int = 1,
    outputs: str | None = None,
    sets: Sequence[str] = DEFAULT_SETS,
    trajectories: Sequence[int] | None = None,
    time_steps: str | None = None,
    channels: str | None = None,
    periodic: str | None = None,
    dims: str | None = None,
    variable: str | None = None,
    device: str | None = None,
    batch_size: int = 16,
    influence: bool = False,
    max_persistence_ratio: float | None = None,
) -> dict[str, Path]:
    """Audit ``model`` (a SPEC) on ``data``; write ``out/tables/equivariance_<set>.csv`` (and
    ``_per_seed``; ``influence_<set>.csv`` with ``influence``) and ``out/report.html``.
    Returns the report's path under ``"report"``."""
    if history < 1 or batch_size < 1:
        raise UserError(f"--history {history}, --batch-size {batch_size}: both must be >= 1")
    lay = parse_layout(layout)
    found = read_data(
        data, trajectories=trajectories, time_steps=time_steps, channels=channels,
        periodic=periodic, dims=dims, variable=variable,
    )  # fmt: skip
    for line in found.log:
        log.info(line)
    fields = found.fields
    if fields.shape[1] < history + 1:
        raise UserError(f"--history {history} needs {history + 1}+ frames, got {fields.shape[1]}")
    checked, suspicious = pairing_lines(fields, found.channels, found.periodic)
    for line in checked:
        log.info(f"pairing check: {line}")
    for line in suspicious:
        log.warning(line)
    out_idx = parse_outputs(outputs, found.channels)
    shape = tuple(fields.shape[-2:])
    chosen = allowed(sets, shape, found.periodic, found.notes)
    for line in chosen.lines():
        log.info(f"dropped {line}")
    loaded = load_model(model, weights)
    if influence:
        check_differentiable(loaded.kind)
    dev = _place(loaded.module, device)
    x, y, index = transitions(fields, history, out_idx)
    job = _Job(
        Adapter(loaded.module, lay, history), loaded.name, loaded.kind, found.name, x, y, index,
        history_channels(found.channels, history), [found.channels[i] for i in out_idx], dev,
        batch_size, Path(out),
    )  # fmt: skip
    log.info(
        f"{loaded.name} ({loaded.kind}) on {found.name} ({found.source}): {len(x)} transitions, "
        f"grid {shape[0]} x {shape[1]}, channels {[c['name'] for c in found.channels]}, "
        f"layout '{lay}', device {dev}"
    )
    results = {}
    for name, members in chosen.kept.items():
        if members:
            results[name] = _one_set(job, name, members, influence)
    dtype = next((r["dtype"] for r in results.values()), None)
    gate = (
        QUALITY["max_persistence_ratio"] if max_persistence_ratio is None else max_persistence_ratio
    )
    quality = _quality(job, results, history, out_idx, float(gate))
    meta = {
        "model": model, "data": str(data), "format": found.source, "layout": str(lay),
        "history": history, "outputs": ", ".join(c["name"] for c in job.out_ch),
        "transitions": len(x), "grid (y, x)": f"{shape[0]} x {shape[1]}",
        "periodic": "; ".join(f"{a}: {found.periodic[a]} ({found.notes.get(a, '')})" for a in "xy"),
        "dtype": str(dtype).removeprefix("torch.") if dtype else "-",
        "tolerance": tolerance(dtype) if dtype else "-", "device": str(dev),
        "quality (SMSE / persistence)": quality,
        "pairing check": "; ".join(checked + [f"WARNING: {w}" for w in suspicious]) or "-",
    }  # fmt: skip
    report = write_report(job.out / "report.html", meta, results, chosen.lines())
    return {"report": report}
