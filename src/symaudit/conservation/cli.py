"""``symaudit conservation --out-dir results/conservation [--settings JSON | --config FILE]``.

Runs the conservation study (:mod:`symaudit.conservation._study`) and writes
``OUT_DIR/tables/findings.csv`` (``case, expected, measured, holds``),
``OUT_DIR/tables/defects.csv``, ``orbits.csv.gz``, ``balancedness.csv`` and
``OUT_DIR/figures/conservation_defect.png``.  Settings: the
``conservation:`` section of a study config (``--config``) or the same as JSON
(``--settings``); defaults fill in missing keys.  Findings that do not hold are listed on
stdout and in the table (``holds = False``); with ``--strict`` they also make the exit status 1.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from symaudit.cli import add_settings


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out-dir", required=True, help="results/{study}")
    group = parser.add_mutually_exclusive_group()
    add_settings(group, "conservation")
    group.add_argument("--config", default=None, help="a study config with a conservation section")
    parser.add_argument(
        "--strict", action="store_true", help="exit with status 1 when a finding does not hold"
    )


def run(args: argparse.Namespace) -> int:
    import torch

    from symaudit.conservation._study import run_study, write_study
    from symaudit.settings import read_settings

    if args.config:
        import yaml

        path = Path(args.config)
        if not path.is_file():
            raise FileNotFoundError(f"--config {path} does not exist")
        settings = (yaml.safe_load(path.read_text()) or {}).get("conservation", {})
    else:
        settings = args.settings
    settings = read_settings(settings, "conservation")
    torch.set_num_threads(max(1, min(torch.get_num_threads(), 2)))
    result = run_study(settings)
    for path in write_study(result, args.out_dir):
        print(f"wrote {path}")
    failing = result.findings[~result.findings["holds"]]
    print(
        f"{len(result.findings) - len(failing)}/{len(result.findings)} findings hold "
        f"({result.seconds:.1f} s)"
    )
    for case in failing["case"]:
        print(f"does not hold: {case}")
    return 1 if (args.strict and len(failing)) else 0
