"""The project's single-node Slurm test cluster (tests/slurm/cluster.sh) end to end.

Checks the three ways the project uses Slurm: plain sbatch with (fake) GPUs, Snakemake's slurm
executor with the `slurm-local` workflow profile, and a dask-jobqueue SLURMCluster (the data stage's
`cluster.kind: slurm`).  The node has 2 CPUs: the tests run one after another, never in parallel.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PROFILE = ROOT / "workflow" / "profiles" / "slurm-local"

pytestmark = [pytest.mark.slurm, pytest.mark.timeout(600)]


def _sbatch_wait(args: list[str], wrap: str, out: Path, timeout: int = 180) -> None:
    """Submit `wrap` with sbatch --wait and fail with the job's output when it does not succeed."""
    cmd = ["sbatch", "--parsable", "--wait", "-t", "5", "--mem=200", "-o", str(out), *args]
    done = subprocess.run([*cmd, "--wrap", wrap], capture_output=True, text=True, timeout=timeout)
    log = out.read_text() if out.exists() else "(no output file)"
    assert done.returncode == 0, f"{cmd} failed: {done.stderr}\n{log}"


@pytest.mark.parametrize("gpus", [1, 2])
def test_sbatch_gets_fake_gpus(slurm_cluster, tmp_path, gpus):
    if slurm_cluster.gpus < gpus:
        pytest.skip(f"the cluster's node has {slurm_cluster.gpus} GPU(s)")
    out = tmp_path / "job.out"
    _sbatch_wait(
        ["-p", slurm_cluster.partition, f"--gres=gpu:{gpus}"],
        'echo "job=$SLURM_JOB_ID"; echo "cvd=${CUDA_VISIBLE_DEVICES:-}"; '
        'echo "job_gpus=${SLURM_JOB_GPUS:-}"',
        out,
    )
    env = dict(line.split("=", 1) for line in out.read_text().splitlines() if "=" in line)
    assert env["job"].isdigit()
    # fake devices are not confined (no cgroups): the indices are the node's, 0 and/or 1
    visible = env["cvd"].split(",")
    assert len(visible) == gpus and set(visible) <= {"0", "1"}, out.read_text()
    assert len(env["job_gpus"].split(",")) == gpus


SNAKEFILE = """
ELEMENTS = ["a", "b"]


rule all:
    input:
        "collected.txt",


rule prep:
    output:
        "prep.txt",
    shell:
        "echo prep job=$SLURM_JOB_ID > {output}"


rule element:
    input:
        "prep.txt",
    output:
        "element_{e}.txt",
    group:
        "influence"
    resources:
        gpu=1,
    shell:
        "echo {wildcards.e} job=$SLURM_JOB_ID cvd=${{CUDA_VISIBLE_DEVICES:-none}} > {output}"


rule collect:
    input:
        expand("element_{e}.txt", e=ELEMENTS),
    output:
        "collected.txt",
    localrule: True
    shell:
        "cat {input} > {output}"
"""


def _fields(path: Path) -> dict[str, str]:
    words = path.read_text().split()
    return dict(w.split("=", 1) for w in words if "=" in w)


def test_snakemake_slurm_executor_with_profile(slurm_cluster, tmp_path):
    """Two Slurm submissions: `prep`, then ONE group job holding both GPU `element` jobs."""
    (tmp_path / "Snakefile").write_text(textwrap.dedent(SNAKEFILE))
    cmd = [
        "timeout", "-s", "INT", "420",  # SIGINT: the plugin then cancels its jobs (SIGTERM hangs)
        sys.executable, "-m", "snakemake",
        "--workflow-profile", str(PROFILE),
        "--executor", "slurm",
    ]  # fmt: skip
    done = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=480)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-8000:]

    prep = _fields(tmp_path / "prep.txt")
    a, b = (_fields(tmp_path / f"element_{e}.txt") for e in "ab")
    assert prep["job"].isdigit(), "prep did not run inside a Slurm job"
    # group-components influence: 4 in the profile: both elements share one submission ...
    assert a["job"].isdigit() and a["job"] == b["job"] != prep["job"]
    # ... which got exactly one (fake) GPU: gpu is a local resource capped at 1
    assert a["cvd"] == b["cvd"] and a["cvd"] in {"0", "1"}
    assert (tmp_path / "collected.txt").read_text().split("\n")[:2] == [
        (tmp_path / "element_a.txt").read_text().strip(),
        (tmp_path / "element_b.txt").read_text().strip(),
    ]
    accounting = subprocess.run(
        ["sacct", "-X", "-n", "-P", "-j", a["job"], "-o", "AllocTRES"],
        capture_output=True,
        text=True,
    )
    if accounting.returncode == 0 and accounting.stdout.strip():  # only with slurmdbd
        assert "gres/gpu=1" in accounting.stdout


def _sum_of_squares(n: int) -> int:
    return sum(i * i for i in range(n))


def test_dask_jobqueue_slurmcluster(slurm_cluster, tmp_path):
    """One worker job on the cluster computes a dask array reduction and a plain task."""
    import dask.array as da
    from dask_jobqueue import SLURMCluster
    from distributed import Client

    # The parameters the data stage uses for `cluster.kind: slurm` on the test cluster.
    cluster = SLURMCluster(
        cores=1,
        processes=1,
        memory="1GB",
        walltime="00:10:00",
        queue=slurm_cluster.partition,
        interface="lo",  # single node: the scheduler would otherwise bind to eth0's address
        log_directory=str(tmp_path / "dask-logs"),
        local_directory=str(tmp_path / "dask-tmp"),
        job_extra_directives=[],  # a real site adds e.g. "--qos=normal"; account= has its own key
        scheduler_options={"dashboard_address": ":0"},  # no clash on :8787 with other sessions
    )
    try:
        cluster.scale(jobs=1)
        with Client(cluster) as client:
            client.wait_for_workers(1, timeout=180)
            x = da.arange(1000, chunks=100)
            assert int((x**2).sum().compute()) == 332833500
            assert client.submit(_sum_of_squares, 1000).result(timeout=60) == 332833500
            job_ids = client.run(lambda: os.environ.get("SLURM_JOB_ID"))
            assert all(str(j).isdigit() for j in job_ids.values()), job_ids
    finally:
        cluster.close()
