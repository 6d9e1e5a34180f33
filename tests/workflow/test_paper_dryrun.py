"""The paper study, dry-run with the Slurm profile: its size stays at a few hundred jobs and
submissions; the README's journey line sends CPU rules to the CPU partition and GPU rules to the
GPU partition, with the account, the GPU option and a constant training runtime (the PDEGym inputs
faked as empty placeholder files)."""

import json
import math
import re

import pytest
import yaml

from symaudit.datasets import FAMILIES
from tests._workflow import ROOT, copy_repo, snakemake

from .test_workflow import planned_jobs

pytestmark = pytest.mark.workflow

# rule -> Snakemake group (from workflow/rules/*.smk); local rules never become submissions
GROUPS = {
    "influence_bras": "influence",
    "equivariance_errors": "equivariance",
    "twirl_decomposition": "equivariance",
}
LOCAL = {"study_config", "aggregate_tables", "figures", "report_html", "cost_table", "all"}


def _fake_pdegym(root):
    for family, spec in FAMILIES.items():
        (root / family).mkdir(parents=True)
        prefix = "data" if spec.dataset == "CE" else "velocity"
        for chunk in range(3):
            (root / family / f"{prefix}_{chunk}.nc").touch()
    return root


def test_paper_study_is_a_few_hundred_jobs_and_submissions(tmp_path):
    pdegym = _fake_pdegym(tmp_path / "pdegym")
    work = copy_repo(tmp_path / "repo")
    proc = snakemake(
        work,
        "--configfile",
        "config/paper.yaml",
        "--config",
        f"pdegym_dir={pdegym}",
        "--workflow-profile",
        "workflow/profiles/slurm",
        "-n",
        "all",
    )
    jobs = planned_jobs(proc)
    cfg = yaml.safe_load((ROOT / "config/paper.yaml").read_text())
    runs = len(cfg["datasets"]) * len(cfg["models"]) * len(cfg["seeds"])
    assert jobs["train_model"] == runs == 12
    assert jobs["influence_solve"] == runs * cfg["analysis"]["batches"] == 216
    assert jobs["ingest_family"] == 6
    total = sum(jobs.values())
    profile = yaml.safe_load((ROOT / "workflow/profiles/slurm/config.yaml").read_text())
    components = profile["group-components"]
    grouped: dict[str, int] = {}
    submissions = 0
    for rule, count in jobs.items():
        if rule in LOCAL:
            continue
        if rule in GROUPS:
            grouped[GROUPS[rule]] = grouped.get(GROUPS[rule], 0) + count
        else:
            submissions += count
    submissions += sum(math.ceil(n / components[g]) for g, n in grouped.items())
    print(f"paper study: {total} jobs, {submissions} Slurm submissions; {jobs}")
    assert 300 <= total <= 500, jobs
    assert submissions <= 300, (submissions, jobs)


GPU_RULES = {
    "train_model",
    "influence_solve",
    "influence_bras",
    "equivariance_errors",
    "twirl_decomposition",
}


@pytest.mark.parametrize("option", ["gpus", "gres"])
def test_journey_sends_each_rule_to_its_partition(tmp_path, monkeypatch, option):
    """README journey 1 (dry run), with --directory on "scratch": every submitted job carries the
    account; CPU rules the CPU partition and no GPU; GPU rules the GPU partition and one GPU as
    --gpus (gpu=1) or --gres (gres=gpu:1); training a constant runtime."""
    pdegym = _fake_pdegym(tmp_path / "pdegym")
    work = copy_repo(tmp_path / "repo")
    scratch = tmp_path / "scratch"
    monkeypatch.setenv("SYMAUDIT_SLURM_ACCOUNT", "proj42")
    monkeypatch.setenv("SYMAUDIT_SLURM_CPU_PARTITION", "cpu_part")
    monkeypatch.setenv("SYMAUDIT_SLURM_GPU_PARTITION", "gpu_part")
    monkeypatch.setenv("SYMAUDIT_SLURM_GPU_OPTION", option)
    proc = snakemake(
        work, "-s", str(work / "Snakefile"), "--directory", str(scratch),
        "--configfile", str(work / "config/paper.yaml"), "--config", f"pdegym_dir={pdegym}",
        "--workflow-profile", "workflow/profiles/slurm", "-n", "all",
    )  # fmt: skip
    seen: dict[str, set] = {}
    for m in re.finditer(
        r"^\s*(?:local)?rule (\w+):.*?\n\s*resources: ([^\n]*)", proc.stdout, re.S | re.M
    ):
        res = dict(kv.split("=", 1) for kv in m.group(2).split(", ") if "=" in kv)
        key = tuple(res.get(k, "") for k in ("slurm_account", "slurm_partition", "gpu", "gres"))
        seen.setdefault(m.group(1), set()).add((key, res.get("runtime")))
    submitted = set(seen) - LOCAL
    assert GPU_RULES | {"ingest_family"} <= submitted, sorted(seen)
    gpu = ("0", "gpu:1") if option == "gres" else ("1", "")
    for rule in submitted:
        keys = {k for k, _ in seen[rule]}
        if rule in GPU_RULES:
            assert keys == {("proj42", "gpu_part", *gpu)}, (rule, keys)
        else:
            assert keys == {("proj42", "cpu_part", "", "")}, (rule, keys)
    assert {r for _, r in seen["train_model"]} == {"720"}
    profile = yaml.safe_load((ROOT / "workflow/profiles/slurm/config.yaml").read_text())
    assert profile["set-resources"]["train_model"]["runtime"] == 720  # not "attempt * ..."
    # results and Snakemake's metadata go to the --directory, none into the checkout
    assert (scratch / ".snakemake").is_dir() and not (work / ".snakemake").exists()


def _commands(proc) -> list[str]:
    """Every planned job's shell command, sorted (a dry run with -p)."""
    return sorted(re.findall(r"^Shell command: (.*)$", proc.stdout, re.M))


@pytest.mark.parametrize("study", ["paper", "validation"])
def test_a_config_file_plans_one_study_from_any_directory(tmp_path, study):
    """The same --configfile from the repository root and with --directory elsewhere plans the
    same jobs with the same --settings (no default config merged under it from the root); the
    paper's runs train 150 (CE) / 100 (NS) epochs of the direct map."""
    pdegym = _fake_pdegym(tmp_path / "pdegym")
    work = copy_repo(tmp_path / "repo")
    extra = ["--config", f"pdegym_dir={pdegym}"] if study == "paper" else []
    args = ["-n", "-p", "all", *extra]
    root = snakemake(work, "--configfile", f"config/{study}.yaml", *args)
    elsewhere = snakemake(
        tmp_path,
        *("-s", str(work / "Snakefile"), "--directory", str(tmp_path / "scratch")),
        *("--configfile", str(work / f"config/{study}.yaml"), *args),
    )
    assert planned_jobs(root) == planned_jobs(elsewhere)
    assert _commands(root) == _commands(elsewhere)
    # a dry run's first line is the resolved study
    assert root.stderr.splitlines()[0].startswith(f"study {study}: datasets ")
    if study != "paper":
        return
    trains = [c for c in _commands(root) if " -m symaudit train " in c]
    assert len(trains) == 12
    for command in trains:
        dataset = re.search(r"--dataset (\S+)", command)[1]
        settings = json.loads(re.search(r"--settings '(.*?)'", command)[1])
        assert settings["epochs"] == {"CE": 150, "NS": 100}[dataset], command
        assert settings["predict"] == "state", command
