"""Shared pieces of the influence stage's two commands: settings and the solutions on disk.
Kept here so ``influence-solve`` and ``influence-bras`` read them the same way (the trained
run itself is opened by :func:`symaudit.runs.open_run`)."""

from __future__ import annotations

import argparse
import json
from collections.abc import Mapping
from pathlib import Path

SETTINGS_DEFAULTS: dict = {
    "damping": None,  # by method: DAMPING_DEFAULTS
    "rtol": 1e-4,
    "method": "block_cg",
    "preconditioner_rank": 0,
    "max_iterations": 1000,
    "fail_on_unconverged": True,
    "include_unconverged": False,
    "galerkin_energy": 1e-4,
    "galerkin_reference": False,
    "normalization": "per_output",
}

#: damping when the config names none: the Krylov default, and the reference code's ε = 1e-6
#: added to JᵀJ/D inside the Galerkin subspace (lanl/PDEHats ``scripts/HatMatrix/qr.jl``)
DAMPING_DEFAULTS: dict = {
    "galerkin": {"mode": "absolute", "value": 1e-6},
    None: {"mode": "relative", "value": 1e-3},
}


def resolve_settings(raw: str | Mapping | None) -> dict:
    """The config's ``influence`` section (JSON text or mapping) with defaults filled in."""
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except json.JSONDecodeError as err:
            raise ValueError(f"--settings is not valid JSON: {err}") from None
    raw = dict(raw or {})
    unknown = set(raw) - set(SETTINGS_DEFAULTS)
    if unknown:
        raise ValueError(f"influence settings: unknown key(s) {sorted(unknown)}")
    settings = {**SETTINGS_DEFAULTS, **raw}
    if settings["damping"] is None:
        method = settings["method"]
        settings["damping"] = dict(DAMPING_DEFAULTS.get(method, DAMPING_DEFAULTS[None]))
    if settings["method"] == "galerkin" and "values" in settings["damping"]:
        raise ValueError(
            "influence.damping.values: a damping path needs a Krylov method (block_cg, cg); "
            "galerkin takes one ε (influence.damping.value)"
        )
    return settings


def load_solutions(directory) -> list:
    """The :class:`KetSolution` files of one ``influence-solve`` output: ``[solution.pt]``,
    or one per λ of a damping path (``solution_00.pt``, ... in the config's order)."""
    from symaudit.influence import KetSolution

    directory = Path(directory)
    files = sorted(directory.glob("solution_[0-9][0-9].pt")) or [directory / "solution.pt"]
    return [KetSolution.load(f) for f in files]


def add_run_arguments(parser: argparse.ArgumentParser) -> None:
    """The arguments both commands take: the trained run, its analysis batches' length, the
    config's influence section and the device."""
    add = parser.add_argument
    add("--checkpoint", required=True, help="the model checkpoint (final.pt)")
    add("--run-dir", required=True, help="the model's run directory (splits)")
    add("--stores", nargs="+", required=True, metavar="STORE", help="class stores, in class order")
    add("--time-steps", type=int, default=16, help="transitions per class")
    add("--settings", default=None, help="the config's influence section (JSON)")
    add("--device", default=None, help="cpu | cuda (default: cuda if available)")
