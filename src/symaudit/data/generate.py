"""Parallel generation of look-alike datasets into Zarr stores with dask.

Each dask task simulates one SHARD of whole trajectories and writes it into the temporary store
itself (disjoint shards, so workers never touch the same file); the parent only combines the
per-shard moments into statistics and commits the store atomically.  The cluster is a
``distributed.LocalCluster`` by default or a ``dask_jobqueue.SLURMCluster`` when the config's
``data.cluster.kind`` is ``slurm``.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Mapping

import numpy as np

from symaudit import datasets
from symaudit.settings import DATA, resolve
from symaudit.store import StoreBuilder, git_revision

__all__ = ["CLUSTER_DEFAULTS", "cluster_client", "generate_store", "trajectory_seeds"]

#: the config's ``data.cluster`` defaults (:data:`symaudit.settings.DATA`): kind local | slurm |
#: none (in-process, for tests and debugging); cores, memory, walltime, queue, account,
#: interface (e.g. "ib0"; "lo" on the single-node test cluster), log_directory and
#: job_extra_directives concern SLURMCluster (dask_jobqueue) only, one job per worker
CLUSTER_DEFAULTS: dict = DATA["cluster"]


def trajectory_seeds(family: str, seed: int, n: int) -> list[int]:
    """Per-trajectory seeds derived from (study seed, family): independent streams, recorded
    in the store so every trajectory can be regenerated on its own."""
    key = [int(seed), *[ord(ch) for ch in family]]
    children = np.random.SeedSequence(key).spawn(n)
    return [int(child.generate_state(1, dtype=np.uint32)[0]) for child in children]


def _simulate_shard(family, resolution, seeds, time_steps, tmp, path, shard, n, start):
    """Worker task: simulate ``seeds`` and write them at trajectory ``start``."""
    import torch

    torch.set_num_threads(1)
    from symaudit.data import generators

    block = np.stack([generators.simulate(family, resolution, s, time_steps) for s in seeds])
    builder = StoreBuilder(
        path, n, time_steps, datasets.family(family).channels, resolution, shard, tmp, create=False
    )
    return builder.write(start, block)


@contextlib.contextmanager
def cluster_client(settings: Mapping | None):
    """A dask ``Client`` for the configured cluster (or ``None`` for in-process execution)."""
    cfg = resolve("data", {"cluster": settings or {}})["cluster"]
    if cfg["kind"] == "none":
        yield None
        return
    from distributed import Client, LocalCluster

    if cfg["kind"] == "local":
        import dask

        from symaudit.data.generators import DASK_WORKER_CONFIG

        # an earlier nanny in this process leaves its malloc settings in os.environ, which
        # would override the config below (see DASK_WORKER_CONFIG for why they matter)
        for name in ("MALLOC_TRIM_THRESHOLD_", "MALLOC_MMAP_THRESHOLD_"):
            os.environ.pop(name, None)
        with dask.config.set(DASK_WORKER_CONFIG):
            cluster = LocalCluster(
                n_workers=int(cfg["workers"]),
                threads_per_worker=1,
                processes=True,
                dashboard_address=None,
                silence_logs=40,
            )
    elif cfg["kind"] == "slurm":
        from dask_jobqueue import SLURMCluster

        extra = {k: cfg[k] for k in ("queue", "account", "interface", "log_directory") if cfg[k]}
        cluster = SLURMCluster(
            cores=int(cfg["cores"]),
            processes=1,
            memory=str(cfg["memory"]),
            walltime=str(cfg["walltime"]),
            job_extra_directives=list(cfg["job_extra_directives"]),
            # a random dashboard port: several studies (or users) may share a login node
            scheduler_options={"dashboard_address": ":0"},
            **extra,
        )
        cluster.scale(jobs=int(cfg["workers"]))
    else:
        raise ValueError(f"data.cluster.kind must be local, slurm or none, got {cfg['kind']!r}")
    try:
        with Client(cluster) as client:
            yield client
    finally:
        cluster.close()


def generate_store(
    family: str,
    out: str | os.PathLike,
    resolution: int,
    trajectories: int,
    seed: int,
    time_steps: int = 21,
    cluster: Mapping | None = None,
    shard: int | None = None,
    progress: bool = True,
):
    """Simulate ``trajectories`` trajectories of ``family`` into the store ``out``.

    The store holds ``fields`` of layout (trajectory, time, channel, y, x), float32, with
    ``time_steps`` frames on t in [0, 1], per-trajectory seeds (array ``trajectory_seed`` and
    provenance), statistics, and the solver's equivariance self-test at this resolution.
    """
    fam = datasets.family(family)
    if resolution < 8:
        raise ValueError(f"resolution {resolution} is too small (need >= 8)")
    if trajectories < 1:
        raise ValueError(f"trajectories must be >= 1, got {trajectories}")
    if time_steps < 2:  # 1 frame = 0 transitions: nothing to train on, NaN baselines
        raise ValueError(
            f"time_steps must be >= 2 (frames on t in [0, 1]; 2 make one transition), got "
            f"{time_steps}"
        )
    if shard is not None and shard < 1:
        raise ValueError(f"shard must be >= 1 trajectories, got {shard}")
    seeds = trajectory_seeds(family, seed, trajectories)
    builder = StoreBuilder(out, trajectories, time_steps, fam.channels, resolution, shard)
    starts = list(range(0, trajectories, builder.shard))
    args = [
        (
            family,
            resolution,
            seeds[s : s + builder.shard],
            time_steps,
            builder.tmp,
            builder.path,
            builder.shard,
            trajectories,
            s,
        )
        for s in starts
    ]
    began = time.perf_counter()
    try:
        with cluster_client(cluster) as client:
            if client is None:
                parts = [_simulate_shard(*a) for a in _progress(args, progress, family)]
            else:
                futures = client.map(_simulate_shard, *zip(*args, strict=True), pure=False)
                parts = client.gather(futures)
        attrs = _store_attrs(fam, resolution, time_steps, seed, seeds)
        attrs["provenance"]["wall_time_s"] = round(time.perf_counter() - began, 3)
        return builder.commit(attrs, parts, {"trajectory_seed": np.asarray(seeds, dtype=np.int64)})
    except BaseException:
        builder.abort()
        raise


def _store_attrs(fam, resolution: int, time_steps: int, seed: int, seeds: list[int]) -> dict:
    """The attrs of a generated store, with the solver's equivariance self-test at the store's
    resolution (``provenance.wall_time_s`` is added by the caller)."""
    from symaudit.data import generators

    # the self-test at the store's resolution over a quarter of the horizon: enough steps
    # to expose any asymmetry, a fraction of the cost of a full trajectory per element
    self_test = generators.check_solver(fam.name, resolution, t_end=0.25, frames=2)
    attrs = fam.store_attrs(time_steps, resolution, layout="cell_centered")
    attrs["provenance"] = {
        "source": "generated",
        "generator": generators.generator_info(fam.name),
        "study_seed": int(seed),
        "trajectory_seeds": seeds,
        "git_revision": git_revision(),
        "compute_dtype": "float64",
        "store_dtype": "float32",
    }
    attrs["equivariance_self_test"] = {
        "resolution": resolution,
        "t_end": 0.25,
        "max_relative_deviation": self_test,
        "tolerance": generators.TOLERANCE[fam.pde],
        "passed": not generators.check_failures(fam.name, resolution, self_test),
    }
    return attrs


def _progress(items, enabled, label):
    if not enabled:
        return items
    from tqdm import tqdm

    return tqdm(items, desc=f"simulate {label}", unit="shard")
