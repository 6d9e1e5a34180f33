"""The tiny study on the project's single-node Slurm: every rule a Slurm job, outputs equal to a
local run's; a cancelled training job resumes from its checkpoint; an interrupted Snakemake
cancels its jobs and a rerun finishes without redoing finished work."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import torch
import yaml

from tests._workflow import TINY, copy_repo, snakemake

pytestmark = [pytest.mark.slurm, pytest.mark.workflow]
SLURM = ["--workflow-profile", "workflow/profiles/slurm-local"]


def _squeue_ids() -> list[str]:
    out = subprocess.run(["squeue", "-h", "-o", "%i"], capture_output=True, text=True)
    return out.stdout.split()


def _wait_queue_empty(timeout=60):
    end = time.time() + timeout
    while time.time() < end:
        if not _squeue_ids():
            return True
        time.sleep(1)
    return False


#: table columns that measure the machine, not results: wall-clock time (model_quality.csv) and
#: the jobs' memory from their benchmark files (cost.csv)
TIMING_COLUMNS = ("wall_time_s", "max_rss_mb")


def test_tiny_study_on_slurm_equals_local(tiny_study, tmp_path, slurm_cluster):
    work = copy_repo(tmp_path / "repo")
    snakemake(work, *TINY, *SLURM, "all", timeout=2400)
    local_tables = sorted((tiny_study / "results/tiny/tables").glob("*.csv"))
    assert local_tables
    for table in local_tables:
        # every computed number bit for bit; how long training took is not one of them
        ours = pd.read_csv(work / "results/tiny/tables" / table.name).drop(
            columns=list(TIMING_COLUMNS), errors="ignore"
        )
        theirs = pd.read_csv(table).drop(columns=list(TIMING_COLUMNS), errors="ignore")
        pd.testing.assert_frame_equal(ours, theirs, check_exact=True)
    logs = list((work / ".snakemake/slurm_logs").rglob("*.log"))
    rules = {p.parent.parent.name.removeprefix("rule_") for p in logs}
    assert {"simulate_family", "train_model", "influence_solve"} <= rules, rules


def _train_cfg(work: Path, epochs: int) -> Path:
    cfg = yaml.safe_load((work / "tests/workflow/tiny.yaml").read_text())
    cfg.update(study="faults", datasets=["NS"], models=["unet"], seeds=[0])
    cfg["train"].update(epochs=epochs, checkpoint_every=1)
    path = work / "faults.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def test_cancelled_training_resumes_to_identical_weights(tmp_path, slurm_cluster):
    work = copy_repo(tmp_path / "repo")
    cfg = _train_cfg(work, epochs=8)
    run = work / "results/faults/models/NS/unet/seed0"
    target = str(run.relative_to(work) / "final.pt")
    # the reference: the same training uninterrupted, locally
    ref = copy_repo(tmp_path / "ref")
    _train_cfg(ref, epochs=8)
    snakemake(ref, "--configfile", "faults.yaml", "--cores", "2", target)
    expected = torch.load(ref / target, weights_only=True)

    snakemake(work, "--configfile", str(cfg), *SLURM, "stage_data")
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    env.pop("PYTHONPATH", None)
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "snakemake",
            "--configfile",
            str(cfg),
            *SLURM,
            "--retries",
            "2",
            target,
        ],
        cwd=work,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        end = time.time() + 600
        while not list(run.glob("ckpt_epoch*.pt")) and time.time() < end:
            assert proc.poll() is None, proc.stdout.read()
            time.sleep(0.2)
        cancelled = _squeue_ids()
        assert cancelled, "no Slurm job to cancel"
        subprocess.run(["scancel", *cancelled], check=True)
        out, _ = proc.communicate(timeout=900)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, out[-4000:]
    got = torch.load(work / target, weights_only=True)
    for name, tensor in expected["state_dict"].items():
        assert torch.equal(got["state_dict"][name], tensor), name
    log = (work / "logs/faults/train/NS_unet_seed0.log").read_text()
    assert "resum" in log.lower(), log[-2000:]


def test_interrupt_cancels_jobs_and_rerun_completes(tmp_path, slurm_cluster):
    work = copy_repo(tmp_path / "repo")
    cfg = _train_cfg(work, epochs=30)
    snakemake(work, "--configfile", str(cfg), *SLURM, "stage_data")
    stores = sorted((work / "results/faults/data").glob("*.zarr"))
    before = {p: (p / "zarr.json").stat().st_mtime_ns for p in stores}
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    env.pop("PYTHONPATH", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "snakemake", "--configfile", str(cfg), *SLURM, "stage_train"],
        cwd=work,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    end = time.time() + 300
    while not _squeue_ids() and time.time() < end:
        time.sleep(0.5)
    assert _squeue_ids(), "training was never submitted"
    proc.send_signal(signal.SIGINT)
    proc.communicate(timeout=300)
    assert _wait_queue_empty(), f"jobs left running after SIGINT: {_squeue_ids()}"
    rerun = snakemake(work, "--configfile", str(cfg), *SLURM, "--rerun-incomplete", "stage_train")
    assert (work / "results/faults/models/NS/unet/seed0/final.pt").exists()
    assert "simulate_family" not in rerun.stdout + rerun.stderr
    assert before == {p: (p / "zarr.json").stat().st_mtime_ns for p in stores}
