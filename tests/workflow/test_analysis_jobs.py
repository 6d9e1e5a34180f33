"""``analysis.jobs``: per_run (the default: one bras job and one equivariance job per run, each
writing every per-chunk file of the run) and per_chunk (one job per chunk, the paper's Slurm
fan-out) write the same files with the same numbers; training jobs go first, the longest first."""

from __future__ import annotations

import re
import shutil

import numpy as np
import pytest
import xarray as xr

from tests._workflow import copy_repo, snakemake

from .test_workflow import planned_jobs

pytestmark = pytest.mark.workflow

PER_CHUNK = "extends: tiny.yaml\nanalysis:\n  jobs: per_chunk\n"


def _overlay(work, name: str = "per_chunk.yaml"):  # the tiny study, per chunk
    (work / "tests/workflow" / name).write_text(PER_CHUNK)
    return ["--configfile", f"tests/workflow/{name}"]


def test_quick_study_jobs_per_run_and_per_chunk(tmp_path):
    """The quick study's dry run: 8 runs x (4 sets of one chunk) -> 32 + 32 + 8 analysis jobs per
    chunk, 8 + 8 per run; the rest unchanged."""
    work = copy_repo(tmp_path / "repo")
    per_run = planned_jobs(snakemake(work, "-n", "all"))
    (work / "chunked.yaml").write_text("extends: config.yaml\nanalysis:\n  jobs: per_chunk\n")
    per_chunk = planned_jobs(snakemake(work, "--configfile", "chunked.yaml", "-n", "all"))
    assert per_chunk["influence_bras"] == per_chunk["equivariance_errors"] == 32
    assert per_chunk["twirl_decomposition"] == 8
    for dataset in ("CE", "NS"):
        assert per_run[f"influence_bras_{dataset}"] == per_run[f"equivariance_{dataset}"] == 4
    analysis = {"influence_bras", "equivariance_errors", "twirl_decomposition"}
    rest = {k: v for k, v in per_chunk.items() if k not in analysis}
    assert {k: v for k, v in per_run.items() if not k.startswith(("influence_bras_", "equi"))} == (
        rest
    )
    assert sum(per_run.values()) == sum(per_chunk.values()) - 72 + 16


def test_training_first_longest_first(tmp_path):
    """Priorities in the quick study's dry run: every training job above every analysis job,
    the NS ViT (19 epochs) above the CE ViT (7) above the UNets (2); every store above every
    training job, those of the longest runs first."""
    work = copy_repo(tmp_path / "repo")
    out = snakemake(work, "-n", "all").stdout
    prio = {}
    for block in re.split(r"^\[.*\d{4}\]$", out, flags=re.M):  # a job per timestamp line
        rule = re.search(r"^(?:local)?rule (\w+):", block, re.M)
        wild = re.search(r"wildcards: (.*)", block)
        level = re.search(r"priority: (\d+)", block)
        if rule:
            key = (rule.group(1), wild.group(1) if wild else "")
            prio[key] = int(level.group(1)) if level else 0
    train = {w: p for (r, w), p in prio.items() if r == "train_model"}
    assert train["dataset=NS, model=vit, seed=0"] > train["dataset=CE, model=vit, seed=0"]
    assert train["dataset=CE, model=vit, seed=0"] > train["dataset=CE, model=unet, seed=0"] > 0
    others = [p for (r, _), p in prio.items() if r not in ("train_model", "simulate_family")]
    assert max(others) == 0
    assert prio[("simulate_family", "family=NS-BB")] > prio[("simulate_family", "family=CE-RP")]
    # every store before any training: a store job takes 2 cores, so it cannot start beside one
    data = [p for (r, _), p in prio.items() if r == "simulate_family"]
    assert min(data) > max(train.values())


def _same(a, b) -> None:
    with xr.open_dataset(a) as x, xr.open_dataset(b) as y:
        assert sorted(x.data_vars) == sorted(y.data_vars), a
        for name in x.data_vars:
            np.testing.assert_array_equal(x[name].values, y[name].values, err_msg=f"{a} {name}")
        for name in x.coords:
            assert list(x[name].values) == list(y[name].values), (a, name)
        drop = {"git_revision"}  # repr: a NaN attribute (galerkin_reference_epsilon) is equal
        mine, theirs = ({k: repr(v) for k, v in d.attrs.items() if k not in drop} for d in (x, y))
        assert mine == theirs, a


def test_per_chunk_jobs_write_the_per_run_files(tiny_study, tmp_path):
    """The tiny study ran per run; its analysis rerun per chunk (real Snakemake, in a copy that
    shares the trained runs) gives every per-chunk and twirl file bit for bit, numbers and
    attributes (the git revision aside)."""
    work = copy_repo(tmp_path / "repo")
    shutil.copytree(tiny_study / "results", work / "results", symlinks=True)
    shutil.copytree(tiny_study / ".snakemake", work / ".snakemake", symlinks=True)
    chunked = _overlay(work)
    rules = ["equivariance_errors", "twirl_decomposition", "influence_bras"]
    proc = snakemake(
        work, *chunked, "--workflow-profile", "workflow/profiles/local", "--cores", "2",
        "stage_equivariance", "stage_influence", "--forcerun", *rules,
    )  # fmt: skip
    jobs = re.findall(r"^(?:local)?rule (\w+):", proc.stdout + proc.stderr, re.M)
    assert {"influence_bras", "equivariance_errors", "twirl_decomposition"} <= set(jobs)
    assert "train_model" not in jobs and "influence_solve" not in jobs
    files = sorted((tiny_study / "results/tiny").glob("*/*/*/seed*/*.nc"))
    files = [f for f in files if f.parts[-5] in ("equivariance", "influence")]
    assert len(files) == 4 * (4 + 4 + 1)  # 4 runs: 4 equivariance chunks, 4 bras, 1 twirl
    for path in files:
        _same(path, work / path.relative_to(tiny_study))
