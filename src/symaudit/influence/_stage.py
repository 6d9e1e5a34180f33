"""Shared pieces of the influence stage's two commands: settings and the solutions on disk.
Kept here so ``influence-solve`` and ``influence-bras`` read them the same way (the trained
run itself is opened by :func:`symaudit.runs.open_run`)."""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from pathlib import Path

from symaudit.cli import add_device, add_settings, add_time_stride
from symaudit.settings import (
    ANALYSIS,
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


def load_solutions(directory, mmap: bool = False) -> list:
    """The :class:`KetSolution` files of one ``influence-solve`` output: ``[solution.pt]``,
    or one per λ of a damping path (``solution_00.pt``, ... in the config's order);
    ``mmap``: vectors mapped from the files, not read (:meth:`KetSolution.load`)."""
    from symaudit.influence import KetSolution

    directory = Path(directory)
    files = sorted(directory.glob("solution_[0-9][0-9].pt")) or [directory / "solution.pt"]
    return [KetSolution.load(f, mmap=mmap) for f in files]


def add_run_arguments(parser: argparse.ArgumentParser) -> None:
    """The arguments both commands take: the trained run, its analysis batches' length and
    frame stride, the config's influence section and the device."""
    add = parser.add_argument
    add("--checkpoint", required=True, help="the model checkpoint (final.pt)")
    add("--run-dir", required=True, help="the model's run directory (splits)")
    add("--stores", nargs="+", required=True, metavar="STORE", help="class stores, in class order")
    add("--time-steps", type=int, default=ANALYSIS["time_steps"], help="transitions per class")
    add_time_stride(parser)
    add_settings(parser, "influence")
    add_device(parser)
