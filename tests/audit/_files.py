"""Foreign files written by the tests themselves (no downloads): the_well HDF5 and PDEBench
2-D CFD HDF5, laid out as their formats document them (see symaudit.audit._hdf5)."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np


def smooth_fields(rng, shape, n_modes: int = 3) -> np.ndarray:
    """Random smooth periodic fields of ``shape = (..., d0, d1)`` (a few Fourier modes)."""
    *lead, n0, n1 = shape
    a = np.arange(n0)[:, None] * 2 * np.pi / n0
    b = np.arange(n1)[None, :] * 2 * np.pi / n1
    out = np.zeros(shape)
    for k in range(1, n_modes + 1):
        for l in range(0, n_modes + 1):
            amp = rng.normal(size=(*lead, 1, 1)) / (k + l)
            phase = rng.uniform(0, 2 * np.pi, size=(*lead, 1, 1))
            out += amp * np.cos(k * a + l * b + phase)
            amp = rng.normal(size=(*lead, 1, 1)) / (k + l)
            out += amp * np.sin(l * a - k * b + phase)
    return out


def write_the_well(
    path: Path,
    t0: dict[str, np.ndarray] | None = None,
    t1: dict[str, np.ndarray] | None = None,
    t2: dict[str, np.ndarray] | None = None,
    spatial_dims=("x", "y"),
    bc: dict[str, str] | None = None,
) -> Path:
    """A the_well file: t0 fields ``(B, T, d0, d1)``, t1 ``(B, T, d0, d1, 2)``, t2
    ``(B, T, d0, d1, 2, 2)``; ``spatial_dims`` names d0, d1; ``bc``: dim -> bc_type."""
    t0, t1, t2 = t0 or {}, t1 or {}, t2 or {}
    first = next(iter({**t0, **t1, **t2}.values()))
    b, t, n0, n1 = first.shape[:4]
    bc = bc or {d: "periodic" for d in spatial_dims}
    with h5py.File(path, "w") as f:
        f.attrs.update(
            dataset_name="test",
            grid_type="cartesian",
            n_spatial_dims=2,
            n_trajectories=b,
            simulation_parameters=[],
        )
        dims = f.create_group("dimensions")
        dims.attrs["spatial_dims"] = list(spatial_dims)
        dims.create_dataset("time", data=np.arange(t, dtype=np.float32))
        for name, n in zip(spatial_dims, (n0, n1), strict=True):
            dims.create_dataset(name, data=(np.arange(n) + 0.5).astype(np.float32) / n)
        bcs = f.create_group("boundary_conditions")
        for name, kind in bc.items():
            g = bcs.create_group(f"{name}_{kind}")
            g.attrs.update(
                associated_dims=[name],
                bc_type=kind.upper(),
                associated_fields=[],
                sample_varying=False,
                time_varying=False,
            )
        for group, fields in (("t0_fields", t0), ("t1_fields", t1), ("t2_fields", t2)):
            g = f.create_group(group)
            g.attrs["field_names"] = list(fields)
            for name, arr in fields.items():
                ds = g.create_dataset(name, data=arr.astype(np.float32))
                ds.attrs.update(dim_varying=[True, True], sample_varying=True, time_varying=True)
    return path


def write_pdebench(path: Path, density, pressure, vx, vy) -> Path:
    """A PDEBench 2-D CFD file: each field ``(N, T, X, Y)``, x first."""
    n, t, nx, ny = density.shape
    with h5py.File(path, "w") as f:
        for name, arr in (("density", density), ("pressure", pressure), ("Vx", vx), ("Vy", vy)):
            f.create_dataset(name, data=arr.astype(np.float32))
        f.create_dataset("x-coordinate", data=(np.arange(nx) + 0.5) / nx)
        f.create_dataset("y-coordinate", data=(np.arange(ny) + 0.5) / ny)
        f.create_dataset("t-coordinate", data=np.arange(t + 1) * 0.05)
    return path
