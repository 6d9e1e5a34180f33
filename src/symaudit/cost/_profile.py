"""What a Slurm profile asks per rule, and what a run's Snakemake benchmark files measured."""

from __future__ import annotations

import csv
import re
from collections.abc import Mapping
from pathlib import Path

#: rules that run in the Snakemake process (``localrules`` of workflow/rules/*.smk)
LOCAL = {
    "study_config",
    "model_quality",
    "aggregate_tables",
    "figures",
    "influence_robustness",
    "findings",
    "report_html",
    "companion_tables",
    "lie_tables",
    "commutator_law",
    "cost_table",
    "conservation",
    "conservation_report",
}


#: rules that ask for a GPU (``resources: gpu=1`` in workflow/rules/*.smk)
GPU_RULES = {
    "train_model",
    "influence_solve",
    "influence_bras",
    "equivariance_errors",
    "twirl_decomposition",
    "lie_derivative",
    "companion_run",
}
#: the per-run analysis rules (``analysis.jobs: per_run``), one per dataset group
PER_RUN_PREFIXES = ("influence_bras_", "equivariance_")


def _first_attempt(value) -> float | None:
    """A profile resource at attempt 1: a number, or ``"attempt * N"``."""
    if value is None:
        return None
    if isinstance(value, int | float):
        return float(value)
    match = re.fullmatch(r"\s*attempt\s*\*\s*([\d.]+)\s*", str(value))
    if match:
        return float(match.group(1))
    try:
        return float(value)
    except ValueError:
        return None


def rule_resources(profile: Mapping, rule: str) -> tuple[str, float | None, float | None]:
    """(device, runtime in minutes, memory in MB) of ``rule``'s first attempt under
    ``profile``: ``local`` for local rules, ``gpu`` for the rules that ask for one, else
    ``cpu``; a rule the profile does not name gets its ``default-resources``."""
    if rule in LOCAL:
        return "local", None, None
    default = profile.get("default-resources", {}) or {}
    own = (profile.get("set-resources", {}) or {}).get(rule, {}) or {}
    gpu = rule in GPU_RULES or rule.startswith(PER_RUN_PREFIXES) or "gpu" in own or "gres" in own
    device = "gpu" if gpu else "cpu"
    runtime = _first_attempt(own.get("runtime", default.get("runtime")))
    memory = _first_attempt(own.get("mem_mb", default.get("mem_mb")))
    return device, runtime, memory


def load_profile(path: str | Path | None) -> dict:
    import yaml

    if path is None:
        return {}
    path = Path(path)
    if path.is_dir():
        path = path / "config.yaml"
    return yaml.safe_load(path.read_text()) or {}


def benchmark_rule(path: Path) -> str | None:
    """The rule a benchmark file belongs to, from its path (it mirrors the rule's log path:
    ``benchmarks/{study}/<stage>/<name>.tsv``)."""
    stage, name = path.parent.name, path.stem
    if stage == "data":
        return "pdegym_lookalike" if re.search(r"_(data|velocity)_\d+$", name) else "ingest_family"
    if stage == "train":
        return "train_model"
    dataset = name.split("_", 1)[0]
    if stage == "influence":
        if name.endswith("_bras"):  # per run: {dataset}_{model}_seed{seed}_bras
            return f"influence_bras_{dataset}"
        return "influence_solve" if name.endswith("_solve") else "influence_bras"
    if stage == "equivariance":
        if re.search(r"_seed\d+$", name):  # per run: {dataset}_{model}_seed{seed}
            return f"equivariance_{dataset}"
        if name.endswith("_lie"):
            return "lie_derivative"
        return "twirl_decomposition" if name.endswith("_twirl") else "equivariance_errors"
    if stage == "companion":
        return "companion_tables" if name == "tables" else "companion_run"
    if stage == "aggregate":
        return {
            "config": "study_config",
            "tables": "aggregate_tables",
            "robustness": "influence_robustness",
            "report": "report_html",
        }.get(name, name)
    return None


def read_benchmarks(directory: str | Path) -> dict[str, dict[str, float]]:
    """Per rule, the largest ``max_rss`` (MB) and wall ``s`` over its benchmark files."""
    out: dict[str, dict[str, float]] = {}
    for path in sorted(Path(directory).rglob("*.tsv")):
        rule = benchmark_rule(path)
        if rule is None:
            continue
        with open(path, newline="") as fh:
            for rec in csv.DictReader(fh, delimiter="\t"):
                entry = out.setdefault(rule, {"max_rss_mb": 0.0, "max_seconds": 0.0})
                for key, column in (("max_rss_mb", "max_rss"), ("max_seconds", "s")):
                    try:
                        entry[key] = max(entry[key], float(rec[column]))
                    except (KeyError, ValueError):  # "NA" on a job too short to sample
                        pass
    return out
