"""The shared inputs of tests/test_hostile_inputs.py: real netCDF files, Zarr stores and
checkpoints (good and broken ones) in ``inputs/``, existing outputs that must never change in
``outputs/``, and the argv builders of the cases."""

from __future__ import annotations

import hashlib
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from symaudit.datasets import channels_for
from symaudit.models import build, save_checkpoint
from symaudit.store import write_store
from tests.data._pdegym_files import ce_fields, ns_fields, to_file_layout, write_pdegym

NS_DIMS = ("sample", "time", "channel", "x", "y")
#: a run that would train in seconds on the world's stores (the damaged shard stops it first)
FAST = '{"epochs": 1, "batch_size": 8, "time_steps": 4, "max_batches_per_epoch": 1}'


@dataclass(frozen=True)
class World:
    inp: Path  # inputs the cases read
    out: Path  # existing outputs that must not change

    def __getattr__(self, name):  # w.nc_good -> inp/nc_good (a path, existing or not)
        return self.inp / name.replace("__", ".")


def write_inputs(inp: Path) -> None:
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


def write_outputs(out: Path, inp: Path) -> None:
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


def tree(root: Path) -> dict:
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


def make_world(root: Path) -> World:
    w = World(root / "inputs", root / "outputs")
    w.inp.mkdir()
    w.out.mkdir()
    write_inputs(w.inp)
    write_outputs(w.out, w.inp)
    return w
