"""A study of external models (`external_models:`, rule audit_external, docs/audit.md §9): a
real local run of two audits (the example data written by the rule audit_example_data, and a
file the test writes itself) with the known answer of the example Fourier multiplier, and the
Slurm dry run of config/external.yaml sending the audits to the GPU partition."""

import re

import pandas as pd
import pytest
import torch
import yaml

from symaudit.audit import DEFAULT_SETS
from symaudit.audit.examples import fourier_multiplier, write_example_data
from symaudit.errors import UserError
from symaudit.study import AUDIT_DEFAULT_SETS, Study
from tests._workflow import ROOT, copy_repo, snakemake

from .test_workflow import planned_jobs

pytestmark = pytest.mark.workflow

FACTORY = "python:symaudit.audit.examples:fourier_multiplier"


def _study(tmp_path, **keys):
    path = tmp_path / "study.yaml"
    path.write_text(yaml.safe_dump({"extends": "config.yaml", "study": "ext", **keys}))
    return path


def test_a_study_of_external_models_alone_is_valid(tmp_path):
    assert AUDIT_DEFAULT_SETS == DEFAULT_SETS  # the torch-free plan's copy
    study = Study.load(
        [_study(tmp_path, datasets=[], external_models={"m": {"spec": FACTORY, "data": "f.h5"}})],
        None,
        ROOT,
    )
    assert study.runs == [] and study.external_files() == [
        "results/ext/external/m/report.html",
        "results/ext/external/m/tables",
    ]
    assert study.summary().startswith("study ext: external models m (no datasets)")
    assert (
        study.external_arguments("m") == "--layout 'b c y x' --history 1 --sets d4,shift_x,shift_y"
    )


def test_no_datasets_and_no_external_models_is_one_line(tmp_path):
    with pytest.raises(UserError, match=r"^.*datasets: empty and no external_models"):
        Study.load([_study(tmp_path, datasets=[])], None, ROOT)


def test_external_study_runs_with_the_known_answer(tmp_path):
    """The Fourier multiplier is equivariant to every integer shift (R = 1, residual within
    float64's 1e-10) and, being anisotropic, to no element of D4 but e and r2 (its symbol is
    even); each model's own sets and trajectories reach its audit."""
    work = copy_repo(tmp_path / "repo")
    write_example_data(work / "mine.h5", trajectories=3, time_steps=3, resolution=16, seed=1)
    torch.save(fourier_multiplier().state_dict(), work / "mine.pt")  # a --weights input
    external = {
        "example": {"spec": FACTORY, "data": "results/ext/example/fields.h5"},
        "mine": {
            "spec": FACTORY,
            "data": "mine.h5",
            "sets": ["shift_y"],
            "trajectories": "1:3",
            "weights": "mine.pt",
        },
    }
    config = _study(work, datasets=[], external_models=external)
    profile = ("--workflow-profile", "workflow/profiles/local", "--cores", "2")
    snakemake(work, "--configfile", str(config), *profile)
    out = work / "results/ext/external"
    for name, sets in (("example", ["d4", "shift_x", "shift_y"]), ("mine", ["shift_y"])):
        assert (out / name / "report.html").stat().st_size > 0
        tables = sorted(p.name for p in (out / name / "tables").glob("equivariance_*[!d].csv"))
        assert tables == [f"equivariance_{s}.csv" for s in sorted(sets)], tables
        for s in sets:
            if s == "d4":
                continue
            table = pd.read_csv(out / name / "tables" / f"equivariance_{s}.csv")
            assert len(table) == 16 and table["within_tolerance"].all()
            for column in ("min", "median", "max"):
                assert (table[column] - 1).abs().max() < 1e-12, (name, s, column)
            assert table["residual_max"].max() < 1e-13
    d4 = pd.read_csv(out / "example/tables/equivariance_d4.csv").set_index("element")
    assert sorted(d4.index[d4["within_tolerance"]]) == ["e", "r2"]
    assert (d4.loc[["s", "sr", "sr2", "sr3"], "median"] - 1).abs().min() > 0.1
    assert (d4.loc[["e", "r2"], "median"] - 1).abs().max() < 1e-12
    mine = pd.read_csv(out / "mine/tables/equivariance_shift_y.csv")
    assert set(mine["n_examples"]) == {2 * 2}  # trajectories 1:3, 2 transitions each
    quality = pd.read_csv(out / "example/tables/model_quality.csv")
    assert quality["analysis_ratio"].iloc[0] < 1 and quality["passes"].iloc[0]
    # the Snakemake report links each audit's report.html and tables
    snakemake(work, "--configfile", str(config), "--report", "study_report.html")
    text = (work / "study_report.html").read_text(errors="ignore")
    assert "External models" in text and "equivariance_shift_x" in text and "model_quality" in text
    # nothing to do the second time
    again = snakemake(work, "--configfile", str(config), *profile, "-n")
    assert planned_jobs(again) == {}, again.stdout[-2000:]
    forced = snakemake(work, "--configfile", str(config), "-n", "-p", "-R", "audit_external")
    commands = re.findall(r"^Shell command: (.*)$", forced.stdout, re.M)
    assert sum(" --weights mine.pt " in c for c in commands) == 1, commands


def test_slurm_dry_run_sends_the_audits_to_the_gpu_partition(tmp_path, monkeypatch):
    work = copy_repo(tmp_path / "repo")
    monkeypatch.setenv("SYMAUDIT_SLURM_ACCOUNT", "proj42")
    monkeypatch.setenv("SYMAUDIT_SLURM_CPU_PARTITION", "cpu_part")
    monkeypatch.setenv("SYMAUDIT_SLURM_GPU_PARTITION", "gpu_part")
    monkeypatch.setenv("SYMAUDIT_SLURM_GPU_OPTION", "gpus")
    proc = snakemake(
        work, "--configfile", "config/external.yaml",
        "--workflow-profile", "workflow/profiles/slurm", "-n",
    )  # fmt: skip
    assert planned_jobs(proc) == {"audit_example_data": 1, "audit_external": 1, "all": 1}
    seen = {}
    for m in re.finditer(
        r"^\s*(?:local)?rule (\w+):.*?\n\s*resources: ([^\n]*)", proc.stdout, re.S | re.M
    ):
        res = dict(kv.split("=", 1) for kv in m.group(2).split(", ") if "=" in kv)
        seen[m.group(1)] = tuple(res.get(k, "") for k in ("slurm_partition", "gpu", "runtime"))
    assert seen["audit_external"] == ("gpu_part", "1", "60"), seen
    assert seen["audit_example_data"][:2] == ("cpu_part", ""), seen
