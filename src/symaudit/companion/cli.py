"""``symaudit companion``: the companion paper's diagnostics of a study.

    symaudit companion rollout --checkpoint MODELS/CE/unet/seed0/final.pt \\
        --run-dir MODELS/CE/unet/seed0 --stores DATA/CE-RP.zarr DATA/CE-CRP.zarr \\
        DATA/CE-RPUI.zarr --batches 0 1 --starts 16 --train-transitions 16 --out rollout.nc

    symaudit companion spectrum --checkpoint MODELS/CE/unet/seed0/ckpt_epoch0001.pt --epoch 1 \\
        --run-dir MODELS/CE/unet/seed0 --stores A B C --batches 0 --time-steps 16 --out s.nc

    symaudit companion tables --run CE unet 0 INFLUENCE/CE/unet/seed0/d4_chunk000.nc \\
        MODELS/CE/unet/seed0 rollout.nc [--run ...] \\
        [--epoch-influence CE unet 0 1 COMPANION/CE/unet/seed0/epoch1/identity.nc ...] \\
        [--spectrum CE unet 0 COMPANION/CE/unet/seed0/epoch1/spectrum.nc ...] \\
        --stores DATA/CE-RP.zarr ... \\
        --settings '{"distance_edges": 20}' --tables-dir tables --figures-dir figures

``rollout`` writes one run's autoregressive rollout errors (NetCDF ``error`` (batch, class,
start, horizon): cumulative SMSE, :func:`symaudit.companion.rollout_errors`); ``spectrum``
one checkpoint's Gauss–Newton eigenvalues in the gradient span per analysis batch
(``eigenvalue`` (batch, mode), ``rank``, ``lambda_max``: :func:`gradient_span_spectrum`).
``tables`` reads, per ``--run``, the influence output holding the run's identity element, its
run directory (splits.json, metrics.csv) and its rollout file; each ``--epoch-influence``
the identity influence of an earlier checkpoint of a run (``influence-bras --elements e``
on ``ckpt_epoch{E:04d}.pt``); each ``--spectrum`` a run's spectrum at one epoch;
``--stores`` lists the class stores of every dataset group (matched to a run by family
name).  It writes the tables of :mod:`symaudit.companion._tables` and the figures of
:mod:`symaudit.companion._figures`.
"""

from __future__ import annotations

import argparse
import json
import os
from dataclasses import replace
from pathlib import Path

#: the config's companion section: defaults of the keys the commands read
SETTINGS_DEFAULTS = {"enabled": False, "epochs": [], "distance_edges": 20, "distance_overlap": 1}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = __doc__.splitlines()[0]
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    roll = sub.add_parser("rollout", help="one run's autoregressive rollout errors")
    roll.add_argument("--checkpoint", required=True, help="the model checkpoint (final.pt)")
    roll.add_argument("--run-dir", required=True, help="the run directory (splits.json)")
    roll.add_argument(
        "--stores", nargs=3, required=True, metavar="STORE", help="class stores, in class order"
    )
    roll.add_argument("--batches", nargs="+", type=int, required=True, help="analysis batches")
    roll.add_argument("--starts", type=int, required=True, help="start times 0 .. STARTS - 1")
    roll.add_argument(
        "--train-transitions", type=int, required=True, help="the training horizon (recorded)"
    )
    roll.add_argument("--out", required=True, type=Path, help="output NetCDF")
    roll.add_argument("--device", default=None, help="cpu | cuda (default: cuda if available)")

    spec = sub.add_parser("spectrum", help="one checkpoint's Gauss-Newton spectrum per batch")
    spec.add_argument("--checkpoint", required=True, help="final.pt or a kept ckpt_epoch file")
    spec.add_argument("--epoch", type=int, required=True, help="the checkpoint's epoch")
    spec.add_argument("--run-dir", required=True, help="the run directory (splits.json)")
    spec.add_argument(
        "--stores", nargs=3, required=True, metavar="STORE", help="class stores, in class order"
    )
    spec.add_argument("--batches", nargs="+", type=int, required=True, help="analysis batches")
    spec.add_argument("--time-steps", type=int, required=True, help="transitions per class")
    spec.add_argument("--out", required=True, type=Path, help="output NetCDF")
    spec.add_argument("--device", default=None, help="cpu | cuda (default: cuda if available)")

    tab = sub.add_parser("tables", help="the companion tables and figures of a study")
    tab.add_argument(
        "--run",
        nargs=6,
        action="append",
        required=True,
        metavar=("DATASET", "MODEL", "SEED", "INFLUENCE_NC", "RUN_DIR", "ROLLOUT_NC"),
        help="one trained run: identity, identity-element influence, run directory, rollouts",
    )
    tab.add_argument(
        "--epoch-influence",
        nargs=5,
        action="append",
        default=[],
        metavar=("DATASET", "MODEL", "SEED", "EPOCH", "INFLUENCE_NC"),
        help="the identity influence of a run's checkpoint at an epoch before its last",
    )
    tab.add_argument(
        "--spectrum",
        nargs=4,
        action="append",
        default=[],
        metavar=("DATASET", "MODEL", "SEED", "SPECTRUM_NC"),
        help="a run's ``companion spectrum`` output at one epoch",
    )
    tab.add_argument("--stores", nargs="+", required=True, help="every class store (.zarr)")
    tab.add_argument("--settings", default=None, help="the config's companion section (JSON)")
    tab.add_argument("--tables-dir", required=True, type=Path, help="where the CSVs go")
    tab.add_argument("--figures-dir", required=True, type=Path, help="where the PNGs go")


def resolve_settings(raw: str | None) -> dict:
    """The companion section (JSON text) with defaults filled in; unknown keys are errors."""
    try:
        given = json.loads(raw) if raw else {}
    except json.JSONDecodeError as err:
        raise ValueError(f"--settings is not valid JSON: {err}") from None
    unknown = set(given) - set(SETTINGS_DEFAULTS)
    if unknown:
        raise ValueError(f"companion settings: unknown key(s) {sorted(unknown)}")
    return {**SETTINGS_DEFAULTS, **given}


def _rollout(args: argparse.Namespace) -> int:
    import numpy as np
    import xarray as xr

    from symaudit._io import write_atomic

    from ._rollout import rollout_errors
    from ._run import analysis_trajectories

    model = _model(args.checkpoint, args.device)
    errors, families = [], [Path(p).name.removesuffix(".zarr") for p in args.stores]
    for batch in args.batches:
        traj = analysis_trajectories(args.run_dir, args.stores, batch)
        errors.append(rollout_errors(model, traj, args.starts))
    error = np.stack(errors)  # (batch, class, start, horizon)
    ds = xr.Dataset(
        {"error": (("batch", "class", "start", "horizon"), error)},
        coords={
            "batch": list(args.batches),
            "class": families,
            "start": np.arange(error.shape[2]),
            "horizon": np.arange(1, error.shape[3] + 1),
        },
        attrs={
            "error": "cumulative one-step SMSE of the rollout from the true state at `start`",
            "train_transitions": int(args.train_transitions),
            "checkpoint": os.path.basename(args.checkpoint),
        },
    )
    write_atomic(args.out, lambda p: ds.to_netcdf(p))
    print(
        f"companion rollout: {len(args.batches)} batches x {error.shape[3]} horizons -> {args.out}"
    )
    return 0


def _model(checkpoint, device):
    import torch

    from symaudit.models import load_checkpoint

    if not Path(checkpoint).exists():
        raise FileNotFoundError(f"checkpoint {checkpoint} does not exist (train the run)")
    model, _ = load_checkpoint(checkpoint)
    device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    return model.to(device).eval()


def _spectrum(args: argparse.Namespace) -> int:
    import numpy as np
    import torch
    import xarray as xr

    from symaudit._io import write_atomic

    from ._run import analysis_trajectories
    from ._spectrum import ENERGY, gradient_span_spectrum

    model = _model(args.checkpoint, args.device)
    param = next(model.parameters())
    t = args.time_steps
    found = []
    for batch in args.batches:
        traj = torch.as_tensor(analysis_trajectories(args.run_dir, args.stores, batch, t + 1))
        traj = traj.to(device=param.device, dtype=param.dtype)
        x = traj[:, :t].reshape(-1, *traj.shape[2:])  # example n = t + T · class
        y = traj[:, 1:].reshape(-1, *traj.shape[2:])
        found.append(gradient_span_spectrum(model, x, y))
    n = 3 * t
    eig = np.full((len(found), n), np.nan)
    for i, item in enumerate(found):
        eig[i, : item["rank"]] = item["eigenvalues"]
    ds = xr.Dataset(
        {
            "eigenvalue": (("batch", "mode"), eig),
            "rank": (("batch",), np.array([f["rank"] for f in found])),
            "lambda_max": (("batch",), np.array([f["lambda_max"] for f in found])),
        },
        coords={"batch": list(args.batches), "mode": np.arange(n)},
        attrs={
            "eigenvalue": "of Q (J^T J / D) Q^T, Q the per-example SMSE gradients' span, "
            "descending, NaN past the rank",
            "energy": ENERGY,
            "epoch": int(args.epoch),
            "checkpoint": os.path.basename(args.checkpoint),
        },
    )
    write_atomic(args.out, lambda p: ds.to_netcdf(p))
    print(f"companion spectrum: epoch {args.epoch}, {len(found)} batches -> {args.out}")
    return 0


def _tables(args: argparse.Namespace) -> int:
    from symaudit.datasets import DATASETS

    from ._figures import make_figures
    from ._tables import CompanionRun, companion_tables, write_tables

    settings = resolve_settings(args.settings)
    by_family = {Path(p).name.removesuffix(".zarr"): Path(p) for p in args.stores}
    epochs: dict[tuple[str, str, str], list] = {}
    for dataset, model, seed, epoch, path in args.epoch_influence:
        if not epoch.isdigit():
            raise ValueError(f"--epoch-influence {dataset} {model} {seed}: bad EPOCH {epoch!r}")
        epochs.setdefault((dataset, model, seed), []).append((int(epoch), Path(path)))
    known = {(d, m, s) for d, m, s, *_ in args.run}
    if set(epochs) - known:
        raise ValueError(f"--epoch-influence: no --run for {sorted(set(epochs) - known)}")
    runs = []
    for dataset, model, seed, influence, run_dir, rollout in args.run:
        if not seed.isdigit():
            raise ValueError(f"--run {dataset} {model} {seed}: SEED must be a non-negative integer")
        if dataset not in DATASETS:
            raise ValueError(f"--run {dataset}: unknown dataset (one of {sorted(DATASETS)})")
        missing = [f for f in DATASETS[dataset] if f not in by_family]
        if missing:
            raise ValueError(f"--stores: no store for {', '.join(missing)} (run {dataset})")
        stores = tuple(by_family[f] for f in DATASETS[dataset])
        runs.append(
            CompanionRun(
                dataset,
                model,
                int(seed),
                Path(influence),
                Path(run_dir),
                stores,
                Path(rollout),
                tuple(epochs.get((dataset, model, seed), ())),
            )
        )
    spectra: dict[tuple[str, str, str], list] = {}
    for dataset, model, seed, path in args.spectrum:
        spectra.setdefault((dataset, model, seed), []).append(Path(path))
    if set(spectra) - known:
        raise ValueError(f"--spectrum: no --run for {sorted(set(spectra) - known)}")
    runs = [
        replace(r, spectra=tuple(spectra.get((r.dataset, r.model, str(r.seed)), ()))) for r in runs
    ]
    tables = companion_tables(
        runs, int(settings["distance_edges"]), int(settings["distance_overlap"])
    )
    written = write_tables(tables, args.tables_dir)
    written += make_figures(args.tables_dir, args.figures_dir)
    print(f"companion tables: {len(runs)} runs -> {len(written)} files")
    return 0


def run(args: argparse.Namespace) -> int:
    return {"rollout": _rollout, "spectrum": _spectrum, "tables": _tables}[args.action](args)
