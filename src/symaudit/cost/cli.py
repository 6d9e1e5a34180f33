"""``symaudit cost --configfile FILE [--config KEY=VALUE ...] [--out cost.csv]``.

Prints the study's cost per rule: jobs, hours per job and in total (labelled with the device
the unit costs were measured on: "CPU-measured" hours are not GPU-hours), the Slurm profile's
runtime and memory per job, the largest RSS of a run's benchmark files, scratch and Slurm
submissions.  Unit costs: ``bench/unit_costs.json`` (``bench/unit_costs.py`` on this machine).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from symaudit.config import CHECKOUT


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--configfile", nargs="+", required=True, help="the study's config")
    parser.add_argument(
        "--config", nargs="*", default=[], metavar="KEY=VALUE", help="overrides (a.b=value)"
    )
    parser.add_argument(
        "--units", default=str(CHECKOUT / "bench" / "unit_costs.json"), help="unit costs (JSON)"
    )
    parser.add_argument(
        "--profile",
        default=str(CHECKOUT / "workflow" / "profiles" / "slurm"),
        help="Slurm profile whose requests to show ('' for none)",
    )
    parser.add_argument("--benchmarks", default=None, help="a run's benchmarks/{study} folder")
    parser.add_argument(
        "--cg-iterations",
        type=int,
        default=None,
        help="CG iterations per λ assumed (default influence.max_iterations: an upper bound)",
    )
    parser.add_argument("--out", default=None, help="also write the table as CSV here")


def format_table(rows) -> str:
    from symaudit.cost import COLUMNS

    shown = [c for c in COLUMNS if c != "basis"]
    cells = [[_cell(getattr(r, c)) for c in shown] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(shown)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(shown, widths, strict=True))]
    lines += ["  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)) for row in cells]
    return "\n".join(lines)


def _cell(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.3g}"
    return str(value)


def run(args: argparse.Namespace) -> int:
    from symaudit.config import parse_overrides
    from symaudit.cost import (
        Plan,
        build_table,
        load_config,
        load_profile,
        read_benchmarks,
        write_csv,
    )

    cfg = load_config(args.configfile, parse_overrides(args.config))
    units_path = Path(args.units)
    units = json.loads(units_path.read_text()) if units_path.is_file() else {"costs": {}}
    profile = load_profile(args.profile or None)
    bench = read_benchmarks(args.benchmarks) if args.benchmarks else None
    rows = build_table(Plan(cfg), units, profile, bench, args.cg_iterations)
    machine = units.get("machine", {})
    print(
        f"study {cfg.get('study')}: unit costs {units_path} ({machine.get('device', '?')}, "
        f"{machine.get('processor', '?')}, torch {machine.get('torch', '?')}, "
        f"{machine.get('threads', '?')} thread(s), {machine.get('date', '?')})"
    )
    print(format_table(rows))
    modelled = [r for r in rows if r.total_hours is not None]
    total = sum(r.total_hours for r in modelled)
    label = modelled[0].measured_on if modelled else "no unit costs"
    jobs = sum(r.jobs for r in rows)
    subs = sum(r.submissions for r in rows)
    scratch = sum(r.scratch_gb_total for r in rows)
    print(
        f"total: {jobs} jobs, {subs} Slurm submissions, {total:.4g} h ({label}) of modelled "
        f"rules, {scratch:.4g} GB scratch written"
    )
    if args.out:
        write_csv(rows, args.out)
    return 0
