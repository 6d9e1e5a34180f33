"""``symaudit companion``: the companion paper's diagnostics of a study.

    symaudit companion run --run-dir MODELS/CE/unet/seed0 --stores DATA/CE-RP.zarr \\
        DATA/CE-CRP.zarr DATA/CE-RPUI.zarr --batches 0 1 --time-steps 16 --time-stride 1 \\
        --last-epoch 150 \\
        --earlier-epochs 1 50 --train-transitions 16 --influence '{"rtol": 1e-4, ...}' \\
        --out COMPANION/CE/unet/seed0/diagnostics.nc

    symaudit companion tables --run CE unet 0 INFLUENCE/CE/unet/seed0/d4_chunk000.nc \\
        MODELS/CE/unet/seed0 COMPANION/CE/unet/seed0/diagnostics.nc [--run ...] \\
        --stores DATA/CE-RP.zarr ... --settings '{"distance_edges": 20}' \\
        --tables-dir tables --figures-dir figures

``run`` writes one run's model-dependent diagnostics (rollouts of final.pt, the Gauss–Newton
spectrum at every epoch, the raw identity influence at the earlier epochs' kept checkpoints:
:mod:`symaudit.companion._diagnostics`).  ``tables`` reads, per ``--run``, the influence
output holding the run's identity element, its run directory (splits.json, metrics.csv) and
its diagnostics; ``--stores`` lists the class stores of every dataset group (matched to a run
by family name).  It writes the tables of :mod:`symaudit.companion._tables` and the figures
of :mod:`symaudit.companion._figures`.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from symaudit.cli import add_device, add_settings, add_time_stride
from symaudit.settings import read_settings


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = __doc__.splitlines()[0]
    sub = parser.add_subparsers(
        dest="action", metavar="ACTION", required=True, help="run (one run) or tables (the study)"
    )
    one = sub.add_parser("run", help="one run's rollouts, spectra and earlier-epoch influence")
    one.add_argument("--run-dir", required=True, help="the run directory (checkpoints, splits)")
    one.add_argument(
        "--stores", nargs="+", required=True, metavar="STORE", help="class stores, in order"
    )
    one.add_argument("--batches", nargs="+", type=int, required=True, help="analysis batches")
    one.add_argument("--time-steps", type=int, required=True, help="transitions per class")
    add_time_stride(one)
    one.add_argument("--last-epoch", type=int, required=True, help="the run's last epoch")
    one.add_argument(
        "--earlier-epochs", nargs="*", type=int, default=[], help="kept epochs before the last"
    )
    one.add_argument(
        "--train-transitions", type=int, required=True, help="the training horizon (recorded)"
    )
    add_settings(one, "influence", flag="--influence")
    one.add_argument("--out", required=True, type=Path, help="output NetCDF")
    add_device(one)

    tab = sub.add_parser("tables", help="the companion tables and figures of a study")
    tab.add_argument(
        "--run",
        nargs=6,
        action="append",
        required=True,
        metavar=("DATASET", "MODEL", "SEED", "INFLUENCE_NC", "RUN_DIR", "DIAGNOSTICS_NC"),
        help="one trained run: identity, identity-element influence, run directory, diagnostics",
    )
    tab.add_argument("--stores", nargs="+", required=True, help="every class store (.zarr)")
    add_settings(tab, "companion")
    tab.add_argument("--tables-dir", required=True, type=Path, help="where the CSVs go")
    tab.add_argument("--figures-dir", required=True, type=Path, help="where the PNGs go")


def resolve_settings(raw: str | None) -> dict:
    """The companion section (JSON text) with defaults filled in; unknown keys are errors
    (:func:`symaudit.settings.read_settings`)."""
    return read_settings(raw, "companion")


def influence_settings(raw: str | None) -> dict:
    """The influence section resolved as the influence stage does, a damping path reduced to
    its primary λ (the path validates the final models' influence, not its evolution)."""
    from symaudit.influence._stage import resolve_settings as resolve_influence

    settings = resolve_influence(raw)
    damping = dict(settings["damping"])
    if "values" in damping:
        damping = {"mode": damping.get("mode", "relative"), "value": damping["primary"]}
    return {**settings, "damping": damping, "galerkin_reference": False}


def _run(args: argparse.Namespace) -> int:
    from symaudit._io import write_atomic

    from ._diagnostics import run_diagnostics

    ds = run_diagnostics(
        args.run_dir,
        args.stores,
        args.batches,
        args.time_steps,
        args.last_epoch,
        args.earlier_epochs,
        influence_settings(args.influence),
        args.train_transitions,
        args.device,
        args.time_stride,
    )
    write_atomic(args.out, lambda p: ds.to_netcdf(p))
    print(f"companion run: epochs {[int(e) for e in ds['epoch'].values]} -> {args.out}")
    return 0


def _tables(args: argparse.Namespace) -> int:
    from symaudit.datasets import ALL_DATASETS as DATASETS

    from ._figures import make_figures
    from ._tables import CompanionRun, companion_tables, write_tables

    settings = resolve_settings(args.settings)
    by_family = {Path(p).name.removesuffix(".zarr"): Path(p) for p in args.stores}
    runs = []
    for dataset, model, seed, influence, run_dir, diagnostics in args.run:
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
                Path(diagnostics),
            )
        )
    tables = companion_tables(
        runs, int(settings["distance_edges"]), int(settings["distance_overlap"])
    )
    written = write_tables(tables, args.tables_dir)
    written += make_figures(args.tables_dir, args.figures_dir)
    print(f"companion tables: {len(runs)} runs -> {len(written)} files")
    return 0


def run(args: argparse.Namespace) -> int:
    return _run(args) if args.action == "run" else _tables(args)
