"""The ``symaudit`` console script: one subcommand per stage entry point.

Each subcommand lives next to the code it drives, as a module exposing ``add_arguments(parser)``
and ``run(args) -> int``; this file only maps names to modules and imports lazily, so
``symaudit --help`` stays fast and a stage's heavy imports load only when that stage runs.
Errors the user can fix (bad input, bad config) are logged as ONE line naming the culprit and
exit with status 2.  Every line on stderr is a ``logging`` record with a UTC timestamp, labelled
with the running command (``--log-level`` or ``SYMAUDIT_LOG_LEVEL`` sets the threshold).

A flag several commands take has one spelling and one help text, from the ``add_*`` helpers
below (``--device``, ``--settings``, ``--no-progress``, ``--time-stride``; the quality gate's
``--max-persistence-ratio`` from :func:`symaudit.baselines.add_gate_argument`).  Help is plain
text: RST markup of the modules' docstrings is removed (:func:`plain_help`).
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import re
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
    "commutator": (
        "symaudit.data.cli_commutator",
        "the generating solver's commutator c_g on a seed's analysis examples",
    ),
    "model-info": ("symaudit.models.cli", "print a model's parameter count"),
    "train": ("symaudit.training.cli", "train one (dataset, model, seed) run"),
    "influence-solve": ("symaudit.influence.cli_solve", "solve the kets of one analysis batch"),
    "influence-bras": ("symaudit.influence.cli_bras", "influence of a chunk of group elements"),
    "equivariance": ("symaudit.equivariance.cli", "relative errors and twirl decomposition"),
    "lie": ("symaudit.equivariance.cli_lie", "Lie derivatives and the sub-cell profile of a run"),
    "lie-tables": ("symaudit.aggregate.cli_lie", "Lie-derivative tables and sub-cell figure"),
    "aggregate": ("symaudit.aggregate.cli_tables", "quantile tables from per-job stores"),
    "commutator-law": (
        "symaudit.aggregate.cli_law",
        "the law table: measured relative errors against 1 + c_g / SMSE(f)",
    ),
    "figures": ("symaudit.aggregate.cli_figures", "the paper's figures from the tables"),
    "quality": ("symaudit.aggregate.cli_quality", "model-quality table: each run vs persistence"),
    "findings": ("symaudit.validation.cli", "validation findings from a study's tables"),
    "findings-compare": (
        "symaudit.validation.cli_compare",
        "two runs' findings.csv, known answer by known answer",
    ),
    "conservation": ("symaudit.conservation.cli", "the conservation study: findings and figure"),
    "companion": ("symaudit.companion.cli", "the companion paper's influence tables and figures"),
    "audit": ("symaudit.audit.cli", "audit a foreign model on foreign data (tables, report)"),
    "cost": ("symaudit.cost.cli", "a study's cost per rule from measured unit costs"),
    "check-config": ("symaudit.cli_config", "check a study's config files (file and line)"),
}


LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")

#: the epilog of every help page: where the terms of art are defined
EPILOG = (
    "Terms (ket, bra, twirl, damping lambda, SMSE, persistence, element sets, RP/CRP/...): "
    "docs/glossary.md.  Project: README.md; stages and files: docs/architecture.md."
)
DEVICE_HELP = "auto, cpu, cuda or cuda:i (default auto: cuda when torch sees a GPU, else cpu)"
NO_PROGRESS_HELP = "no progress lines on stderr (warnings and errors still appear)"


def settings_help(section: str) -> str:
    """The help of a flag taking a config section (``--settings``, ``companion run
    --influence``)."""
    return (
        f"the config's {section} section: a JSON object, or the path of a JSON or YAML file "
        "holding one; unknown keys are refused, missing keys take their defaults"
    )


def options(args: argparse.Namespace, *names: str) -> dict:
    """The parsed options ``names`` (``time_steps`` for ``--time-steps``) as keyword arguments:
    how a command's ``run`` hands them on, unchanged, to the library function it calls."""
    return {name: getattr(args, name) for name in names}


def add_device(parser) -> None:
    """``--device`` (None = auto, see :func:`symaudit._device.choose_device`)."""
    parser.add_argument("--device", default=None, metavar="DEVICE", help=DEVICE_HELP)


def add_time_stride(parser) -> None:
    """``--time-stride`` (``args.time_stride``): the config's ``analysis.time_stride``, the frames
    between consecutive analysis transitions (:func:`symaudit.outputs.transition_frames`)."""
    from symaudit.settings import ANALYSIS

    s = ANALYSIS["time_stride"]
    parser.add_argument(
        "--time-stride",
        type=int,
        default=s,
        metavar="S",
        help="frames between consecutive analysis transitions: transition t goes from frame "
        f"t*S to t*S+1 (config analysis.time_stride; default {s})",
    )


def add_dtype(parser, what: str = "the forward passes") -> None:
    """``--dtype`` (``args.dtype``): the config's ``analysis.dtype``, the precision of
    ``what``; the float32-trained model and the batch are cast up to it, never down
    (:func:`symaudit.runs.open_run`)."""
    from symaudit.settings import ANALYSIS

    dtype = ANALYSIS["dtype"]
    parser.add_argument(
        "--dtype",
        choices=("float32", "float64"),
        default=dtype,
        help=f"precision of {what} (config analysis.dtype): the model and the batch "
        f"cast up to it, never down (default {dtype}: the float32 model as it is)",
    )


def add_settings(parser, section: str, flag: str = "--settings") -> None:
    """``--settings`` (or ``flag``): the config section ``section``, read by
    :func:`symaudit.settings.read_settings`."""
    parser.add_argument(flag, default=None, metavar="JSON_OR_FILE", help=settings_help(section))


def add_no_progress(parser, *deprecated: str) -> None:
    """``--no-progress`` (``args.no_progress``); ``deprecated`` spellings are accepted but not
    shown."""
    parser.add_argument("--no-progress", action="store_true", help=NO_PROGRESS_HELP)
    for flag in deprecated:
        parser.add_argument(flag, dest="no_progress", action="store_true", help=argparse.SUPPRESS)


TASK_HELP = (
    "one more chunk measured by the same process (repeatable; the model and data are loaded "
    "once): SET CHUNK OUT ELEMENT [ELEMENT ...], the same file as --set-name SET --chunk CHUNK "
    "--elements ELEMENT ... --out OUT would write (the workflow's per-run jobs, analysis.jobs)"
)


def add_task(parser) -> None:
    """``--task SET CHUNK OUT ELEMENT ...`` (repeatable; ``args.task``, parsed by
    :func:`parse_tasks`): several per-chunk files from one process."""
    parser.add_argument(
        "--task", action="append", nargs="+", default=[], metavar="SET CHUNK OUT ELEMENT",
        help=TASK_HELP,
    )  # fmt: skip


def parse_tasks(values) -> list[tuple[str, int, str, list[str]]]:
    """``--task`` values -> (set, chunk, out, elements); a malformed one raises a one-line
    :class:`ValueError` naming it."""
    tasks = []
    for value in values or []:
        if len(value) < 4 or not value[1].isdigit():
            raise ValueError(f"--task {' '.join(value)}: expected SET CHUNK OUT ELEMENT ...")
        tasks.append((value[0], int(value[1]), value[2], list(value[3:])))
    outs = [t[2] for t in tasks]
    if len(set(outs)) != len(outs):
        raise ValueError(f"--task: the same OUT twice in {outs}")
    return tasks


_RST = re.compile(r"``(.+?)``|:\w+:`(.+?)`")


def plain_help(parser: argparse.ArgumentParser) -> None:
    """Strip the RST markup (````literal````, ``:role:`text```) that module docstrings bring
    into a parser's description, epilog and option help, recursively into subcommands."""

    def plain(text):
        return _RST.sub(lambda m: m.group(1) or m.group(2), text) if text else text

    parser.description, parser.epilog = plain(parser.description), plain(parser.epilog)
    for action in parser._actions:
        action.help = plain(action.help)
        if isinstance(action, argparse._SubParsersAction):
            for child in action.choices.values():
                plain_help(child)


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

    command: str | None = None  # the running subcommand: the label of every line

    def format(self, record: logging.LogRecord) -> str:
        record.level = record.levelname.lower()
        # symaudit.train -> symaudit train, unless a command runs: a warning that a library
        # module logs (the quality gate's, say) carries the label of the command it is part of
        record.prog = (
            f"symaudit {self.command}" if self.command else record.name.replace(".", " ", 1)
        )
        return super().format(record)


def setup_logging(level: str = "INFO", command: str | None = None) -> None:
    """Send the ``symaudit`` loggers to stderr as ``<UTC time> symaudit <command>: <level>:
    <message>`` (without ``command``: the logger's name, ``symaudit <stage>``; idempotent: one
    handler however often it is called)."""
    logger = logging.getLogger("symaudit")
    handler = next((h for h in logger.handlers if isinstance(h, _Stderr)), None)
    if handler is None:
        handler = _Stderr()
        logger.addHandler(handler)
        logger.propagate = False
    formatter = _Formatter("%(asctime)s %(prog)s: %(level)s: %(message)s")
    formatter.command = command
    handler.setFormatter(formatter)
    logger.setLevel(level)


def _epilogs(parser: argparse.ArgumentParser) -> None:
    """The glossary epilog on a command's own subcommands too (``companion run``)."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for child in action.choices.values():
                child.epilog = child.epilog or EPILOG


def main(argv: list[str] | None = None) -> int:
    from symaudit import __version__

    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(
        prog="symaudit", description=__doc__.splitlines()[0], epilog=EPILOG
    )
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
        sp = sub.add_parser(name, help=help_text, epilog=EPILOG)
        if name == chosen:  # only the chosen command's module is imported
            modules[name] = importlib.import_module(module_name)
            modules[name].add_arguments(sp)
            _epilogs(sp)
    plain_help(parser)
    args = parser.parse_args(argv)
    setup_logging(args.log_level, args.command)
    try:
        return int(modules[args.command].run(args) or 0)
    except (UserError, ValueError, FileNotFoundError, PermissionError, FloatingPointError) as err:
        if os.environ.get("SYMAUDIT_DEBUG"):
            raise
        logging.getLogger(f"symaudit.{args.command}").error(str(err).replace("\n", " "))
        return 2


if __name__ == "__main__":
    sys.exit(main())
