"""Peak memory of a study's heavy jobs at a second analysis size: each rule's memory line.

The paper's influence jobs (48 kets per analysis batch, a 48-example metric batch) cannot run
on a workstation, so their memory is a line through two measured sizes.  Size 1 is a finished
study's own jobs (their Snakemake ``benchmark:`` files: the rehearsal, config/rehearsal.yaml);
size 2 reruns the same jobs with ``analysis.time_steps`` = K (K kets per class) on the SAME data
and trained models, one job at a time under ``/usr/bin/time`` (peak RSS of the job's process
tree's largest member, as Snakemake's benchmark records ``max_rss``), in a study
``{study}_t{K}`` beside it whose ``data``/``models`` link to the study's:

    .venv/bin/python bench/rule_memory.py --workdir /path/to/rehearsal/clone \\
        --configfile config/rehearsal.yaml --time-steps 2 --runs CE/unet CE/vit \\
        --rules influence_solve influence_bras --sets d4 --json bench/rule_memory.json

Per job: kets and peak RSS at both sizes, the slope per ket and the line's value at the paper's
48 kets (``--paper-kets``).  The jobs run with the study's settings (``influence.vmap_chunk``,
``operator_mode``, solver caps) and OMP_NUM_THREADS=1, as the workflow runs them locally.  CPU
runs: on a GPU node the activations live in device memory and the host RSS is lower.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import yaml

from symaudit.datasets import DATASETS

BLOCK = re.compile(r"^\s*(?:local)?rule (\w+):$")


def dry_run_jobs(workdir: Path, configfile: Path) -> list[dict]:
    """Every job of the study (``snakemake -n -p --forceall``): rule, wildcards, paths, shell."""
    env = {**os.environ, "SLURM_CONF": str(workdir / "workflow/profiles/local/no-slurm.conf")}
    cmd = [sys.executable, "-m", "snakemake", "all", "-n", "-p", "--forceall", "--cores", "1"]
    cmd += ["--configfile", str(configfile)]  # (nargs="+": the target goes before it)
    out = subprocess.run(cmd, cwd=workdir, env=env, capture_output=True, text=True, check=True)
    jobs: list[dict] = []
    for line in (out.stdout + out.stderr).splitlines():
        if match := BLOCK.match(line):
            jobs.append({"rule": match.group(1), "wildcards": {}})
        elif not jobs:
            continue
        elif line.strip().startswith("wildcards:"):
            pairs = line.split(":", 1)[1].split(",")
            jobs[-1]["wildcards"] = dict(p.strip().split("=", 1) for p in pairs if "=" in p)
        elif line.strip().startswith("benchmark:"):
            jobs[-1]["benchmark"] = line.split(":", 1)[1].strip()
        elif line.strip().startswith(("output:", "log:")):  # their folders, as Snakemake makes
            paths = line.split(":", 1)[1].split(",")
            jobs[-1].setdefault("paths", []).extend(p.strip() for p in paths)
        elif line.startswith("Shell command:"):
            jobs[-1]["shell"] = line.split(":", 1)[1].strip()
    return [j for j in jobs if "shell" in j]


def max_rss_mb(benchmark: Path) -> float:
    """``max_rss`` (MB) of a Snakemake benchmark file."""
    header, values = benchmark.read_text().splitlines()[:2]
    return float(dict(zip(header.split("\t"), values.split("\t"), strict=True))["max_rss"])


def run_measured(shell: str, workdir: Path) -> tuple[float, float]:
    """(peak RSS MB, wall s) of one job's shell command."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(workdir / "src")}
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    timed = ["/usr/bin/time", "-f", "%M %e", "-o", "/dev/stderr", "bash", "-c", shell]
    out = subprocess.run(timed, cwd=workdir, env=env, capture_output=True, text=True)
    if out.returncode:
        raise RuntimeError(f"job failed ({out.returncode}): {shell[:200]}\n{out.stderr[-2000:]}")
    kb, wall = out.stderr.strip().splitlines()[-1].split()
    return float(kb) / 1024, float(wall)


def overlay(workdir: Path, configfile: Path, k: int) -> tuple[Path, str, str]:
    """The size-K study beside the given one: its config, name, and the original's name."""
    study = yaml.safe_load((workdir / configfile).read_text())["study"]
    name = f"{study}_t{k}"
    path = (workdir / configfile).with_name(f"{name}.yaml")
    path.write_text(f"extends: {configfile.name}\nstudy: {name}\nanalysis:\n  time_steps: {k}\n")
    for part in ("data", "models"):
        link = workdir / "results" / name / part
        link.parent.mkdir(parents=True, exist_ok=True)
        if not link.exists():
            link.symlink_to(workdir / "results" / study / part, target_is_directory=True)
    return path, name, study


def wanted(job: dict, rules, runs, sets) -> bool:
    w = job["wildcards"]
    if job["rule"] not in rules or f"{w.get('dataset')}/{w.get('model')}" not in runs:
        return False
    return "set" not in w or (w["set"] in sets and int(w.get("chunk", 0)) == 0)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, required=True, help="the finished study's clone")
    parser.add_argument("--configfile", type=Path, default=Path("config/rehearsal.yaml"))
    parser.add_argument("--time-steps", type=int, default=2, help="kets per class at size 2")
    parser.add_argument("--runs", nargs="+", default=["CE/unet", "CE/vit"])
    parser.add_argument("--rules", nargs="+", default=["influence_solve", "influence_bras"])
    parser.add_argument("--sets", nargs="+", default=["d4"])
    parser.add_argument("--paper-kets", type=int, default=48)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    workdir = args.workdir.resolve()
    config, name, study = overlay(workdir, args.configfile, args.time_steps)
    steps1 = int(yaml.safe_load((workdir / args.configfile).read_text())["analysis"]["time_steps"])
    order = {r: i for i, r in enumerate(args.rules)}
    jobs = [j for j in dry_run_jobs(workdir, config) if wanted(j, args.rules, args.runs, args.sets)]
    rows = []
    for job in sorted(jobs, key=lambda j: order[j["rule"]]):
        classes = len(DATASETS[job["wildcards"]["dataset"]])  # kets = classes x time steps
        kets1, kets2 = classes * steps1, classes * args.time_steps
        rss1 = max_rss_mb(workdir / job["benchmark"].replace(f"/{name}/", f"/{study}/"))
        for path in job.get("paths", []):
            (workdir / path).parent.mkdir(parents=True, exist_ok=True)
        rss2, wall2 = run_measured(job["shell"], workdir)
        slope = (rss2 - rss1) / (kets2 - kets1)
        row = {
            "rule": job["rule"],
            **job["wildcards"],
            "kets": [kets1, kets2],
            "max_rss_mb": [round(rss1), round(rss2)],
            "wall_s_size2": wall2,
            "mb_per_ket": round(slope, 1),
            "paper_kets": args.paper_kets,
            "paper_mb": round(rss1 + slope * (args.paper_kets - kets1)),
        }
        rows.append(row)
        print(json.dumps(row), flush=True)
    if args.json:
        args.json.write_text(json.dumps({"study": study, "rows": rows}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
