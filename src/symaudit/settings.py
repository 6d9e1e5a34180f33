"""The defaults of every config section, and the one way a command reads its ``--settings``.

This module is the library's single source of defaults.  The workflow's schema
(``workflow/schemas/config.schema.yaml``) states the same ``default:`` for every key, and
``tests/test_settings.py`` checks that the two agree key by key, so a command run by hand and
the same command run by the workflow (which passes the config with the schema's defaults filled
in by Snakemake's ``validate``) compute the same numbers.

:func:`read_settings` is what every stage command does with its ``--settings``: parse the JSON
(or a JSON/YAML file), reject unknown keys, fill in the defaults; each mistake is one
:class:`~symaudit.errors.UserError` line naming the key.  The stages validate their values
themselves (``symaudit.training.resolve_settings`` and the like).

Torch-free: the workflow's helpers import it.
"""

from __future__ import annotations

import copy
import json
import os
from collections.abc import Mapping
from pathlib import Path

from symaudit.errors import UserError

__all__ = [
    "ANALYSIS",
    "COMPANION",
    "CONSERVATION",
    "DAMPING_BY_METHOD",
    "DATA",
    "DEFAULTS",
    "FINDINGS",
    "INFLUENCE",
    "QUALITY",
    "TRAIN",
    "WORKFLOW_ONLY",
    "check_influence",
    "parse_settings",
    "read_settings",
    "resolve",
]

#: ``data``: the data stage (generated look-alike flows or ingested PDEGym files)
DATA: dict = {
    "source": "generated",
    "resolution": 32,
    "trajectories": 24,
    "time_steps": 21,
    "seed": 0,
    "order": "numeric",
    "cluster": {
        "kind": "local",
        "workers": 2,
        "cores": 1,
        "memory": "2GB",
        "walltime": "00:30:00",
        "queue": None,
        "account": None,
        "interface": None,
        "log_directory": None,
        "job_extra_directives": [],
    },
}

#: ``train``: the reference code's values (docs/algorithms.md §1.4, §3.2, §3.3) but the epochs
#: and the checkpoint spacing, which are the quick study's (the paper: epochs {CE: 150, NS: 100},
#: checkpoint_every 5; config/paper.yaml sets both)
TRAIN: dict = {
    "epochs": 4,
    "batch_size": 48,  # GLOBAL transitions per optimiser step (split across DDP ranks)
    "lr": 5e-4,
    # The reference CODE uses AdamW(5e-4, lambda=1e-4); the paper TEXT says 1e-6. Code wins.
    "weight_decay": 1e-4,
    "split": {"train": 0.65, "val": 0.05},  # test = the rest
    "time_steps": 17,  # frames 0..16 -> 16 transitions per trajectory
    "checkpoint_every": 1,
    "augment": {"d4": False, "shifts": False, "orbit": False},
    # "adamw" (the reference) or "sgd": plain (stochastic) gradient descent, no momentum,
    # weight_decay as an L2 term.  With augment.orbit (every D4 element of every example in
    # every batch) it is the setting of the conservation study (docs/conservation.md).
    "optimizer": "adamw",
    "track_equivariance": False,
    "deterministic": True,
    "max_batches_per_epoch": None,
    # float32 as the reference; float64 exists for exact comparisons (Adam turns float32
    # round-off in the many exactly-flat directions, e.g. biases before an instance norm, into
    # O(lr) parameter differences, so float32 runs only agree to ~lr across batch splits)
    "dtype": "float32",
    # train + val frames are held in RAM up to this size (GB); larger splits (the paper's CE:
    # ~90 GB) are read batch by batch from the Zarr stores instead -- the same numbers bitwise
    "in_memory_max_gb": 16,
    # what the network predicts: "state" = s_{t+1} directly (the reference), "increment" =
    # s_{t+1} - s_t, i.e. the model is x -> x + net(x) (symaudit.models.Increment)
    "predict": "state",
}

#: ``quality``: the model-quality gate (val SMSE at most this multiple of persistence's)
QUALITY: dict = {"max_persistence_ratio": 1.0}

#: ``findings``: the validation study's findings table
FINDINGS: dict = {"enabled": False}

#: ``analysis``: the analysis batches and group element sets of influence and equivariance
ANALYSIS: dict = {
    "batches": 2,
    "time_steps": 16,
    "element_sets": ["d4", "shift_x", "shift_y"],
    "element_sets_by_dataset": {},
    "shift_box_K": 4,
    "chunk_size": 64,
    # the tables' cluster-bootstrap intervals (symaudit.aggregate._bootstrap, docs/algorithms.md
    # §7.1): replicates, level, generator seed, fewest (seed, batch) clusters for an interval
    "bootstrap": {"resamples": 2000, "confidence": 0.95, "seed": 0, "min_clusters": 5},
}

#: ``influence``: the damped Gauss-Newton solves; ``damping`` None = by method
#: (:data:`DAMPING_BY_METHOD`)
INFLUENCE: dict = {
    "damping": None,
    "rtol": 1e-4,
    "method": "block_cg",
    "preconditioner_rank": 0,
    "max_iterations": 1000,
    "fail_on_unconverged": True,
    "include_unconverged": False,
    "galerkin_energy": 1e-4,
    "galerkin_reference": False,
    "normalization": "per_output",
    "keep_solutions": True,
}

#: damping when the config names none: the Krylov methods' relative 1e-3, and the reference
#: code's ε = 1e-6 added to JᵀJ/D inside the Galerkin subspace (lanl/PDEHats
#: ``scripts/HatMatrix/qr.jl``)
DAMPING_BY_METHOD: dict = {
    "galerkin": {"mode": "absolute", "value": 1e-6},
    None: {"mode": "relative", "value": 1e-3},
}

#: ``companion``: the companion paper's diagnostics
COMPANION: dict = {"enabled": False, "epochs": [], "distance_edges": 20, "distance_overlap": 1}

#: ``conservation``: the conservation study (docs/conservation.md)
CONSERVATION: dict = {
    "enabled": False,
    "standalone": False,
    "resolution": 32,
    "batch": 16,
    "steps": 100,
    "seed": 0,
    "lr_fraction": 0.5,
    "adam_lr": 1.0e-3,
    "floor": 1.0e-6,
    "targets": ["diffusion", "advection"],
    "arms": ["orbit", "random", "none", "adam", "logcosh"],
    "hidden": 4,
    "two_layer_steps": 40,
}

#: section name -> its defaults (every key the schema's section knows)
DEFAULTS: dict[str, dict] = {
    "data": DATA,
    "train": TRAIN,
    "quality": QUALITY,
    "findings": FINDINGS,
    "analysis": ANALYSIS,
    "influence": INFLUENCE,
    "companion": COMPANION,
    "conservation": CONSERVATION,
}

#: keys that steer the workflow's DAG, not a stage's numbers: the workflow keeps them out of the
#: commands' ``--settings`` (and so out of the rules' params, whose change reruns a rule)
WORKFLOW_ONLY: dict[str, tuple[str, ...]] = {"influence": ("keep_solutions",)}


def _merge(section: str, defaults: Mapping, raw: Mapping, prefix: str = "") -> dict:
    """``raw`` over a deep copy of ``defaults``; a non-empty mapping default is merged key by
    key (its keys are the only ones allowed); unknown keys raise :class:`UserError`."""
    out = copy.deepcopy(dict(defaults))
    for key, value in raw.items():
        name = f"{prefix}{key}"
        if key not in defaults:
            known = ", ".join(f"{prefix}{k}" for k in defaults)
            raise UserError(f"unknown {section} setting {name!r}; known: {known}")
        default = defaults[key]
        if isinstance(default, Mapping) and default:
            if not isinstance(value, Mapping):
                raise UserError(f"{section} setting {name!r}: expected a mapping, got {value!r}")
            out[key] = _merge(section, default, value, prefix=f"{name}.")
        else:
            out[key] = copy.deepcopy(value)
    return out


def resolve(section: str, raw: Mapping | None = None, drop: tuple[str, ...] = ()) -> dict:
    """The config section ``section`` (a mapping, or None) with its defaults filled in.

    Unknown keys (also inside the mappings with fixed keys: ``train.split``,
    ``train.augment``, ``data.cluster``) raise a one-line :class:`UserError` naming the key.
    Keys in ``drop`` are accepted and left out of the result.  Returns a new dict.
    """
    if raw is None:
        raw = {}
    if not isinstance(raw, Mapping):
        raise UserError(f"{section} settings must be a mapping, got {type(raw).__name__}")
    resolved = _merge(section, DEFAULTS[section], raw)
    return {k: v for k, v in resolved.items() if k not in drop}


def parse_settings(text: str | Mapping | None) -> dict:
    """``--settings`` as given: a JSON object, the path of a JSON/YAML file holding one, a
    mapping (passed through), or None/empty ({})."""
    if text is None:
        return {}
    if isinstance(text, Mapping):
        return dict(text)
    stripped = text.strip()
    if not stripped:
        return {}
    if not stripped.startswith("{") and os.path.exists(stripped):
        path = Path(stripped)
        content = path.read_text()
        if path.suffix in (".yaml", ".yml"):
            import yaml

            data = yaml.safe_load(content)
        else:
            data = _json(content, f"--settings file {path}")
        if not isinstance(data, Mapping):
            raise UserError(f"--settings file {path}: expected a mapping")
        return dict(data)
    data = _json(stripped, "--settings")
    if not isinstance(data, Mapping):
        raise UserError(f"--settings: expected a JSON object, got {type(data).__name__}")
    return dict(data)


def read_settings(text: str | Mapping | None, section: str, drop: tuple[str, ...] = ()) -> dict:
    """A command's ``--settings`` for the config section ``section``: parsed
    (:func:`parse_settings`), unknown keys rejected and defaults filled (:func:`resolve`)."""
    return resolve(section, parse_settings(text), drop=drop)


def check_influence(section: Mapping) -> None:
    """The rules of an ``influence`` section the schema cannot express (checked by the workflow
    before anything runs, and by the influence commands): a damping path's ``primary`` is one
    of its ``values``, and a path needs a Krylov method."""
    damping = section.get("damping") or {}
    if "values" not in damping:
        return
    if "primary" in damping and damping["primary"] not in damping["values"]:
        raise UserError(
            f"influence.damping.primary {damping['primary']:g} is not one of "
            f"influence.damping.values {damping['values']}"
        )
    if section.get("method") == "galerkin":
        raise UserError(
            "influence.damping.values: a damping path needs a Krylov method (block_cg, cg); "
            "galerkin takes one ε (influence.damping.value)"
        )


def _json(text: str, where: str):
    try:
        return json.loads(text)
    except json.JSONDecodeError as err:
        raise UserError(f"{where}: invalid JSON ({err.msg} at char {err.pos})") from None
