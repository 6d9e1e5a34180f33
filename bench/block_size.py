"""Benchmark: the price of a smaller ``influence.block_size`` — mat-vecs and wall time of one
batch's kets solved as one block against blocks of b kets, at equal true residual.

The solver's state grows with the block (~8 parameter-sized rows per ket of a block), so a
smaller block bounds a paper-size solve's memory; what it costs is Krylov sharing: block CG
over b right-hand sides builds one space for all b.  Problem as ``bench/influence_path.py``
(UNet ``--preset``, fp32, smooth periodic fields, AdamW steps on the batch first, kets = the
batch's SMSE gradients, every ket to ``--rtol`` on its TRUE residual), at the damping
λ/λ_max = ``--damping``, with and without the Nyström preconditioner (its build counted once):

    PYTHONPATH=src .venv/bin/python bench/block_size.py --examples 48 --blocks 48 16 8 4
"""

from __future__ import annotations

import argparse
import time

import torch

from symaudit.influence import solve_kets
from symaudit.models import count_parameters

try:
    from bench.influence_path import add_problem_arguments, fitted_problem, matvecs
except ImportError:  # run as a script: bench/ is not a package on sys.path
    from influence_path import add_problem_arguments, fitted_problem, matvecs


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_problem_arguments(ap, examples=48)
    ap.add_argument("--blocks", type=int, nargs="+", default=[48, 16, 8, 4])
    ap.add_argument("--damping", type=float, default=1e-3, help="λ / λ_max")
    args = ap.parse_args()
    model, x, y, op, lam_max = fitted_problem(args)
    print(
        f"# unet/{args.preset}: P = {count_parameters(model)}, kets = {args.examples} x 2 x "
        f"{args.resolution}², λ/λ_max = {args.damping:g} (λ_max {lam_max:.4g}), rtol = "
        f"{args.rtol:g}, threads = {torch.get_num_threads()}",
        flush=True,
    )
    damping = {"mode": "relative", "value": args.damping}
    common = dict(
        rtol=args.rtol, lambda_max=lam_max, operator=op, max_iterations=5000, seed=args.seed
    )
    print("| preconditioner | block | mat-vecs | × one block | wall s | max true relres |")
    print("|---|---:|---:|---:|---:|---:|")
    for rank in (0, args.nystrom_rank):
        base = None
        for block in args.blocks:
            t0 = time.perf_counter()
            sol = solve_kets(
                model,
                None,
                x,
                y,
                damping=damping,
                preconditioner_rank=rank,
                block_size=block,
                **common,
            )
            wall = time.perf_counter() - t0
            mv = matvecs(sol) + sol.setup.get("preconditioner_matvecs", 0)
            base = base or mv
            worst = max(r.relres_true for r in sol.records)
            label = f"Nyström({rank})" if rank else "none"
            print(
                f"| {label} | {block} | {mv} | {mv / base:.2f} | {wall:.1f} | {worst:.2e} |",
                flush=True,
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
