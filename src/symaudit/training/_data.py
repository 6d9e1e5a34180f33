"""Training data: class stores, persisted trajectory splits, one-step transitions, augmentation,
and the analysis mini-batches (docs/algorithms.md §1.2-§1.5).

Fields are ``(trajectory, time, channel, y, x)`` in stores and ``(batch, channel, y, x)`` in
batches.  A transition is the pair (s_t, s_{t+1}) of one trajectory.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import torch

from symaudit import groups
from symaudit._io import write_atomic
from symaudit.datasets import ALL_DATASETS, split_sizes
from symaudit.errors import UserError
from symaudit.runs import SPLITS_FILE, analysis_batch, load_splits  # re-exported
from symaudit.store import Store, check_finite_frames, open_store  # re-exported

__all__ = [
    "Transitions",
    "analysis_batch",
    "augment",
    "check_finite_frames",
    "load_splits",
    "make_splits",
    "first_train_trajectories",
    "open_class_stores",
    "orbit_complete",
    "write_splits",
]


def open_class_stores(dataset: str, paths: Sequence[str | os.PathLike]) -> list[Store]:
    """Open the class stores of ``dataset`` (three; the validation group NSK: one), in the
    group's class order, and check that they agree (families in order, channels, square grid
    of one size)."""
    if dataset not in ALL_DATASETS:
        raise ValueError(f"unknown dataset {dataset!r}; known: {', '.join(ALL_DATASETS)}")
    families = ALL_DATASETS[dataset]
    if len(paths) != len(families):
        raise ValueError(
            f"dataset {dataset} needs {len(families)} stores ({', '.join(families)}), "
            f"got {len(paths)}"
        )
    stores = [open_store(p) for p in paths]
    first = stores[0]
    for store, family in zip(stores, families, strict=True):
        if store.family != family:
            raise ValueError(
                f"store {store.path} holds family {store.family!r} but {dataset} expects "
                f"{family!r} at this position ({', '.join(families)})"
            )
        if store.channels != first.channels:
            raise ValueError(f"store {store.path}: channels differ from {first.path}")
        if store.shape[2:] != first.shape[2:]:
            raise ValueError(
                f"store {store.path}: frame shape {store.shape[2:]} differs from "
                f"{first.shape[2:]} in {first.path}"
            )
    return stores


def make_splits(
    families: Sequence[str], sizes: Sequence[int], seed: int, train: float, val: float
) -> dict[str, dict[str, list[int]]]:
    """Seeded train/val/test trajectory splits per class.

    As in the reference, ONE generator seeded with ``seed`` is consumed class after class, so
    class 2's permutation depends on class 1's draw.  Each list keeps the permuted order (the
    k-th test trajectory of a class is ``test[k]``).  The Julia permutations cannot be
    reproduced; these lists are persisted instead (``splits.json``).
    """
    gen = torch.Generator().manual_seed(int(seed))
    out: dict[str, dict[str, list[int]]] = {}
    for family, n in zip(families, sizes, strict=True):
        perm = torch.randperm(int(n), generator=gen).tolist()
        n_train, n_val = split_sizes(int(n), train, val)
        out[family] = {
            "train": perm[:n_train],
            "val": perm[n_train : n_train + n_val],
            "test": perm[n_train + n_val :],
        }
    return out


def first_train_trajectories(splits: Mapping, k: int) -> dict[str, dict[str, list[int]]]:
    """``splits`` with each class's train list cut to its first ``k`` trajectories (config
    ``train.max_trajectories``); val and test unchanged, so the analysis examples are those of
    the full split.  One-line :class:`~symaudit.errors.UserError` when a class has fewer."""
    out = {}
    for family, parts in splits.items():
        n = len(parts["train"])
        if k > n:
            raise UserError(
                f"train.max_trajectories = {k} exceeds the train split of class {family} "
                f"({n} trajectories)"
            )
        out[family] = {**parts, "train": list(parts["train"][:k])}
    return out


def write_splits(
    run_dir: str | os.PathLike, splits: Mapping, seed: int, fractions: Mapping
) -> Path:
    """Persist ``splits`` as ``run_dir/splits.json`` (atomic)."""
    path = Path(run_dir) / SPLITS_FILE
    payload = {
        "seed": int(seed),
        "fractions": {"train": fractions["train"], "val": fractions["val"]},
        "classes": list(splits),
        "splits": {
            k: {s: list(map(int, v[s])) for s in ("train", "val", "test")}
            for k, v in splits.items()
        },
    }
    # one line per class and part: readable, and small even with thousands of trajectories
    lines = [f'{{"seed": {payload["seed"]}, "fractions": {json.dumps(payload["fractions"])},']
    lines.append(f' "classes": {json.dumps(payload["classes"])}, "splits": {{')
    for i, (family, parts) in enumerate(payload["splits"].items()):
        lines.append(f"  {json.dumps(family)}: {{")
        for j, part in enumerate(("train", "val", "test")):
            lines.append(
                f"   {json.dumps(part)}: {json.dumps(parts[part])}" + ("," if j < 2 else "")
            )
        lines.append("  }" + ("," if i < len(payload["splits"]) - 1 else ""))
    lines.append("}}")
    write_atomic(path, lambda tmp: tmp.write_text("\n".join(lines) + "\n"))
    return path


class _MemoryFrames:
    """The frames ``(trajectory, time, channel, y, x)`` of the selected trajectories of all
    classes, class after class, held in RAM (float32)."""

    def __init__(self, frames: torch.Tensor):
        self.frames = frames

    def __len__(self) -> int:
        return self.frames.shape[0]

    def pairs(self, traj: torch.Tensor, time: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Frames ``time`` and ``time + 1`` of the selected trajectories ``traj``."""
        return self.frames[traj, time], self.frames[traj, time + 1]


class _StoreFrames:
    """The same frames as :class:`_MemoryFrames`, read on demand from the class stores."""

    def __init__(self, stores: Sequence[Store], trajectories: Sequence[np.ndarray]):
        self.parts = list(zip(stores, trajectories, strict=True))
        self.offsets = np.cumsum([0] + [len(ix) for ix in trajectories])

    def __len__(self) -> int:
        return int(self.offsets[-1])

    def pairs(self, traj: torch.Tensor, time: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Frames ``time`` and ``time + 1`` of the selected trajectories ``traj``."""
        part = np.searchsorted(self.offsets, traj.numpy(), side="right") - 1
        frames = []
        for c, i, t in zip(part, traj.tolist(), time.tolist(), strict=True):
            store, index = self.parts[c]
            # a basic selection: just the two frame chunks from the trajectory's shard
            j = int(index[i - self.offsets[c]])
            pair = store.read([j], slice(t, t + 2))
            check_finite_frames(store, [j], t, pair)
            frames.append(pair[0])
        pair = torch.from_numpy(np.stack(frames))
        return pair[:, 0].contiguous(), pair[:, 1].contiguous()


class Transitions:
    """One-step pairs (s_t, s_{t+1}), t = 0 .. time_steps - 2, of the selected trajectories of
    every class, held in RAM or read batch by batch from the stores (``lazy``; the same float32
    numbers, for splits larger than memory).

    Flat index i -> trajectory i // (T - 1), time i % (T - 1): class-block order, t fastest,
    as the reference ``Dataset`` (docs/algorithms.md §1.3).
    """

    def __init__(self, frames: _MemoryFrames | _StoreFrames, time_steps: int):
        self.frames = frames
        self.steps = time_steps - 1
        self.lazy = isinstance(frames, _StoreFrames)

    def __len__(self) -> int:
        return len(self.frames) * self.steps

    def get(self, index: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Inputs and targets ``(len(index), channel, y, x)`` for flat transition indices."""
        index = torch.as_tensor(index, dtype=torch.int64)
        return self.frames.pairs(index // self.steps, index % self.steps)

    def prefetched(self, indices: Iterable[torch.Tensor]) -> Iterator[tuple[torch.Tensor, ...]]:
        """``get`` of every index block in order; for lazy data the next block is read in a
        background thread while the caller computes on the current one."""
        if not self.lazy:
            yield from (self.get(ix) for ix in indices)
            return
        with ThreadPoolExecutor(max_workers=1) as pool:
            pending = None
            for ix in indices:
                nxt = pool.submit(self.get, ix)
                if pending is not None:
                    yield pending.result()
                pending = nxt
            if pending is not None:
                yield pending.result()


def load_transitions(
    stores: Sequence[Store],
    splits: Mapping,
    parts: Sequence[str],
    time_steps: int,
    in_memory_max_gb: float = float("inf"),
) -> dict[str, Transitions]:
    """The transitions of splits ``parts`` (train | val | test) of every class.

    When the selected frames of all ``parts`` need at most ``in_memory_max_gb`` they are read
    into RAM; otherwise every batch is read from the stores on demand (``Transitions.lazy``),
    which holds no more than two batches in memory.
    """
    for store in stores:
        if store.shape[1] < time_steps:
            raise ValueError(
                f"store {store.path} has {store.shape[1]} time steps; time_steps={time_steps} "
                "needs more"
            )
    frame_bytes = 4 * int(np.prod(stores[0].shape[2:]))
    selected = sum(len(splits[st.family][p]) for st in stores for p in parts)
    lazy = selected * time_steps * frame_bytes > in_memory_max_gb * 2**30
    out = {}
    for part in parts:
        index = [np.asarray(splits[st.family][part], dtype=np.int64) for st in stores]
        if lazy:
            frames = _StoreFrames(stores, index)
        else:
            reads = [
                st.read(ix, slice(0, time_steps)) for st, ix in zip(stores, index, strict=True)
            ]
            for st, ix, block in zip(stores, index, reads, strict=True):
                check_finite_frames(st, ix, 0, block)
            frames = _MemoryFrames(torch.from_numpy(np.concatenate(reads)))
        out[part] = Transitions(frames, time_steps)
    return out


def augment(
    inputs: torch.Tensor,
    targets: torch.Tensor,
    channels: Sequence[Mapping],
    elements: Sequence[str] | None = None,
    shifts: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Apply per-example group elements to matching ``(batch, channel, y, x)`` pairs.

    ``elements[i]`` (a D4 name) acts first, then the periodic shift ``shifts[i] = (dx, dy)``;
    the same transform is applied to input and target, so the pair stays a valid transition of
    a symmetric PDE.
    """
    if elements is None and shifts is None:
        return inputs, targets
    inputs, targets = inputs.clone(), targets.clone()
    if elements is not None:
        for g in sorted(set(elements)):
            if g == "e":
                continue
            rows = torch.tensor([i for i, e in enumerate(elements) if e == g])
            inputs[rows] = groups.act(g, inputs[rows], channels)
            targets[rows] = groups.act(g, targets[rows], channels)
    if shifts is not None:
        for i, (dx, dy) in enumerate(shifts.tolist()):
            if dx or dy:
                shift = groups.Element(dx=dx, dy=dy)
                inputs[i] = groups.act(shift, inputs[i], channels)
                targets[i] = groups.act(shift, targets[i], channels)
    return inputs, targets


def orbit_complete(
    inputs: torch.Tensor,
    targets: torch.Tensor,
    channels: Sequence[Mapping],
    elements: Sequence[str] = groups.D4,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Every element of ``elements`` applied to every ``(batch, channel, y, x)`` pair: the
    orbit-complete batch ``(len(elements) * batch, channel, y, x)``, element-major (the whole
    batch under the first element, then under the second, ...).  A loss averaged over it is
    exactly the group average of the loss over the batch."""
    return (
        torch.cat([groups.act(g, inputs, channels) for g in elements]),
        torch.cat([groups.act(g, targets, channels) for g in elements]),
    )
