"""Peak memory and time of the Gauss–Newton operator per architecture, mode and metric batch.

The influence jobs' memory is the operator's (``influence.GaussNewtonOperator``): ``linearize``
keeps the traced JVP graph of the whole metric batch alive, ``jvp`` recomputes a forward-mode
pass per product; both keep one ``vjp`` closure.  Each configuration runs in a FRESH process
(its peak RSS is its own, ``ru_maxrss``), one after the other (never two at once: at the
paper's 128^2 one ViT operator holds ~14 GB), on CE's 4 channels of random fields:

    .venv/bin/python bench/operator_memory.py --configs vit:paper:128 unet:paper:128 \\
        --examples 1 3 --modes linearize jvp --json bench/operator_memory.json

Per line: set-up seconds, seconds per mat-vec (one vector, wall), peak RSS in MB.  Two batch
sizes give the memory line ``rss = a + b * examples`` that extrapolates to the paper's
48-example metric batch (printed per architecture and mode).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

CHANNELS = 4


def measure(arch: str, preset: str, resolution: int, examples: int, mode: str) -> dict:
    """Run in a child process: build the operator, one mat-vec, report (JSON on stdout)."""
    import resource
    import time

    import torch

    from symaudit.influence import GaussNewtonOperator
    from symaudit.models import build

    torch.manual_seed(0)
    model = build(arch, preset, CHANNELS, resolution=resolution).eval()
    x = torch.randn(examples, CHANNELS, resolution, resolution)
    t0 = time.perf_counter()
    op = GaussNewtonOperator(model, x, mode=mode, check=False)
    setup = time.perf_counter() - t0
    v = torch.randn(op.size)
    t0 = time.perf_counter()
    op.mv(v)
    matvec = time.perf_counter() - t0
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"setup_s": setup, "matvec_s": matvec, "peak_rss_mb": rss_mb, "parameters": op.size}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--configs", nargs="+", default=["vit:paper:128", "unet:paper:128"])
    parser.add_argument("--examples", nargs="+", type=int, default=[1, 3])
    parser.add_argument("--modes", nargs="+", default=["linearize", "jvp"])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--child", nargs=5, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        import torch

        torch.set_num_threads(args.threads)
        arch, preset, res, n, mode = args.child
        print(json.dumps(measure(arch, preset, int(res), int(n), mode)))
        return 0
    rows = []
    for config in args.configs:
        arch, preset, res = config.split(":")
        for mode in args.modes:
            for n in args.examples:
                cmd = [sys.executable, __file__, "--threads", str(args.threads)]
                cmd += ["--child", arch, preset, res, str(n), mode]
                out = subprocess.run(cmd, capture_output=True, text=True)
                if out.returncode:
                    row = {"error": (out.stderr.strip().splitlines() or ["?"])[-1]}
                else:
                    row = json.loads(out.stdout.strip().splitlines()[-1])
                row.update(config=config, mode=mode, examples=n)
                rows.append(row)
                print(json.dumps(row), flush=True)
    for config in args.configs:
        for mode in args.modes:
            pts = [
                (r["examples"], r["peak_rss_mb"])
                for r in rows
                if r["config"] == config and r["mode"] == mode and "peak_rss_mb" in r
            ]
            if len(pts) >= 2:
                (n0, m0), (n1, m1) = pts[0], pts[-1]
                slope = (m1 - m0) / (n1 - n0)
                base = m0 - slope * n0
                print(
                    f"{config} {mode}: rss ≈ {base:.0f} MB + {slope:.0f} MB x examples "
                    f"(48 examples: {base + 48 * slope:.0f} MB)"
                )
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
