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


# --- analysis.time_stride: transition t from frame t * stride ---------------------------------


def _today(stores, splits, k, time_steps):
    """analysis_batch as it was before analysis.time_stride: frames 0..T-1 -> 1..T."""
    from symaudit.store import open_store

    inputs, targets = [], []
    for path in stores:
        store = open_store(path)
        block = store.read([splits[store.family]["test"][k]], slice(0, time_steps + 1))
        traj = torch.from_numpy(np.ascontiguousarray(block[0], dtype=np.float32))
        inputs.append(traj[:time_steps])
        targets.append(traj[1 : time_steps + 1])
    return torch.cat(inputs), torch.cat(targets)


def test_analysis_batch_reads_frames_t_times_the_stride(run):
    from symaudit.store import open_store

    stores, splits = run["stores"], run["splits"]
    for k in (0, 1):
        for time_steps in (1, 3, T_STORE - 1):  # stride 1: exactly today's arrays
            want = _today(stores, splits, k, time_steps)
            for got in (
                runs.analysis_batch(stores, splits, k, time_steps),
                runs.analysis_batch(stores, splits, k, time_steps, time_stride=1),
            ):
                assert all(torch.equal(a, b) for a, b in zip(got, want, strict=True))
        x, y = runs.analysis_batch(stores, splits, k, 2, time_stride=3)  # frames 0->1, 3->4
        assert x.shape == y.shape == (3 * 2, 2, 16, 16)
        for c, path in enumerate(stores):
            store = open_store(path)
            traj = store.read()[splits[store.family]["test"][k]]  # direct reads of the store
            for t, frame in enumerate((0, 3)):
                n = t + 2 * c
                assert torch.equal(x[n], torch.from_numpy(traj[frame].astype(np.float32)))
                assert torch.equal(y[n], torch.from_numpy(traj[frame + 1].astype(np.float32)))
    opened = runs.open_run(run["checkpoint"], stores, device="cpu")
    x1, y1 = opened.batch(1, 2, 3)
    ((k, x2, y2),) = list(opened.batches([1], 2, 3))
    want = runs.analysis_batch(stores, splits, 1, 2, time_stride=3)
    assert k == 1 and torch.equal(x1, want[0]) and torch.equal(y2, want[1])
    assert torch.equal(x1, x2) and torch.equal(y1, y2)
    # the last target frame (T-1)*S+1 must exist: frame 6 of a 6-frame store does not
    with pytest.raises(ValueError, match="batch needs 7 \\(2 transitions at time_stride 5\\)"):
        runs.analysis_batch(stores, splits, 0, 2, time_stride=5)


def test_stages_follow_the_stride(run, tmp_path):
    """Equivariance, influence and the companion's diagnostics at stride 2 (frames 0->1, 2->3)
    measure what stride 1 measures at transitions 0 and 2 of frames 0..3, and record it."""
    import json

    import xarray as xr

    from symaudit.cli import main
    from symaudit.companion._diagnostics import run_diagnostics
    from symaudit.companion.cli import influence_settings

    stores = [str(s) for s in run["stores"]]
    common = ["--checkpoint", str(run["checkpoint"]), "--run-dir", str(run["run_dir"])]
    common += ["--stores", *stores, "--device", "cpu"]
    files = {}
    for steps, stride in ((3, 1), (2, 2)):
        out = tmp_path / f"eq_{stride}.nc"
        times = ["--time-steps", str(steps), "--time-stride", str(stride)]
        argv = ["equivariance", *common, "--batches", "0", *times, "--set-name", "d4"]
        assert main([*argv, "--elements", "e", "r", "--out", str(out)]) == 0
        files[stride] = xr.load_dataset(out)
    one, two = files[1], files[2]
    assert int(one.attrs["time_stride"]) == 1 and int(two.attrs["time_stride"]) == 2
    assert two["transition"].values.tolist() == [0, 1]
    assert two["transition"].attrs["input_frame"].tolist() == [0, 2]
    assert "time_stride" not in one["transition"].attrs  # stride 1: today's coordinate
    for name in ("persistence_smse", "smse", "relative_error"):
        np.testing.assert_allclose(
            two[name].values, one[name].isel(transition=[0, 2]).values, rtol=1e-5
        )
    # influence: the solve and the bras at stride 2; bras at another stride are refused
    settings = ["--settings", json.dumps({"damping": {"mode": "relative", "value": 0.1}})]
    stride2 = ["--time-steps", "2", "--time-stride", "2", *settings]
    solution = tmp_path / "solution"
    assert main(["influence-solve", *common, *stride2, "--batch", "0", "--out", str(solution)]) == 0
    bras = ["influence-bras", "--solutions", str(solution), *common]
    task = ["--set-name", "d4", "--elements", "e", "--out", str(tmp_path / "pi.nc")]
    assert main([*bras, *stride2, *task]) == 0
    with xr.open_dataset(tmp_path / "pi.nc") as ds:
        assert int(ds.attrs["time_stride"]) == 2
        assert ds["ket_transition"].attrs["input_frame"].tolist() == [0, 2]
    assert main([*bras, "--time-steps", "2", *settings, *task]) == 2  # solved at stride 2
    # the companion's diagnostics: rollouts from the input frames, spectra of those examples
    diags = {
        stride: run_diagnostics(
            run["run_dir"], stores, [0], steps, 2, [], influence_settings(None), 5, "cpu", stride
        )
        for steps, stride in ((3, 1), (2, 2))
    }
    assert diags[2]["start"].values.tolist() == [0, 2] and diags[2].attrs["time_stride"] == 2
    np.testing.assert_allclose(
        diags[2]["rollout_error"].values,
        diags[1]["rollout_error"].isel(start=[0, 2]).values,
        rtol=1e-5,
    )
    from symaudit.companion._spectrum import gradient_span_spectrum
    from symaudit.influence import SolveOptions

    opened = runs.open_run(run["checkpoint"], stores, device="cpu")
    x, y = opened.batch(0, 2, 2)
    solve = SolveOptions.keywords(influence_settings(None))
    mode, chunk = solve["operator_mode"], solve["chunk_size"]
    found = gradient_span_spectrum(opened.model, x, y, mode=mode, chunk_size=chunk)
    eig = diags[2]["eigenvalue"].values[0, 0]
    np.testing.assert_allclose(eig[: found["rank"]], found["eigenvalues"], rtol=1e-6)
