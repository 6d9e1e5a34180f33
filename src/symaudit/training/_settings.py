"""The ``train`` section of a study config: defaults, validation, identity of a run."""

from __future__ import annotations

from collections.abc import Mapping

from symaudit.errors import UserError
from symaudit.settings import TRAIN, parse_settings, resolve

__all__ = [
    "DEFAULTS",
    "PREDICT",
    "RUN_INDEPENDENT",
    "read_settings_argument",
    "resolve_settings",
    "run_defining",
]

#: The train section's defaults (:data:`symaudit.settings.TRAIN`, the schema's values).
DEFAULTS: dict = TRAIN

#: Values of ``predict``: the network's output is the next state or its increment.
PREDICT = ("state", "increment")

#: Settings that change how a run is computed but never its numbers.
RUN_INDEPENDENT = ("in_memory_max_gb",)


def run_defining(settings: Mapping) -> dict:
    """The settings that define a run's numbers (all but :data:`RUN_INDEPENDENT`)."""
    return {k: v for k, v in settings.items() if k not in RUN_INDEPENDENT}


def _fail(key: str, message: str) -> UserError:
    return UserError(f"train setting {key!r}: {message}")


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


def resolve_settings(raw: Mapping | None = None) -> dict:
    """Fill defaults for missing keys of the config's ``train`` section and validate every value.

    Unknown keys (also inside ``split`` and ``augment``) raise a one-line
    :class:`~symaudit.errors.UserError` naming the key (:func:`symaudit.settings.resolve`).
    Returns a new, fully populated dict (see :data:`DEFAULTS`).
    """
    s = resolve("train", raw)
    s["epochs"] = _int("epochs", s["epochs"], 1)
    s["batch_size"] = _int("batch_size", s["batch_size"], 1)
    s["lr"] = _float("lr", s["lr"], 0.0, strict=True)
    s["weight_decay"] = _float("weight_decay", s["weight_decay"], 0.0, strict=False)
    s["time_steps"] = _int("time_steps", s["time_steps"], 2)
    s["checkpoint_every"] = _int("checkpoint_every", s["checkpoint_every"], 1)
    s["threads"] = _int("threads", s["threads"], 1)
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
    if s["max_trajectories"] is not None:
        s["max_trajectories"] = _int("max_trajectories", s["max_trajectories"], 1)
    split = s["split"]
    split["train"] = _float("split.train", split["train"], 0.0, strict=True)
    split["val"] = _float("split.val", split["val"], 0.0, strict=False)
    if split["train"] + split["val"] > 1.0 + 1e-12:
        raise _fail("split", f"train + val = {split['train'] + split['val']:g} exceeds 1")
    return s


#: ``--settings``: a JSON object, or the path of a JSON/YAML file holding one
read_settings_argument = parse_settings
