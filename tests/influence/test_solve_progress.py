"""Long influence solves report their progress in the log (iteration, residuals), timestamped
like every CLI line; a Slurm job given a GPU that torch cannot see stops with one line."""

from __future__ import annotations

import logging
import re
import subprocess
import sys

import pytest
import torch

from symaudit.influence import _solver
from symaudit.influence._solver import block_cg, lockstep_cg

LINE = re.compile(
    r"(?P<name>block CG|CG) iteration (?P<it>\d+): relative residual max (?P<max>\S+), "
    r"median (?P<median>\S+); (?P<above>\d+)/(?P<n>\d+) columns above rtol"
)


def _system(size=60, n=3, seed=0):
    """SPD A with eigenvalues 1..1e4 (CG needs tens of iterations) and n right-hand sides."""
    gen = torch.Generator().manual_seed(seed)
    q, _ = torch.linalg.qr(torch.randn(size, size, generator=gen, dtype=torch.float64))
    a = q @ torch.diag(torch.logspace(0, 4, size, dtype=torch.float64)) @ q.T
    b = torch.randn(n, size, generator=gen, dtype=torch.float64)
    return (lambda v: v @ a), b


@pytest.mark.parametrize("solver", [block_cg, lockstep_cg])
def test_progress_lines_carry_the_solvers_residuals(solver, caplog):
    apply, b = _system()
    with caplog.at_level(logging.INFO, logger="symaudit.influence"):
        x, stats = solver(apply, b, rtol=1e-8, max_iterations=200, max_restarts=0)
    lines = [m for r in caplog.records if (m := LINE.search(r.getMessage()))]
    assert stats.total_iterations > 2 * _solver.PROGRESS_EVERY  # the test problem is long enough
    its = [int(m["it"]) for m in lines]
    # the first iteration, then every PROGRESS_EVERY (this solve takes far less than a minute)
    assert its[0] == 1
    assert set(
        range(_solver.PROGRESS_EVERY, stats.total_iterations + 1, _solver.PROGRESS_EVERY)
    ) <= set(its)
    for m in lines:  # the logged max is the solver's own residual history, to the printed digits
        assert float(m["max"]) == pytest.approx(stats.history[int(m["it"]) - 1], rel=1e-3)
        assert int(m["n"]) == 3 and 0 <= int(m["above"]) <= 3
        assert float(m["median"]) <= float(m["max"])
    done = [r.getMessage() for r in caplog.records if " done: " in r.getMessage()]
    assert len(done) == 1
    assert f"{stats.total_iterations} iterations" in done[0]
    assert f"max {stats.relres_true.max():.3e}" in done[0]


def test_progress_every_n_seconds(monkeypatch, caplog):
    """Between the every-k lines, a line at least every PROGRESS_SECONDS."""
    monkeypatch.setattr(_solver, "PROGRESS_EVERY", 10**6)
    monkeypatch.setattr(_solver, "PROGRESS_SECONDS", 0.0)
    apply, b = _system()
    with caplog.at_level(logging.INFO, logger="symaudit.influence"):
        _, stats = block_cg(apply, b, rtol=1e-8, max_iterations=200, max_restarts=0)
    its = [int(m["it"]) for r in caplog.records if (m := LINE.search(r.getMessage()))]
    assert its == list(range(1, stats.total_iterations + 1))


def test_progress_lines_reach_stderr_timestamped(capfd):
    from symaudit.cli import setup_logging

    setup_logging("INFO")
    apply, b = _system()
    block_cg(apply, b, rtol=1e-8, max_iterations=200, max_restarts=0)
    err = capfd.readouterr().err.splitlines()
    first = next(line for line in err if "iteration 1:" in line)
    assert re.match(
        r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z symaudit influence: info: block CG iteration 1: "
        r"relative residual max \d\.\d{3}e[+-]\d\d",
        first,
    ), first


# --- a Slurm GPU job that sees no GPU ---------------------------------------------------------


def _choose(env: dict[str, str]) -> subprocess.CompletedProcess:
    """default_device() in a fresh interpreter with exactly these Slurm/CUDA variables."""
    code = "from symaudit._device import default_device as d; print(d())"
    base = {
        k: v
        for k, v in __import__("os").environ.items()
        if not k.startswith(("SLURM_", "CUDA_VISIBLE", "SYMAUDIT_ALLOW"))
    }
    return subprocess.run(
        [sys.executable, "-c", code],
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine where torch sees no GPU")
@pytest.mark.parametrize(
    "env",
    [
        {"SLURM_JOB_ID": "7", "CUDA_VISIBLE_DEVICES": "0"},
        {"SLURM_JOB_ID": "7", "SLURM_JOB_GPUS": "1"},
        {"SLURM_JOB_ID": "7", "SLURM_GPUS_ON_NODE": "2"},
    ],
)
def test_slurm_gpu_job_without_visible_gpu_fails_in_one_line(env):
    from symaudit._device import check_gpu_visible
    from symaudit.cli import UserError

    done = _choose(env)
    assert done.returncode != 0
    last = done.stderr.strip().splitlines()[-1]
    assert "Slurm job 7 was given a GPU" in last and "sees none" in last, done.stderr
    # a UserError: every CLI prints it as one line without a traceback and exits 2
    with pytest.MonkeyPatch.context() as mp:
        for k, v in env.items():
            mp.setenv(k, v)
        mp.delenv("SYMAUDIT_ALLOW_CPU_FALLBACK", raising=False)
        with pytest.raises(UserError, match=r"was given a GPU \(.*\) but torch"):
            check_gpu_visible()


@pytest.mark.parametrize(
    "env",
    [
        {},  # not a Slurm job
        {"CUDA_VISIBLE_DEVICES": "0"},  # not a Slurm job either
        {"SLURM_JOB_ID": "7"},  # a CPU job
        {"SLURM_JOB_ID": "7", "SLURM_GPUS_ON_NODE": "0", "CUDA_VISIBLE_DEVICES": "-1"},
        {"SLURM_JOB_ID": "7", "CUDA_VISIBLE_DEVICES": "0", "SYMAUDIT_ALLOW_CPU_FALLBACK": "1"},
    ],
)
def test_cpu_runs_are_left_alone(env):
    done = _choose(env)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == ("cuda" if torch.cuda.is_available() else "cpu")
