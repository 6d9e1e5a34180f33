"""``symaudit findings --tables DIR --out findings.csv``: the validation study's findings table.

Reads the study's own tables (``symaudit aggregate`` and ``symaudit quality`` outputs) and writes
one row per check, columns ``case, kind, expected, measured, lo, hi, verdict, holds`` (see
:mod:`symaudit.validation`).  Prints one line per known answer (exact or derived row) whose
verdict is not ``holds`` (``fails``, ``inconclusive`` or ``not measured``), one line per case
family (its known answers' verdicts and its descriptive rows), and a summary line that tallies
by kind (descriptive rows are no known answers); exit status 0 either way (a
finding is a result, not an error), 2 when the tables directory does not exist.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from symaudit.aggregate.cli_tables import BOOTSTRAP_HELP
from symaudit.baselines import add_gate_argument


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = __doc__.splitlines()[0]
    parser.add_argument("--tables", required=True, type=Path, help="results/{study}/tables")
    parser.add_argument("--out", required=True, type=Path, help="findings.csv to write")
    add_gate_argument(parser, None, "quality_status.yaml's, else 1")
    parser.add_argument(
        "--twirled",
        nargs="+",
        default=None,
        metavar="MODEL",
        help="case 1 models (default: every twirled-* model in the tables)",
    )
    parser.add_argument(
        "--unet", nargs="+", default=["unet"], metavar="MODEL", help="case 2 models (default unet)"
    )
    parser.add_argument(
        "--stride", type=int, default=None, help="case 2 down-sampling (default UNet.stride)"
    )
    parser.add_argument(
        "--augmented",
        nargs="+",
        default=None,
        metavar="VARIANT=BASE",
        help="case 4 pairs, e.g. unet-aug=unet (default: every X-aug model with X)",
    )
    parser.add_argument("--bootstrap", default=None, help=f"case 4: {BOOTSTRAP_HELP}")
    parser.add_argument(
        "--primary-damping",
        type=float,
        default=None,
        help="case 5: the primary λ of the damping path (influence.damping.primary)",
    )
    parser.add_argument(
        "--resolution", type=int, default=None, help="case 5: the grid N of G(N, k) (default 32)"
    )
    parser.add_argument(
        "--kinematic",
        action="store_true",
        help="case 7: compute the boost, scaling and Lie-derivative rows (about 20 s)",
    )


def run(args: argparse.Namespace) -> int:
    from symaudit.aggregate.cli_tables import bootstrap_settings
    from symaudit.validation import build_findings, family_tally, tally_line, write_findings

    if args.stride is not None and args.stride < 1:
        raise ValueError(f"--stride must be a positive integer, got {args.stride}")
    augmented = None
    if args.augmented is not None:
        pairs = [a.split("=") for a in args.augmented]
        bad = [a for a, p in zip(args.augmented, pairs, strict=True) if len(p) != 2 or not all(p)]
        if bad:
            raise ValueError(f"--augmented {bad[0]!r}: expected VARIANT=BASE, e.g. unet-aug=unet")
        augmented = dict(pairs)
    # the options named as build_findings names them
    same = ("max_persistence_ratio", "stride", "primary_damping", "resolution")
    options = {name: getattr(args, name) for name in same}
    df = build_findings(
        args.tables,
        twirled_models=args.twirled,
        unet_models=args.unet,
        augmented=augmented,
        bootstrap=bootstrap_settings(args.bootstrap),
        kinematic=args.kinematic,
        **options,
    )
    write_findings(df, args.out)
    unmeasured = df["measured"].str.startswith("not measured")
    known = df["kind"] != "descriptive"
    for row, absent in zip(df.itertuples(index=False), unmeasured, strict=True):
        if row.kind == "descriptive" or row.verdict == "holds":
            continue
        state = "not measured" if absent else row.verdict
        print(f"{state}: {row.case} ({row.kind}): expected {row.expected}; {row.measured}")
    for family, t in family_tally(df).iterrows():
        print(
            f"  {family}: {t.holds}/{t.known} known answers hold ({t.fails} fail, "
            f"{t.inconclusive} inconclusive), {t.descriptive} descriptive"
        )
    print(
        f"wrote {args.out}: {len(df)} checks ({int(known.sum())} known answers, "
        f"{int((known & unmeasured).sum())} of them not measured); {tally_line(df)}"
    )
    return 0
