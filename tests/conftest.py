"""Shared pytest fixtures.

Slurm: tests marked ``slurm`` need the project's single-node test cluster
(``tests/slurm/cluster.sh up``); without a reachable, usable node they are skipped with the reason.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass

import pytest

# node states in which jobs can start (or will, once running jobs finish)
_USABLE = {"idle", "mixed", "allocated", "completing"}


@dataclass(frozen=True)
class SlurmCluster:
    """What the tests need to know about the reachable Slurm cluster."""

    partition: str  # the default partition
    cpus: int  # CPUs of the largest node
    gpus: int  # GPUs (GRES gpu) of the largest node


def _probe_slurm() -> SlurmCluster | str:
    """The cluster, or the reason why there is none."""
    if shutil.which("sinfo") is None:
        return "no Slurm: `sinfo` not found (run tests/slurm/cluster.sh up)"
    try:
        out = subprocess.run(
            ["sinfo", "-h", "-N", "-o", "%P|%T|%c|%G"],
            capture_output=True,
            text=True,
            timeout=20,
        )
    except subprocess.TimeoutExpired:
        return "no Slurm: `sinfo` timed out (is slurmctld up? tests/slurm/cluster.sh status)"
    if out.returncode != 0 or not out.stdout.strip():
        err = (out.stderr.strip().splitlines() or ["no nodes"])[-1]
        return f"no Slurm: `sinfo` failed ({err}); run tests/slurm/cluster.sh up"
    nodes = [line.split("|") for line in out.stdout.split("\n") if line.count("|") == 3]
    usable = [n for n in nodes if n[1].rstrip("*~#!%$@^-") in _USABLE]
    if not usable:
        states = ", ".join(sorted({n[1] for n in nodes}))
        return f"no usable Slurm node (states: {states}); run tests/slurm/cluster.sh up"
    default = next((n[0] for n in usable if n[0].endswith("*")), usable[0][0])

    def gpus(gres: str) -> int:
        total = 0
        for item in gres.split(","):
            parts = item.split("(")[0].split(":")
            if parts[0] == "gpu" and parts[-1].isdigit():
                total += int(parts[-1])
        return total

    return SlurmCluster(
        partition=default.rstrip("*"),
        cpus=max(int(n[2]) for n in usable),
        gpus=max(gpus(n[3]) for n in usable),
    )


@pytest.fixture(scope="session")
def slurm_cluster() -> SlurmCluster:
    """The reachable Slurm cluster; skips the test when there is none."""
    found = _probe_slurm()
    if isinstance(found, str):
        pytest.skip(found)
    # the test cluster's GPUs are fake (gres.conf File=/dev/null): jobs given one must run on the
    # CPU instead of stopping (symaudit._device); the jobs inherit this through sbatch --export=ALL
    os.environ["SYMAUDIT_ALLOW_CPU_FALLBACK"] = "1"
    return found


@pytest.fixture(autouse=True)
def _skip_slurm_tests_without_cluster(request: pytest.FixtureRequest) -> None:
    """Every test marked ``slurm`` depends on ``slurm_cluster`` (and so skips without one)."""
    if request.node.get_closest_marker("slurm") is not None:
        request.getfixturevalue("slurm_cluster")


@pytest.fixture(scope="session")
def tiny_study(tmp_path_factory):
    """The tiny study run end to end (`all`, report included) in a repository copy; shared by
    the workflow and the Slurm tests."""
    from tests._workflow import TINY, copy_repo, snakemake

    work = copy_repo(tmp_path_factory.mktemp("tiny"))
    snakemake(work, *TINY, "--workflow-profile", "workflow/profiles/local", "--cores", "2", "all")
    return work


@pytest.fixture(scope="module")
def one_thread():
    """Torch intra-op threads set to 1 for a module (``pytestmark = usefixtures("one_thread")``).

    The tiny models and ~1000-parameter nets of the unit tests are dispatch-bound: on the shared
    2-core CI machine OpenMP spin-waiting under oversubscription made them 4-10x slower.
    """
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
