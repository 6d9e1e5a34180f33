"""``symaudit aggregate --study-dir results/{study} --out-dir results/{study}/tables``.

Reads every per-job equivariance and influence store of a study lazily (xarray + dask) and
writes the quantile tables (``<kind>_<set>.csv`` and ``.nc``; see
:func:`symaudit.aggregate.expected_tables`).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from symaudit.aggregate._layout import ELEMENT_SETS, KINDS

#: the help of ``--bootstrap`` (here and in ``lie-tables``)
BOOTSTRAP_HELP = (
    "the interval settings, config analysis.bootstrap: "
    '\'{"resamples": 2000, "confidence": 0.95, "seed": 0, "min_clusters": 5}\' (any subset; '
    "default: those)"
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--study-dir", required=True, help="results/{study}")
    parser.add_argument("--out-dir", default=None, help="default: STUDY_DIR/tables")
    parser.add_argument(
        "--element-sets",
        nargs="+",
        choices=ELEMENT_SETS,
        default=None,
        help="sets to aggregate; every one named must have inputs (default: all found)",
    )
    parser.add_argument(
        "--kinds",
        nargs="+",
        choices=KINDS,
        default=list(KINDS),
        help="which per-job outputs to aggregate (default: all)",
    )
    parser.add_argument(
        "--inputs",
        nargs="+",
        default=None,
        metavar="FILE",
        help="read exactly these per-job stores (and twirl.nc files), e.g. a workflow rule's "
        "declared inputs; default: every store found under STUDY_DIR",
    )
    parser.add_argument(
        "--bootstrap",
        default=None,
        metavar="JSON",
        help=BOOTSTRAP_HELP,
    )
    parser.add_argument("--workers", type=int, default=None, help="dask threads (default: all)")
    parser.add_argument(
        "--twirl", action="store_true", help="also the D4 twirl-decomposition table (twirl_d4.csv)"
    )
    parser.add_argument(
        "--robustness-only",
        action="store_true",
        help="only the damping-path robustness table (influence_robustness.csv, medians, "
        "influence_galerkin_ordering.csv) and "
        "figures (STUDY_DIR/figures/robustness_*.png)",
    )
    parser.add_argument("--primary", default="", help="the path's primary λ (figure ticks)")
    parser.add_argument(
        "--status", default=None, help="with --robustness-only: robustness_status.yaml (report)"
    )


def bootstrap_settings(text: str | None):
    """``--bootstrap`` (JSON, or None) as a :class:`~symaudit.aggregate._bootstrap.Bootstrap`,
    unknown keys and bad values one :class:`~symaudit.errors.UserError` line."""
    from symaudit.aggregate._bootstrap import Bootstrap
    from symaudit.errors import UserError
    from symaudit.settings import parse_settings, resolve

    raw = {"bootstrap": parse_settings(text)}
    try:
        return Bootstrap.from_settings(resolve("analysis", raw)["bootstrap"])
    except ValueError as err:
        raise UserError(f"--bootstrap: {err}") from None


def run(args: argparse.Namespace) -> int:
    import dask

    from symaudit.aggregate._write import aggregate

    study = Path(args.study_dir)
    if not study.is_dir():
        raise FileNotFoundError(f"--study-dir {study} is not a directory")
    out = Path(args.out_dir) if args.out_dir else study / "tables"
    boot = bootstrap_settings(args.bootstrap)
    if args.robustness_only:
        return _robustness(study, out, args.primary, args.status, args.inputs, boot)
    with dask.config.set(scheduler="threads", num_workers=args.workers):
        written = aggregate(
            study,
            out,
            element_sets=args.element_sets,
            kinds=args.kinds,
            require=args.element_sets is not None,
            inputs=args.inputs,
            bootstrap=boot,
        )
    if not written:
        raise FileNotFoundError(f"no equivariance or influence stores under {study}")
    if args.twirl:
        from symaudit.aggregate._io import write_atomic
        from symaudit.aggregate._twirl import TWIRL_TABLE, twirl_table

        table = twirl_table(study, args.inputs, boot)
        written.append(
            write_atomic(out / f"{TWIRL_TABLE}.csv", lambda p: table.to_csv(p, index=False))
        )
    for path in written:
        print(path)
    return 0


def _robustness(
    study: Path, out: Path, primary: str, status: str | None, inputs: list | None, boot
) -> int:
    import sys

    import yaml

    from symaudit.aggregate._io import write_atomic
    from symaudit.aggregate._robustness import (
        ORDERING_TABLE,
        ROBUSTNESS_TABLE,
        STABLE_TAU,
        galerkin_ordering,
        robustness_figures,
        robustness_medians,
        robustness_status,
        robustness_table,
    )

    medians = robustness_medians(study, inputs, boot)
    if medians.empty:
        raise FileNotFoundError(
            f"no damping-path influence (pi_path_std) under {study}: set influence.damping.values"
        )
    table = robustness_table(medians)
    out.mkdir(parents=True, exist_ok=True)
    ordering = galerkin_ordering(study, inputs)  # header only without galerkin_reference
    frames = (
        (ROBUSTNESS_TABLE, table),
        (f"{ROBUSTNESS_TABLE}_medians", medians),
        (ORDERING_TABLE, ordering),
    )
    for name, frame in frames:
        print(write_atomic(out / f"{name}.csv", lambda p, f=frame: f.to_csv(p, index=False)))
    if status:
        text = yaml.safe_dump(robustness_status(table), sort_keys=False)
        print(write_atomic(Path(status), lambda p: p.write_text(text)))
    label = repr(float(primary)) if primary else None
    for path in robustness_figures(medians, table, study / "figures", primary=label):
        print(path)
    for row in table[~table["stable"]].itertuples():
        print(
            f"warning: influence ranking of {row.dataset}/{row.model}/{row.element_set} not "
            f"stable between damping {row.damping_a} and {row.damping_b}: Kendall tau "
            f"{row.tau:.2f} < {STABLE_TAU}",
            file=sys.stderr,
        )
    return 0
