"""Shared pieces of the influence stage's two commands: settings, the model and its analysis
batch.  Kept here so ``influence-solve`` and ``influence-bras`` load them the same way."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import torch

from symaudit._device import default_device
from symaudit.settings import (
    DAMPING_BY_METHOD,
    INFLUENCE,
    WORKFLOW_ONLY,
    check_influence,
    read_settings,
)

#: the influence section's defaults the commands read (:data:`symaudit.settings.INFLUENCE`
#: but the workflow-only ``keep_solutions``); ``damping`` None = by method
SETTINGS_DEFAULTS: dict = {
    k: v for k, v in INFLUENCE.items() if k not in WORKFLOW_ONLY["influence"]
}

#: damping when the config names none (:data:`symaudit.settings.DAMPING_BY_METHOD`)
DAMPING_DEFAULTS: dict = DAMPING_BY_METHOD


def resolve_settings(raw: str | Mapping | None) -> dict:
    """The config's ``influence`` section (JSON text or mapping) with defaults filled in
    (:func:`symaudit.settings.read_settings`; ``keep_solutions`` is accepted and left out),
    checked by :func:`symaudit.settings.check_influence`."""
    settings = read_settings(raw, "influence", drop=WORKFLOW_ONLY["influence"])
    if settings["damping"] is None:
        method = settings["method"]
        settings["damping"] = dict(DAMPING_DEFAULTS.get(method, DAMPING_DEFAULTS[None]))
    check_influence(settings)
    return settings


def load_solutions(directory) -> list:
    """The :class:`KetSolution` files of one ``influence-solve`` output: ``[solution.pt]``,
    or one per λ of a damping path (``solution_00.pt``, ... in the config's order)."""
    from symaudit.influence import KetSolution

    directory = Path(directory)
    files = sorted(directory.glob("solution_[0-9][0-9].pt")) or [directory / "solution.pt"]
    return [KetSolution.load(f) for f in files]


def load_analysis(checkpoint, run_dir, stores, batch: int, time_steps: int, device=None):
    """(model, meta, channels, families, inputs, targets) for analysis batch ``batch``.

    ``inputs``/``targets``: (classes * time_steps, channel, y, x) in the model's dtype, example
    n = t + time_steps * class (docs/algorithms.md §1.5).
    """
    from symaudit.models import load_checkpoint
    from symaudit.store import open_store
    from symaudit.training import analysis_batch, load_splits

    model, meta = load_checkpoint(checkpoint)
    opened = [open_store(p) for p in stores]
    splits = load_splits(Path(run_dir))
    inputs, targets = analysis_batch(opened, splits, int(batch), time_steps=time_steps)
    dtype = next(model.parameters()).dtype
    device = torch.device(device) if device else default_device()
    model = model.to(device).eval()
    inputs = torch.as_tensor(inputs).to(device=device, dtype=dtype)
    targets = torch.as_tensor(targets).to(device=device, dtype=dtype)
    channels = opened[0].channels
    families = [s.family for s in opened]
    return model, meta, channels, families, inputs, targets


def run_identity(meta: Mapping, checkpoint) -> dict:
    """dataset / model / seed of a checkpoint (meta first, then its run-directory path)."""
    parts = Path(checkpoint).resolve().parts
    guess = {}
    if len(parts) >= 4 and parts[-2].startswith("seed"):
        guess = {"dataset": parts[-4], "model": parts[-3], "seed": int(parts[-2][4:])}
    recorded = meta.get("run", meta)  # training checkpoints keep the run's identity in "run"
    found = {k: recorded.get(k, guess.get(k)) for k in ("dataset", "model", "seed")}
    if isinstance(found["model"], Mapping):  # checkpoints record the model's whole spec
        found["model"] = found["model"].get("name", guess.get("model"))
    if recorded.get("name"):  # a variant run (e.g. unet-aug): its name in the study
        found["model"] = recorded["name"]
    return found
