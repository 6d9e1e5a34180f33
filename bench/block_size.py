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
import warnings

import torch

from symaudit import losses
from symaudit.influence import GaussNewtonOperator, lanczos_lambda_max, solve_kets
from symaudit.models import build, count_parameters

try:
    from bench.influence import smooth_fields
    from bench.influence_path import matvecs
except ImportError:  # run as a script: bench/ is not a package on sys.path
    from influence import smooth_fields
    from influence_path import matvecs


def trained_problem(args):
    """A UNet fitted for a few steps to a shift map, its batch and metric operator."""
    gen = torch.Generator().manual_seed(args.seed)
    torch.manual_seed(args.seed)
    model = build("unet", args.preset, 2)
    x = smooth_fields(args.examples, 2, args.resolution, gen)
    y = torch.roll(x, shifts=1, dims=-1) + 0.05 * torch.randn(x.shape, generator=gen)
    opt = torch.optim.AdamW(model.parameters(), lr=5e-4, weight_decay=1e-4)
    for _ in range(args.train_steps):
        opt.zero_grad()
        losses.smse(model(x), y).backward()
        opt.step()
    model.zero_grad(set_to_none=True)
    return model, x, y, GaussNewtonOperator(model, x)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--preset", default="tiny")
    ap.add_argument("--examples", type=int, default=48)
    ap.add_argument("--resolution", type=int, default=16)
    ap.add_argument("--blocks", type=int, nargs="+", default=[48, 16, 8, 4])
    ap.add_argument("--damping", type=float, default=1e-3, help="λ / λ_max")
    ap.add_argument("--rtol", type=float, default=1e-4)
    ap.add_argument("--nystrom-rank", type=int, default=32)
    ap.add_argument("--train-steps", type=int, default=100)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    warnings.filterwarnings("ignore", category=UserWarning)
    model, x, y, op = trained_problem(args)
    lam_max, _ = lanczos_lambda_max(op.mm, op.size, dtype=op.dtype, device=op.device)
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
