"""Bad inputs as a new user would try them, across the ``symaudit`` subcommands: every one exits
with status 2 and ONE line naming the culprit (stderr's last line; no traceback), before any
expensive work, and leaves every existing output as it was (the output tree is hashed, names,
bytes and modification times, before and after).

The cases run in-process through ``symaudit.cli.main`` on one shared set of real inputs (netCDF
files, Zarr stores and checkpoints written by :func:`world`).  Config-schema cases are dry
runs of the workflow (tests/workflow/test_config_errors.py, the same assertions).
"""

from __future__ import annotations

import pytest

from symaudit import cli
from tests._hostile import (
    FAST,
    _cons,
    _eq,
    _ingest,
    _quality,
    _simulate,
    _stores,
    _train,
    make_world,
    tree,
)

pytestmark = pytest.mark.usefixtures("one_thread")


def _solve(w, checkpoint: str) -> list[str]:
    argv = ["influence-solve", "--checkpoint", str(w.out / "run" / checkpoint), "--stores"]
    argv += [*_stores(w), "--run-dir", str(w.out / "run"), "--batch", "0"]
    return argv + ["--out", str(w.out / "solution")]


def _truncated_chunk(w) -> list[str]:
    """``aggregate --inputs`` naming a per-job netCDF file cut short (a job killed mid-write)."""
    import numpy as np
    import xarray as xr

    whole, cut = w.inp / "whole_chunk.nc", w.inp / "d4_chunk000.nc"
    if not cut.exists():
        xr.Dataset({"relative_error": (("example",), np.ones(64))}).to_netcdf(whole)
        cut.write_bytes(whole.read_bytes()[:600])
    return ["aggregate", "--study-dir", str(w.inp), "--out-dir", str(w.out / "tables")] + [
        "--inputs",
        str(cut),
    ]


#: a flow sequence left open on line 2; the parser notices at the end of the file (line 3)
BROKEN_YAML = "study: broken\ntrain: {epochs: [1, 2\n"


def _check_config(name: str, text: str):
    """The argv builder of ``check-config --configfile NAME``, NAME holding ``text``."""

    def argv(w) -> list[str]:
        path = w.inp / name
        if not path.exists():
            path.write_text(text)
        return ["check-config", "--configfile", str(path)]

    return argv


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    return make_world(tmp_path_factory.mktemp("hostile"))


CASES = [
    # --- ingest: files, dims by name, chunk numbering, values, output path
    (
        "ingest-missing-file",
        lambda w: _ingest(w, w.velocity_7__nc),
        ["velocity_7.nc", "does not exist"],
    ),
    (
        "ingest-unknown-family",
        lambda w: _ingest(w, w.velocity_0__nc, family="NS-Foo"),
        ["'NS-Foo'", "unknown family"],
    ),
    ("ingest-not-netcdf", lambda w: _ingest(w, w.text__nc), ["text.nc", "not a readable netCDF"]),
    ("ingest-wrong-variable", lambda w: _ingest(w, w.data_0__nc), ["data_0.nc", "'velocity'"]),
    ("ingest-rank-4", lambda w: _ingest(w, w.rank4__nc), ["rank4.nc", "rank 5"]),
    ("ingest-one-channel", lambda w: _ingest(w, w.ch1__nc), ["ch1.nc", "at least 2 channels"]),
    ("ingest-non-square", lambda w: _ingest(w, w.nonsq__nc), ["nonsq.nc", "square grid"]),
    (
        "ingest-unknown-dim",
        lambda w: _ingest(w, w.dims_i__nc),
        ["dims_i.nc", "dims (sample, time, channel, i, j)", "'i'"],
    ),
    (
        "ingest-two-time-dims",
        lambda w: _ingest(w, w.dims_t__nc),
        ["dims_t.nc", "both 't' and 'time' mean time"],
    ),
    (
        "ingest-override-absent-dim",
        lambda w: _ingest(w, w.velocity_0__nc, extra=("--dims", "lon=x")),
        ["velocity_0.nc", "lon"],
    ),
    (
        "ingest-override-syntax",
        lambda w: _ingest(w, w.velocity_0__nc, extra=("--dims", "member")),
        ["'member'", "FILE_DIM=CANONICAL"],
    ),
    (
        "ingest-override-bad-dim",
        lambda w: _ingest(w, w.velocity_0__nc, extra=("--dims", "x=z")),
        ["x=z", "'z'"],
    ),
    (
        "ingest-chunk-gap",
        lambda w: _ingest(w, w.velocity_0__nc, w.velocity_2__nc),
        ["velocity_1.nc", "missing"],
    ),
    (
        "ingest-same-file-twice",
        lambda w: _ingest(w, w.velocity_0__nc, w.velocity_0__nc),
        ["velocity_0.nc", "given twice"],
    ),
    (
        "ingest-same-chunk-number",
        lambda w: _ingest(w, w.velocity_01__nc, w.velocity_0__nc, w.velocity_1__nc),
        ["velocity_01.nc", "same chunk number 1"],
    ),
    (
        "ingest-different-grids",
        lambda w: _ingest(w, *sorted((w.inp / "grids").iterdir())),
        ["grids/velocity_1.nc", "frames of shape"],
    ),
    ("ingest-nan", lambda w: _ingest(w, w.nan__nc), ["nan.nc", "NaN", "trajectory 1"]),
    (
        "ingest-out-is-a-file",
        lambda w: _ingest(w, w.velocity_0__nc, out=w.out / "file.zarr"),
        ["file.zarr", "not a Zarr store"],
    ),
    (
        "ingest-out-is-a-directory",
        lambda w: _ingest(w, w.velocity_0__nc, out=w.out / "dir.zarr"),
        ["dir.zarr", "not a Zarr store"],
    ),
    (
        "ingest-out-under-a-file",
        lambda w: _ingest(w, w.velocity_0__nc, out=w.notdir / "o.zarr"),
        ["notdir"],
    ),
    (
        "ingest-check-trajectories-0",
        lambda w: _ingest(w, w.velocity_0__nc, extra=("--check-trajectories", "0")),
        ["check_trajectories", ">= 1"],
    ),
    (
        "ingest-bad-order",
        lambda w: _ingest(w, w.velocity_0__nc, extra=("--order", "random")),
        ["--order", "'random'"],
    ),
    # --- simulate: sizes, output path, cluster (all before simulating)
    (
        "simulate-time-steps-1",
        lambda w: _simulate(w, "--time-steps", "1"),
        ["time_steps", ">= 2", "got 1"],
    ),
    ("simulate-time-steps-0", lambda w: _simulate(w, "--time-steps", "0"), ["time_steps", "got 0"]),
    (
        "simulate-out-is-a-file",
        lambda w: _simulate(w, out=w.out / "file.zarr"),
        ["file.zarr", "exists and is a file"],
    ),
    (
        "simulate-out-is-a-directory",
        lambda w: _simulate(w, out=w.out / "dir.zarr"),
        ["dir.zarr", "not a Zarr store"],
    ),
    ("simulate-unknown-family", lambda w: _simulate(w, family="NS-Foo"), ["'NS-Foo'"]),
    (
        "simulate-resolution-4",
        lambda w: _simulate(w, "--resolution", "4"),
        ["resolution 4", ">= 8"],
    ),
    (
        "simulate-trajectories-0",
        lambda w: _simulate(w, "--trajectories", "0"),
        ["trajectories", "got 0"],
    ),
    ("simulate-shard-0", lambda w: _simulate(w, "--shard", "0"), ["shard", "got 0"]),
    (
        "simulate-cluster-not-json",
        lambda w: _simulate(w, "--cluster", "{kind: none"),
        ["--cluster", "JSON"],
    ),
    (
        "simulate-cluster-unknown-key",
        lambda w: _simulate(w, "--cluster", '{"nodes": 3}'),
        ["nodes"],
    ),
    (
        "simulate-resolution-not-int",
        lambda w: _simulate(w, "--resolution", "big"),
        ["--resolution", "'big'"],
    ),
    # --- check-solver, model-info
    (
        "check-solver-unknown-family",
        lambda w: ["check-solver", "CE-XX", "--resolution", "8"],
        ["'CE-XX'"],
    ),
    (
        "model-info-unknown-model",
        lambda w: ["model-info", "resnet", "--dataset", "CE"],
        ["'resnet'"],
    ),
    ("model-info-unknown-dataset", lambda w: ["model-info", "unet", "--dataset", "XX"], ["'XX'"]),
    # --- train: stores, settings, checkpoints
    (
        "train-missing-store",
        lambda w: _train(w, stores=[str(w.inp / "CE-RP.zarr"), *_stores(w)[1:]]),
        ["inputs/CE-RP.zarr", "does not exist"],
    ),
    (
        "train-settings-missing-yaml",
        lambda w: _train(w, "--settings", "missing.yaml"),
        ["missing.yaml", "does not exist"],
    ),
    ("train-settings-bad-json", lambda w: _train(w, "--settings", '{"epochs": 2'), ["--settings"]),
    ("train-settings-unknown-key", lambda w: _train(w, "--settings", '{"epoch": 2}'), ["epoch"]),
    (
        "train-unknown-model",
        lambda w: [a if a != "unet" else "resnet" for a in _train(w)],
        ["'resnet'"],
    ),
    (
        "train-damaged-shard",
        lambda w: _train(w, "--settings", FAST, stores=_stores(w, damaged=True)),
        ["damaged/CE-RP.zarr", "'fields'", "shard file fields/c/0"],
        {"newrun", "newrun/splits.json"},
    ),
    (
        "train-resume-version-99",
        lambda w: _train(w, out=w.out / "run99"),
        ["ckpt_epoch0001.pt", "format version 99"],
    ),
    # --- equivariance / influence-solve: checkpoints
    ("equivariance-missing-checkpoint", lambda w: _eq(w, "nope.pt"), ["nope.pt", "does not exist"]),
    (
        "equivariance-unet-meta-vit-weights",
        lambda w: _eq(w, "mixed.pt"),
        ["mixed.pt", "do not fit the 'unet'"],
    ),
    (
        "equivariance-checkpoint-version-99",
        lambda w: _eq(w, "v99.pt"),
        ["v99.pt", "format version 99"],
    ),
    (
        "equivariance-truncated-checkpoint",
        lambda w: _eq(w, "truncated.pt"),
        ["truncated.pt", "cannot be read"],
    ),
    ("equivariance-not-a-checkpoint", lambda w: _eq(w, "text.pt"), ["text.pt"]),
    ("equivariance-unknown-element", lambda w: _eq(w, "final.pt", "--elements", "e", "r9"), ["r9"]),
    (
        "equivariance-unknown-set",
        lambda w: [a if a != "d4" else "d8" for a in _eq(w, "final.pt")],
        ["'d8'"],
    ),
    # --- conservation: settings
    (
        "conservation-resolution-negative",
        lambda w: _cons(w, "--settings", '{"resolution": -8}'),
        ["conservation.resolution", "-8", ">= 4"],
    ),
    (
        "conservation-settings-missing-yaml",
        lambda w: _cons(w, "--settings", "missing.yaml"),
        ["missing.yaml", "does not exist"],
    ),
    (
        "conservation-config-missing",
        lambda w: _cons(w, "--config", "nope.yaml"),
        ["nope.yaml", "does not exist"],
    ),
    (
        "conservation-steps-not-a-number",
        lambda w: _cons(w, "--settings", '{"steps": "x"}'),
        ["conservation.steps", "'x'"],
    ),
    ("conservation-unknown-arm", lambda w: _cons(w, "--settings", '{"arms": ["sgd"]}'), ["'sgd'"]),
    (
        "conservation-unknown-key",
        lambda w: _cons(w, "--settings", '{"resolutoin": 8}'),
        ["resolutoin"],
    ),
    # --- aggregation and reporting commands: missing inputs
    (
        "aggregate-missing-study-dir",
        lambda w: ["aggregate", "--study-dir", str(w.inp / "nostudy")],
        ["nostudy"],
    ),
    (
        "figures-missing-tables",
        lambda w: [
            "figures",
            "--tables",
            str(w.inp / "notables"),
            "--out-dir",
            str(w.out / "figs"),
        ],
        ["notables"],
    ),
    (
        "findings-missing-tables",
        lambda w: ["findings", "--tables", str(w.inp / "notables"), "--out", str(w.out / "f.csv")],
        ["notables"],
    ),
    ("quality-missing-metrics", lambda w: _quality(w), ["m.csv"]),
    # --- more a new user tries (these already had a good line, or got one here)
    (
        "ingest-directory-as-file",
        lambda w: _ingest(w, w.inp / "grids"),
        ["grids", "is a directory"],
    ),
    (
        "ingest-shard-0",
        lambda w: _ingest(w, w.velocity_0__nc, extra=("--shard", "0")),
        ["shard", "got 0"],
    ),
    (
        "ingest-bad-x-axis",
        lambda w: _ingest(w, w.velocity_0__nc, extra=("--x-axis", "z")),
        ["--x-axis", "'z'"],
    ),
    (
        "simulate-out-under-a-file",
        lambda w: _simulate(w, out=w.notdir / "a.zarr"),
        ["notdir", "cannot be created"],
    ),
    (
        "check-solver-resolution-4",
        lambda w: ["check-solver", "NS-Gauss", "--resolution", "4"],
        ["--resolution", "got 4"],
    ),
    (
        "check-solver-frames-0",
        lambda w: ["check-solver", "NS-Gauss", "--resolution", "8", "--frames", "0"],
        ["--frames", "got 0"],
    ),
    (
        "model-info-resolution-40",
        lambda w: ["model-info", "unet", "--dataset", "CE", "--resolution", "40"],
        ["UNet resolution 40"],
    ),
    (
        "train-out-is-a-file",
        lambda w: _train(w, "--settings", FAST, out=w.out / "file.zarr"),
        ["file.zarr", "not a directory"],
    ),
    (
        "train-store-is-not-zarr",
        lambda w: _train(w, stores=[str(w.text__nc), *_stores(w)[1:]]),
        ["text.nc", "not a symaudit Zarr store"],
    ),
    (
        "train-stores-in-wrong-order",
        lambda w: _train(w, stores=_stores(w)[::-1]),
        ["CE-RPUI.zarr", "holds family 'CE-RPUI'"],
    ),
    ("train-unknown-device", lambda w: _train(w, "--device", "tpu9"), ["'tpu9'"]),
    (
        "train-unknown-preset",
        lambda w: [a if a != "tiny" else "huge" for a in _train(w)],
        ["'huge'"],
    ),
    (
        "train-settings-lr-string",
        lambda w: _train(w, "--settings", '{"lr": "5e-4"}'),
        ["'lr'", "'5e-4'"],
    ),
    (
        "train-settings-epochs-0",
        lambda w: _train(w, "--settings", '{"epochs": 0}'),
        ["'epochs'", "got 0"],
    ),
    (
        "equivariance-missing-store",
        lambda w: [a if a != _stores(w)[0] else str(w.inp / "x.zarr") for a in _eq(w, "final.pt")],
        ["x.zarr", "does not exist"],
    ),
    (
        "equivariance-missing-run-dir",
        lambda w: [
            a if not a.endswith("/run") else str(w.inp / "norun") for a in _eq(w, "final.pt")
        ],
        ["norun", "does not exist"],
    ),
    (
        "influence-solve-missing-checkpoint",
        lambda w: _solve(w, "nope.pt"),
        ["nope.pt", "does not exist"],
    ),
    (
        "influence-solve-truncated-checkpoint",
        lambda w: _solve(w, "truncated.pt"),
        ["truncated.pt", "cannot be read"],
    ),
    (
        "conservation-lr-fraction-0",
        lambda w: _cons(w, "--settings", '{"lr_fraction": 0}'),
        ["conservation.lr_fraction", "> 0"],
    ),
    (
        "aggregate-study-dir-is-a-file",
        lambda w: ["aggregate", "--study-dir", str(w.text__nc)],
        ["text.nc", "not a directory"],
    ),
    (
        "figures-no-tables",
        lambda w: ["figures", "--tables", str(w.inp / "grids"), "--out-dir", str(w.out / "figs")],
        ["grids", "no tables"],
    ),
    (
        "aggregate-truncated-chunk",
        _truncated_chunk,
        ["d4_chunk000.nc", "not a readable netCDF"],
    ),
    # --- a study's config file (Snakemake refuses a broken --configfile before the workflow
    # reads it, naming no file or line; check-config names both)
    (
        "check-config-broken-yaml",
        _check_config("broken.yaml", BROKEN_YAML),
        ["broken.yaml:3", "not valid YAML", "expected ',' or ']'"],
    ),
    (
        "check-config-lr-without-dot",
        _check_config("lr.yaml", "extends: config.yaml\ntrain:\n  lr: 5e-4\n"),
        ["lr.yaml", "train.lr", "write 5.0e-4"],
    ),
    (
        "check-config-unknown-model",
        _check_config("m.yaml", "extends: config.yaml\nmodels: [unet, fno]\n"),
        ["m.yaml", "fno"],
    ),
    (
        "check-config-missing-file",
        lambda w: ["check-config", "--configfile", str(w.inp / "nowhere.yaml")],
        ["nowhere.yaml", "cannot read"],
    ),
    (
        "check-config-override-without-value",
        lambda w: ["check-config", "--config", "train.epochs"],
        ["--config 'train.epochs'", "KEY=VALUE"],
    ),
]


def test_at_least_fifty_cases():
    assert len(CASES) >= 50 and len({c[0] for c in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_hostile_input(world, capsys, case):
    _, argv, expect, *allowed = case
    before = tree(world.out)
    args = [str(a) for a in argv(world)]
    capsys.readouterr()
    try:
        code = cli.main(args)
    except SystemExit as exit_:  # argparse: usage, then "symaudit X: error: ..."
        code = exit_.code
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    after = tree(world.out)
    for new in sorted(set(after) - set(before), reverse=True):  # keep the world as it was
        (world.out / new).rmdir() if after[new] == "dir" else (world.out / new).unlink()
    assert code == 2, err
    assert lines and "Traceback" not in err, err
    last = lines[-1]
    assert "error" in last, err
    if " symaudit " in last:  # our own log line: exactly one error line
        assert sum(" error: " in line for line in lines) == 1, err
    for part in expect:
        assert part in last, f"{part!r} not in {last!r}"
    assert {k: after.get(k) for k in before} == before, "an existing output changed"
    assert set(after) - set(before) <= (allowed[0] if allowed else set()), "unexpected output"
