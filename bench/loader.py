"""Training data loading: batches read from the Zarr stores (splits larger than
``train.in_memory_max_gb``) against the in-RAM gather of the same transitions.

Writes three class stores of ``--trajectories`` trajectories at the paper's layout (128², CE's
4 channels, 17 frames, one frame per chunk, whole trajectories per shard, no compression) to
a temporary directory, then times ``Transitions.get`` of random batches of 48 both ways and
prints the ratio.  The reader runs in a prefetch thread during training, so it costs nothing
as long as a batch reads faster than a training step (paper UNet at 128² on one GPU: see the
issue notes).

    .venv/bin/python bench/loader.py
    .venv/bin/python bench/loader.py --trajectories 200 --dir /scratch/$USER
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from symaudit.datasets import DATASETS, channels_for, family
from symaudit.store import open_store, write_store
from symaudit.training._data import load_transitions, make_splits


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trajectories", type=int, default=40, help="per class")
    ap.add_argument("--resolution", type=int, default=128)
    ap.add_argument("--frames", type=int, default=17)
    ap.add_argument("--batch", type=int, default=48)
    ap.add_argument("--batches", type=int, default=50)
    ap.add_argument("--dir", default=None, help="where the stores go (default: a temp dir)")
    args = ap.parse_args()

    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        rng = np.random.default_rng(0)
        paths = []
        for name in DATASETS["CE"]:
            channels = channels_for(name)
            shape = (
                args.trajectories,
                args.frames,
                len(channels),
                args.resolution,
                args.resolution,
            )
            attrs = {
                "family": name,
                "pde": family(name).pde,
                "channels": channels,
                "time": [0.05 * t for t in range(args.frames)],
                "provenance": {"source": "bench"},
            }
            path = Path(tmp) / f"{name}.zarr"
            write_store(path, rng.standard_normal(shape, dtype=np.float32), attrs)
            paths.append(path)
        stores = [open_store(p) for p in paths]
        splits = make_splits(
            [s.family for s in stores], [s.shape[0] for s in stores], 0, 0.65, 0.05
        )
        gb = sum(s.array.nbytes for s in stores) / 2**30
        t0 = time.perf_counter()
        ram = load_transitions(stores, splits, ("train",), args.frames)["train"]
        t_load = time.perf_counter() - t0
        lazy = load_transitions(stores, splits, ("train",), args.frames, 0.0)["train"]
        gen = torch.Generator().manual_seed(0)
        blocks = [
            torch.randperm(len(ram), generator=gen)[: args.batch] for _ in range(args.batches)
        ]
        timings = {}
        for label, data in (("in RAM", ram), ("from stores", lazy)):
            data.get(blocks[0])  # warm-up
            t0 = time.perf_counter()
            for b in blocks:
                data.get(b)
            timings[label] = (time.perf_counter() - t0) / len(blocks)
        print(
            f"# 3 stores of {args.trajectories} x {args.frames} x 4 x {args.resolution}² "
            f"({gb:.2f} GB); in-RAM load of the train split {t_load:.1f} s"
        )
        print(f"| reader | ms per batch of {args.batch} | MB/s | ratio to in RAM |")
        print("|---|---|---|---|")
        mb = args.batch * 2 * 4 * 4 * args.resolution**2 / 2**20
        for label, sec in timings.items():
            print(f"| {label} | {sec * 1e3:.1f} | {mb / sec:.0f} | {sec / timings['in RAM']:.1f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
