"""``symaudit lie-tables --inputs LIE_FILES --tables DIR --figures DIR``: the Lie-derivative
table (``lie_derivative.csv``), the sub-cell profile table (``lie_profile.csv``) and its figure
(``subcell_profile.png``) from the per-run files of ``symaudit lie``
(:mod:`symaudit.aggregate._lie`).
"""

from __future__ import annotations

import argparse
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from symaudit.aggregate.cli_tables import BOOTSTRAP_HELP

    parser.description = __doc__.splitlines()[0]
    add = parser.add_argument
    add("--inputs", required=True, nargs="+", type=Path, help="the runs' lie.nc files")
    add("--tables", required=True, type=Path, help="results/{study}/tables")
    add("--figures", required=True, type=Path, help="results/{study}/figures")
    add("--bootstrap", default=None, metavar="JSON", help=BOOTSTRAP_HELP)


def run(args: argparse.Namespace) -> int:
    from symaudit.aggregate._lie import write_lie
    from symaudit.aggregate.cli_tables import bootstrap_settings

    boot = bootstrap_settings(args.bootstrap)
    written = write_lie(args.inputs, args.tables, args.figures, boot)
    print(f"lie-tables: wrote {', '.join(str(p) for p in written)}")
    return 0
