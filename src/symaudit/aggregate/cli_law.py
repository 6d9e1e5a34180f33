"""symaudit commutator-law: the measured relative error against the law R_hat = 1 + c_g/SMSE(f).

    symaudit commutator-law --commutator FILES --equivariance FILES \
        --run DATASET MODEL SEED SPLITS [--run ...] --out tables/commutator_law.csv \
        [--fingerprints tables/pairing_fingerprints.csv]

The table and its columns: symaudit.aggregate._law.
"""

from __future__ import annotations

import argparse
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from symaudit.aggregate.cli_tables import BOOTSTRAP_HELP

    parser.description = __doc__.splitlines()[0]
    add = parser.add_argument
    add("--commutator", required=True, nargs="+", type=Path, help="commutator.nc files")
    add("--equivariance", required=True, nargs="+", type=Path, help="equivariance files")
    add(
        "--run",
        action="append",
        nargs=4,
        default=[],
        metavar=("DATASET", "MODEL", "SEED", "SPLITS"),
        help="a run and its splits.json (repeatable)",
    )
    add("--out", required=True, type=Path, help="results/{study}/tables/commutator_law.csv")
    add(
        "--fingerprints",
        default=None,
        type=Path,
        help="also write case 6's pairing fingerprints (results/{study}/tables/"
        "pairing_fingerprints.csv; symaudit.aggregate._fingerprints)",
    )
    add("--bootstrap", default=None, metavar="JSON", help=BOOTSTRAP_HELP)


def run(args: argparse.Namespace) -> int:
    from symaudit.aggregate._law import write_law
    from symaudit.aggregate.cli_tables import bootstrap_settings

    boot = bootstrap_settings(args.bootstrap)
    runs = {(d, m, int(s)): Path(p) for d, m, s, p in args.run}
    path = write_law(args.commutator, args.equivariance, runs, args.out, boot, args.fingerprints)
    print(f"commutator-law: wrote {path}")
    return 0
