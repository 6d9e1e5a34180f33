"""``symaudit influence-solve``: solve the kets of one analysis batch once.

    symaudit influence-solve --checkpoint final.pt --run-dir RUN --stores A B C --batch 0 \\
        --time-steps 16 --settings '{"rtol": 1e-4, ...}' --out .../batch00/solution

Writes ``solution.pt`` (the solved vectors and records; ``KetSolution.load``) — for a damping
path ``solution_00.pt``, ``solution_01.pt``, ... one per λ in the config's order, so the
scratch space grows with the path's length (logged) — ``records.csv`` (one row per (λ, ket))
and ``settings.json`` into OUT, atomically (OUT appears only when complete).  The metric
batch is the analysis batch itself (the reference's mini-batch NTK).  With
``method: galerkin`` nothing is solved here: the ket gradients are stored (``kind =
"ket_gradients"``) and ``influence-bras`` builds the reference's subspace span[G_ket, G_bra(g)]
per element.  An unconverged
solve writes nothing and fails with one line, unless ``fail_on_unconverged`` is false, in which
case the records carry ``converged = False`` and every downstream table flags it.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from symaudit._io import atomic_dir
from symaudit.baselines import add_gate_argument, warn_if_failed
from symaudit.influence._stage import add_run_arguments


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_run_arguments(parser)
    add_gate_argument(parser)
    parser.add_argument("--batch", type=int, required=True, help="analysis batch index k")
    parser.add_argument("--out", required=True, help="output directory")


def run(args: argparse.Namespace) -> int:
    import pandas as pd

    from symaudit.errors import UserError
    from symaudit.influence import (
        DampingPath,
        InfluenceConvergenceError,
        SolveOptions,
        solve_kets,
    )
    from symaudit.influence._stage import resolve_settings
    from symaudit.runs import open_run

    settings = resolve_settings(args.settings)
    warn_if_failed(args.run_dir, args.max_persistence_ratio)
    trained = open_run(args.checkpoint, args.stores, args.run_dir, args.device)
    inputs, targets = trained.batch(args.batch, args.time_steps, args.time_stride)
    identity = {**trained.identity.as_dict(), "batch": args.batch}
    path = DampingPath.parse(settings["damping"]).is_path  # one file per λ, config order
    stored = []  # bytes of the vectors written, per λ
    with atomic_dir(Path(args.out)) as tmp:

        def write(i: int, sol) -> None:  # each λ as it is solved: one λ in memory at a time
            sol.save(tmp / (f"solution_{i:02d}.pt" if path else "solution.pt"))
            stored.append(sol.vectors.numel() * sol.vectors.element_size())

        options = SolveOptions.from_settings(
            settings,
            galerkin_defer=True,  # Galerkin: the subspace is rebuilt per element in the bras
            meta={
                **identity,
                "families": trained.families,
                "time_steps": args.time_steps,
                "time_stride": args.time_stride,
            },
            sink=write,
        )
        try:
            solution = solve_kets(trained.model, inputs, inputs, targets, options)
        except InfluenceConvergenceError as err:
            raise UserError(f"{identity}: {err}") from None
        solutions = solution if isinstance(solution, list) else [solution]
        records = [r.as_dict() for sol in solutions for r in sol.records]
        pd.DataFrame(records).to_csv(tmp / "records.csv", index=False)
        (tmp / "settings.json").write_text(json.dumps({**settings, **identity}, indent=1))
    first = solutions[0]
    if first.kind == "ket_gradients":
        print(
            f"influence-solve {identity}: {len(first.records)} ket gradients stored for the "
            f"Galerkin bras, epsilon={first.damping:.3g} "
            f"(lambda_max~{first.lambda_max or float('nan'):.3g})"
        )
        return 0
    for sol in solutions:
        worst = max(r.relres_true for r in sol.records)
        mv = sum({r.block: r.matvecs for r in sol.records}.values())
        print(
            f"influence-solve {identity}: {len(sol.records)} kets, lambda={sol.damping:.3g}"
            f" (lambda_max~{sol.lambda_max or float('nan'):.3g}), max true relres {worst:.2e},"
            f" {mv} mat-vecs, converged={sol.converged}"
        )
    mib = sum(stored) / 2**20
    print(f"influence-solve: {len(solutions)} lambda(s), stored vectors {mib:.1f} MiB")
    return 0
