"""Seeded, resumable, optionally distributed training of one (dataset group, model, seed) run.

What a run directory ``DIR`` holds after :func:`train`:

* ``splits.json`` — the seeded train/val/test trajectory lists per class (persisted, because
  the reference's Julia permutations cannot be regenerated).
* ``ckpt_epoch{E:04d}.pt`` — at epoch 1, every ``checkpoint_every`` epochs and at the last
  epoch (the analyses need early epochs, pitfall §9.12); ``final.pt`` — the finished run.
  Every checkpoint holds the model, the AdamW state, the data-order and augmentation generator
  states and the metric history, so a resumed run continues bit-for-bit (CPU, deterministic).
* ``metrics.csv`` — :data:`METRICS_COLUMNS` [, equiv_fraction]: the SMSEs, the persistence
  baseline on the same validation transitions and the model/persistence ratio, per epoch.
* ``config.yaml`` — resolved settings, arguments, torch version, git revision.
* ``training_curve.png`` — train/val SMSE per epoch, log y.

Only rank 0 writes.  The optimisation follows the reference (pdehats.md §3): AdamW with
lr 5e-4 and decoupled weight decay 1e-4 on every parameter (the reference CODE's value; the
paper TEXT says 1e-6), constant learning rate, no clipping, SMSE loss, float32, batches of
``batch_size`` transitions with the last incomplete batch dropped.  Beyond the reference, for
the conservation study: ``optimizer: sgd`` (plain SGD) and ``augment.orbit`` (every D4 element
of every example in each batch, so the loss is exactly group-averaged).

Difference from the reference, on purpose: ``batch_size`` is the GLOBAL batch, cut into equal
disjoint slices across DDP ranks, so k ranks give the same optimisation as one process.  The
reference gave each of its 2 GPUs its own batch of 48 drawn from a contiguous, class-biased
half of the data (effective batch 96, pitfall §9.10); set ``batch_size: 96`` to match its
effective batch size.
"""

from __future__ import annotations

import contextlib
import csv
import json
import math
import os
import re
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import torch

from symaudit import groups
from symaudit._io import atomic_path, write_atomic
from symaudit.baselines import split_persistence
from symaudit.losses import smse
from symaudit.models import (
    MODELS,
    PRESETS,
    Increment,
    build,
    fused_attention,
    input_normalisation,
    read_checkpoint,
    save_checkpoint,
)
from symaudit.store import git_revision
from symaudit.training._data import (
    SPLITS_FILE,
    Transitions,
    augment,
    load_splits,
    load_transitions,
    make_splits,
    open_class_stores,
    orbit_complete,
    write_splits,
)
from symaudit.training._dist import Dist, setup, teardown
from symaudit.training._equiv import equivariance_fraction
from symaudit.training._settings import resolve_settings, run_defining

__all__ = ["TrainingDiverged", "train"]

FINAL = "final.pt"
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


class TrainingDiverged(ValueError):
    """The training loss became NaN or infinite; the last good checkpoint is kept."""


def checkpoint_name(epoch: int) -> str:
    return f"ckpt_epoch{epoch:04d}.pt"


def _set_input_normalisation(net, stores) -> None:
    """An increment model standardises its input with the training stores' statistics (pooled
    over the classes; stored in the checkpoint as buffers, so a resumed run restores them)."""
    shift, scale = input_normalisation(
        stores[0].channels,
        [st.attrs["stats"] for st in stores],
        [st.shape[0] * st.shape[1] for st in stores],
    )
    for module in net.modules():
        if isinstance(module, Increment):
            module.shift.copy_(shift.to(module.shift.dtype))
            module.scale.copy_(scale.to(module.scale.dtype))


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


def _newest_checkpoint(out: Path) -> tuple[Path, dict] | tuple[None, None]:
    """The checkpoint with the most epochs and its payload; ``final.pt`` wins ties.

    (``final.pt`` is not always the newest: a finished run being extended writes
    ``ckpt_epoch*.pt`` beyond it before the new ``final.pt`` replaces it.)
    """
    found = [
        (int(m.group(1)), 0, p) for p in out.glob("ckpt_epoch*.pt") if (m := _CKPT_RE.match(p.name))
    ]
    final = read_checkpoint(out / FINAL) if (out / FINAL).exists() else None
    if final is not None:
        found.append((int(final["state"]["epoch"]), 1, out / FINAL))
    if not found:
        return None, None
    _, _, path = max(found)
    return path, (final if path.name == FINAL else read_checkpoint(path))


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


@torch.no_grad()
def _evaluate(
    model, data: Transitions, d: Dist, chunk: int, channels, equivariance_fn=None
) -> tuple[float, float | None]:
    """Mean per-example SMSE over ``data`` (and optionally L_equiv / L), ranks sharing the work."""
    n = len(data)
    lo, hi = n * d.rank // d.world, n * (d.rank + 1) // d.world  # this rank's contiguous share
    sums = torch.zeros(4, dtype=torch.float64)  # smse sum, count, equiv sum, total sum
    for start in range(lo, hi, chunk):
        x, y = data.get(torch.arange(start, min(start + chunk, hi)))
        dtype = next(model.parameters()).dtype
        x, y = x.to(d.device, dtype), y.to(d.device, dtype)
        sums[0] += smse(model(x), y, reduction="per_example").double().sum().cpu()
        sums[1] += len(x)
        if equivariance_fn is not None:
            equiv, total = equivariance_fn(model, x, y, channels, reduction="terms")
            sums[2] += float(equiv)
            sums[3] += float(total)
    sums = d.all_reduce_sum(sums)
    val = float(sums[0] / sums[1]) if sums[1] > 0 else math.nan
    if equivariance_fn is None:
        return val, None
    return val, (float(sums[2] / sums[3]) if sums[3] > 0 else math.nan)


def _progress(total: int, desc: str, enabled: bool):
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, leave=False, disable=not (enabled and sys.stderr.isatty()))


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
    # refuse bad names before anything touches the run directory
    if model not in MODELS:
        raise ValueError(f"unknown model {model!r}; known: {', '.join(MODELS)}")
    if preset not in PRESETS:
        raise ValueError(f"unknown preset {preset!r}; known: {', '.join(PRESETS)}")
    d = setup(device)
    say = log if (log is not None and d.is_main) else (lambda _msg: None)
    try:
        with _determinism(s["deterministic"]):
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


def _optimiser(net: torch.nn.Module, s: Mapping) -> torch.optim.Optimizer:
    """AdamW (the reference), or plain SGD (no momentum; weight decay as an L2 term)."""
    if s["optimizer"] == "sgd":
        return torch.optim.SGD(
            net.parameters(), lr=s["lr"], momentum=0.0, weight_decay=s["weight_decay"]
        )
    return torch.optim.AdamW(net.parameters(), lr=s["lr"], weight_decay=s["weight_decay"])


def _train(
    dataset, model_name, preset, seed, store_paths, out, s, d, callbacks, equiv_fn, say, name=None
):
    stores = open_class_stores(dataset, store_paths)
    channels = stores[0].channels
    resolution, batch = stores[0].shape[-1], s["batch_size"]
    if batch % d.world:
        raise ValueError(f"batch_size {batch} is not divisible by the {d.world} DDP ranks")
    local = batch // d.world
    identity = _identity(dataset, model_name, preset, seed, stores, s, name)
    if d.is_main:
        out.mkdir(parents=True, exist_ok=True)
        if not os.access(out, os.W_OK):
            raise PermissionError(f"run directory {out} is not writable")

    # ---- resume or skip ------------------------------------------------------------------
    resume = None
    newest, payload = _newest_checkpoint(out) if out.exists() else (None, None)
    if newest is not None:
        diff = _first_difference(payload["meta"].get("run"), identity)
        if diff:
            raise ValueError(f"{newest} belongs to a different run ({diff}); use another --out")
        done = payload["state"]["epoch"]
        if done > s["epochs"]:
            raise ValueError(f"{newest} has {done} epochs, more than the requested {s['epochs']}")
        if done == s["epochs"] and newest.name == FINAL:
            say(f"train: {out / FINAL} is complete ({done} epochs); nothing to do")
            return out / FINAL
        resume = payload
        say(f"train: resuming from {newest.name} (epoch {done})")

    # ---- splits and data -------------------------------------------------------------------
    split_path = out / SPLITS_FILE
    fractions = s["split"]
    if split_path.exists():
        recorded = json.loads(split_path.read_text())
        if recorded.get("seed") != seed or recorded.get("fractions") != fractions:
            raise ValueError(
                f"{split_path} was made with seed {recorded.get('seed')} and fractions "
                f"{recorded.get('fractions')}, not seed {seed} and {fractions}; use another --out"
            )
        splits = load_splits(out)
        _check_splits(splits, stores, split_path)
    else:
        splits = make_splits(
            [st.family for st in stores],
            [st.shape[0] for st in stores],
            seed,
            fractions["train"],
            fractions["val"],
        )
        if d.is_main:
            write_splits(out, splits, seed, fractions)
    data = load_transitions(
        stores, splits, ("train", "val"), s["time_steps"], s["in_memory_max_gb"]
    )
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

    # ---- model, optimiser, generators ------------------------------------------------------
    net = build(
        model_name,
        preset,
        len(channels),
        channels,
        resolution=resolution,
        generator=torch.Generator().manual_seed(seed),
        dtype=getattr(torch, s["dtype"]),
        increment=s["predict"] == "increment",
    ).to(d.device)
    _set_input_normalisation(net, stores)
    optimiser = _optimiser(net, s)
    shuffle_gen = torch.Generator().manual_seed(seed)
    augment_gen = torch.Generator().manual_seed(seed + _AUGMENT_SEED_OFFSET)
    history: list[dict] = []
    start = 1
    last_good = None
    if resume is not None:
        net.load_state_dict(resume["state_dict"])
        optimiser.load_state_dict(resume["state"]["optimizer"])
        shuffle_gen.set_state(resume["state"]["shuffle_rng"])
        augment_gen.set_state(resume["state"]["augment_rng"])
        torch.set_rng_state(resume["state"]["torch_rng"])
        history = [dict(r) for r in resume["state"]["history"]]
        start = resume["state"]["epoch"] + 1
        last_good = newest
    wrapped = net
    if d.distributed:
        from torch.nn.parallel import DistributedDataParallel

        ids = [d.device.index] if d.device.type == "cuda" else None
        # the only buffers are the fixed pooling stencils: nothing to sync at each forward
        wrapped = DistributedDataParallel(net, device_ids=ids, forward_sync_buffers=False)

    columns = list(METRICS_COLUMNS)
    columns += ["equiv_fraction"] if s["track_equivariance"] else []
    if d.is_main:
        import symaudit

        _write_yaml(
            {
                "dataset": dataset,
                "model": model_name,
                "preset": preset,
                "seed": seed,
                "stores": [str(p) for p in store_paths],
                "out": str(out),
                "settings": s,
                "resolution": resolution,
                "channels": channels,
                "world_size": d.world,
                "device": str(d.device),
                "resumed_from_epoch": start - 1 if resume is not None else None,
                "torch": str(torch.__version__),
                "symaudit": symaudit.__version__,
                "git_revision": git_revision(),
            },
            out / "config.yaml",
        )
    dtype = getattr(torch, s["dtype"])
    fused = fused_attention(d.device.type == "cuda")  # fused kernels only where they pay off

    def save(path: Path, epoch: int) -> Path:
        return save_checkpoint(
            path,
            net,
            {"run": identity, "epoch": epoch},
            epoch=epoch,
            optimizer=optimiser.state_dict(),
            shuffle_rng=shuffle_gen.get_state(),
            augment_rng=augment_gen.get_state(),
            torch_rng=torch.get_rng_state(),
            history=history,
            settings=s,
        )

    # ---- epochs ------------------------------------------------------------------------------
    with fused:
        for epoch in range(start, s["epochs"] + 1):
            t0 = time.perf_counter()
            net.train()
            order = torch.randperm(len(train_set), generator=shuffle_gen)
            loss_sum = 0.0
            bar = _progress(steps, f"epoch {epoch}/{s['epochs']}", d.is_main)
            part = slice(d.rank * local, (d.rank + 1) * local)
            batches = train_set.prefetched(
                order[step * batch : (step + 1) * batch][part] for step in range(steps)
            )
            for step, (x, y) in enumerate(batches):
                # augmentation is drawn for the whole GLOBAL batch on every rank, so a rank's
                # slice is transformed exactly as in a single-process run
                elements = shifts = None
                if s["augment"]["d4"]:
                    draw = torch.randint(len(groups.D4), (batch,), generator=augment_gen)
                    elements = [groups.D4[i] for i in draw.tolist()]
                if s["augment"]["shifts"]:
                    shifts = torch.randint(resolution, (batch, 2), generator=augment_gen)
                x, y = augment(
                    x,
                    y,
                    channels,
                    elements[part] if elements is not None else None,
                    shifts[part] if shifts is not None else None,
                )
                if s["augment"]["orbit"]:  # every D4 element of every example (8x the batch)
                    x, y = orbit_complete(x, y, channels)
                x = x.to(d.device, dtype, non_blocking=True)
                y = y.to(d.device, dtype, non_blocking=True)
                for cb in callbacks:
                    cb("step", {"epoch": epoch, "step": step + 1, "model": net})
                loss = smse(wrapped(x), y)
                optimiser.zero_grad(set_to_none=True)
                loss.backward()
                # one scalar all-reduce per step: the global mean loss for the log AND a
                # collective finiteness test, so every rank stops at the same step
                value = float(d.all_reduce_sum(loss.detach().double().reshape(1))[0]) / d.world
                if not math.isfinite(value):
                    kept = (
                        f"last good checkpoint: {last_good}" if last_good else "no checkpoint yet"
                    )
                    raise TrainingDiverged(
                        f"non-finite training loss ({value}) at epoch {epoch}, step {step + 1} "
                        f"of {steps}; stopped, {kept}"
                    )
                optimiser.step()
                loss_sum += value
                bar.update(1)
            bar.close()
            net.eval()
            is_ckpt = _is_checkpoint_epoch(epoch, s)
            track = equiv_fn if (s["track_equivariance"] and is_ckpt) else None
            val, equiv = _evaluate(net, val_set, d, batch, channels, track)
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
            history.append(row)
            path = None
            if d.is_main:
                _write_csv(history, out / "metrics.csv", columns)
                if is_ckpt:
                    path = last_good = save(out / checkpoint_name(epoch), epoch)
            say(
                f"epoch {epoch}/{s['epochs']}: train_smse {row['train_smse']:.4g} "
                f"val_smse {val:.4g} = {row['val_ratio']:.3g} x persistence "
                f"({row['wall_time_s']:.1f} s)"
            )
            for cb in callbacks:
                cb("epoch_end", {"epoch": epoch, "row": row, "model": net, "checkpoint": path})
    if d.is_main:
        # rewritten here too: a run resumed from its last checkpoint runs no epoch, and the
        # workflow deletes a failed job's metrics.csv before retrying it
        _write_csv(history, out / "metrics.csv", columns)
        save(out / FINAL, s["epochs"])
        from symaudit.training._plot import plot_training_curve

        plot_training_curve(
            history,
            out / "training_curve.png",
            f"{dataset} {name or model_name} ({preset}), seed {seed}",
        )
    d.barrier()
    return out / FINAL
