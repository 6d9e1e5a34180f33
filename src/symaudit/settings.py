"""The defaults of every config section, and the one way a command reads its ``--settings``.

The defaults are the workflow's schema's (``workflow/schemas/config.schema.yaml``, shipped in
the package as ``symaudit/config.schema.yaml``, a link to it): ONE file holds each default, and
this module reads it, filling a missing key exactly as Snakemake's ``validate`` does (a key's
``default:``, a mapping's defaults merged key by key; ``tests/test_settings.py`` checks the two
fills agree), so a command run by hand and the same command run by the workflow compute the
same numbers.  A key without a ``default:`` (``influence.damping``) defaults to None.

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
from collections.abc import Mapping, Sequence
from importlib.resources import files
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
    "SCHEMA_FILE",
    "TRAIN",
    "WORKFLOW_ONLY",
    "check_influence",
    "parse_settings",
    "read_settings",
    "resolve",
    "schema",
]

#: the config schema inside the package (the workflow validates its link target)
SCHEMA_FILE = "config.schema.yaml"


def schema() -> dict:
    """The config schema (JSON Schema as YAML), read from the installed package."""
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    text = files("symaudit").joinpath(SCHEMA_FILE).read_text(encoding="utf-8")
    return yaml.load(text, Loader=loader)  # noqa: S506 (a safe loader)


def _default(prop: Mapping):
    """What Snakemake's ``validate`` fills in for a missing key of schema ``prop``: its
    ``default:`` (None without one), a mapping's own default completed by its properties'."""
    if "default" not in prop:
        return None
    value = copy.deepcopy(prop["default"])
    if isinstance(value, dict) and "properties" in prop:
        inner = prop["properties"]
        filled = {k: value[k] if k in value else _default(p) for k, p in inner.items()}
        value = {k: v for k, v in filled.items() if k in value or "default" in inner[k]}
    return value


def _section_defaults(config_schema: Mapping) -> dict[str, dict]:
    """Section name -> the defaults of every key it knows, for each mapping of the schema with
    fixed properties (``data``, ``train``, ... ``conservation``)."""
    return {
        name: {k: _default(p) for k, p in prop["properties"].items()}
        for name, prop in config_schema["properties"].items()
        if prop.get("type") == "object" and "properties" in prop
    }


#: section name -> its defaults (every key the schema's section knows)
DEFAULTS: dict[str, dict] = _section_defaults(schema())
#: ``data``: the data stage (generated look-alike flows or ingested PDEGym files)
DATA: dict = DEFAULTS["data"]
#: ``train``: the reference code's values (docs/algorithms.md §1.4, §3.2, §3.3) but the epochs
#: and the checkpoint spacing, which are the quick study's (config/paper.yaml sets the paper's)
TRAIN: dict = DEFAULTS["train"]
#: ``quality``: the model-quality gate (val SMSE at most this multiple of persistence's)
QUALITY: dict = DEFAULTS["quality"]
#: ``findings``: the validation study's findings table
FINDINGS: dict = DEFAULTS["findings"]
#: ``analysis``: the analysis batches and group element sets of influence and equivariance
ANALYSIS: dict = DEFAULTS["analysis"]
#: ``influence``: the damped Gauss-Newton solves; ``damping`` None = by method
#: (:data:`DAMPING_BY_METHOD`)
INFLUENCE: dict = DEFAULTS["influence"]
#: ``companion``: the companion paper's diagnostics
COMPANION: dict = DEFAULTS["companion"]
#: ``conservation``: the conservation study (docs/conservation.md)
CONSERVATION: dict = DEFAULTS["conservation"]

#: damping when the config names none: the Krylov methods' relative 1e-3, and the reference
#: code's ε = 1e-6 added to JᵀJ/D inside the Galerkin subspace (lanl/PDEHats
#: ``scripts/HatMatrix/qr.jl``)
DAMPING_BY_METHOD: dict = {
    "galerkin": {"mode": "absolute", "value": 1e-6},
    None: {"mode": "relative", "value": 1e-3},
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
    if stripped.endswith((".yaml", ".yml", ".json")) or (
        not stripped.startswith(("{", "[", '"')) and os.sep in stripped
    ):
        raise UserError(f"--settings file {stripped} does not exist")
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


# --- train values per run (config ``train``) ----------------------------------------------------


#: the ``train`` keys that may be given per model or dataset (:func:`per_run`)
PER_RUN_TRAIN_KEYS: tuple[str, ...] = ("epochs", "dtype")


def per_run(value, names: Sequence[str], key: str):
    """A ``train`` value given per run (``train.epochs``, ``train.dtype``): the value itself, or
    a mapping keyed by model or dataset, nested at most twice.  ``names`` are the run's keys in
    the order they are looked up: its model, then a variant's architecture (``unet-aug`` takes
    the UNet's epochs, so both take the same optimiser steps), then its dataset; ``names[0]``
    and ``names[-1]`` are the model and dataset the one-line error names."""
    if not isinstance(value, Mapping):
        return value
    for name in dict.fromkeys(names):
        if name in value:
            return per_run(value[name], names, f"{key}.{name}")
    raise UserError(f"{key} names no value for dataset {names[-1]} / model {names[0]}")


# --- element sets per run (config ``analysis``) ------------------------------------------------


def analysed_sets(analysis: Mapping, dataset: str, model: str | None = None) -> list[str]:
    """The element sets the runs of (``dataset``, ``model``) analyse, from the config's
    ``analysis`` section: ``element_sets_by_dataset``'s list when it names the group, else
    ``element_sets``; with ``model``, that list kept only where ``element_sets_by_model``
    names the model's sets (in the group's order; a model it does not name: the group's)."""
    group = analysis.get("element_sets_by_dataset", {}).get(dataset, analysis["element_sets"])
    narrowed = (analysis.get("element_sets_by_model") or {}).get(model)
    return list(group) if narrowed is None else [s for s in group if s in narrowed]


def set_groups(
    analysis: Mapping, models: Mapping[str, Sequence[str]]
) -> list[tuple[str, str, list[str]]]:
    """(dataset, group name, models): each dataset's models (``models``: dataset -> its
    models, config order) grouped by the element sets their runs analyse
    (:func:`analysed_sets`); the group's own sets first, named ``dataset``, then one group
    per ``element_sets_by_model`` choice, named ``dataset_model`` (``-`` as ``_``).  The
    workflow has one per-run analysis rule per group (``equivariance_{name}``,
    ``influence_bras_{name}``): a rule's outputs cannot depend on its ``model`` wildcard."""
    out = []
    for d, names_ in models.items():
        by_sets: dict[tuple[str, ...], list[str]] = {tuple(analysed_sets(analysis, d)): []}
        for m in names_:
            by_sets.setdefault(tuple(analysed_sets(analysis, d, m)), []).append(m)
        for i, members in enumerate(by_sets.values()):
            if members:
                out.append((d, d if i == 0 else f"{d}_{members[0].replace('-', '_')}", members))
    return out
