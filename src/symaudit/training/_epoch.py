"""The pieces of one training run below the loop: the run's fixed facts (:class:`_Run`), what a
checkpoint restores (:class:`_State`), the seeded model and optimiser, augmentation, one
epoch of optimiser steps, and the validation pass (docs/algorithms.md §3).

Batches are ``(batch, channel, y, x)``; ``batch_size`` is the GLOBAL batch, each DDP rank
taking its contiguous slice.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch

from symaudit import groups
from symaudit.losses import smse
from symaudit.models import Increment, build, input_normalisation, save_checkpoint
from symaudit.training._data import Transitions, augment, orbit_complete
from symaudit.training._dist import Dist

__all__ = ["TrainingDiverged"]

# the augmentation stream is separate from the shuffle stream, so switching augmentation on
# or off leaves the data order unchanged
_AUGMENT_SEED_OFFSET = 0x5EED


class TrainingDiverged(ValueError):
    """The training loss became NaN or infinite; the last good checkpoint is kept."""


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


def _optimiser(net: torch.nn.Module, s: Mapping) -> torch.optim.Optimizer:
    """AdamW (the reference), or plain SGD (no momentum; weight decay as an L2 term)."""
    if s["optimizer"] == "sgd":
        return torch.optim.SGD(
            net.parameters(), lr=s["lr"], momentum=0.0, weight_decay=s["weight_decay"]
        )
    return torch.optim.AdamW(net.parameters(), lr=s["lr"], weight_decay=s["weight_decay"])


@dataclass
class _Run:
    """One invocation's fixed facts: names, stores, settings, ranks, the global batch."""

    dataset: str
    model_name: str
    preset: str
    seed: int
    store_paths: Sequence
    out: Path
    s: Mapping  # resolved settings
    d: Dist
    stores: list
    identity: dict
    say: Callable[[str], None]

    @property
    def channels(self) -> list:
        return self.stores[0].channels

    @property
    def resolution(self) -> int:
        return self.stores[0].shape[-1]

    @property
    def batch(self) -> int:
        """The GLOBAL batch; each rank takes ``batch // world`` of it."""
        return self.s["batch_size"]


@dataclass
class _State:
    """What a checkpoint restores: the model, its optimiser, both generators, the history."""

    net: torch.nn.Module
    wrapped: torch.nn.Module  # ``net``, or its DDP wrapper
    optimiser: torch.optim.Optimizer
    shuffle_gen: torch.Generator
    augment_gen: torch.Generator
    history: list[dict]
    start: int  # the first epoch to run
    last_good: Path | None  # the newest checkpoint written or resumed from

    def save(self, run: _Run, path: Path, epoch: int) -> Path:
        return save_checkpoint(
            path,
            self.net,
            {"run": run.identity, "epoch": epoch},
            epoch=epoch,
            optimizer=self.optimiser.state_dict(),
            shuffle_rng=self.shuffle_gen.get_state(),
            augment_rng=self.augment_gen.get_state(),
            torch_rng=torch.get_rng_state(),
            history=self.history,
            settings=run.s,
        )


def _initial_state(run: _Run, resume: dict | None, newest: Path | None) -> _State:
    """Model (seeded init, input normalisation), optimiser and generators, restored from
    ``resume`` when given; wrapped in DDP when distributed."""
    s, d, seed = run.s, run.d, run.seed
    net = build(
        run.model_name,
        run.preset,
        len(run.channels),
        run.channels,
        resolution=run.resolution,
        generator=torch.Generator().manual_seed(seed),
        dtype=getattr(torch, s["dtype"]),
        increment=s["predict"] == "increment",
    ).to(d.device)
    _set_input_normalisation(net, run.stores)
    state = _State(
        net=net,
        wrapped=net,
        optimiser=_optimiser(net, s),
        shuffle_gen=torch.Generator().manual_seed(seed),
        augment_gen=torch.Generator().manual_seed(seed + _AUGMENT_SEED_OFFSET),
        history=[],
        start=1,
        last_good=None,
    )
    if resume is not None:
        net.load_state_dict(resume["state_dict"])
        state.optimiser.load_state_dict(resume["state"]["optimizer"])
        state.shuffle_gen.set_state(resume["state"]["shuffle_rng"])
        state.augment_gen.set_state(resume["state"]["augment_rng"])
        torch.set_rng_state(resume["state"]["torch_rng"])
        state.history = [dict(r) for r in resume["state"]["history"]]
        state.start = resume["state"]["epoch"] + 1
        state.last_good = newest
    if d.distributed:
        from torch.nn.parallel import DistributedDataParallel

        ids = [d.device.index] if d.device.type == "cuda" else None
        # the only buffers are the fixed pooling stencils: nothing to sync at each forward
        state.wrapped = DistributedDataParallel(net, device_ids=ids, forward_sync_buffers=False)
    return state


def _augmented(run: _Run, state: _State, x, y, part: slice):
    """The batch slice ``part`` under the drawn D4 elements / shifts (and its D4 orbit).

    Augmentation is drawn for the whole GLOBAL batch on every rank, so a rank's slice is
    transformed exactly as in a single-process run.
    """
    s, batch = run.s, run.batch
    elements = shifts = None
    if s["augment"]["d4"]:
        draw = torch.randint(len(groups.D4), (batch,), generator=state.augment_gen)
        elements = [groups.D4[i] for i in draw.tolist()]
    if s["augment"]["shifts"]:
        shifts = torch.randint(run.resolution, (batch, 2), generator=state.augment_gen)
    x, y = augment(
        x,
        y,
        run.channels,
        elements[part] if elements is not None else None,
        shifts[part] if shifts is not None else None,
    )
    if s["augment"]["orbit"]:  # every D4 element of every example (8x the batch)
        x, y = orbit_complete(x, y, run.channels)
    return x, y


def _train_epoch(run, state, train_set, steps: int, epoch: int, callbacks) -> float:
    """One epoch of optimiser steps; returns the sum of the global mean step losses."""
    s, d, batch = run.s, run.d, run.batch
    dtype = getattr(torch, s["dtype"])
    local = batch // d.world
    state.net.train()
    order = torch.randperm(len(train_set), generator=state.shuffle_gen)
    loss_sum = 0.0
    bar = _progress(steps, f"epoch {epoch}/{s['epochs']}", d.is_main)
    part = slice(d.rank * local, (d.rank + 1) * local)
    batches = train_set.prefetched(
        order[step * batch : (step + 1) * batch][part] for step in range(steps)
    )
    for step, (x, y) in enumerate(batches):
        x, y = _augmented(run, state, x, y, part)
        x = x.to(d.device, dtype, non_blocking=True)
        y = y.to(d.device, dtype, non_blocking=True)
        for cb in callbacks:
            cb("step", {"epoch": epoch, "step": step + 1, "model": state.net})
        loss = smse(state.wrapped(x), y)
        state.optimiser.zero_grad(set_to_none=True)
        loss.backward()
        # one scalar all-reduce per step: the global mean loss for the log AND a
        # collective finiteness test, so every rank stops at the same step
        value = float(d.all_reduce_sum(loss.detach().double().reshape(1))[0]) / d.world
        if not math.isfinite(value):
            last_good = state.last_good
            kept = f"last good checkpoint: {last_good}" if last_good else "no checkpoint yet"
            raise TrainingDiverged(
                f"non-finite training loss ({value}) at epoch {epoch}, step {step + 1} "
                f"of {steps}; stopped, {kept}"
            )
        state.optimiser.step()
        loss_sum += value
        bar.update(1)
    bar.close()
    return loss_sum
