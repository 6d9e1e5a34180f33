"""``symaudit check-config [--configfile FILE ...] [--config KEY=VALUE ...]``: the study a
workflow run would get, checked without Snakemake.

The same resolution and checks as the workflow (``extends``, ``--config`` last, the schema and
its defaults, the cross-field rules: :meth:`symaudit.study.Study.load`), with one difference
that matters: a ``--configfile`` that is not valid YAML is named with its file and line.
Snakemake parses ``--configfile`` itself before the workflow runs and then says only "Config
file is not valid JSON or YAML".  Prints the dry run's first line (the resolved study).
"""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--configfile",
        nargs="*",
        default=[],
        metavar="FILE",
        help="the study's config files, in order (none: config/config.yaml, the quick study)",
    )
    parser.add_argument(
        "--config",
        nargs="*",
        default=[],
        metavar="KEY=VALUE",
        help=(
            "overrides, merged last: a.b=value, values read as YAML "
            "(snakemake --config sets top-level keys)"
        ),
    )


def run(args: argparse.Namespace) -> int:
    from symaudit.config import CHECKOUT, parse_overrides
    from symaudit.study import Study

    study = Study.load(args.configfile, parse_overrides(args.config), CHECKOUT)
    print(study.summary())
    return 0
