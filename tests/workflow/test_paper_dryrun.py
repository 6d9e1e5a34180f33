"""The paper study, dry-run with the Slurm profile: its size stays at a few hundred jobs and
submissions (the PDEGym inputs faked as empty placeholder files)."""

import math

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
LOCAL = {"study_config", "aggregate_tables", "figures", "report_html", "all"}


def test_paper_study_is_a_few_hundred_jobs_and_submissions(tmp_path):
    pdegym = tmp_path / "pdegym"
    for family, spec in FAMILIES.items():
        (pdegym / family).mkdir(parents=True)
        prefix = "data" if spec.dataset == "CE" else "velocity"
        for chunk in range(3):
            (pdegym / family / f"{prefix}_{chunk}.nc").touch()
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
