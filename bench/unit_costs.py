"""Per-unit costs of the study's kernels on THIS machine, for ``symaudit cost`` (cost tables).

For each (architecture, preset, resolution) it times, on a batch of ``--examples`` random
fields (CE's 4 channels), in one process so that the ratios share the machine's load:

* ``forward``: the model on the batch, no grad;
* ``gradient``: forward + SMSE + backward of the batch loss (one batched gradient);
* ``optimiser_step``: ``gradient`` + an AdamW update (what ``symaudit train`` does per batch);
* ``per_example_gradients``: the kets'/bras' rows (``influence.per_example_gradients``);
* ``jvp``, ``vjp``, ``matvec``: J v, Jᵀ u and M v = JᵀJ v / D of the Gauss–Newton operator
  built on the batch (``influence.GaussNewtonOperator``), one vector each;
* ``setup``: building that operator (``linearize`` traces the JVP once; ``jvp`` mode does not).

Every time is the process's CPU time (one thread: what the call costs one core, however loaded
the shared machine is; the wall times are kept under ``wall``), the minimum over ``--repeats``
runs, divided by the examples: seconds per example (a product is per vector AND per example of
the metric batch, its cost growing linearly with the batch; ``setup`` is per example too).
Writes JSON (default ``bench/unit_costs.json``) with the machine, torch version, threads, load
and date; ``--profile`` adds the top operators of one UNet/ViT mat-vec per mode to a text file.

    .venv/bin/python bench/unit_costs.py --threads 1 --examples 4 \\
        --configs unet:paper:128 vit:paper:128 unet:quick:32 vit:quick:32
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import time
from functools import partial
from pathlib import Path

import torch

from symaudit.influence import GaussNewtonOperator, per_example_gradients
from symaudit.losses import smse
from symaudit.models import build, count_parameters

CHANNELS = 4  # CE; NS (2 channels) differs only in the first and last layer


WALL: dict[str, float] = {}  # the wall times of the last configuration, by name


def best(fn, repeats: int, name: str = "") -> float:
    """Minimum CPU time of ``repeats`` calls of ``fn`` (one thread: the process's CPU time is
    what the call costs one core, however loaded the machine; the wall time, which load
    inflates, is kept in ``WALL[name]``)."""
    cpu, wall = [], []
    for _ in range(repeats):
        c0, t0 = time.process_time(), time.perf_counter()
        fn()
        cpu.append(time.process_time() - c0)
        wall.append(time.perf_counter() - t0)
    WALL[name] = min(wall)
    return min(cpu)


def measure(arch: str, preset: str, size: int, n: int, repeats: int, modes) -> dict:
    gen = torch.Generator().manual_seed(0)
    model = build(arch, preset, CHANNELS, resolution=size, generator=gen)
    x = torch.randn(n, CHANNELS, size, size, generator=gen)
    y = torch.randn(n, CHANNELS, size, size, generator=gen)
    opt = torch.optim.AdamW(model.parameters(), lr=5e-4, weight_decay=1e-4)

    def forward():
        with torch.no_grad():
            model(x)

    def gradient():
        model.zero_grad(set_to_none=True)
        smse(model(x), y).backward()

    def step():
        gradient()
        opt.step()

    out = {"parameters": count_parameters(model), "examples": n}
    forward()  # warm-up (allocator, lazy kernels)
    out["forward"] = best(forward, repeats, "forward") / n
    out["gradient"] = best(gradient, repeats, "gradient") / n
    out["optimiser_step"] = best(step, repeats, "optimiser_step") / n
    model.zero_grad(set_to_none=True)
    grads = partial(per_example_gradients, model, x, y, chunk_size=8)
    out["per_example_gradients"] = best(grads, repeats, "per_example_gradients") / n
    for mode in modes:
        built = []
        out[f"setup_{mode}"] = (
            best(
                lambda: built.append(GaussNewtonOperator(model, x, mode=mode)),  # noqa: B023
                1,
                f"setup_{mode}",
            )
            / n
        )
        op = built.pop()
        v = torch.randn(op.size, generator=gen)
        u = torch.randn(op.output_shape, generator=gen)
        op.mv(v)  # warm-up
        out[f"matvec_{mode}"] = best(partial(op.mv, v), repeats, f"matvec_{mode}") / n
        out[f"jvp_{mode}"] = best(partial(op.jvp, v), repeats, f"jvp_{mode}") / n
        out[f"vjp_{mode}"] = best(partial(op.vjp, u), repeats, f"vjp_{mode}") / n
        out[f"operator_mode_{mode}"] = op.mode  # "jvp" if linearize fell back
        op = None  # free the traced closures before the next mode
    out["wall"] = {k: v / n for k, v in WALL.items()}
    return out


def profile_matvec(arch: str, preset: str, size: int, n: int, modes, rows: int) -> str:
    """The top operators (self CPU time) of one mat-vec per mode, as text."""
    from torch.profiler import ProfilerActivity, profile

    gen = torch.Generator().manual_seed(0)
    model = build(arch, preset, CHANNELS, resolution=size, generator=gen)
    x = torch.randn(n, CHANNELS, size, size, generator=gen)
    text = []
    for mode in modes:
        op = GaussNewtonOperator(model, x, mode=mode)
        v = torch.randn(op.size, generator=gen)
        op.mv(v)
        with profile(activities=[ProfilerActivity.CPU]) as prof:
            op.mv(v)
        table = prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=rows)
        text.append(f"## {arch} {preset} {size}^2, {n} examples, mode {op.mode}\n{table}")
        del op
    return "\n".join(text)


def machine() -> dict:
    return {
        "processor": platform.processor() or platform.machine(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "device": "cpu",
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "load_average_start": round(os.getloadavg()[0], 2),
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--configs", nargs="+", default=["unet:paper:128", "vit:paper:128"], metavar="A:P:N"
    )
    parser.add_argument("--examples", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--modes", nargs="+", default=["linearize", "jvp"])
    parser.add_argument("--out", default=str(Path(__file__).with_name("unit_costs.json")))
    parser.add_argument("--profile", default=None, help="also write mat-vec profiles here")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    record = {"machine": machine(), "unit": "CPU seconds per example", "costs": {}}
    out = Path(args.out)
    if out.exists():  # keep earlier configurations measured on this machine
        record["costs"] = json.loads(out.read_text()).get("costs", {})
    for spec in args.configs:
        arch, preset, size = spec.split(":")
        t0 = time.perf_counter()
        costs = measure(arch, preset, int(size), args.examples, args.repeats, args.modes)
        costs.update(record["machine"], wall_seconds=round(time.perf_counter() - t0, 1))
        record["costs"][f"{arch}/{preset}/{size}"] = costs
        ratio = costs["matvec_linearize"] / costs["gradient"]
        print(f"{spec}: {json.dumps(costs)}\n  mat-vec / gradient = {ratio:.2f}", flush=True)
        out.write_text(json.dumps(record, indent=1, sort_keys=True) + "\n")
    if args.profile:
        texts = []
        for spec in args.configs:
            arch, preset, size = spec.split(":")
            texts.append(profile_matvec(arch, preset, int(size), args.examples, args.modes, 25))
        Path(args.profile).write_text("\n\n".join(texts) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
