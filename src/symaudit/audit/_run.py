"""One audit from start to end: :func:`audit` (what ``symaudit audit`` runs)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import torch

from symaudit._device import choose_device
from symaudit.errors import UserError

from ._data import read_data, select_frames
from ._group import DEFAULT_SETS, allowed
from ._html import write_report
from ._layout import Adapter, parse_layout
from ._measure import Measured, history_channels, measure, tolerance, transitions
from ._spec import load_model
from ._tables import equivariance_tables, write_tables

__all__ = ["audit", "parse_outputs"]

log = logging.getLogger("symaudit.audit")


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
) -> dict[str, Path]:
    """Audit ``model`` (a SPEC) on ``data``; write ``out/tables/equivariance_<set>.csv`` (and
    ``_per_seed``) and ``out/report.html``.  Returns the paths written by name."""
    if history < 1:
        raise UserError(f"--history {history}: must be >= 1")
    lay = parse_layout(layout)
    found = read_data(
        data,
        trajectories=trajectories,
        channels=channels,
        periodic=periodic,
        dims=dims,
        variable=variable,
    )
    for line in found.log:
        log.info(line)
    fields = found.fields[:, select_frames(time_steps, found.fields.shape[1])]
    if fields.shape[1] < history + 1:
        raise UserError(f"--history {history} needs {history + 1}+ frames, got {fields.shape[1]}")
    out_idx = parse_outputs(outputs, found.channels)
    in_ch = history_channels(found.channels, history)
    out_ch = [found.channels[i] for i in out_idx]
    shape = tuple(fields.shape[-2:])
    chosen = allowed(sets, shape, found.periodic, found.notes)
    for line in chosen.lines():
        log.info(f"dropped {line}")
    loaded = load_model(model, weights)
    dev = _place(loaded.module, device)
    wrapped = Adapter(loaded.module, lay, history)
    x, y, index = transitions(fields, history, out_idx)
    log.info(
        f"{loaded.name} ({loaded.kind}) on {found.name} ({found.source}): {len(x)} transitions, "
        f"grid {shape[0]} x {shape[1]}, channels {[c['name'] for c in found.channels]}, "
        f"layout '{lay}', device {dev}"
    )
    out = Path(out)
    written: dict[str, Path] = {}
    per_seed_tables = {}
    dtype = None
    for name, members in chosen.kept.items():
        if not members:
            log.warning(f"{name}: every element dropped, no table")
            continue
        rel, res, dtype = measure(
            wrapped, x, y, members, in_ch, out_ch, device=dev, batch_size=batch_size
        )
        measured = Measured(
            members, rel, res, index, str(dtype).removeprefix("torch."), tolerance(dtype)
        )
        summary, per_seed = equivariance_tables(measured, name, found.name, loaded.name)
        for path in write_tables(out / "tables", name, summary, per_seed):
            written[path.stem] = path
        per_seed_tables[name] = per_seed
        bad = per_seed[~per_seed["within_tolerance"].astype(bool)]["element"].tolist()
        log.info(
            f"{name}: {len(members) - len(bad)}/{len(members)} elements within tolerance "
            f"{measured.tolerance:g} ({measured.dtype}); beyond: {', '.join(bad) or 'none'}"
        )
    meta = {
        "model": model,
        "data": str(data),
        "format": found.source,
        "layout": str(lay),
        "history": history,
        "outputs": ", ".join(c["name"] for c in out_ch),
        "transitions": len(x),
        "grid (y, x)": f"{shape[0]} x {shape[1]}",
        "periodic": ", ".join(f"{a}: {found.periodic[a]} ({found.notes.get(a, '')})" for a in "xy"),
        "dtype": str(dtype).removeprefix("torch.") if dtype else "-",
        "tolerance": tolerance(dtype) if dtype else "-",
        "device": str(dev),
    }
    written["report"] = write_report(out / "report.html", meta, per_seed_tables, chosen.lines())
    return written
