"""Wall time and job-seconds per rule of a study, this commit against a previous one, side by side.

    python bench/quick_study.py                       # the quick study: HEAD against main
    python bench/quick_study.py --ref main~3 --new HEAD --configfile tests/workflow/tiny.yaml
    python bench/quick_study.py --logs OLD_DIR NEW_DIR   # compare two finished runs, run nothing

Each side is the ref's committed tree (``git archive``: nothing is added to the repository, no
worktree to clean up) in a temporary folder, run from scratch one after the other (never at
the same time: they would share the cores) with this interpreter's Snakemake, the local
profile and ``--cores``, as ``make study`` runs it (with ``SLURM_CONF`` at the side's
``workflow/profiles/local/no-slurm.conf`` when it has one, as its Makefile does).

Per rule: jobs and job-seconds (the sum of each job's end minus start in Snakemake's log,
``.snakemake/log/``, 1-s resolution; a job's Python start-up and model load are in it), and the
wall time (Snakemake's first to last log line, and the whole command with its start-up).  When
the side's rules write ``benchmark:`` files (``benchmarks/<study>/<stage>/*.tsv``), their
``s`` column summed per stage folder is printed too.  ``--json`` writes all of it.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
STAMP = re.compile(r"^\[(\w{3} \w{3} +\d+ \d\d:\d\d:\d\d \d{4})\]$")
START = re.compile(r"^(?:local)?rule (\w+):$")
JOBID = re.compile(r"^\s+jobid: (\d+)$")
DONE = re.compile(r"^Finished jobid: (\d+) \(Rule: (\w+)\)$")


def _when(text: str) -> datetime:
    return datetime.strptime(" ".join(text.split()), "%a %b %d %H:%M:%S %Y")


def parse_log(path: Path) -> dict:
    """Jobs and job-seconds per rule, and the wall seconds, of one Snakemake log."""
    stamp, rule, starts, first, last = None, None, {}, None, None
    jobs: dict[str, list[float]] = defaultdict(list)
    for line in path.read_text().splitlines():
        if m := STAMP.match(line):
            stamp = _when(m.group(1))
            first, last = first or stamp, stamp
        elif m := START.match(line):
            rule = m.group(1)
        elif (m := JOBID.match(line)) and rule:
            starts[m.group(1)] = (rule, stamp)
            rule = None
        elif (m := DONE.match(line)) and m.group(1) in starts:
            name, began = starts.pop(m.group(1))
            jobs[name].append((stamp - began).total_seconds())
    wall = (last - first).total_seconds() if first else float("nan")
    return {"wall_log_s": wall, "rules": {r: [len(s), sum(s)] for r, s in jobs.items()}}


def benchmark_seconds(workdir: Path) -> dict[str, float]:
    """``s`` of every benchmark file, summed per stage folder (empty without benchmark files)."""
    sums: dict[str, float] = defaultdict(float)
    for tsv in sorted((workdir / "benchmarks").rglob("*.tsv")):
        rows = [line.split("\t") for line in tsv.read_text().splitlines() if line.strip()]
        if len(rows) >= 2 and rows[0][0] == "s":
            sums[tsv.parent.name] += sum(float(r[0]) for r in rows[1:])
    return dict(sums)


def latest_log(workdir: Path) -> Path:
    """The newest log that ran jobs (not report_html's nested --report run, logged after it)."""
    logs = sorted((workdir / ".snakemake" / "log").glob("*.snakemake.log"))
    logs = [p for p in logs if "Finished jobid" in p.read_text()]
    if not logs:
        raise SystemExit(f"quick_study: no Snakemake log in {workdir}/.snakemake/log")
    return logs[-1]


def run_side(ref: str, dest: Path, args) -> dict:
    """The ref's tree in ``dest``, the study run there from scratch; its measurements."""
    dest.mkdir(parents=True)
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", ref], check=True, capture_output=True
    )
    subprocess.run(["tar", "-x", "-C", str(dest)], input=archive.stdout, check=True)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    no_slurm = dest / "workflow/profiles/local/no-slurm.conf"
    if no_slurm.exists():
        env["SLURM_CONF"] = str(no_slurm)
    config = ["--configfile", args.configfile] if args.configfile else []
    # the target before --configfile, which takes every argument after it
    cmd = [sys.executable, "-m", "snakemake", args.target, "--workflow-profile",
           "workflow/profiles/local", "--cores", str(args.cores), *config]  # fmt: skip
    print(f"quick_study: {ref}: {' '.join(cmd[1:])} in {dest}", file=sys.stderr)
    tic = time.perf_counter()
    proc = subprocess.run(cmd, cwd=dest, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - tic
    if proc.returncode:
        raise SystemExit(f"quick_study: {ref} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    return measure(dest, wall)


def measure(workdir: Path, wall: float = float("nan")) -> dict:
    out = parse_log(latest_log(workdir))
    return {**out, "wall_command_s": wall, "benchmarks_s": benchmark_seconds(workdir)}


def table(names: list[str], sides: list[dict]) -> str:
    """Jobs and job-seconds per rule, the sides side by side; totals and wall times below."""
    head = f"{'rule':28}" + "".join(f"{n[:16]:>17}{'':>9}" for n in names)
    sub = f"{'':28}" + "".join(f"{'jobs':>17}{'job-s':>9}" for _ in names)
    rules = sorted({r for s in sides for r in s["rules"]})
    lines = [head, sub]
    for rule in rules:
        cells = [s["rules"].get(rule, [0, 0.0]) for s in sides]
        lines.append(f"{rule:28}" + "".join(f"{n:>17}{t:>9.0f}" for n, t in cells))
    total = [
        (sum(v[0] for v in s["rules"].values()), sum(v[1] for v in s["rules"].values()))
        for s in sides
    ]
    lines.append(f"{'total':28}" + "".join(f"{n:>17}{t:>9.0f}" for n, t in total))
    for key, label in (
        ("wall_log_s", "wall, Snakemake log (s)"),
        ("wall_command_s", "wall, command (s)"),
    ):
        lines.append(f"{label:28}" + "".join(f"{s[key]:>26.0f}" for s in sides))
    stages = sorted({k for s in sides for k in s["benchmarks_s"]})
    for stage in stages:
        label = f"benchmark s: {stage}"
        lines.append(
            f"{label:28}"
            + "".join(f"{s['benchmarks_s'].get(stage, float('nan')):>26.0f}" for s in sides)
        )
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ref", default="main", help="the earlier commit (default main)")
    parser.add_argument("--new", default="HEAD", help="the later commit (default HEAD)")
    parser.add_argument("--configfile", help="relative to the tree (default: the quick study)")
    parser.add_argument("--target", default="all")
    parser.add_argument("--cores", type=int, default=2)
    parser.add_argument(
        "--workdir", type=Path, help="where the trees go (default: a temp dir, kept)"
    )
    parser.add_argument("--logs", nargs=2, type=Path, metavar=("OLD_DIR", "NEW_DIR"),
                        help="compare two finished runs' working directories")  # fmt: skip
    parser.add_argument("--json", type=Path, help="write the measurements here")
    args = parser.parse_args(argv)
    if args.logs:
        names = [str(p) for p in args.logs]
        sides = [measure(p) for p in args.logs]
    else:
        work = args.workdir or Path(tempfile.mkdtemp(prefix="quick_study-"))
        names = [args.ref, args.new]
        sides = [run_side(ref, work / f"side{i}", args) for i, ref in enumerate(names)]
    print(table(names, sides))
    if args.json:
        args.json.write_text(
            json.dumps(dict(zip(names, sides, strict=True)), indent=1, sort_keys=True)
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
