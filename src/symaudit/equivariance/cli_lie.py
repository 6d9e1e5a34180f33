"""``symaudit lie``: Lie derivatives along x and y translations and the sub-cell profile R(eps),
for every analysis batch of one trained run (docs/algorithms.md §9).

    symaudit lie --checkpoint MODEL_DIR/final.pt --run-dir MODEL_DIR \\
        --stores NS-BB.zarr NS-Gauss.zarr NS-Sines.zarr --batches 0 1 --time-steps 16 \\
        --out lie.nc [--shifts 0 0.125 ... 0.875]

Per example: ||L f(x)|| / ||f(x)|| (:func:`symaudit.equivariance.lie_derivative`, one JVP per
direction) and R(eps) = SMSE(f(T_eps x), T_eps y) / SMSE(f(x), y) over ``--shifts`` (cells;
:func:`symaudit.equivariance.subcell_profile`).  Format: :data:`symaudit.outputs.LIE`.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from symaudit.baselines import add_gate_argument, warn_if_failed
from symaudit.cli import add_device, add_time_stride
from symaudit.equivariance.cli import add_run_inputs, check_run_inputs
from symaudit.settings import ANALYSIS

__all__ = ["add_arguments", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from symaudit.equivariance._lie import PROFILE_SHIFTS

    parser.description = __doc__.splitlines()[0]
    add = parser.add_argument
    add_run_inputs(parser)
    add("--out", required=True, type=Path, help="NetCDF file to write")
    shifts = " ".join(f"{e:g}" for e in PROFILE_SHIFTS)
    add("--shifts", nargs="+", type=float, default=list(PROFILE_SHIFTS),
        help=f"sub-cell shifts of the profile, in cells (default {shifts})")  # fmt: skip
    t = ANALYSIS["time_steps"]
    add("--time-steps", type=int, default=t, help=f"transitions per class and batch (default {t})")
    add_time_stride(parser)
    add_device(parser)
    add_gate_argument(parser)


def _check_args(args) -> None:
    for flag in ("time_steps", "time_stride"):
        if getattr(args, flag) < 1:
            raise ValueError(f"--{flag.replace('_', '-')} must be >= 1, got {getattr(args, flag)}")
    if not all(np.isfinite(args.shifts)) or len(set(args.shifts)) != len(args.shifts):
        raise ValueError(f"--shifts must be distinct finite numbers, got {args.shifts}")
    check_run_inputs(args)


def measure(opened, batches, time_steps: int, shifts, time_stride: int = 1) -> dict:
    """``lie`` (direction, batch, transition, class) and ``profile`` (direction, shift, batch,
    transition, class), float64, for the opened run (:func:`symaudit.runs.open_run`) on the
    analysis frames of ``time_stride``."""
    from symaudit.equivariance import lie_derivative, subcell_profile
    from symaudit.outputs import per_class

    T, C = time_steps, len(opened.stores)  # noqa: N806 (the paper's symbols)
    lie = np.full((2, len(batches), T, C), np.nan)
    profile = np.full((2, len(shifts), len(batches), T, C), np.nan)
    for i, (_, x, y) in enumerate(opened.batches(batches, T, time_stride)):
        for d, direction in enumerate(("x", "y")):
            lie[d, i] = per_class(lie_derivative(opened.model, x, opened.channels, direction), T, C)
            prof = subcell_profile(opened.model, x, y, opened.channels, direction, shifts)
            profile[d, :, i] = per_class(prof, T, C)
    return {"lie": lie, "profile": profile}


def write(
    path: Path, measured: dict, opened, batches, time_steps: int, shifts, time_stride: int = 1
) -> None:
    """The :data:`symaudit.outputs.LIE` file, written atomically."""
    import xarray as xr

    from symaudit import __version__
    from symaudit._io import write_atomic
    from symaudit.outputs import EXAMPLE_DIMS, EXAMPLE_ORDER, LIE, transition_coords

    btc = EXAMPLE_DIMS
    ds = xr.Dataset(
        {
            "lie_derivative": (("direction", *btc), measured["lie"]),
            "subcell_profile": (("direction", "shift", *btc), measured["profile"]),
        },
        coords={
            "direction": np.asarray(["x", "y"], dtype=object),
            "shift": np.asarray(shifts, dtype=np.float64),
            "batch": np.asarray(batches, dtype=np.int64),
            **transition_coords(time_steps, time_stride=time_stride),
            "class": np.asarray(opened.families, dtype=object),
        },
        attrs={
            **opened.identity.as_dict(),
            "checkpoint": str(opened.checkpoint),
            **opened.precision_attrs(),
            "device": str(opened.device),
            "example_order": EXAMPLE_ORDER,
            "time_stride": int(time_stride),
            "symaudit_version": __version__,
        },
    )
    for v in LIE.variables:
        ds[v.name].attrs["description"] = v.description
    write_atomic(path, ds.to_netcdf)


def run(args) -> int:
    from symaudit.runs import open_run

    _check_args(args)
    warn_if_failed(args.run_dir, args.max_persistence_ratio)
    opened = open_run(args.checkpoint, args.stores, args.run_dir, args.device, args.dtype)
    start = time.perf_counter()
    measured = measure(opened, args.batches, args.time_steps, args.shifts, args.time_stride)
    write(args.out, measured, opened, args.batches, args.time_steps, args.shifts, args.time_stride)
    seconds = time.perf_counter() - start
    print(f"wrote {args.out}: Lie derivatives and {len(args.shifts)} sub-cell shifts x "
          f"{len(args.batches)} batches in {seconds:.1f} s")  # fmt: skip
    return 0
