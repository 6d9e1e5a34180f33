"""symaudit.runs: opening a trained run (identity, splits, analysis batches, device) on real
stores, splits and checkpoints."""

from __future__ import annotations

import ast
from pathlib import Path

import numpy as np
import pytest
import torch

from symaudit import datasets, models, runs
from symaudit.errors import UserError
from symaudit.store import write_store
from symaudit.training import make_splits
from symaudit.training._data import write_splits

NS = datasets.channels_for("NS")
T_STORE = 6  # frames per trajectory


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """Three 16^2 NS class stores (values encode class, trajectory and frame), a run directory
    ``models/NS/unet/seed3`` with splits and a tiny-UNet checkpoint recorded as training does."""
    root = tmp_path_factory.mktemp("runs")
    stores = []
    for c, family in enumerate(datasets.DATASETS["NS"]):
        fields = np.zeros((4, T_STORE, 2, 16, 16), np.float32)
        for n in range(4):
            for t in range(T_STORE):
                fields[n, t] = 100 * c + 10 * n + t + np.linspace(0, 0.5, 16)[None, None, :]
        attrs = {
            "family": family,
            "pde": "incompressible_ns",
            "channels": NS,
            "time": [0.1 * i for i in range(T_STORE)],
            "provenance": {"source": "test"},
        }
        stores.append(write_store(root / f"{family}.zarr", fields, attrs).path)
    run_dir = root / "models" / "NS" / "unet" / "seed3"
    run_dir.mkdir(parents=True)
    splits = make_splits(datasets.DATASETS["NS"], [4, 4, 4], 3, 0.5, 0.0)
    write_splits(run_dir, splits, 3, {"train": 0.5, "val": 0.0})
    net = models.build("unet", "tiny", 2, resolution=16, generator=torch.Generator().manual_seed(1))
    record = {"run": {"dataset": "NS", "model": "unet", "preset": "tiny", "seed": 3}, "epoch": 2}
    models.save_checkpoint(run_dir / "final.pt", net, record)
    return {
        "stores": stores,
        "run_dir": run_dir,
        "checkpoint": run_dir / "final.pt",
        "splits": splits,
        "net": net,
    }


def test_open_run_reads_identity_splits_and_batches(run):
    opened = runs.open_run(run["checkpoint"], run["stores"], device="cpu")
    assert opened.identity == runs.RunIdentity("NS", "unet", 3, "tiny")
    assert isinstance(opened.identity.seed, int)
    assert opened.splits == run["splits"]
    assert opened.families == list(datasets.DATASETS["NS"])
    assert opened.device == torch.device("cpu") and opened.dtype == torch.float32
    for a, b in zip(
        opened.model.state_dict().values(), run["net"].state_dict().values(), strict=True
    ):
        assert torch.equal(a, b)
    time_steps = 3
    ks = [0, 1]
    got = list(opened.batches(ks, time_steps))
    assert [k for k, _, _ in got] == ks
    for k, x, y in got:
        assert x.shape == y.shape == (3 * time_steps, 2, 16, 16)
        for c, family in enumerate(datasets.DATASETS["NS"]):
            traj = run["splits"][family]["test"][k]
            for t in range(time_steps):
                n = t + time_steps * c  # the analysis example order
                # oracle: the value encodes (class, trajectory, frame); the target is frame t+1
                assert float(x[n, 0, 0, 0]) == 100 * c + 10 * traj + t
                assert float(y[n, 1, 0, 0]) == 100 * c + 10 * traj + t + 1


def test_identity_falls_back_to_top_level_meta_then_the_path(run, tmp_path):
    # a checkpoint saved by hand with dataset / seed at the top level (seed as an int)
    assert runs.run_identity({"dataset": "NS", "seed": 3, "model": {"name": "unet"}}) == (
        runs.RunIdentity("NS", "unet", 3, None)
    )
    # a variant trained under its study name keeps that name as its label
    variant = {"run": {"dataset": "NS", "model": "unet", "name": "unet-aug", "seed": 0}}
    assert runs.run_identity(variant).model == "unet-aug"
    # nothing recorded: the layout models/{dataset}/{model}/seed{seed}/final.pt
    path = tmp_path / "CE" / "vit" / "seed12" / "final.pt"
    assert runs.run_identity({}, path) == runs.RunIdentity("CE", "vit", 12, None)
    with pytest.raises(ValueError, match="seed is recorded nowhere"):
        runs.run_identity({"dataset": "CE", "model": {"name": "vit"}}, tmp_path / "x.pt")


def test_per_class_undoes_the_example_order():
    time_steps, classes = 4, 3
    n = np.arange(time_steps * classes, dtype=np.float64)  # value = example index
    got = runs.per_class(torch.as_tensor(n)[None], time_steps, classes)
    assert got.shape == (1, time_steps, classes)
    for t in range(time_steps):
        for c in range(classes):
            assert got[0, t, c] == t + time_steps * c


def test_errors_name_the_culprit(run, tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        runs.open_run(tmp_path / "missing.pt", run["stores"], device="cpu")
    with pytest.raises(FileNotFoundError, match="splits file"):
        runs.open_run(run["checkpoint"], run["stores"], run_dir=tmp_path, device="cpu")
    with pytest.raises(UserError, match="expected auto, cpu or cuda"):
        runs.open_run(run["checkpoint"], run["stores"], device="tpu0")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="CUDA is not available"):  # UserError is a ValueError
            runs.open_run(run["checkpoint"], run["stores"], device="cuda")


SRC = Path(runs.__file__).resolve().parents[1]  # the directory holding the symaudit package


def _imports(source: str, package: str) -> set[str]:
    """Every module name a source imports, anywhere in it (inside functions too), relative
    imports resolved against ``package``; ``from m import a`` gives ``m`` and ``m.a``."""
    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package.rsplit(".", node.level - 1)[0] if node.level else ""
            module = ".".join(p for p in (base, node.module) if p)
            found.add(module)
            found.update(f"{module}.{alias.name}" for alias in node.names)
    return found


def _is_training(name: str) -> bool:
    return name == "symaudit.training" or name.startswith("symaudit.training.")


def _training_importers(stage: str) -> list[str]:
    """The modules of ``symaudit.<stage>`` that import ``symaudit.training`` or a module of it."""
    offenders = []
    for path in sorted((SRC / "symaudit" / stage).rglob("*.py")):
        package = ".".join(path.relative_to(SRC).parts[:-1])
        if any(_is_training(n) for n in _imports(path.read_text(), package)):
            offenders.append(path.relative_to(SRC).as_posix())
    return offenders


def test_import_scan_finds_training_imports():
    """The scan itself, on sources whose imports are known."""
    found = _imports(
        "def f():\n    from symaudit.training import load_splits\n"
        "from ..training._data import write_splits\n"
        "import symaudit.training._loop as loop\n",
        "symaudit.influence",
    )
    assert {
        "symaudit.training.load_splits",
        "symaudit.training._data.write_splits",
        "symaudit.training._loop",
    } <= found
    clean = _imports(
        "import symaudit.trainingx\nfrom . import _solver\nmodel.training = False\n",
        "symaudit.influence",
    )
    assert clean == {"symaudit.trainingx", "symaudit.influence", "symaudit.influence._solver"}
    assert not any(_is_training(n) for n in clean)
    # on the real tree: training's own CLI imports training
    assert "symaudit/training/cli.py" in _training_importers("training")


@pytest.mark.parametrize("stage", ["influence", "equivariance", "companion"])
def test_analysis_stages_do_not_import_training(stage):
    """Influence, equivariance and the companion stage open a trained run through
    symaudit.runs: none of their modules imports the training stage (the list names them)."""
    assert _training_importers(stage) == []


def test_influence_outputs_record_the_runs_identity(run, tmp_path):
    """influence-solve and influence-bras write the identity from the checkpoint's record: the
    seed as an int, a variant under its study name (not the architecture), the batch."""
    import json

    import xarray as xr

    from symaudit.cli import main

    variant = run["run_dir"] / "variant.pt"
    record = {"run": {"dataset": "NS", "model": "unet", "name": "unet-aug", "seed": 3}}
    models.save_checkpoint(variant, run["net"], record)
    stores = [str(s) for s in run["stores"]]
    common = ["--run-dir", str(run["run_dir"]), "--stores", *stores, "--time-steps", "2"]
    common += ["--settings", json.dumps({"damping": {"mode": "relative", "value": 0.1}})]
    common += ["--device", "cpu"]
    for checkpoint, model in ((run["checkpoint"], "unet"), (variant, "unet-aug")):
        solution = tmp_path / model / "solution"
        assert (
            main(
                [
                    "influence-solve",
                    "--checkpoint",
                    str(checkpoint),
                    *common,
                    "--batch",
                    "1",
                    "--out",
                    str(solution),
                ]
            )
            == 0
        )
        written = json.loads((solution / "settings.json").read_text())
        assert {k: written[k] for k in ("dataset", "model", "seed", "batch")} == {
            "dataset": "NS",
            "model": model,
            "seed": 3,
            "batch": 1,
        }
        out = tmp_path / model / "e.nc"
        assert (
            main(
                [
                    "influence-bras",
                    "--solutions",
                    str(solution),
                    "--checkpoint",
                    str(checkpoint),
                    *common,
                    "--set-name",
                    "d4",
                    "--elements",
                    "e",
                    "r",
                    "--out",
                    str(out),
                ]
            )
            == 0
        )
        with xr.open_dataset(out) as ds:
            assert (ds.attrs["dataset"], ds.attrs["model"], int(ds.attrs["seed"])) == (
                "NS",
                model,
                3,
            )
            assert ds.attrs["seed"].dtype.kind == "i"  # an int, as training records it
            assert list(ds["batch"].values) == [1]
            assert ds["pi_raw"].shape == (2, 1, 2, 3, 2, 3)


def test_frame_geometry_is_one_for_the_class_stores_or_names_the_store_that_differs():
    """The check the analysis stages and the commutator job share (runs.frame_geometry)."""
    from types import SimpleNamespace

    from symaudit.runs import frame_geometry

    def store(path, times, domain=((0.0, 1.0), (0.0, 1.0))):
        return SimpleNamespace(path=path, attrs={"time": times, "grid": {"domain": domain}})

    same = [store("a", [0.0, 0.05, 0.1]), store("b", [0.0, 0.05, 0.1])]
    assert frame_geometry(same) == {"dt": 0.05, "extent": (1.0, 1.0)}
    with pytest.raises(ValueError, match="store c: frame spacing/domain"):
        frame_geometry([*same, store("c", [0.0, 0.1, 0.2])])
    with pytest.raises(ValueError, match="store d: frame spacing/domain"):
        frame_geometry([same[0], store("d", [0.0, 0.05, 0.1], ((0.0, 2.0), (0.0, 1.0)))])
