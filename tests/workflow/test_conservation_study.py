"""The conservation study through Snakemake: its own small DAG, its findings, its report."""

import pandas as pd
import pytest
import yaml

from tests._workflow import copy_repo, snakemake

from .test_workflow import planned_jobs

pytestmark = pytest.mark.workflow

CONFIG = ["--configfile", "config/conservation.yaml"]
PROFILE = ["--workflow-profile", "workflow/profiles/local", "--cores", "2"]


def test_conservation_study_runs_alone_and_every_finding_holds(tmp_path):
    work = copy_repo(tmp_path / "repo")
    plan = planned_jobs(snakemake(work, *CONFIG, "-n"))
    # nothing of the main pipeline: no data, no training
    assert plan == {"study_config": 1, "conservation": 1, "conservation_report": 1, "all": 1}
    snakemake(work, *CONFIG, *PROFILE)
    out = work / "results" / "conservation"
    findings = pd.read_csv(out / "tables" / "findings.csv")
    assert list(findings.columns) == ["case", "expected", "measured", "holds"]
    assert findings["holds"].all(), findings[~findings["holds"]].to_string()
    assert (out / "figures" / "conservation_defect.png").exists()
    report = (out / "report.html").read_text(errors="replace")
    assert "Conservation" in report and "conservation_defect.png" in report


def test_conservation_rules_only_when_enabled(tmp_path):
    work = copy_repo(tmp_path / "repo")
    plain = planned_jobs(snakemake(work, "--configfile", "tests/workflow/tiny.yaml", "-n"))
    assert "conservation" not in plain and "report_html" in plain
    cfg = yaml.safe_load((work / "tests/workflow/tiny.yaml").read_text())
    cfg["conservation"] = {"enabled": True, "steps": 10}
    (work / "with.yaml").write_text(yaml.safe_dump(cfg))
    proc = snakemake(work, "--configfile", "with.yaml", "-n", "-p", "stage_conservation")
    assert planned_jobs(proc) == {"conservation": 1, "stage_conservation": 1}
    assert f"--out-dir results/{cfg['study']}/conservation" in proc.stdout
    # the main study's default target is unchanged by enabling the section
    assert planned_jobs(snakemake(work, "--configfile", "with.yaml", "-n")) == plain
