"""``symaudit influence-solve``: solve the kets of one analysis batch once.

    symaudit influence-solve --checkpoint final.pt --run-dir RUN --stores A B C --batch 0 \\
        --time-steps 16 --settings '{"rtol": 1e-4, ...}' --out .../batch00/solution

Writes ``solution.pt`` (the solved vectors and records; ``KetSolution.load``), ``records.csv``
(one row per ket) and ``settings.json`` into OUT, atomically (OUT appears only when complete).
The metric batch is the analysis batch itself (the reference's mini-batch NTK).  An unconverged
solve writes nothing and fails with one line, unless ``fail_on_unconverged`` is false, in which
case the records carry ``converged = False`` and every downstream table flags it.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
from pathlib import Path

from symaudit.baselines import add_gate_argument, warn_if_failed


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--checkpoint", required=True, help="the model checkpoint (final.pt)")
    parser.add_argument("--run-dir", required=True, help="the model's run directory (splits)")
    add_gate_argument(parser)
    parser.add_argument("--stores", nargs=3, required=True, metavar="STORE",
                        help="the group's three class stores, in class order")
    parser.add_argument("--batch", type=int, required=True, help="analysis batch index k")
    parser.add_argument("--time-steps", type=int, default=16, help="transitions per class")
    parser.add_argument("--settings", default=None, help="the config's influence section (JSON)")
    parser.add_argument("--out", required=True, help="output directory")
    parser.add_argument("--device", default=None, help="cpu | cuda (default: cuda if available)")


def run(args: argparse.Namespace) -> int:
    import pandas as pd

    from symaudit.cli import UserError
    from symaudit.influence import InfluenceConvergenceError, solve_kets
    from symaudit.influence._stage import load_analysis, resolve_settings, run_identity

    settings = resolve_settings(args.settings)
    warn_if_failed(args.run_dir, args.max_persistence_ratio)
    model, meta, _, families, inputs, targets = load_analysis(
        args.checkpoint, args.run_dir, args.stores, args.batch, args.time_steps, args.device
    )
    identity = {**run_identity(meta, args.checkpoint), "batch": args.batch}
    try:
        solution = solve_kets(
            model,
            inputs,
            inputs,
            targets,
            damping=settings["damping"],
            rtol=settings["rtol"],
            normalization=settings["normalization"],
            method=settings["method"],
            preconditioner_rank=settings["preconditioner_rank"],
            max_iterations=settings["max_iterations"],
            fail_on_unconverged=settings["fail_on_unconverged"],
            meta={**identity, "families": families, "time_steps": args.time_steps},
        )
    except InfluenceConvergenceError as err:
        raise UserError(f"{identity}: {err}") from None
    out = Path(args.out)
    tmp = out.with_name(f".{out.name}.tmp{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    solution.save(tmp / "solution.pt")
    pd.DataFrame([r.as_dict() for r in solution.records]).to_csv(tmp / "records.csv", index=False)
    (tmp / "settings.json").write_text(json.dumps({**settings, **identity}, indent=1))
    if out.exists():
        shutil.rmtree(out)
    os.replace(tmp, out)
    worst = max(r.relres_true for r in solution.records)
    print(
        f"influence-solve {identity}: {len(solution.records)} kets, lambda={solution.damping:.3g}"
        f" (lambda_max~{solution.lambda_max or float('nan'):.3g}), max true relres {worst:.2e},"
        f" converged={solution.converged}"
    )
    return 0
