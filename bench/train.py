"""Training throughput (transitions per second) of every model and preset on this machine.

One training step = forward, SMSE loss, backward and an AdamW update, exactly what
``symaudit train`` does per batch (without data loading, which is an in-RAM gather).  Each
configuration is warmed up with one small step, then timed over whole steps until
``--min-time`` seconds have passed (at least one step).

    .venv/bin/python bench/train.py                       # 32^2 and 64^2, plus paper at 128^2
    .venv/bin/python bench/train.py --sizes 32 --threads 1

The paper presets at 128^2 are timed with a reduced batch (``--paper128-batch``, default 4):
a batch of 48 takes minutes per step on a 2-core CPU.  Convolutions and attention cost the
same per example at any batch size on CPU, so transitions/s stays comparable.
"""

from __future__ import annotations

import argparse
import os
import platform
import time

import torch

from symaudit.losses import smse
from symaudit.models import PRESETS, build, count_parameters


def step_time(model, optimiser, x, y) -> float:
    t0 = time.perf_counter()
    loss = smse(model(x), y)
    optimiser.zero_grad(set_to_none=True)
    loss.backward()
    optimiser.step()
    return time.perf_counter() - t0


def bench_one(name: str, preset: str, size: int, batch: int, min_time: float, channels: int):
    gen = torch.Generator().manual_seed(0)
    model = build(name, preset, channels, resolution=size, generator=gen)
    optimiser = torch.optim.AdamW(model.parameters(), lr=5e-4, weight_decay=1e-4)
    x = torch.randn(batch, channels, size, size, generator=gen)
    y = torch.randn(batch, channels, size, size, generator=gen)
    step_time(model, optimiser, x[: min(batch, 2)], y[: min(batch, 2)])  # warm-up
    times = []
    while not times or sum(times) < min_time:
        times.append(step_time(model, optimiser, x, y))
    per_step = sum(times) / len(times)
    return count_parameters(model), per_step, batch / per_step, len(times)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["unet", "vit"])
    parser.add_argument("--presets", nargs="+", default=["tiny", "small", "paper"])
    parser.add_argument("--sizes", nargs="+", type=int, default=[32, 64])
    parser.add_argument("--batch", type=int, default=48)
    parser.add_argument("--channels", type=int, default=4, help="4 = CE, 2 = NS")
    parser.add_argument("--min-time", type=float, default=3.0, help="seconds timed per config")
    parser.add_argument("--threads", type=int, default=None, help="torch intra-op threads")
    parser.add_argument(
        "--paper128-batch", type=int, default=4, help="batch for paper presets at 128^2 (0: skip)"
    )
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    print(
        f"# torch {torch.__version__}, {platform.processor() or platform.machine()}, "
        f"{os.cpu_count()} CPUs, {torch.get_num_threads()} threads, "
        f"load average {os.getloadavg()[0]:.1f}, float32, {args.channels} channels"
    )
    configs = [(m, p, s, args.batch) for m in args.models for p in args.presets for s in args.sizes]
    if args.paper128_batch and "paper" in args.presets:
        configs += [(m, "paper", 128, args.paper128_batch) for m in args.models]
    header = f"{'model':<6} {'preset':<6} {'N':>4} {'params':>10} {'batch':>5} "
    header += f"{'s/step':>8} {'transitions/s':>14} {'steps':>5}"
    print(header)
    print("-" * len(header))
    for name, preset, size, batch in configs:
        if preset not in PRESETS:
            raise SystemExit(f"unknown preset {preset}")
        params, per_step, rate, steps = bench_one(
            name, preset, size, batch, args.min_time, args.channels
        )
        print(
            f"{name:<6} {preset:<6} {size:>4} {params:>10} {batch:>5} "
            f"{per_step:>8.3f} {rate:>14.1f} {steps:>5}",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
