"""Bad inputs as a new user would try them, across the ``symaudit`` subcommands: every one exits
with status 2 and ONE line naming the culprit (stderr's last line; no traceback), before any
expensive work, and leaves every existing output as it was (the output tree is hashed, names,
bytes and modification times, before and after).

The cases run in-process through ``symaudit.cli.main`` on one shared set of real inputs (netCDF
files, Zarr stores and checkpoints written by :func:`world`).  Config-schema cases belong to
the workflow's config tests; a truncated per-job ``.nc`` to the aggregation's output tests.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import torch

from symaudit import cli
from symaudit.datasets import channels_for
from symaudit.models import build, save_checkpoint
from symaudit.store import write_store
from tests.data._pdegym_files import ce_fields, ns_fields, to_file_layout, write_pdegym

pytestmark = pytest.mark.usefixtures("one_thread")

NS_DIMS = ("sample", "time", "channel", "x", "y")
#: a run that would train in seconds on the world's stores (the damaged shard stops it first)
FAST = '{"epochs": 1, "batch_size": 8, "time_steps": 4, "max_batches_per_epoch": 1}'


@dataclass(frozen=True)
class World:
    inp: Path  # inputs the cases read
    out: Path  # existing outputs that must not change

    def __getattr__(self, name):  # w.nc_good -> inp/nc_good (a path, existing or not)
        return self.inp / name.replace("__", ".")


def _write_inputs(inp: Path) -> None:
    rng = np.random.default_rng(0)
    ns = to_file_layout(ns_fields(rng, samples=2), "x")
    for name in ("velocity_0.nc", "velocity_2.nc", "velocity_01.nc"):
        write_pdegym(inp / name, "velocity", ns)
    write_pdegym(inp / "data_0.nc", "data", to_file_layout(ce_fields(rng, samples=2), "y"))
    (inp / "text.nc").write_text("not a netCDF file\n")
    write_pdegym(inp / "rank4.nc", "velocity", np.zeros((2, 3, 2, 8), np.float32), NS_DIMS[:4])
    write_pdegym(inp / "ch1.nc", "velocity", np.zeros((2, 3, 1, 8, 8), np.float32))
    write_pdegym(inp / "nonsq.nc", "velocity", np.zeros((2, 3, 2, 8, 16), np.float32))
    write_pdegym(inp / "dims_i.nc", "velocity", ns, dims=("sample", "time", "channel", "i", "j"))
    write_pdegym(inp / "dims_t.nc", "velocity", ns, dims=("sample", "t", "time", "x", "y"))
    (inp / "grids").mkdir()
    write_pdegym(inp / "grids" / "velocity_0.nc", "velocity", ns)
    write_pdegym(inp / "grids" / "velocity_1.nc", "velocity", ns[..., :16, :16])
    bad = ns.copy()
    bad[1, 2, 0, 3, 4] = np.nan
    write_pdegym(inp / "nan.nc", "velocity", bad)
    (inp / "notdir").write_text("a file where a directory should be\n")


def _write_outputs(out: Path, inp: Path) -> None:
    from tests.training.test_training import write_group

    stores = write_group(out / "stores")
    shutil.copytree(out / "stores", inp / "damaged")
    shard = inp / "damaged" / Path(stores[0]).name / "fields" / "c" / "0" / "0" / "0" / "0" / "0"
    shard.write_bytes(shard.read_bytes()[: shard.stat().st_size // 2])
    write_store(
        out / "NS-Gauss.zarr",
        np.zeros((1, 3, 2, 8, 8), np.float32),
        {
            "family": "NS-Gauss",
            "pde": "incompressible_ns",
            "time": [0, 0.5, 1],
            "channels": channels_for("NS-Gauss"),
            "provenance": {"source": "test"},
        },
    )
    (out / "file.zarr").write_text("an existing file, not a store\n")
    (out / "dir.zarr").mkdir()
    (out / "dir.zarr" / "notes.txt").write_text("keep\n")
    run = out / "run"
    unet = save_checkpoint(run / "final.pt", build("unet", "tiny", 4, resolution=16), {})
    vit = build("vit", "tiny", 4, resolution=16)
    payload = torch.load(unet, weights_only=True)
    torch.save({**payload, "version": 99}, run / "v99.pt")
    torch.save({**payload, "state_dict": vit.state_dict()}, run / "mixed.pt")
    data = unet.read_bytes()
    (run / "truncated.pt").write_bytes(data[: len(data) // 2])
    (run / "text.pt").write_text("not a checkpoint\n")
    (out / "run99").mkdir()
    shutil.copy(run / "v99.pt", out / "run99" / "ckpt_epoch0001.pt")


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> World:
    root = tmp_path_factory.mktemp("hostile")
    w = World(root / "inputs", root / "outputs")
    w.inp.mkdir()
    w.out.mkdir()
    _write_inputs(w.inp)
    _write_outputs(w.out, w.inp)
    return w


def _tree(root: Path) -> dict:
    """name -> (sha256, mtime) of every file under ``root`` (and the directories' names)."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for d in dirnames:
            out[os.path.relpath(os.path.join(dirpath, d), root)] = "dir"
        for f in filenames:
            p = Path(dirpath) / f
            out[str(p.relative_to(root))] = (
                hashlib.sha256(p.read_bytes()).hexdigest(),
                p.stat().st_mtime_ns,
            )
    return out


def _stores(w: World, damaged: bool = False) -> list[str]:
    base = w.inp / "damaged" if damaged else w.out / "stores"
    return [str(base / f"{n}.zarr") for n in ("CE-RP", "CE-CRP", "CE-RPUI")]


def _train(w: World, *extra: str, stores=None, out=None) -> list[str]:
    argv = ["train", "--dataset", "CE", "--model", "unet", "--preset", "tiny", "--seed", "0"]
    argv += ["--stores", *(stores or _stores(w)), "--out", str(out or w.out / "newrun")]
    return argv + list(extra)


def _equivariance(w: World, checkpoint: str, *extra: str) -> list[str]:
    argv = ["equivariance", "--checkpoint", checkpoint, "--stores", *_stores(w)]
    argv += ["--run-dir", str(w.out / "run"), "--batches", "0", "--set-name", "d4"]
    return argv + ["--out", str(w.out / "eq.nc")] + (list(extra) or ["--elements", "e", "r"])


def _eq(w: World, checkpoint: str, *extra: str) -> list[str]:
    return _equivariance(w, str(w.out / "run" / checkpoint), *extra)


def _cons(w: World, *extra: str) -> list[str]:
    return ["conservation", "--out-dir", str(w.out / "cons"), *extra]


def _quality(w: World) -> list[str]:
    argv = ["quality", "--run", "CE", "unet", "0", str(w.inp / "m.csv"), str(w.inp / "e.nc")]
    outs = {"--table": "q.csv", "--figure": "q.png", "--status": "s.json"}
    return argv + [a for flag, name in outs.items() for a in (flag, str(w.out / name))]


def _simulate(w: World, *extra: str, out=None, family="NS-Gauss") -> list[str]:
    argv = ["simulate", family, "--resolution", "8", "--trajectories", "1", "--seed", "0"]
    argv += ["--out", str(out or w.out / "NS-Gauss.zarr"), "--cluster", '{"kind": "none"}']
    return argv + ["--no-progress", *extra]


def _ingest(w: World, *files, family="NS-BB", out=None, extra=()) -> list[str]:
    argv = ["ingest", *map(str, files), "--family", family, "--out"]
    return argv + [str(out or w.out / "new.zarr"), "--quiet", *extra]


# (id, argv from the world, substrings the one line must hold[, new output paths allowed])
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
]


def test_at_least_fifty_cases():
    assert len(CASES) >= 50 and len({c[0] for c in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_hostile_input(world, capsys, case):
    _, argv, expect, *allowed = case
    before = _tree(world.out)
    args = [str(a) for a in argv(world)]
    capsys.readouterr()
    try:
        code = cli.main(args)
    except SystemExit as exit_:  # argparse: usage, then "symaudit X: error: ..."
        code = exit_.code
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    after = _tree(world.out)
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
