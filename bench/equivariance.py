"""Benchmark of the equivariance stage's engine: group elements per second.

Usage::

    .venv/bin/python bench/equivariance.py [--cases unet:tiny:32 unet:paper:128 ...]
        [--dataset CE|NS] [--batch 48] [--elements 8] [--elements-per-batch 4]
        [--dtype float32|float64] [--device cpu|cuda] [--threads N]

One line per case ``model:preset:resolution``: the time of one analysis batch (``--batch``
examples, default 48 = 16 times x 3 classes, random fields) through
:func:`symaudit.equivariance.sweep` for ``--elements`` elements (D4 first, then shifts), after a
warm-up at both batch sizes (oneDNN builds kernels per shape).  Columns: seconds for f(x)
alone, seconds for the sweep (f(x) included), elements/s = elements / (sweep - f(x)), and
elements/s of the D4 twirl decomposition (7 forwards: e reuses f(x)).  Paper presets at 128^2
are slow on a CPU: give them few elements and a smaller ``--batch``.
"""

from __future__ import annotations

import argparse
import time

import torch

from symaudit import datasets, groups
from symaudit.equivariance import sweep
from symaudit.models import build, count_parameters

DEFAULT_CASES = ["unet:tiny:32", "vit:tiny:32", "unet:tiny:128", "unet:paper:128", "vit:paper:128"]


def _elements(k: int, n: int) -> list[str]:
    """k non-identity elements: D4 \\ {e}, then shifts t(i, 0)."""
    pool = list(groups.D4[1:]) + [f"t({i},0)" for i in range(1, n)]
    return pool[:k]


def bench_case(case: str, args) -> str:
    name, preset, res = case.split(":")
    n = int(res)
    channels = datasets.channels_for(args.dataset)
    dtype = {"float32": torch.float32, "float64": torch.float64}[args.dtype]
    gen = torch.Generator().manual_seed(0)
    model = build(name, preset, len(channels), channels, resolution=n, generator=gen, dtype=dtype)
    model = model.to(args.device).eval()
    x = torch.randn(args.batch, len(channels), n, n, generator=gen)
    y = x + 0.1 * torch.randn(args.batch, len(channels), n, n, generator=gen)
    xd = x.to(args.device, dtype)

    def sync():
        if args.device.startswith("cuda"):
            torch.cuda.synchronize()

    with torch.no_grad():
        model(xd)  # warm-up (allocator, kernels)
        sync()
        tic = time.perf_counter()
        model(xd)
        sync()
        t_fx = time.perf_counter() - tic
    k = args.elements_paper if preset == "paper" else args.elements
    names = _elements(k, n)
    # warm-up at the stacked batch size too: oneDNN builds kernels per input shape
    epb = args.elements_per_batch
    sweep(model, x, y, names[:epb], channels, elements_per_batch=epb)
    tic = time.perf_counter()
    sweep(model, x, y, names, channels, elements_per_batch=args.elements_per_batch)
    sync()
    t_sweep = time.perf_counter() - tic
    rate = k / max(t_sweep - t_fx, 1e-9)
    twirl_rate = float("nan")
    if preset != "paper" or args.twirl_paper:
        tic = time.perf_counter()
        sweep(model, x, y, [], channels, elements_per_batch=args.elements_per_batch, twirl=True,
              twirl_elements=list(groups.D4))  # fmt: skip
        sync()
        twirl_rate = 7 / max(time.perf_counter() - tic - t_fx, 1e-9)  # e reuses f(x)
    return (
        f"{name:<5} {preset:<6} {n:>4} {count_parameters(model):>10} {args.batch:>5} {k:>4} "
        f"{t_fx:>8.3f} {t_sweep:>9.2f} {rate:>10.2f} {twirl_rate:>10.2f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", nargs="+", default=DEFAULT_CASES)
    parser.add_argument("--dataset", default="CE", choices=list(datasets.DATASETS))
    parser.add_argument("--batch", type=int, default=48)
    parser.add_argument("--elements", type=int, default=8, help="elements for tiny/small")
    parser.add_argument("--elements-paper", type=int, default=2, help="elements for paper")
    parser.add_argument("--twirl-paper", action="store_true", help="also twirl paper presets")
    parser.add_argument("--elements-per-batch", type=int, default=4)
    parser.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: default)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    print(
        f"# {args.dataset}, {args.dtype}, {args.device}, torch threads {torch.get_num_threads()}, "
        f"elements per forward {args.elements_per_batch}"
    )
    print(
        f"{'model':<5} {'preset':<6} {'N':>4} {'params':>10} {'batch':>5} {'elts':>4} "
        f"{'f(x) s':>8} {'sweep s':>9} {'elts/s':>10} {'twirl e/s':>10}"
    )
    for case in args.cases:
        print(bench_case(case, args), flush=True)


if __name__ == "__main__":
    main()
