"""The data stage's dask SLURMCluster path on the single-node test cluster: the store it writes
is bitwise the one written in-process."""

import numpy as np
import pytest

from symaudit.data.generate import generate_store

pytestmark = pytest.mark.slurm


def test_generate_store_on_slurm_cluster_matches_in_process(tmp_path, slurm_cluster):
    cluster = {
        "kind": "slurm",
        "workers": 1,
        "cores": 1,
        "memory": "1GB",
        "walltime": "00:10:00",
        "queue": slurm_cluster.partition,
        "interface": "lo",
        "log_directory": str(tmp_path / "dask-logs"),
    }
    args = dict(resolution=32, trajectories=3, seed=5, time_steps=3, shard=1, progress=False)
    on_slurm = generate_store("NS-Gauss", tmp_path / "slurm.zarr", cluster=cluster, **args)
    local = generate_store("NS-Gauss", tmp_path / "local.zarr", cluster={"kind": "none"}, **args)
    assert np.array_equal(on_slurm.read(), local.read())
    assert on_slurm.attrs["stats"] == local.attrs["stats"]
    assert list((tmp_path / "dask-logs").iterdir()), "no dask worker job ran on Slurm"
