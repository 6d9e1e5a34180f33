"""Benchmark of the look-alike generators: seconds per trajectory and 2-worker speed-up.

Usage::

    .venv/bin/python bench/generators.py [--resolutions 64 128] [--families CE-RP NS-Gauss ...]
                                         [--parallel-families CE-RP NS-Gauss] [--trajectories 4]

Prints (1) a table of seconds per trajectory (t in [0, 1], 21 frames, one trajectory each, IC
included) per family and resolution, and (2) for the parallel families, wall time of
``--trajectories`` trajectories at 64^2 run serially vs on a dask.distributed LocalCluster with
2 single-threaded worker processes, with the speed-up ratio, once with dask's default worker
environment and once with ``generators.DASK_WORKER_CONFIG`` (large glibc malloc thresholds).
Each cluster is started and warmed up before timing, so the ratio measures the steady state,
not process start-up.
"""

from __future__ import annotations

import argparse
import logging
import os
import resource
import time

# One BLAS/FFT thread per process: the bench measures one core per trajectory.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

from symaudit.data.generators import DASK_WORKER_CONFIG, GENERATORS, simulate  # noqa: E402


def _one(family: str, resolution: int, seed: int) -> tuple[float, float, int]:
    """Run one trajectory; return (checksum, CPU seconds user+sys, minor page faults).

    Only a checksum travels between processes.  CPU time and page faults are measured inside
    the process that ran the trajectory, so they are insensitive to other load on the machine.
    """
    r0 = resource.getrusage(resource.RUSAGE_SELF)
    checksum = float(simulate(family, resolution, seed).sum())
    r1 = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
    return checksum, cpu, r1.ru_minflt - r0.ru_minflt


def per_trajectory(families, resolutions) -> None:
    """Wall and CPU seconds of one trajectory per (family, resolution)."""
    print(f"{'family':<10} " + " ".join(f"{f'{n}^2 wall s':>12} {'CPU s':>7}" for n in resolutions))
    for family in families:
        cells = []
        for n in resolutions:
            start = time.perf_counter()
            _, cpu, _ = _one(family, n, 0)
            cells.append(f"{time.perf_counter() - start:>12.2f} {cpu:>7.2f}")
        print(f"{family:<10} " + " ".join(cells), flush=True)


def _cluster_run(client, family, resolution, seeds):
    start = time.perf_counter()
    futures = client.map(_one, [family] * len(seeds), [resolution] * len(seeds), seeds, pure=False)
    results = client.gather(futures)
    return time.perf_counter() - start, results


def parallel(families, trajectories: int, resolution: int = 64) -> None:
    """Serial vs 2 workers, with dask's default worker environment and with the project's fix.

    dask's nanny sets MALLOC_TRIM_THRESHOLD_ in its workers, which makes glibc mmap/munmap every
    numpy temporary >= 128 KiB (see ``generators.DASK_WORKER_CONFIG``); both are shown.
    """
    import dask
    from dask.distributed import Client, LocalCluster

    seeds = list(range(trajectories))
    serial = {}
    for family in families:
        start = time.perf_counter()
        results = [_one(family, resolution, s) for s in seeds]
        serial[family] = (time.perf_counter() - start, results)
    columns = {}
    for label, config in (("malloc tuned", DASK_WORKER_CONFIG), ("dask default", {})):
        # A nanny copies its pre-spawn environment into this process's os.environ, and later
        # workers inherit it: clear it so each configuration starts from a clean environment.
        for var in ("MALLOC_TRIM_THRESHOLD_", "MALLOC_MMAP_THRESHOLD_"):
            os.environ.pop(var, None)
        with (
            dask.config.set(config),
            LocalCluster(
                n_workers=2,
                threads_per_worker=1,
                processes=True,
                dashboard_address=None,
                silence_logs=logging.CRITICAL,
            ) as cluster,
            Client(cluster) as client,
        ):
            _cluster_run(client, "NS-Sines", 16, [0, 1])  # warm up imports in both workers
            for family in families:
                elapsed, results = _cluster_run(client, family, resolution, seeds)
                same = [r[0] for r in results] == [r[0] for r in serial[family][1]]
                assert same, "parallel results differ from serial ones"
                columns[label, family] = (elapsed, results)
    print(
        f"{'family':<10} {'N':>4} {'trajs':>5} {'mode':<22} {'wall s':>7} {'speed-up':>8} "
        f"{'CPU s/traj':>10} {'faults/traj':>11}"
    )
    for family in families:
        t_serial, res_serial = serial[family]
        rows = [("serial, 1 process", t_serial, res_serial)]
        for label in ("malloc tuned", "dask default"):
            rows.append((f"2 workers, {label}", *columns[label, family]))
        for mode, wall, results in rows:
            cpu = sum(r[1] for r in results) / len(results)
            faults = sum(r[2] for r in results) / len(results)
            print(
                f"{family:<10} {resolution:>4} {trajectories:>5} {mode:<22} {wall:>7.2f} "
                f"{t_serial / wall:>7.2f}x {cpu:>10.2f} {faults:>11.0f}",
                flush=True,
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--resolutions", type=int, nargs="+", default=[64, 128])
    parser.add_argument("--families", nargs="+", default=list(GENERATORS))
    parser.add_argument("--parallel-families", nargs="+", default=["CE-RP", "NS-Gauss"])
    parser.add_argument("--trajectories", type=int, default=4)
    args = parser.parse_args()
    print(f"cores: {os.cpu_count()}  (t in [0, 1], 21 frames, float64, one trajectory each)")
    per_trajectory(args.families, args.resolutions)
    print()
    if args.parallel_families:
        parallel(args.parallel_families, args.trajectories)


if __name__ == "__main__":
    main()
