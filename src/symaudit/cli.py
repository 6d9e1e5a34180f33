"""The ``symaudit`` console script: one subcommand per stage entry point.

Each subcommand lives next to the code it drives, as a module exposing ``add_arguments(parser)``
and ``run(args) -> int``; this file only maps names to modules and imports lazily, so
``symaudit --help`` stays fast and a stage's heavy imports load only when that stage runs.
Errors the user can fix (bad input, bad config) are printed as ONE line naming the culprit and
exit with status 2.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

# name -> (module, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "simulate": ("symaudit.data.cli_simulate", "generate a look-alike dataset into a Zarr store"),
    "ingest": ("symaudit.data.cli_ingest", "convert PDEGym netCDF files into a Zarr store"),
    "check-solver": ("symaudit.data.cli_check", "check a generator's D4/shift equivariance"),
    "model-info": ("symaudit.models.cli", "print a model's parameter count"),
    "train": ("symaudit.training.cli", "train one (dataset, model, seed) run"),
    "influence-solve": ("symaudit.influence.cli_solve", "solve the kets of one analysis batch"),
    "influence-bras": ("symaudit.influence.cli_bras", "influence of a chunk of group elements"),
    "equivariance": ("symaudit.equivariance.cli", "relative errors and twirl decomposition"),
    "aggregate": ("symaudit.aggregate.cli_tables", "quantile tables from per-job stores"),
    "figures": ("symaudit.aggregate.cli_figures", "the paper's figures from the tables"),
    "quality": ("symaudit.aggregate.cli_quality", "model-quality table: each run vs persistence"),
    "findings": ("symaudit.aggregate.cli_findings", "validation findings from a study's tables"),
}


class UserError(Exception):
    """An error the user can fix; printed as one line without a traceback."""


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(prog="symaudit", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    chosen = next((a for a in argv if not a.startswith("-")), None)
    modules = {}
    for name, (module_name, help_text) in COMMANDS.items():
        sp = sub.add_parser(name, help=help_text)
        if name == chosen:  # only the chosen command's module is imported
            modules[name] = importlib.import_module(module_name)
            modules[name].add_arguments(sp)
    args = parser.parse_args(argv)
    try:
        return int(modules[args.command].run(args) or 0)
    except (UserError, ValueError, FileNotFoundError, PermissionError, FloatingPointError) as err:
        if os.environ.get("SYMAUDIT_DEBUG"):
            raise
        print(f"symaudit {args.command}: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
