"""Benchmark: a damping path in one job — warm starts down the path vs independent solves, with
and without the Nyström preconditioner (one sketch, shifted per λ) — at equal true residual.

Problem as ``bench/influence.py`` (``unet``/``tiny``, fp32, smooth periodic fields, AdamW steps
on the batch first, kets = the batch's SMSE gradients, rtol on every ket's TRUE residual).  For
the path λ/λ_max = ``--path`` it prints, per strategy, mat-vecs per λ (the Nyström build counted
once), the path total, wall time, the max true relative residual, and the ratio of the path's
mat-vecs to ONE solve at the smallest λ with the same preconditioner (the target is ≤ 2×).
"""

from __future__ import annotations

import argparse
import time
import warnings

import torch

from symaudit.influence import GaussNewtonOperator, lanczos_lambda_max, solve_kets
from symaudit.models import count_parameters

try:
    from bench.influence import fitted_unet
except ImportError:  # run as a script: bench/ is not a package on sys.path
    from influence import fitted_unet


def matvecs(sol) -> int:
    return sum({r.block: r.matvecs for r in sol.records}.values())


def add_problem_arguments(ap: argparse.ArgumentParser, examples: int) -> None:
    """The problem's options (:func:`fitted_problem`), shared with ``bench/block_size.py``."""
    ap.add_argument("--preset", default="tiny")
    ap.add_argument("--examples", type=int, default=examples)
    ap.add_argument("--resolution", type=int, default=16)
    ap.add_argument("--rtol", type=float, default=1e-4)
    ap.add_argument("--nystrom-rank", type=int, default=32)
    ap.add_argument("--train-steps", type=int, default=100)
    ap.add_argument("--seed", type=int, default=0)


def fitted_problem(args):
    """``(model, x, y, op, lam_max)``: the fitted UNet and its batch
    (``bench/influence.py``'s :func:`fitted_unet`), the batch's metric operator and its
    Lanczos λ_max."""
    warnings.filterwarnings("ignore", category=UserWarning)
    model, x, y, _ = fitted_unet(
        args.preset, args.examples, args.resolution, args.train_steps, args.seed
    )
    op = GaussNewtonOperator(model, x)
    lam_max, _ = lanczos_lambda_max(op.mm, op.size, dtype=op.dtype, device=op.device)
    return model, x, y, op, lam_max


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_problem_arguments(ap, examples=24)
    ap.add_argument("--path", type=float, nargs="+", default=[1e-2, 1e-3, 1e-4])
    args = ap.parse_args()
    model, x, y, op, lam_max = fitted_problem(args)
    print(
        f"# unet/{args.preset}: P = {count_parameters(model)}, kets = {args.examples} x 2 x "
        f"{args.resolution}², λ_max = {lam_max:.4g}, rtol = {args.rtol:g}, path λ/λ_max = "
        f"{args.path}, threads = {torch.get_num_threads()}",
        flush=True,
    )
    common = dict(
        rtol=args.rtol, lambda_max=lam_max, operator=op, max_iterations=5000, seed=args.seed
    )
    path = {"mode": "relative", "values": args.path}
    smallest = {"mode": "relative", "value": min(args.path)}
    print(
        "| strategy | mat-vecs per λ | path mat-vecs | wall s | max true relres | "
        "one solve at smallest λ | path / one |"
    )
    print("|---|---|---|---|---|---|---|")
    for rank in (0, args.nystrom_rank):
        t0 = time.perf_counter()
        one = solve_kets(model, None, x, y, damping=smallest, preconditioner_rank=rank, **common)
        one_wall = time.perf_counter() - t0
        sketch = one.setup.get("preconditioner_matvecs", 0)
        one_mv = matvecs(one) + sketch
        for start in ("cold", "warm"):
            t0 = time.perf_counter()
            sols = solve_kets(
                model,
                None,
                x,
                y,
                damping=path,
                preconditioner_rank=rank,
                path_start=start,
                **common,
            )
            wall = time.perf_counter() - t0
            per = [matvecs(s) for s in sols]
            total = sum(per) + sketch
            worst = max(r.relres_true for s in sols for r in s.records)
            label = f"{start}{f' + Nyström({rank})' if rank else ''}"
            print(
                f"| {label} | {' / '.join(map(str, per))} (+{sketch} build) | {total} | "
                f"{wall:.1f} | {worst:.2e} | {one_mv} ({one_wall:.1f} s) | "
                f"{total / one_mv:.2f}× |",
                flush=True,
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
