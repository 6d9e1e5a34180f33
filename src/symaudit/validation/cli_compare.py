"""``symaudit findings-compare A B``: two runs of one study, known answer by known answer.

Prints one line per known answer (exact or derived row) whose verdict is not the same in both
``findings.csv`` (``softened``: decided in one run, inconclusive in the other; ``contradicts``:
holds in one, fails in the other; ``only_a``/``only_b``: measured in one run only), then the
tally per kind (:mod:`symaudit.validation._compare`).  With ``--out`` the matched rows are
written as CSV.  Exit status 0 when no verdict contradicts, 1 when one does.
"""

from __future__ import annotations

import argparse
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = __doc__.splitlines()[0]
    parser.add_argument("a", type=Path, help="the first run's findings.csv")
    parser.add_argument("b", type=Path, help="the second run's findings.csv")
    parser.add_argument("--out", type=Path, default=None, help="the matched rows (CSV)")


def run(args: argparse.Namespace) -> int:
    from symaudit._io import write_atomic
    from symaudit.validation._compare import agreement_tally, compare_verdicts, read_findings

    compared = compare_verdicts(read_findings(args.a), read_findings(args.b))
    for r in compared.itertuples(index=False):
        if r.agreement != "same":
            print(f"{r.agreement}: {r.case} ({r.kind}): {r.verdict_a} vs {r.verdict_b}")
    for kind, t in agreement_tally(compared).iterrows():
        print(f"  {kind}: " + ", ".join(f"{k} {v}" for k, v in t.items()))
    if args.out:
        write_atomic(args.out, lambda p: compared.to_csv(p, index=False))
        print(f"wrote {args.out}")
    return int((compared["agreement"] == "contradicts").any())
