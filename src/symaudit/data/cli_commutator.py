"""``symaudit commutator``: the generating solver's commutator c_g on one seed's analysis examples.

    symaudit commutator --stores NS-BB.zarr NS-Gauss.zarr NS-Sines.zarr --dataset NS --seed 0 \\
        --split-train 0.65 --split-val 0.05 --batches 0 --time-steps 4 --time-stride 1 \\
        --set d4 e r r2 r3 s sr sr2 sr3 --set negation e neg --out commutator.nc

The examples are the equivariance stage's (:func:`symaudit.runs.analysis_batch`: the k-th test
trajectory of each class, input frames t·S and targets t·S+1 for t = 0..T-1, S the
``--time-stride``: :func:`symaudit.outputs.transition_frames`) under the splits a run of this
seed makes (:func:`symaudit.training.make_splits` with the seed and the split fractions;
every run of the seed with those fractions has them, and the findings check each run's
``splits.json`` against the file's ``trajectory`` before joining).  Per example and element:
c_g = SMSE(Phi(g x), g Phi(x)) (:mod:`symaudit.data.commutator`), Phi the store's generating
solver over one frame interval.  Model-free: one job per (dataset, seed).  Refused (one line)
for a store whose generating solver is not known (ingested or external data).
Format: :data:`symaudit.outputs.COMMUTATOR`.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from symaudit.cli import add_time_stride


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = __doc__.splitlines()[0]
    add = parser.add_argument
    add("--stores", required=True, nargs="+", type=Path, help="the class stores, in class order")
    add("--dataset", required=True, help="the dataset group (recorded)")
    add("--seed", required=True, type=int, help="the runs' seed: their splits")
    add("--split-train", required=True, type=float, help="train.split.train of the runs")
    add("--split-val", required=True, type=float, help="train.split.val of the runs")
    add("--batches", required=True, nargs="+", type=int, help="analysis batch indices (0-based)")
    add("--time-steps", required=True, type=int, help="transitions per class and batch")
    add_time_stride(parser)
    add(
        "--set",
        action="append",
        nargs="+",
        required=True,
        metavar=("NAME", "ELEMENT"),
        help="an element set and its elements (repeatable); elements shared by several sets "
        "are computed once",
    )
    add("--out", required=True, type=Path, help="the NetCDF file")


def measure(
    stores, splits, batches, time_steps, elements, dataset_solvers, geometry, time_stride=1
):
    """(commutator (E, B, T, C), resolve (B, T, C), persistence (B, T, C), trajectory (B, C))
    over the analysis batches (:func:`symaudit.runs.analysis_batch` at ``time_stride``: the
    analysis stages' examples); ``dataset_solvers`` the generator of each class store."""
    from symaudit.data import commutator as cm
    from symaudit.runs import analysis_batch

    E, B, T, C = len(elements), len(batches), time_steps, len(stores)  # noqa: N806
    comm = np.full((E, B, T, C), np.nan)
    resolve, persistence = np.full((B, T, C), np.nan), np.full((B, T, C), np.nan)
    trajectory = np.zeros((B, C), dtype=np.int64)
    channels = stores[0].channels
    for i, k in enumerate(batches):
        inputs, targets = analysis_batch(stores, splits, int(k), T, time_stride)
        x, y = inputs.numpy(), targets.numpy()
        for c, (store, gen) in enumerate(zip(stores, dataset_solvers, strict=True)):
            trajectory[i, c] = splits[store.family]["test"][int(k)]
            part = slice(c * T, (c + 1) * T)  # example n = t + T * class
            found = cm.commutators(gen, x[part], y[part], elements, channels, **geometry)
            comm[:, i, :, c] = found["commutator"]
            resolve[i, :, c] = found["resolve_smse"]
            persistence[i, :, c] = cm.smse(x[part], y[part])
    return comm, resolve, persistence, trajectory


def run(args) -> int:
    import json

    import xarray as xr

    from symaudit import __version__, groups
    from symaudit._io import write_atomic
    from symaudit.data import commutator as cm
    from symaudit.equivariance._chunk import open_stores
    from symaudit.errors import UserError
    from symaudit.outputs import EXAMPLE_DIMS, EXAMPLE_ORDER, transition_coords
    from symaudit.runs import frame_geometry
    from symaudit.store import git_revision
    from symaudit.training import make_splits

    if args.time_steps < 1 or args.time_stride < 1 or any(k < 0 for k in args.batches):
        raise ValueError("--time-steps and --time-stride must be >= 1, --batches non-negative")
    sets = {name: list(elements) for name, *elements in args.set}
    elements = list(dict.fromkeys(g for names in sets.values() for g in names))
    for g in elements:
        groups.parse_transition(g)  # one line naming a bad element
    stores = open_stores(args.stores)
    solvers = []
    for store in stores:
        gen, why = cm.store_solver(store.attrs)
        if gen is None:
            raise UserError(f"{store.path}: no commutator: {why}")
        solvers.append(gen)
    geometry = frame_geometry(stores)  # the one check the analysis stages make too
    splits = make_splits(
        [s.family for s in stores],
        [s.shape[0] for s in stores],
        args.seed,
        args.split_train,
        args.split_val,
    )
    tic = time.perf_counter()
    comm, resolve, persistence, trajectory = measure(
        stores,
        splits,
        args.batches,
        args.time_steps,
        elements,
        solvers,
        geometry,
        args.time_stride,
    )
    btc = EXAMPLE_DIMS
    ds = xr.Dataset(
        {
            "commutator": (("element", *btc), comm),
            "resolve_smse": (btc, resolve),
            "persistence_smse": (btc, persistence),
            "trajectory": (("batch", "class"), trajectory),
        },
        coords={
            "element": np.asarray(elements, dtype=object),
            "batch": np.asarray(args.batches, dtype=np.int64),
            **transition_coords(args.time_steps, time_stride=args.time_stride),
            "class": np.asarray([s.family for s in stores], dtype=object),
        },
        attrs={
            "dataset": args.dataset,
            "seed": int(args.seed),
            "element_sets": json.dumps(sets),
            "split": f"train {args.split_train} val {args.split_val}",
            "frame_dt": geometry["dt"],
            "extent": list(geometry["extent"]),
            "solvers": " ".join(f"{g.family}={g.name}" for g in solvers),
            "example_order": EXAMPLE_ORDER,
            "time_stride": int(args.time_stride),
            "symaudit_version": __version__,
            "git_revision": git_revision(),
        },
    )
    ds["commutator"].attrs["description"] = "SMSE(Phi(g x), g Phi(x))"
    ds["resolve_smse"].attrs["description"] = "SMSE(Phi(x), y)"
    ds["persistence_smse"].attrs["description"] = "SMSE(x, y)"
    write_atomic(args.out, ds.to_netcdf)
    seconds = time.perf_counter() - tic
    n = comm.shape[1] * comm.shape[2] * comm.shape[3]
    print(f"wrote {args.out}: {len(elements)} elements x {n} examples in {seconds:.1f} s")
    return 0
