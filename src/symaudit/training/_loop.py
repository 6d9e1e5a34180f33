"""Seeded, resumable, optionally distributed training of one (dataset group, model, seed) run.

What a run directory ``DIR`` holds after :func:`train`:

* ``splits.json`` — the seeded train/val/test trajectory lists per class (persisted, because
  the reference's Julia permutations cannot be regenerated).
* ``ckpt_epoch{E:04d}.pt`` — at epoch 1, every ``checkpoint_every`` epochs and at the last
  epoch (the analyses need early epochs, docs/algorithms.md §3.3); ``final.pt`` — the finished run.
  Every checkpoint holds the model, the AdamW state, the data-order and augmentation generator
  states and the metric history, so a resumed run continues bit-for-bit (CPU, deterministic).
* ``metrics.csv`` — :data:`METRICS_COLUMNS` [, equiv_fraction]: the SMSEs, the persistence
  baseline on the same validation transitions and the model/persistence ratio, per epoch.
* ``config.yaml`` — resolved settings, arguments, torch version, git revision.
* ``training_curve.png`` — train/val SMSE per epoch, log y.

Only rank 0 writes.  The optimisation follows the reference (docs/algorithms.md §3): AdamW with
lr 5e-4 and decoupled weight decay 1e-4 on every parameter (the reference CODE's value; the
paper TEXT says 1e-6), constant learning rate, no clipping, SMSE loss, float32, batches of
``batch_size`` transitions with the last incomplete batch dropped.  Beyond the reference, for
the conservation study: ``optimizer: sgd`` (plain SGD) and ``augment.orbit`` (every D4 element
of every example in each batch, so the loss is exactly group-averaged).

Difference from the reference, on purpose: ``batch_size`` is the GLOBAL batch, cut into equal
disjoint slices across DDP ranks, so k ranks give the same optimisation as one process.  The
reference gave each of its 2 GPUs its own batch of 48 drawn from a contiguous, class-biased
half of the data (effective batch 96, docs/algorithms.md §1.4); set ``batch_size: 96`` to match its
effective batch size.
"""

from __future__ import annotations

import contextlib
import csv
import json
import math
import os
import re
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import torch

from symaudit._io import atomic_path, write_atomic
from symaudit.baselines import split_persistence
from symaudit.models import (
    MODELS,
    PRESETS,
    fused_attention,
)
from symaudit.outputs import FINAL_CHECKPOINT, checkpoint_name
from symaudit.store import git_revision
from symaudit.training._data import (
    SPLITS_FILE,
    first_train_trajectories,
    load_splits,
    load_transitions,
    make_splits,
    open_class_stores,
    write_splits,
)
from symaudit.training._dist import setup, teardown
from symaudit.training._epoch import (
    TrainingDiverged,
    _evaluate,
    _initial_state,
    _Run,
    _train_epoch,
)
from symaudit.training._equiv import equivariance_fraction
from symaudit.training._resume import newest_checkpoint
from symaudit.training._settings import resolve_settings, run_defining

__all__ = ["TrainingDiverged", "train"]

FINAL = FINAL_CHECKPOINT
#: the columns of a run's metrics.csv (``equiv_fraction`` follows when tracked): ``steps`` =
#: optimiser steps so far; ``val_persistence_smse`` = the SMSE of predicting no change on the
#: same validation transitions; ``val_ratio`` = val_smse / val_persistence_smse (< 1: the model
#: beats persistence)
METRICS_COLUMNS = (
    "epoch",
    "steps",
    "train_smse",
    "val_smse",
    "val_persistence_smse",
    "val_ratio",
    "wall_time_s",
)
_CKPT_RE = re.compile(r"^ckpt_epoch(\d{4,})\.pt$")
# the augmentation stream is separate from the shuffle stream, so switching augmentation on
# or off leaves the data order unchanged
_AUGMENT_SEED_OFFSET = 0x5EED

Callback = Callable[[str, dict], None]


def _is_checkpoint_epoch(epoch: int, settings: Mapping) -> bool:
    return epoch == 1 or epoch % settings["checkpoint_every"] == 0 or epoch == settings["epochs"]


def _identity(dataset, model, preset, seed, stores, settings, name=None) -> dict:
    """What makes two invocations the same run (``epochs`` excluded: a finished run may be
    extended by asking for more epochs).  ``name`` (the run's model name in its study when it
    differs from the architecture, e.g. ``unet-aug``) is recorded only when given."""
    identity = {
        "dataset": dataset,
        "model": model,
        "preset": preset,
        "seed": int(seed),
        "stores": [{"family": s.family, "shape": list(s.shape)} for s in stores],
        "settings": {k: v for k, v in run_defining(settings).items() if k != "epochs"},
    }
    if name is not None and name != model:
        identity["name"] = name
    return identity


def _first_difference(a, b, prefix: str = "") -> str | None:
    if isinstance(a, Mapping) and isinstance(b, Mapping):
        for key in list(a) + [k for k in b if k not in a]:
            diff = _first_difference(a.get(key), b.get(key), f"{prefix}{key}.")
            if diff:
                return diff
        return None
    return None if a == b else f"{prefix.rstrip('.')}: {a!r} != {b!r}"


def _check_splits(splits: Mapping, stores, path: Path) -> None:
    for store in stores:
        if store.family not in splits:
            raise ValueError(f"{path}: no split for class {store.family} (a different dataset?)")
        n = store.shape[0]
        for part, index in splits[store.family].items():
            if index and not 0 <= min(index) <= max(index) < n:
                raise ValueError(f"{path}: {store.family} {part} indices exceed the store's {n}")


def _write_csv(rows: Sequence[Mapping], path: Path, columns: Sequence[str]) -> None:
    with atomic_path(path) as tmp, open(tmp, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(columns), extrasaction="ignore")
        writer.writeheader()
        for row in rows:
            writer.writerow({k: ("" if row.get(k) is None else row.get(k)) for k in columns})


def _write_yaml(data: Mapping, path: Path) -> None:
    import yaml

    write_atomic(path, lambda tmp: tmp.write_text(yaml.safe_dump(dict(data), sort_keys=False)))


@contextlib.contextmanager
def _cpu_threads(threads: int, device: torch.device):
    """On a CPU, torch's thread count for the duration of the run (``train.threads``; global,
    so restored afterwards).

    The thread count is part of a CPU run's numbers: reductions split over another number of
    threads round differently, and training amplifies that into another model (docs/training.md,
    "Precision, threads and machines"), so it comes from the settings, not from the job's
    allocation.  A GPU run keeps the process's count.
    """
    before = torch.get_num_threads()
    if device.type == "cpu":
        torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)


@contextlib.contextmanager
def _determinism(enabled: bool):
    """Deterministic kernels for the duration of the run (restored afterwards: it is global)."""
    before = torch.are_deterministic_algorithms_enabled()
    before_warn = torch.is_deterministic_algorithms_warn_only_enabled()
    before_cudnn = torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark
    if enabled:
        # cuBLAS needs this before its first use to be reproducible
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        # warn_only: a kernel without a deterministic variant warns instead of failing the run
        torch.use_deterministic_algorithms(True, warn_only=True)
        torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = True, False
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(before, warn_only=before_warn)
        torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = before_cudnn


def train(
    dataset: str,
    model: str,
    preset: str,
    seed: int,
    stores: Sequence[str | os.PathLike],
    out: str | os.PathLike,
    settings: Mapping | None = None,
    *,
    device: str | torch.device | None = None,
    callbacks: Sequence[Callback] = (),
    equivariance_fn: Callable | None = equivariance_fraction,
    log: Callable[[str], None] | None = print,
    name: str | None = None,
) -> Path:
    """Train (or resume, or skip) one run and return the path of its ``final.pt``.

    Parameters
    ----------
    dataset : str
        ``CE`` or ``NS``.
    model, preset : str
        A model name and preset of :mod:`symaudit.models`.
    seed : int
        Drives the splits, the initial weights and the data order (explicit generators, each
        started from ``seed`` as in the reference).
    stores : three paths
        The group's class stores in class order, each ``(trajectory, time, channel, y, x)``.
    out : path
        The run directory.  If it holds a finished matching run, nothing is done; if it holds
        checkpoints of a matching run, training resumes from the newest; a different run
        there is an error.
    settings : mapping, optional
        The config's ``train`` section (see :data:`symaudit.training.DEFAULTS`).
    device : optional
        ``cpu`` / ``cuda``; default: the GPU when available (``cuda:LOCAL_RANK`` under DDP).
    callbacks : sequence of callables ``cb(event, info)``
        Called with ``"step"`` (before each optimiser step's forward pass; info: epoch, step,
        model) and ``"epoch_end"`` (info: epoch, row, model, checkpoint).  An exception raised
        by a callback stops training as a kill would.
    equivariance_fn : callable, optional
        ``fn(model, inputs, targets, channels, reduction="terms") -> (equiv_sum, total_sum)``,
        used at checkpoint epochs when ``track_equivariance`` is on.
    log : callable, optional
        Where rank 0's one-line progress messages go (``None`` silences them).
    name : str, optional
        The run's model name in its study when it is a variant of the architecture ``model``
        (e.g. ``unet-aug``: the UNet trained with augmentation).  Recorded in the checkpoints'
        run identity (``meta["run"]["name"]``), which the equivariance and influence stages
        label their outputs with; the checkpoint's architecture stays ``model``.

    Raises
    ------
    TrainingDiverged
        On a NaN/inf loss, naming the epoch and step; checkpoints written so far are kept.
    """
    s = resolve_settings(settings)
    _check_names(model, preset)  # before anything touches the run directory
    d = setup(device)
    say = log if (log is not None and d.is_main) else (lambda _msg: None)
    try:
        with _determinism(s["deterministic"]), _cpu_threads(s["threads"], d.device):
            return _train(
                dataset,
                model,
                preset,
                int(seed),
                stores,
                Path(out),
                s,
                d,
                callbacks,
                equivariance_fn,
                say,
                name,
            )
    finally:
        teardown(d)


def _check_names(model: str, preset: str) -> None:
    """One-line errors for a model or preset :mod:`symaudit.models` does not know."""
    if model not in MODELS:
        raise ValueError(f"unknown model {model!r}; known: {', '.join(MODELS)}")
    if preset not in PRESETS:
        raise ValueError(f"unknown preset {preset!r}; known: {', '.join(PRESETS)}")


def _resume_point(run: _Run) -> tuple[Path | None, dict | None, bool]:
    """(newest checkpoint, its payload, finished?) of a matching run in ``run.out``; raises
    when the directory belongs to a different run or holds more epochs than asked for."""
    out, s = run.out, run.s
    newest, payload = newest_checkpoint(out, FINAL, _CKPT_RE, run.say)
    if newest is None:
        return None, None, False
    diff = _first_difference(payload["meta"].get("run"), run.identity)
    if diff:
        raise ValueError(f"{newest} belongs to a different run ({diff}); use another --out")
    done = payload["state"]["epoch"]
    if done > s["epochs"]:
        raise ValueError(f"{newest} has {done} epochs, more than the requested {s['epochs']}")
    if done == s["epochs"] and newest.name == FINAL:
        run.say(f"train: {out / FINAL} is complete ({done} epochs); nothing to do")
        return newest, payload, True
    run.say(f"train: resuming from {newest.name} (epoch {done})")
    return newest, payload, False


def _run_splits(run: _Run) -> dict:
    """The run's persisted splits (checked against seed and fractions), or new ones written."""
    split_path = run.out / SPLITS_FILE
    fractions, seed, stores = run.s["split"], run.seed, run.stores
    if split_path.exists():
        recorded = json.loads(split_path.read_text())
        if recorded.get("seed") != seed or recorded.get("fractions") != fractions:
            raise ValueError(
                f"{split_path} was made with seed {recorded.get('seed')} and fractions "
                f"{recorded.get('fractions')}, not seed {seed} and {fractions}; use another --out"
            )
        splits = load_splits(run.out)
        _check_splits(splits, stores, split_path)
        return splits
    splits = make_splits(
        [st.family for st in stores],
        [st.shape[0] for st in stores],
        seed,
        fractions["train"],
        fractions["val"],
    )
    if run.d.is_main:
        write_splits(run.out, splits, seed, fractions)
    return splits


def _training_data(run: _Run, splits: Mapping):
    """(train transitions, val transitions, val persistence SMSE, optimiser steps per epoch)."""
    s, stores, batch = run.s, run.stores, run.batch
    used = splits  # the whole train split, or its first max_trajectories per class
    if s["max_trajectories"] is not None:
        used = first_train_trajectories(splits, s["max_trajectories"])
    data = load_transitions(stores, used, ("train", "val"), s["time_steps"], s["in_memory_max_gb"])
    train_set, val_set = data["train"], data["val"]
    # the baseline every epoch is judged against: predicting no change (s_{t+1} = s_t)
    persistence = split_persistence(stores, splits, "val", s["time_steps"])
    steps = len(train_set) // batch  # the last incomplete batch is dropped
    if s["max_batches_per_epoch"] is not None:
        steps = min(steps, s["max_batches_per_epoch"])
    if steps == 0:
        raise ValueError(
            f"the train split has {len(train_set)} transitions, fewer than one batch of {batch}"
        )
    return train_set, val_set, persistence, steps


def _write_run_config(run: _Run, resumed_from: int | None) -> None:
    import symaudit

    _write_yaml(
        {
            "dataset": run.dataset,
            "model": run.model_name,
            "preset": run.preset,
            "seed": run.seed,
            "stores": [str(p) for p in run.store_paths],
            "out": str(run.out),
            "settings": run.s,
            "resolution": run.resolution,
            "channels": run.channels,
            "world_size": run.d.world,
            "device": str(run.d.device),
            "resumed_from_epoch": resumed_from,
            "torch": str(torch.__version__),
            "symaudit": symaudit.__version__,
            "git_revision": git_revision(),
        },
        run.out / "config.yaml",
    )


def _train(
    dataset, model_name, preset, seed, store_paths, out, s, d, callbacks, equiv_fn, say, name=None
):
    stores = open_class_stores(dataset, store_paths)
    batch = s["batch_size"]
    if batch % d.world:
        raise ValueError(f"batch_size {batch} is not divisible by the {d.world} DDP ranks")
    identity = _identity(dataset, model_name, preset, seed, stores, s, name)
    run = _Run(dataset, model_name, preset, seed, store_paths, out, s, d, stores, identity, say)
    if d.is_main:
        if out.exists() and not out.is_dir():  # mkdir would raise FileExistsError
            raise PermissionError(f"run directory {out} exists and is not a directory")
        out.mkdir(parents=True, exist_ok=True)
        if not os.access(out, os.W_OK):
            raise PermissionError(f"run directory {out} is not writable")
    newest, resume, finished = _resume_point(run)
    if finished:
        return out / FINAL

    train_set, val_set, persistence, steps = _training_data(run, _run_splits(run))
    state = _initial_state(run, resume, newest)
    columns = list(METRICS_COLUMNS)
    columns += ["equiv_fraction"] if s["track_equivariance"] else []
    if d.is_main:
        _write_run_config(run, state.start - 1 if resume is not None else None)
    fused = fused_attention(d.device.type == "cuda")  # fused kernels only where they pay off
    with fused:
        for epoch in range(state.start, s["epochs"] + 1):
            t0 = time.perf_counter()
            loss_sum = _train_epoch(run, state, train_set, steps, epoch, callbacks)
            state.net.eval()
            is_ckpt = _is_checkpoint_epoch(epoch, s)
            track = equiv_fn if (s["track_equivariance"] and is_ckpt) else None
            val, equiv = _evaluate(state.net, val_set, d, batch, run.channels, track)
            row = {
                "epoch": epoch,
                "steps": epoch * steps,
                "train_smse": loss_sum / steps,
                "val_smse": val,
                "val_persistence_smse": persistence,
                "val_ratio": val / persistence if persistence > 0 else math.nan,
                "wall_time_s": round(time.perf_counter() - t0, 3),
            }
            if s["track_equivariance"]:
                row["equiv_fraction"] = equiv
            state.history.append(row)
            path = None
            if d.is_main:
                _write_csv(state.history, out / "metrics.csv", columns)
                if is_ckpt:
                    path = state.last_good = state.save(run, out / checkpoint_name(epoch), epoch)
            say(
                f"epoch {epoch}/{s['epochs']}: train_smse {row['train_smse']:.4g} "
                f"val_smse {val:.4g} = {row['val_ratio']:.3g} x persistence "
                f"({row['wall_time_s']:.1f} s)"
            )
            for cb in callbacks:
                info = {"epoch": epoch, "row": row, "model": state.net, "checkpoint": path}
                cb("epoch_end", info)
    if d.is_main:
        # rewritten here too: a run resumed from its last checkpoint runs no epoch, and the
        # workflow deletes a failed job's metrics.csv before retrying it
        _write_csv(state.history, out / "metrics.csv", columns)
        state.save(run, out / FINAL, s["epochs"])
        from symaudit.training._plot import plot_training_curve

        plot_training_curve(
            state.history,
            out / "training_curve.png",
            f"{dataset} {name or model_name} ({preset}), seed {seed}",
        )
    d.barrier()
    return out / FINAL
