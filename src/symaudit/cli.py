"""The ``symaudit`` console script: one subcommand per stage entry point.

Each subcommand lives next to the code it drives, as a module exposing ``add_arguments(parser)``
and ``run(args) -> int``; this file only maps names to modules and imports lazily, so
``symaudit --help`` stays fast and a stage's heavy imports load only when that stage runs.
Errors the user can fix (bad input, bad config) are logged as ONE line naming the culprit and
exit with status 2.  Every line on stderr is a ``logging`` record with a UTC timestamp
(``--log-level`` or ``SYMAUDIT_LOG_LEVEL`` sets the threshold).
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys
import time

from symaudit.errors import UserError  # re-exported: the CLIs import it from here

# name -> (module, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "simulate": ("symaudit.data.cli_simulate", "generate a look-alike dataset into a Zarr store"),
    "ingest": ("symaudit.data.cli_ingest", "convert PDEGym netCDF files into a Zarr store"),
    "pdegym-lookalike": (
        "symaudit.data.pdegym_lookalike",
        "write look-alike flows as PDEGym netCDF chunk files (rehearsals)",
    ),
    "check-solver": ("symaudit.data.cli_check", "check a generator's D4/shift equivariance"),
    "model-info": ("symaudit.models.cli", "print a model's parameter count"),
    "train": ("symaudit.training.cli", "train one (dataset, model, seed) run"),
    "influence-solve": ("symaudit.influence.cli_solve", "solve the kets of one analysis batch"),
    "influence-bras": ("symaudit.influence.cli_bras", "influence of a chunk of group elements"),
    "equivariance": ("symaudit.equivariance.cli", "relative errors and twirl decomposition"),
    "aggregate": ("symaudit.aggregate.cli_tables", "quantile tables from per-job stores"),
    "figures": ("symaudit.aggregate.cli_figures", "the paper's figures from the tables"),
    "quality": ("symaudit.aggregate.cli_quality", "model-quality table: each run vs persistence"),
    "findings": ("symaudit.validation.cli", "validation findings from a study's tables"),
    "conservation": ("symaudit.conservation.cli", "the conservation study: findings and figure"),
    "companion": ("symaudit.companion.cli", "the companion paper's influence tables and figures"),
    "cost": ("symaudit.cost.cli", "a study's cost per rule from measured unit costs"),
}


LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")


class _Stderr(logging.StreamHandler):
    """A handler writing to whatever ``sys.stderr`` is at the time of the record."""

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, _value):
        pass


class _Formatter(logging.Formatter):
    converter = time.gmtime
    default_time_format = "%Y-%m-%dT%H:%M:%S"
    default_msec_format = "%s.%03dZ"

    def format(self, record: logging.LogRecord) -> str:
        record.level = record.levelname.lower()
        record.prog = record.name.replace(".", " ", 1)  # symaudit.train -> symaudit train
        return super().format(record)


def setup_logging(level: str = "INFO") -> None:
    """Send the ``symaudit`` loggers to stderr as ``<UTC time> symaudit <stage>: <level>:
    <message>``
    (idempotent: one handler however often it is called)."""
    logger = logging.getLogger("symaudit")
    if not any(isinstance(h, _Stderr) for h in logger.handlers):
        handler = _Stderr()
        handler.setFormatter(_Formatter("%(asctime)s %(prog)s: %(level)s: %(message)s"))
        logger.addHandler(handler)
        logger.propagate = False
    logger.setLevel(level)


def main(argv: list[str] | None = None) -> int:
    from symaudit import __version__

    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(prog="symaudit", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--version",
        action="version",
        version=f"symaudit {__version__}",
        help="print the version and exit",
    )
    parser.add_argument(
        "--log-level",
        choices=LOG_LEVELS,
        type=str.upper,
        default=os.environ.get("SYMAUDIT_LOG_LEVEL", "INFO").upper(),
        help="lowest level of the log lines on stderr (default: INFO or $SYMAUDIT_LOG_LEVEL)",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    chosen = next(
        (
            a
            for a, before in zip(argv, [None, *argv], strict=False)
            if not a.startswith("-") and before != "--log-level"
        ),
        None,
    )
    modules = {}
    for name, (module_name, help_text) in COMMANDS.items():
        sp = sub.add_parser(name, help=help_text)
        if name == chosen:  # only the chosen command's module is imported
            modules[name] = importlib.import_module(module_name)
            modules[name].add_arguments(sp)
    args = parser.parse_args(argv)
    setup_logging(args.log_level)
    try:
        return int(modules[args.command].run(args) or 0)
    except (UserError, ValueError, FileNotFoundError, PermissionError, FloatingPointError) as err:
        if os.environ.get("SYMAUDIT_DEBUG"):
            raise
        logging.getLogger(f"symaudit.{args.command}").error(str(err).replace("\n", " "))
        return 2


if __name__ == "__main__":
    sys.exit(main())
