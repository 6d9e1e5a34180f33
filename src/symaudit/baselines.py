"""Baselines that live with the data: the persistence forecast s_{t+1} = s_t.

An emulator has learned the dynamics only if it beats predicting no change.  The data stage
stores, in every class store, the SMSE of persistence for every transition
(array ``persistence_smse``, dims ``(trajectory, transition)``: transition t is s_t -> s_{t+1})
and its class mean in the group attrs (``baselines.persistence_smse``).  The train/val/test
splits are drawn per training seed, so the per-split baseline is the mean of that array over a
split's trajectories and the transitions training uses (:func:`split_persistence`); training
records it next to its own SMSE in ``metrics.csv``.

SMSE is :func:`symaudit.losses.smse` (squared error over the per-example, per-channel spatial
RMS of the target + 1e-6, averaged over channel, y, x), computed here in float64 with numpy.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

__all__ = [
    "ARRAY",
    "add_gate_argument",
    "baseline_attrs",
    "final_ratio",
    "persistence_smse",
    "quality_warning",
    "split_persistence",
    "warn_if_failed",
]

#: the SMSE's regulariser, :data:`symaudit.losses.EPS` (repeated: this module stays torch-free
#: so the data stage does not import torch; a test checks they agree)
EPS = 1e-6
#: name of the per-transition persistence array in a store
ARRAY = "persistence_smse"
DIMS = ("trajectory", "transition")
#: environment variable through which the workflow hands its quality gate to the stage CLIs (a
#: reporting threshold, so it must not be a rule parameter: changing it would rerun them)
GATE_VARIABLE = "SYMAUDIT_MAX_PERSISTENCE_RATIO"


def persistence_smse(block: np.ndarray) -> np.ndarray:
    """Per-transition SMSE of persistence for fields ``(trajectory, time, channel, y, x)``.

    Returns float64 ``(trajectory, time - 1)``: entry [i, t] = SMSE(prediction s_t, target
    s_{t+1}) of trajectory i.
    """
    if block.ndim != 5:
        raise ValueError(
            f"persistence_smse: expected (trajectory, time, channel, y, x), got shape {block.shape}"
        )
    b = np.asarray(block, dtype=np.float64)
    pred, target = b[:, :-1], b[:, 1:]
    scale = np.sqrt(np.square(target).mean(axis=(-2, -1), keepdims=True)) + EPS
    return (np.square(target - pred) / scale).mean(axis=(-3, -2, -1))


def baseline_attrs(per_transition: np.ndarray) -> dict:
    """The ``baselines`` group attrs of a store from its ``(trajectory, transition)`` array."""
    return {
        "persistence_smse": {
            "mean": float(np.mean(per_transition)),
            "array": ARRAY,
            "over": "all trajectories and transitions of the store (one class)",
            "per_split": "mean of the array over a split's trajectories and the transitions "
            "used (splits are drawn per training seed; see the run's metrics.csv)",
        }
    }


def split_persistence(stores: Sequence, splits: Mapping, part: str, time_steps: int) -> float:
    """Persistence SMSE over split ``part`` of all classes, as training evaluates a model.

    ``stores`` are :class:`symaudit.store.Store` objects in class order, ``splits`` a run's
    ``{family: {part: [trajectory, ...]}}``; the transitions are t = 0 .. time_steps - 2 of
    every selected trajectory, pooled over classes (a mean over transitions, like the
    model's validation SMSE).  Stores written before the array existed are computed from
    their fields.
    """
    values = []
    for store in stores:
        index = np.asarray(splits[store.family][part], dtype=np.int64)
        if index.size == 0:
            continue
        if ARRAY in store.group:
            table = np.asarray(store.group[ARRAY][...])
            values.append(table[index, : time_steps - 1].reshape(-1))
        else:
            block = store.read(index, slice(0, time_steps))
            values.append(persistence_smse(block).reshape(-1))
    if not values:
        return float("nan")
    return float(np.concatenate(values).mean())


def final_ratio(run_dir) -> float | None:
    """The last epoch's validation SMSE / persistence of a run directory (``metrics.csv``),
    or None when the run records no baseline."""
    import csv
    from pathlib import Path

    path = Path(run_dir) / "metrics.csv"
    if not path.exists():
        return None
    with open(path, newline="") as fh:
        rows = list(csv.DictReader(fh))
    if not rows or not rows[-1].get("val_ratio"):
        return None
    return float(rows[-1]["val_ratio"])


def quality_warning(run_dir, max_ratio: float) -> str | None:
    """A one-line warning naming the run when it failed the quality gate (val SMSE above
    ``max_ratio`` × persistence, or no baseline recorded); None when it passed."""
    ratio = final_ratio(run_dir)
    if ratio is None:
        return f"warning: run {run_dir} records no persistence baseline; its quality is unknown"
    if not ratio <= max_ratio:  # NaN fails too
        return (
            f"warning: run {run_dir} did not learn the dynamics: validation SMSE = {ratio:.4g} x "
            f"persistence (quality gate {max_ratio:g}); its audit numbers are flagged"
        )
    return None


#: the help of ``--max-persistence-ratio`` in every command (then the command's default)
GATE_HELP = (
    "quality gate: a run passes when its validation SMSE is at most this multiple of "
    "persistence's; a run above it is flagged"
)


def add_gate_argument(parser, default: float | None = None, default_text: str | None = None):
    """The ``--max-persistence-ratio`` option: :data:`GATE_HELP` and the default, by default
    ``$SYMAUDIT_MAX_PERSISTENCE_RATIO`` (the workflow sets it for the CLIs that read a trained
    run) else the config's; ``default_text`` says what a command's own ``default`` is."""
    import os

    from symaudit.settings import QUALITY

    config = QUALITY["max_persistence_ratio"]
    if default_text is None:
        default = float(os.environ.get(GATE_VARIABLE, config))
        default_text = (
            f"${GATE_VARIABLE}, which the workflow sets from quality.max_persistence_ratio, "
            f"else {config:g}"
        )
    parser.add_argument(
        "--max-persistence-ratio",
        type=float,
        default=default,
        help=f"{GATE_HELP} (default: {default_text})",
    )


def warn_if_failed(run_dir, max_ratio: float) -> None:
    """Log :func:`quality_warning`'s line (a warning on stderr) when the run failed the gate."""
    import logging

    message = quality_warning(run_dir, max_ratio)
    if message:
        logging.getLogger("symaudit.quality").warning(message.removeprefix("warning: "))
