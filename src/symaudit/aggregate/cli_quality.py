"""``symaudit quality``: the model-quality table, figure and report status of a study.

    symaudit quality --run CE unet 0 RUN/metrics.csv EQUIV/CE/unet/seed0/d4_chunk000.nc \\
        [--run ...] --max-persistence-ratio 1.0 --table tables/model_quality.csv \\
        --figure figures/model_quality.png --status tables/quality_status.yaml

Each ``--run`` names one trained run and exactly the files read for it (its ``metrics.csv`` and
one equivariance output holding its analysis-batch SMSEs, or ``-`` for none).  Prints one
warning line per run that failed the gate.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from symaudit.baselines import add_gate_argument
from symaudit.settings import QUALITY


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = __doc__.splitlines()[0]
    parser.add_argument(
        "--run",
        nargs=5,
        action="append",
        required=True,
        metavar=("DATASET", "MODEL", "SEED", "METRICS_CSV", "EQUIVARIANCE_NC"),
        help="one trained run: its identity, metrics.csv and an equivariance .nc (or -)",
    )
    gate = QUALITY["max_persistence_ratio"]
    add_gate_argument(parser, gate, f"{gate:g}")
    parser.add_argument("--table", required=True, type=Path, help="model_quality.csv to write")
    parser.add_argument("--figure", required=True, type=Path, help="the figure (.png) to write")
    parser.add_argument(
        "--status", required=True, type=Path, help="quality_status.yaml for the report"
    )


def run(args: argparse.Namespace) -> int:
    from symaudit.aggregate._quality import RunFiles, write_quality

    runs = []
    for dataset, model, seed, metrics, equivariance in args.run:
        if not seed.isdigit():
            raise ValueError(f"--run {dataset} {model} {seed}: SEED must be a non-negative integer")
        runs.append(
            RunFiles(
                dataset,
                model,
                int(seed),
                Path(metrics),
                None if equivariance == "-" else Path(equivariance),
            )
        )
    table = write_quality(runs, args.max_persistence_ratio, args.table, args.figure, args.status)
    for row in table.itertuples(index=False):
        if not row.passes:
            logging.getLogger("symaudit.quality").warning(
                f"{row.dataset} {row.model} seed {row.seed} did not learn the dynamics: "
                f"val SMSE = {row.ratio:.4g} x persistence (gate {args.max_persistence_ratio:g})"
            )
    print(
        f"wrote {args.table}, {args.figure}, {args.status}: {len(table)} runs, "
        f"{int((~table['passes']).sum())} below the quality gate"
    )
    return 0
