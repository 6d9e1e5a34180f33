"""The ``train`` section of a study config: defaults, validation, identity of a run."""

from __future__ import annotations

import copy
import json
import os
from collections.abc import Mapping
from pathlib import Path

__all__ = [
    "DEFAULTS",
    "PREDICT",
    "RUN_INDEPENDENT",
    "read_settings_argument",
    "resolve_settings",
    "run_defining",
]

#: Defaults follow the reference code (docs/algorithms.md §1.4, §3.2, §3.3).
DEFAULTS: dict = {
    "epochs": 150,  # CE runs; NS runs used 100
    "batch_size": 48,  # GLOBAL transitions per optimiser step (split across DDP ranks)
    "lr": 5e-4,
    # The reference CODE uses AdamW(5e-4, lambda=1e-4); the paper TEXT says 1e-6. Code wins.
    "weight_decay": 1e-4,
    "split": {"train": 0.65, "val": 0.05},  # test = the rest
    "time_steps": 17,  # frames 0..16 -> 16 transitions per trajectory
    "checkpoint_every": 5,  # the analyses need epochs 1, 5k (docs/algorithms.md §3.3)
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
    # ~90 GB) are read batch by batch from the Zarr stores instead -- the same numbers bitwise,
    # so this is not part of a run's identity (see RUN_INDEPENDENT)
    "in_memory_max_gb": 16.0,
    # what the network predicts: "state" = s_{t+1} directly (the reference), "increment" =
    # s_{t+1} - s_t, i.e. the model is x -> x + net(x) (symaudit.models.Increment)
    "predict": "state",
}

#: Values of ``predict``: the network's output is the next state or its increment.
PREDICT = ("state", "increment")

#: Settings that change how a run is computed but never its numbers.
RUN_INDEPENDENT = ("in_memory_max_gb",)


def run_defining(settings: Mapping) -> dict:
    """The settings that define a run's numbers (all but :data:`RUN_INDEPENDENT`)."""
    return {k: v for k, v in settings.items() if k not in RUN_INDEPENDENT}


def _fail(key: str, message: str) -> ValueError:
    return ValueError(f"train setting {key!r}: {message}")


def _int(key: str, value, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise _fail(key, f"expected an integer >= {minimum}, got {value!r}")
    return int(value)


def _float(key: str, value, minimum: float, strict: bool) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _fail(key, f"expected a number, got {value!r}")
    if value < minimum or (strict and value == minimum) or value != value:
        raise _fail(key, f"expected a number {'>' if strict else '>='} {minimum}, got {value!r}")
    return float(value)


def _bool(key: str, value) -> bool:
    if not isinstance(value, bool):
        raise _fail(key, f"expected true or false, got {value!r}")
    return value


def _merge(defaults: Mapping, raw: Mapping, prefix: str = "") -> dict:
    out = copy.deepcopy(dict(defaults))
    for key, value in raw.items():
        name = f"{prefix}{key}"
        if key not in defaults:
            known = ", ".join(f"{prefix}{k}" for k in defaults)
            raise ValueError(f"unknown train setting {name!r}; known: {known}")
        if isinstance(defaults[key], Mapping):
            if not isinstance(value, Mapping):
                raise _fail(name, f"expected a mapping, got {value!r}")
            out[key] = _merge(defaults[key], value, prefix=f"{name}.")
        else:
            out[key] = value
    return out


def resolve_settings(raw: Mapping | None = None) -> dict:
    """Fill defaults for missing keys of the config's ``train`` section and validate every value.

    Unknown keys (also inside ``split`` and ``augment``) raise a one-line ``ValueError`` naming
    the key.  Returns a new, fully populated dict (see :data:`DEFAULTS`).
    """
    if raw is None:
        raw = {}
    if not isinstance(raw, Mapping):
        raise ValueError(f"train settings must be a mapping, got {type(raw).__name__}")
    s = _merge(DEFAULTS, raw)
    s["epochs"] = _int("epochs", s["epochs"], 1)
    s["batch_size"] = _int("batch_size", s["batch_size"], 1)
    s["lr"] = _float("lr", s["lr"], 0.0, strict=True)
    s["weight_decay"] = _float("weight_decay", s["weight_decay"], 0.0, strict=False)
    s["time_steps"] = _int("time_steps", s["time_steps"], 2)
    s["checkpoint_every"] = _int("checkpoint_every", s["checkpoint_every"], 1)
    for key in ("track_equivariance", "deterministic"):
        s[key] = _bool(key, s[key])
    for key in ("d4", "shifts", "orbit"):
        s["augment"][key] = _bool(f"augment.{key}", s["augment"][key])
    if s["predict"] not in PREDICT:
        raise _fail("predict", f"expected one of {', '.join(PREDICT)}, got {s['predict']!r}")
    if s["augment"]["orbit"] and s["augment"]["d4"]:
        raise _fail("augment", "orbit and d4 exclude each other (orbit applies every element)")
    if s["optimizer"] not in ("adamw", "sgd"):
        raise _fail("optimizer", f"expected adamw or sgd, got {s['optimizer']!r}")
    if s["dtype"] not in ("float32", "float64"):
        raise _fail("dtype", f"expected float32 or float64, got {s['dtype']!r}")
    s["in_memory_max_gb"] = _float("in_memory_max_gb", s["in_memory_max_gb"], 0.0, strict=False)
    if s["max_batches_per_epoch"] is not None:
        s["max_batches_per_epoch"] = _int("max_batches_per_epoch", s["max_batches_per_epoch"], 1)
    split = s["split"]
    split["train"] = _float("split.train", split["train"], 0.0, strict=True)
    split["val"] = _float("split.val", split["val"], 0.0, strict=False)
    if split["train"] + split["val"] > 1.0 + 1e-12:
        raise _fail("split", f"train + val = {split['train'] + split['val']:g} exceeds 1")
    return s


def read_settings_argument(text: str | None) -> dict:
    """Parse ``--settings``: a JSON object, or the path of a JSON/YAML file holding one."""
    if text is None or text.strip() == "":
        return {}
    stripped = text.strip()
    if not stripped.startswith("{") and os.path.exists(stripped):
        path = Path(stripped)
        content = path.read_text()
        if path.suffix in (".yaml", ".yml"):
            import yaml

            data = yaml.safe_load(content)
        else:
            data = _json(content, f"--settings file {path}")
        if not isinstance(data, Mapping):
            raise ValueError(f"--settings file {path}: expected a mapping")
        return dict(data)
    data = _json(stripped, "--settings")
    if not isinstance(data, Mapping):
        raise ValueError(f"--settings: expected a JSON object, got {type(data).__name__}")
    return dict(data)


def _json(text: str, where: str):
    try:
        return json.loads(text)
    except json.JSONDecodeError as err:
        raise ValueError(f"{where}: invalid JSON ({err.msg} at char {err.pos})") from None
