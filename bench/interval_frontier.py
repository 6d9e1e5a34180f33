"""Interval width against analysis batches: the frontier of a finished study's derived rows.

Issue "findings you can publish" asks for the width of the intervals a study buys against the
minutes it costs.  The forward-pass statistics (equivariance errors and their per-seed
quantiles, on which the reciprocity rows are judged) are bootstrapped over (seed, batch)
clusters, and a batch = one test trajectory per class.  This script takes a FINISHED study
(its per-run equivariance stores), keeps only the first k analysis batches of every store for
k = 2 .. K, re-aggregates the per-seed tables with the project's bootstrap (``min_clusters``
lowered to 2 so that small k still gives an interval; below 5 clusters a percentile bootstrap
has few distinct resamples and its intervals are too narrow, which is why the study's
min_clusters is 5) and judges the reciprocity rows
(``symaudit.validation._reciprocity.symmetric_rows``) on them.  It prints, per k, the median
interval width of the rows and how many hold / fail / are inconclusive.  The cost of one more
batch is the study's own measured job-seconds of the forward-pass rules (equivariance with its
Lie-derivative jobs, commutator) divided by its batches, from ``benchmarks/{study}``.

To measure beyond a study's own batches, rerun its equivariance jobs with more ``--batches``
into a scratch study directory first (up to the test trajectories per class: 29 of 96 in the
look-alike families).

    PYTHONPATH=src .venv/bin/python bench/interval_frontier.py --study-dir results/validation \
        --benchmarks benchmarks/validation --out bench/interval_frontier.json

Nothing of the study is modified: the subsets are written under a temporary directory.
"""

from __future__ import annotations

import argparse
import json
import math
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from symaudit.aggregate._bootstrap import Bootstrap
from symaudit.aggregate._write import aggregate
from symaudit.validation._reciprocity import SYMMETRIC_SETS, symmetric_rows

#: benchmark folders of the rules whose cost grows with analysis.batches (the influence stage
#: uses analysis.influence_batches and does not)
PER_BATCH_RULES = ("equivariance", "commutator")


def subset_study(study: Path, k: int, out: Path) -> None:
    """Copy the study's equivariance stores of the symmetric sets, first k batches only."""
    for path in sorted((study / "equivariance").rglob("*_chunk*.nc")):
        set_name = path.name.rsplit("_chunk", 1)[0]
        if set_name not in SYMMETRIC_SETS:
            continue
        target = out / "equivariance" / path.relative_to(study / "equivariance")
        target.parent.mkdir(parents=True, exist_ok=True)
        with xr.open_dataset(path) as ds:
            ds.isel(batch=slice(0, k)).load().to_netcdf(target)


def judged(study: Path, k: int, boot: Bootstrap) -> pd.DataFrame:
    """The reciprocity rows of the study's first k batches."""
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        subset_study(study, k, root)
        aggregate(root, root / "tables", kinds=("equivariance",), bootstrap=boot)
        rows = pd.DataFrame(symmetric_rows(root / "tables"))
    rows["k"] = k
    return rows


def per_batch_seconds(benchmarks: Path, batches: int) -> float:
    """Job-seconds of the forward-pass rules per analysis batch, from the study's benchmarks."""
    total = 0.0
    for rule in PER_BATCH_RULES:
        for tsv in (benchmarks / rule).glob("*.tsv"):
            lines = tsv.read_text().splitlines()
            if len(lines) > 1:
                total += float(lines[1].split("\t")[0])
    return total / batches


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--study-dir", type=Path, required=True)
    parser.add_argument("--benchmarks", type=Path, default=None)
    parser.add_argument("--out", type=Path, default=None, help="JSON summary")
    parser.add_argument("--resamples", type=int, default=2000)
    parser.add_argument(
        "--ks", type=int, nargs="+", default=None, help="batch counts to judge (default 2 .. all)"
    )
    args = parser.parse_args(argv)
    store = next((args.study_dir / "equivariance").rglob("*_chunk*.nc"))
    with xr.open_dataset(store) as ds:
        batches = int(ds.sizes["batch"])
    boot = Bootstrap(resamples=args.resamples, min_clusters=2)
    ks = args.ks or range(2, batches + 1)
    rows = pd.concat([judged(args.study_dir, k, boot) for k in ks if 2 <= k <= batches])
    rows["width"] = rows["hi"] - rows["lo"]
    summary = {"batches": batches, "per_k": {}}
    for k, sub in rows.groupby("k"):
        counts = sub.verdict.value_counts().to_dict()
        summary["per_k"][int(k)] = {
            "rows": len(sub),
            "median_width": float(np.nanmedian(sub.width)),
            **{v: int(counts.get(v, 0)) for v in ("holds", "fails", "inconclusive")},
        }
        print(
            f"k={k}: {len(sub)} rows, median width {np.nanmedian(sub.width):.3f}, "
            + ", ".join(f"{v} {counts.get(v, 0)}" for v in ("holds", "fails", "inconclusive"))
        )
    cost = per_batch_seconds(args.benchmarks, batches) if args.benchmarks else math.nan
    summary["per_batch_job_seconds"] = cost
    for k, entry in summary["per_k"].items():
        entry["extra_minutes_2_cores"] = (k - batches) * cost / 2 / 60
    if args.benchmarks:
        print(f"one batch more: {cost:.0f} job-s of the forward-pass rules ({args.benchmarks})")
    if args.out:
        args.out.write_text(json.dumps(summary, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
