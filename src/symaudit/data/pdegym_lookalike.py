"""``symaudit pdegym-lookalike FAMILY --resolution N --trajectories M --seed S --out DIR``.

Look-alike flows written AS PDEGym netCDF chunk files (docs/data.md §1.1), so that a study with
``data.source: pdegym`` -- the paper study, its rehearsal -- runs end to end without the real
downloads and its data stage is the real ``symaudit ingest``.  ``DIR/data_0.nc, data_1.nc, ...``
(CE: variable ``data``, primitive ``[rho, u, v, p, E]``) or ``DIR/velocity_*.nc`` (NS:
``[u, v, tracer]``, the tracer zero), dims ``(sample, time, channel, x, y)``, float32.

Layout: the netCDF dim named ``y`` holds physical x (the pairing the lanl/PDEHats reference
assumes; ``ingest`` decides it from the data anyway).  ``--solve-resolution n`` runs the
look-alike solver (``symaudit.data.generators``) on an n² grid and refines to N² -- spectrally
(zero-padded FFT) for NS, which keeps the velocity exactly divergence-free; by repeating each
cell (N/n)² times for CE, which keeps density and pressure positive at shocks (a spectral
refinement would ring) -- because a 128² Euler trajectory costs minutes on a CPU.  CE's p is
computed from the refined conservative state, so the EOS holds to float32 round-off.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import numpy as np

from symaudit import datasets
from symaudit.cli import options

GAMMA = 1.4


def refine(frames: np.ndarray, factor: int, spectral: bool) -> np.ndarray:
    """``(..., n, n)`` -> ``(..., n·factor, n·factor)``: zero-padded FFT or cell repetition."""
    if factor == 1:
        return frames
    if not spectral:
        return frames.repeat(factor, axis=-1).repeat(factor, axis=-2)
    n = frames.shape[-1]
    big = n * factor
    spec = np.fft.fftshift(np.fft.fft2(frames), axes=(-2, -1))
    pad = (big - n) // 2
    width = [(0, 0)] * (frames.ndim - 2) + [(pad, big - n - pad)] * 2
    spec = np.fft.ifftshift(np.pad(spec, width), axes=(-2, -1))
    return np.fft.ifft2(spec).real * factor**2


def file_frames(conservative: np.ndarray, pde: str) -> np.ndarray:
    """A store-layout trajectory ``(time, channel, y, x)`` -> PDEGym's channels, float32:
    CE ``[rho, u, v, p, E]`` from ``[rho, m_x, m_y, E]``; NS ``[u, v, 0]``."""
    if pde == "compressible_euler":
        rho, mx, my, energy = (conservative[:, c] for c in range(4))
        u, v = mx / rho, my / rho
        p = (GAMMA - 1) * (energy - 0.5 * (mx * u + my * v))
        out = np.stack([rho, u, v, p, energy], axis=1)
    else:
        out = np.concatenate([conservative[:, :2], np.zeros_like(conservative[:, :1])], axis=1)
    return out.astype(np.float32)


def trajectory(family: str, resolution: int, solve_resolution: int, seed: int, time_steps: int):
    """One look-alike trajectory in PDEGym's channels at ``resolution``², float32."""
    from symaudit.data.generators import simulate

    if resolution % solve_resolution:
        raise ValueError(
            f"--resolution {resolution} is not a multiple of --solve-resolution {solve_resolution}"
        )
    pde = datasets.family(family).pde
    coarse = simulate(family, solve_resolution, seed, time_steps)  # (T, C, n, n) float64
    fine = refine(coarse, resolution // solve_resolution, spectral=pde != "compressible_euler")
    return file_frames(fine, pde)


def write_chunk(path: Path, variable: str, array: np.ndarray) -> Path:
    """One PDEGym chunk file: ``variable`` with dims ``(sample, time, channel, x, y)``."""
    import netCDF4

    tmp = path.with_name(f".{path.name}.tmp")
    with netCDF4.Dataset(tmp, "w", format="NETCDF4") as ds:
        dims = ("sample", "time", "channel", "x", "y")
        for name, size in zip(dims, array.shape, strict=True):
            ds.createDimension(name, size)
        ds.createVariable(variable, array.dtype, dims)[:] = array
    tmp.replace(path)
    return path


def write_family(
    family: str,
    out: str | Path,
    *,
    resolution: int,
    trajectories: int,
    seed: int,
    time_steps: int = 21,
    solve_resolution: int | None = None,
    per_file: int | None = None,
    chunk: int | None = None,
) -> list[Path]:
    """Write ``trajectories`` look-alike trajectories of ``family`` as PDEGym chunk files of
    ``per_file`` samples each (default: two files when there are at least two trajectories, so
    the chunk order is exercised), or only file number ``chunk``; returns the paths written."""
    from symaudit.data.generate import trajectory_seeds

    fam = datasets.family(family)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    per_file = per_file or max(1, math.ceil(trajectories / 2))
    seeds = trajectory_seeds(family, seed, trajectories)
    paths = []
    starts = list(range(0, trajectories, per_file))
    if chunk is not None and not 0 <= chunk < len(starts):
        raise ValueError(f"--chunk {chunk}: {trajectories} trajectories make {len(starts)} files")
    for number, start in enumerate(starts):
        if chunk is not None and number != chunk:
            continue
        frames = [
            trajectory(family, resolution, solve_resolution or resolution, s, time_steps)
            for s in seeds[start : start + per_file]
        ]
        path = out / f"{fam.netcdf_variable}_{number}.nc"
        paths.append(write_chunk(path, fam.netcdf_variable, np.stack(frames)))
    return paths


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("family", help=f"one of {', '.join(datasets.FAMILIES)}")
    parser.add_argument("--resolution", type=int, required=True, help="grid N of the files")
    parser.add_argument("--trajectories", type=int, required=True, help="samples in all files")
    parser.add_argument("--seed", type=int, required=True, help="study seed for this family")
    parser.add_argument("--out", required=True, help="directory of the chunk files")
    parser.add_argument("--time-steps", type=int, default=21, help="frames on t in [0, 1]")
    parser.add_argument(
        "--solve-resolution",
        type=int,
        default=None,
        help="solver grid n, a divisor of N (default N)",
    )
    parser.add_argument("--per-file", type=int, default=None, help="samples per chunk file")
    parser.add_argument("--chunk", type=int, default=None, help="write only this chunk file")


def run(args: argparse.Namespace) -> int:
    paths = write_family(
        args.family,
        args.out,
        **options(
            args,
            *("resolution", "trajectories", "seed", "time_steps", "solve_resolution"),
            *("per_file", "chunk"),
        ),
    )
    print(f"wrote {len(paths)} PDEGym chunk files of {args.family}: {', '.join(map(str, paths))}")
    return 0
