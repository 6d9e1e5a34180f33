"""Training: settings, splits, analysis batches, augmentation, the equivariance tracker,
bit-exact resume, DDP = single process, divergence and user errors (docs/algorithms.md §1, §3)."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from symaudit import groups
from symaudit.cli import main
from symaudit.datasets import DATASETS, channels_for, family
from symaudit.losses import rms_scale, smse
from symaudit.models import build, load_checkpoint, read_checkpoint, twirled
from symaudit.store import open_store, write_store
from symaudit.training import (
    DEFAULTS,
    TrainingDiverged,
    analysis_batch,
    augment,
    equivariance_fraction,
    load_splits,
    make_splits,
    resolve_settings,
    train,
)
from symaudit.training._data import load_transitions

N, T, TRAJ = 32, 5, 8  # grid, frames, trajectories per class of the test stores
CE = channels_for("CE")
# small but real: 5 train trajectories x 4 transitions x 3 classes = 60 transitions per epoch
FAST = {
    "epochs": 3,
    "batch_size": 8,
    "time_steps": T,
    "checkpoint_every": 2,
    "max_batches_per_epoch": 3,
}


pytestmark = pytest.mark.usefixtures("one_thread")


def synthetic_fields(n_traj: int, frames: int, channels: int, size: int, seed: int) -> np.ndarray:
    """Travelling waves 1 + A sin(2 pi (kx (x - t) + ky y) / N + phase): s_{t+1} is s_t moved
    one cell along x, a transition a model can learn.  Layout (trajectory, time, channel, y, x)."""
    rng = np.random.default_rng(seed)
    y, x = np.meshgrid(np.arange(size), np.arange(size), indexing="ij")
    out = np.empty((n_traj, frames, channels, size, size), np.float32)
    for i in range(n_traj):
        for c in range(channels):
            kx, ky = rng.integers(1, 3, 2)
            phase, amp = rng.uniform(0, 2 * np.pi), rng.uniform(0.5, 1.5)
            for t in range(frames):
                out[i, t, c] = 1 + amp * np.sin(2 * np.pi * (kx * (x - t) + ky * y) / size + phase)
    return out


def write_group(directory: Path, dataset: str = "CE", n_traj: int = TRAJ, frames: int = T):
    paths = []
    for j, name in enumerate(DATASETS[dataset]):
        channels = channels_for(name)
        attrs = {
            "family": name,
            "pde": family(name).pde,
            "channels": channels,
            "time": [0.05 * t for t in range(frames)],
            "provenance": {"source": "test", "seed": j},
        }
        fields = synthetic_fields(n_traj, frames, len(channels), N, seed=100 + j)
        write_store(directory / f"{name}.zarr", fields, attrs)
        paths.append(str(directory / f"{name}.zarr"))
    return paths


@pytest.fixture(scope="module")
def stores(tmp_path_factory):
    return write_group(tmp_path_factory.mktemp("stores"))


def run(stores, out, settings=FAST, **kw):
    kw.setdefault("log", None)
    return train(
        "CE", kw.pop("model", "unet"), "tiny", kw.pop("seed", 0), stores, out, settings, **kw
    )


def metrics(run_dir: Path) -> list[dict]:
    with open(run_dir / "metrics.csv") as fh:
        return list(csv.DictReader(fh))


def state(path: Path) -> dict:
    return read_checkpoint(path)["state_dict"]


# --- settings -------------------------------------------------------------------------------


def test_settings_fill_defaults_and_reject_unknown_keys():
    s = resolve_settings({"epochs": 3, "augment": {"d4": True}})
    assert s["epochs"] == 3 and s["augment"] == {"d4": True, "shifts": False, "orbit": False}
    assert s["lr"] == 5e-4 and s["weight_decay"] == 1e-4 and s["batch_size"] == 48
    assert s["split"] == {"train": 0.65, "val": 0.05} and s["time_steps"] == 17
    assert set(s) == set(DEFAULTS)
    with pytest.raises(ValueError, match="unknown train setting 'learning_rate'"):
        resolve_settings({"learning_rate": 1e-3})
    with pytest.raises(ValueError, match="unknown train setting 'augment.rotate'"):
        resolve_settings({"augment": {"rotate": True}})
    with pytest.raises(ValueError, match="'epochs': expected an integer >= 1, got 0"):
        resolve_settings({"epochs": 0})
    with pytest.raises(ValueError, match="'split'.*exceeds 1"):
        resolve_settings({"split": {"train": 0.9, "val": 0.2}})
    with pytest.raises(ValueError, match="'deterministic': expected true or false"):
        resolve_settings({"deterministic": "yes"})


def _seaborn_training_curve(rows, path, title):
    """The training curve as seaborn drew it before: the oracle of the matplotlib one."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import pandas as pd
    import seaborn as sns

    frame = pd.DataFrame(
        [{"epoch": r["epoch"], "split": "train", "SMSE": r["train_smse"]} for r in rows]
        + [{"epoch": r["epoch"], "split": "val", "SMSE": r["val_smse"]} for r in rows]
    ).dropna()
    fig, ax = plt.subplots(figsize=(5, 3.5), constrained_layout=True)
    sns.lineplot(data=frame, x="epoch", y="SMSE", hue="split", marker="o", ax=ax)
    baseline = [r.get("val_persistence_smse") for r in rows]
    baseline = [b for b in baseline if b not in (None, "")]
    if baseline:
        ax.axhline(float(baseline[-1]), color="0.3", ls="--", lw=1, label="persistence (val)")
        ax.legend()
    ax.set_yscale("log")
    ax.set_title(title)
    fig.savefig(path, dpi=120)
    plt.close(fig)


@pytest.mark.parametrize("case", ["one_epoch", "epochs", "no_validation", "no_baseline"])
def test_training_curve_is_the_seaborn_figure_byte_for_byte(case, tmp_path):
    from symaudit.training._plot import plot_training_curve

    rng = np.random.default_rng(0)
    n = 1 if case == "one_epoch" else 19
    rows = [
        {
            "epoch": e,
            "train_smse": float(rng.uniform(0.005, 0.03)),
            "val_smse": float(rng.uniform(0.005, 0.03)),
            "val_persistence_smse": 0.025,
        }
        for e in range(1, n + 1)
    ]
    for row in rows:
        if case == "no_validation":  # an empty validation split: NaN
            row["val_smse"] = float("nan")
        if case == "no_baseline":  # a history from before the persistence column
            row["val_persistence_smse"] = None
    plot_training_curve(rows, tmp_path / "new.png", "CE unet (quick), seed 0")
    _seaborn_training_curve(rows, tmp_path / "old.png", "CE unet (quick), seed 0")
    assert (tmp_path / "new.png").read_bytes() == (tmp_path / "old.png").read_bytes()


# --- splits and analysis batches ---------------------------------------------------------------


def test_splits_are_seeded_disjoint_and_complete():
    a = make_splits(["A", "B", "C"], [10000, 10000, 20000], seed=10, train=0.65, val=0.05)
    b = make_splits(["A", "B", "C"], [10000, 10000, 20000], seed=10, train=0.65, val=0.05)
    c = make_splits(["A", "B", "C"], [10000, 10000, 20000], seed=35, train=0.65, val=0.05)
    assert a == b and a != c
    assert [len(a["A"][p]) for p in ("train", "val", "test")] == [6500, 500, 3000]
    assert [len(a["C"][p]) for p in ("train", "val", "test")] == [13000, 1000, 6000]
    for parts in a.values():
        every = parts["train"] + parts["val"] + parts["test"]
        assert sorted(every) == list(range(len(every)))
    # one generator consumed class after class: class B's draw differs from class A's
    assert a["A"]["train"][:20] != a["B"]["train"][:20]


def test_analysis_batch_layout(stores, tmp_path):
    splits = make_splits(list(DATASETS["CE"]), [TRAJ] * 3, seed=3, train=0.5, val=0.0)
    inputs, targets = analysis_batch(stores, splits, k=1, time_steps=T - 1)
    assert inputs.shape == targets.shape == (3 * (T - 1), 4, N, N)
    assert inputs.dtype == torch.float32
    for c, path in enumerate(stores):
        traj = open_store(path).read()[splits[DATASETS["CE"][c]]["test"][1]]
        for t in range(T - 1):
            n = t + (T - 1) * c  # t fastest, class blocks
            assert np.array_equal(inputs[n].numpy(), traj[t])
            assert np.array_equal(targets[n].numpy(), traj[t + 1])
    with pytest.raises(ValueError, match="k=4: class CE-RP has 4 test trajectories"):
        analysis_batch(stores, splits, k=4, time_steps=T - 1)
    with pytest.raises(ValueError, match="batch needs 17"):
        analysis_batch(stores, splits, k=0)  # the default 16 transitions need 17 frames


# --- augmentation and the equivariance tracker -------------------------------------------------


def test_augment_applies_each_examples_transform():
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(4, 4, 8, 8, generator=gen)
    y = torch.randn(4, 4, 8, 8, generator=gen)
    elements = ["e", "r", "sr2", "r"]
    shifts = torch.tensor([[0, 0], [1, 2], [3, 0], [0, 5]])
    ax, ay = augment(x, y, CE, elements, shifts)
    for i, (g, (dx, dy)) in enumerate(zip(elements, shifts.tolist(), strict=True)):
        for got, src in ((ax, x), (ay, y)):
            want = torch.roll(groups.act(g, src[i], CE), shifts=(dy, dx), dims=(-2, -1))
            assert torch.equal(got[i], want)
    assert augment(x, y, CE) == (x, y)


def test_equivariance_fraction_oracles():
    x = torch.randn(3, 4, 32, 32, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    y = x.roll(1, dims=-1) + 2
    base = build("unet", "tiny", 4, resolution=32, dtype=torch.float64)
    # an exactly equivariant model has no equivariance part
    assert equivariance_fraction(twirled(base, CE), x, y, CE) < 1e-12
    frac = equivariance_fraction(base, x, y, CE)
    assert 0 < frac < 1
    # oracle: L = L_mean + L_equiv with mu the twirled prediction and SMSE weights of y
    with torch.no_grad():
        preds = torch.stack(
            [groups.act(groups.inverse(g), base(groups.act(g, x, CE)), CE) for g in groups.D4]
        )
        w = 1 / rms_scale(y)
        l_equiv = ((preds - preds.mean(0)).square() * w).mean()
        l_total = torch.stack([smse(p, y) for p in preds]).mean()
        l_mean = smse(twirled(base, CE)(x), y)
    assert abs(frac - float(l_equiv / l_total)) < 1e-12
    assert abs(float(l_total - l_mean - l_equiv)) < 1e-12 * float(l_total)


# --- training runs -----------------------------------------------------------------------------


def test_training_outputs_and_loss_decreases(stores, tmp_path):
    settings = {**FAST, "epochs": 4, "lr": 2e-3, "track_equivariance": True}
    final = run(stores, tmp_path, settings)
    assert final == tmp_path / "final.pt"
    names = {p.name for p in tmp_path.iterdir()}
    assert {"ckpt_epoch0001.pt", "ckpt_epoch0002.pt", "ckpt_epoch0004.pt"} <= names
    assert "ckpt_epoch0003.pt" not in names
    assert {"metrics.csv", "config.yaml", "splits.json", "training_curve.png"} <= names
    rows = metrics(tmp_path)
    assert [int(r["epoch"]) for r in rows] == [1, 2, 3, 4]
    train_smse = [float(r["train_smse"]) for r in rows]
    val_smse = [float(r["val_smse"]) for r in rows]
    assert train_smse[-1] < 0.7 * train_smse[0] and val_smse[-1] < val_smse[0]
    # the tracker runs at checkpoint epochs only
    assert [r["equiv_fraction"] != "" for r in rows] == [True, True, False, True]
    assert 0 < float(rows[-1]["equiv_fraction"]) < 1
    import yaml

    config = yaml.safe_load((tmp_path / "config.yaml").read_text())
    assert config["settings"]["lr"] == 2e-3 and config["settings"]["weight_decay"] == 1e-4
    assert config["torch"] == torch.__version__ and config["git_revision"]
    model, meta = load_checkpoint(final)
    assert meta["epoch"] == 4 and meta["model"]["resolution"] == N
    splits = load_splits(tmp_path)
    assert list(splits) == list(DATASETS["CE"])
    assert [len(splits["CE-RP"][p]) for p in ("train", "val", "test")] == [5, 1, 2]


def test_resume_after_kill_is_bit_exact(stores, tmp_path):
    settings = {**FAST, "augment": {"d4": True, "shifts": True}}
    straight = run(stores, tmp_path / "straight", settings)

    def kill(event, info):  # dies in the middle of epoch 3, after ckpt_epoch0002.pt
        if event == "step" and info["epoch"] == 3 and info["step"] == 2:
            raise KeyboardInterrupt

    resumed_dir = tmp_path / "resumed"
    with pytest.raises(KeyboardInterrupt):
        run(stores, resumed_dir, settings, callbacks=[kill])
    assert (resumed_dir / "ckpt_epoch0002.pt").exists()
    assert not (resumed_dir / "final.pt").exists()
    resumed = run(stores, resumed_dir, settings)  # the same command again
    a, b = read_checkpoint(straight), read_checkpoint(resumed)
    assert a["state_dict"].keys() == b["state_dict"].keys()
    assert all(torch.equal(a["state_dict"][k], b["state_dict"][k]) for k in a["state_dict"])
    for pa, pb in zip(
        a["state"]["optimizer"]["state"].values(),
        b["state"]["optimizer"]["state"].values(),
        strict=True,
    ):
        assert all(torch.equal(pa[k], pb[k]) for k in pa)
    strip = lambda rows: [{k: v for k, v in r.items() if k != "wall_time_s"} for r in rows]  # noqa: E731
    assert strip(metrics(resumed_dir)) == strip(metrics(tmp_path / "straight"))
    # a finished run is left alone
    stamp = os.stat(resumed).st_mtime_ns
    assert run(stores, resumed_dir, settings) == resumed
    assert os.stat(resumed).st_mtime_ns == stamp


def test_finished_run_can_be_extended(stores, tmp_path):
    one = {**FAST, "epochs": 1}
    run(stores, tmp_path / "a", one)

    def kill(event, info):  # after ckpt_epoch0002.pt, which is newer than final.pt (epoch 1)
        if event == "step" and info["epoch"] == 3:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run(stores, tmp_path / "a", FAST, callbacks=[kill])
    assert read_checkpoint(tmp_path / "a" / "final.pt")["state"]["epoch"] == 1
    run(stores, tmp_path / "a", FAST)  # continues from ckpt_epoch0002.pt to epoch 3
    assert [int(r["epoch"]) for r in metrics(tmp_path / "a")] == [1, 2, 3]
    assert "resumed_from_epoch: 2" in (tmp_path / "a" / "config.yaml").read_text()
    run(stores, tmp_path / "b", FAST)
    a, b = state(tmp_path / "a" / "final.pt"), state(tmp_path / "b" / "final.pt")
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_lazy_store_reading_equals_numpy_and_trains_identically(stores, tmp_path):
    """Splits larger than ``in_memory_max_gb`` are read batch by batch from the stores: the
    same transitions as numpy indexing of the whole store, the same weights as an in-RAM run,
    and the knob is not part of a run's identity (a lazy run resumes an in-RAM one)."""
    opened = [open_store(p) for p in stores]
    splits = make_splits([s.family for s in opened], [s.shape[0] for s in opened], 0, 0.65, 0.05)
    ram = load_transitions(opened, splits, ("train", "val"), T)
    lazy = load_transitions(opened, splits, ("train", "val"), T, in_memory_max_gb=0.0)
    assert lazy["train"].lazy and not ram["train"].lazy
    assert len(lazy["train"]) == len(ram["train"]) == 3 * len(splits["CE-RP"]["train"]) * (T - 1)
    whole = [np.asarray(s.read()) for s in opened]
    rows = [(c, j) for c, s in enumerate(opened) for j in splits[s.family]["train"]]
    index = torch.randperm(len(ram["train"]), generator=torch.Generator().manual_seed(1))[:23]
    for part in (ram, lazy):
        x, y = part["train"].get(index)
        for k, i in enumerate(index.tolist()):
            c, j = rows[i // (T - 1)]
            t = i % (T - 1)
            assert np.array_equal(x[k].numpy(), whole[c][j, t])
            assert np.array_equal(y[k].numpy(), whole[c][j, t + 1])
    blocks = [index[:8], index[8:16], index[16:]]
    for (xa, ya), (xb, yb) in zip(
        ram["train"].prefetched(blocks), lazy["train"].prefetched(blocks), strict=True
    ):
        assert torch.equal(xa, xb) and torch.equal(ya, yb)

    in_ram = run(stores, tmp_path / "ram", FAST)
    from_store = run(stores, tmp_path / "lazy", {**FAST, "in_memory_max_gb": 0.0})
    a, b = state(in_ram), state(from_store)
    assert all(torch.equal(a[k], b[k]) for k in a)
    run(stores, tmp_path / "mixed", {**FAST, "epochs": 1})
    run(stores, tmp_path / "mixed", {**FAST, "in_memory_max_gb": 0.0})  # resumes, no refusal
    c = state(tmp_path / "mixed" / "final.pt")
    assert all(torch.equal(a[k], c[k]) for k in a)


def test_different_run_in_same_directory_is_refused(stores, tmp_path):
    run(stores, tmp_path, {**FAST, "epochs": 1})
    with pytest.raises(ValueError, match=r"different run \(settings.lr: 0.0005 != 0.001\)"):
        run(stores, tmp_path, {**FAST, "epochs": 1, "lr": 1e-3})
    with pytest.raises(ValueError, match=r"different run \(seed: 0 != 1\)"):
        run(stores, tmp_path, {**FAST, "epochs": 1}, seed=1)


def test_nan_loss_stops_and_keeps_last_good_checkpoint(stores, tmp_path):
    def poison(event, info):
        if event == "step" and info["epoch"] == 2 and info["step"] == 2:
            with torch.no_grad():
                next(info["model"].parameters()).fill_(float("nan"))

    settings = {**FAST, "checkpoint_every": 1}
    with pytest.raises(TrainingDiverged) as caught:
        run(stores, tmp_path, settings, callbacks=[poison])
    message = str(caught.value)
    assert "non-finite training loss (nan) at epoch 2, step 2 of 3" in message
    assert "ckpt_epoch0001.pt" in message and "\n" not in message
    assert not (tmp_path / "final.pt").exists() and not (tmp_path / "ckpt_epoch0002.pt").exists()
    good = state(tmp_path / "ckpt_epoch0001.pt")
    assert all(torch.isfinite(v).all() for v in good.values())


@pytest.mark.parametrize("lazy", [False, True], ids=["in_ram", "from_store"])
def test_nan_in_a_validation_trajectory_is_named_and_never_used(tmp_path, lazy):
    import zarr

    paths = write_group(tmp_path / "stores")
    opened = [open_store(p) for p in paths]
    fractions = DEFAULTS["split"]
    splits = make_splits(
        [s.family for s in opened],
        [s.shape[0] for s in opened],
        0,
        fractions["train"],
        fractions["val"],
    )
    victim = splits["CE-CRP"]["val"][0]
    zarr.open_array(Path(paths[1]) / "fields", mode="r+")[victim, 2, 1, 3, 4] = np.nan
    settings = {**FAST, "in_memory_max_gb": 0.0} if lazy else FAST
    with pytest.raises(ValueError) as caught:
        run(paths, tmp_path / "run", settings)
    message = str(caught.value)
    assert f"CE-CRP.zarr: trajectory {victim} frame 2 (time 0.1) channel momentum_x" in message
    assert "nan" in message and "\n" not in message
    assert not (tmp_path / "run" / "final.pt").exists()
    test = splits["CE-RP"]["test"][0]
    zarr.open_array(Path(paths[0]) / "fields", mode="r+")[test, 0, 3, 0, 1] = np.inf
    with pytest.raises(ValueError, match=rf"CE-RP.zarr: trajectory {test} frame 0 .*inf"):
        analysis_batch(paths, splits, 0, time_steps=T - 1)


def test_ddp_two_gloo_processes_match_single_process(stores, tmp_path):
    # float64: in float32, Adam turns round-off in exactly-flat directions (biases before an
    # instance norm) into O(lr) differences between any two batch decompositions
    settings = {**FAST, "epochs": 2, "dtype": "float64", "augment": {"d4": True, "shifts": True}}
    single = run(stores, tmp_path / "single", settings)
    torchrun = Path(sys.executable).with_name("torchrun")
    env = {
        **os.environ,
        "OMP_NUM_THREADS": "1",
        "PYTHONPATH": str(Path(__file__).parents[2] / "src"),
    }
    cmd = [
        str(torchrun), "--standalone", "--nproc_per_node", "2", "-m", "symaudit", "train",
        "--dataset", "CE", "--model", "unet", "--preset", "tiny", "--seed", "0",
        "--stores", *stores, "--out", str(tmp_path / "ddp"), "--settings", json.dumps(settings),
        "--device", "cpu",
    ]  # fmt: skip
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    a, b = state(single), state(tmp_path / "ddp" / "final.pt")
    assert max((a[k] - b[k]).abs().max().item() for k in a) < 1e-6
    assert read_checkpoint(tmp_path / "ddp" / "final.pt")["meta"]["epoch"] == 2
    ddp_rows, single_rows = metrics(tmp_path / "ddp"), metrics(tmp_path / "single")
    for r, s in zip(ddp_rows, single_rows, strict=True):
        assert abs(float(r["train_smse"]) - float(s["train_smse"])) < 1e-9
        assert abs(float(r["val_smse"]) - float(s["val_smse"])) < 1e-9


def test_float64_training_is_the_same_on_another_instruction_set_and_thread_count(stores, tmp_path):
    """train.dtype float64 and train.threads (the validation study's runs): the CPU kernels of
    another machine (AVX2 instead of this one's) with two cores granted train the same weights,
    bit for bit, as here on one; float32 training amplifies other summation orders into other
    models (docs/training.md, "Precision, threads and machines").  This tiny model's reductions
    are too small to be split over threads, so the thread count itself is checked by
    test_training_runs_on_the_configured_threads_whatever_the_process_has."""
    settings = {**FAST, "epochs": 2, "dtype": "float64", "augment": {"d4": True, "shifts": True}}
    here = run(stores, tmp_path / "here", settings)
    env = {
        **os.environ,
        "OMP_NUM_THREADS": "2",
        "ATEN_CPU_CAPABILITY": "avx2",
        "ONEDNN_MAX_CPU_ISA": "AVX2",
        "MKL_ENABLE_INSTRUCTIONS": "AVX2",
        "PYTHONPATH": str(Path(__file__).parents[2] / "src"),
    }
    cmd = [
        sys.executable, "-m", "symaudit", "train", "--dataset", "CE", "--model", "unet",
        "--preset", "tiny", "--seed", "0", "--stores", *stores, "--out", str(tmp_path / "there"),
        "--settings", json.dumps(settings), "--device", "cpu",
    ]  # fmt: skip
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    a, b = state(here), state(tmp_path / "there" / "final.pt")
    assert all(torch.equal(a[k], b[k]) for k in a)
    numbers = [
        [{k: v for k, v in row.items() if k != "wall_time_s"} for row in metrics(d)]
        for d in (tmp_path / "here", tmp_path / "there")
    ]
    assert numbers[0] == numbers[1]


def test_training_runs_on_the_configured_threads_whatever_the_process_has(stores, tmp_path):
    """train.threads, not the job's allocation, sets torch's CPU threads during a run (the
    thread count is part of a CPU run's numbers), and the process's own count comes back after."""
    seen = []

    def record(event, info):
        if event == "step":
            seen.append(torch.get_num_threads())

    torch.set_num_threads(2)  # what a scheduler granting two cores leaves (OMP_NUM_THREADS=2)
    try:
        run(stores, tmp_path / "one", {**FAST, "epochs": 1}, callbacks=[record])
        assert seen and set(seen) == {1} and torch.get_num_threads() == 2
        seen.clear()
        run(stores, tmp_path / "two", {**FAST, "epochs": 1, "threads": 2}, callbacks=[record])
        assert seen and set(seen) == {2}
    finally:
        torch.set_num_threads(1)  # the module's one_thread fixture restores its own value


# --- user errors through the CLI ------------------------------------------------------------


def _cli(stores, out, settings=None, model="unet", preset="tiny"):
    args = ["train", "--dataset", "CE", "--model", model, "--preset", preset, "--seed", "0"]
    args += ["--stores", *stores, "--out", str(out)]
    return main(args + (["--settings", json.dumps(settings)] if settings is not None else []))


def test_cli_user_errors(stores, tmp_path, capsys):
    missing = str(tmp_path / "nowhere" / "CE-RP.zarr")
    assert _cli([missing, *stores[1:]], tmp_path / "r", FAST) == 2
    err = capsys.readouterr().err.strip()
    assert missing in err and "\n" not in err
    assert _cli(stores[::-1], tmp_path / "r", FAST) == 2
    assert "holds family 'CE-RPUI' but CE expects 'CE-RP'" in capsys.readouterr().err
    assert _cli(stores, tmp_path / "r", {**FAST, "momentum": 0.9}) == 2
    assert "unknown train setting 'momentum'" in capsys.readouterr().err
    assert _cli(stores, tmp_path / "r", FAST, model="resnet") == 2
    assert "unknown model 'resnet'" in capsys.readouterr().err
    assert _cli(stores, tmp_path / "r", FAST, preset="huge") == 2
    assert "unknown preset 'huge'" in capsys.readouterr().err
    assert _cli(stores, tmp_path / "r", {**FAST, "batch_size": 500}) == 2
    assert "fewer than one batch of 500" in capsys.readouterr().err
    assert _cli(stores, tmp_path / "r", {**FAST, "time_steps": 9}) == 2
    assert "has 5 time steps; time_steps=9" in capsys.readouterr().err


def test_variant_name_is_recorded_and_labels_the_run(stores, tmp_path):
    """A variant (``unet-aug``: the UNet trained with augmentation) keeps the architecture in its
    checkpoint, records its name in the run identity, and the equivariance and influence stages
    label it by that name; the same weights as a run without the name (the name changes no
    number), and a plain run stays unnamed."""
    from symaudit.runs import run_identity

    settings = {**FAST, "epochs": 1, "augment": {"d4": True, "shifts": True}}
    named = run(stores, tmp_path / "CE" / "unet-aug" / "seed0", settings, name="unet-aug")
    plain = run(stores, tmp_path / "plain", settings)
    net, meta = load_checkpoint(named)
    assert meta["model"]["name"] == "unet" and meta["run"]["name"] == "unet-aug"
    assert "name" not in load_checkpoint(plain)[1]["run"]
    for key, value in state(named).items():
        assert torch.equal(value, state(plain)[key]), key
    assert run_identity(meta, named) == run_identity(meta)  # from the record, not the path
    assert run_identity(meta).as_dict() == {"dataset": "CE", "model": "unet-aug", "seed": 0}
    # a name is part of the run: the same directory refuses another name
    with pytest.raises(ValueError, match="different run"):
        run(stores, named.parent, settings, name="unet-other")


def test_max_trajectories_trains_on_the_first_k_of_the_train_split(stores, tmp_path, monkeypatch):
    """``train.max_trajectories`` k: the transitions read for training are those of the first k
    trajectories of each class's seeded train split; the split persisted, val (and so the val
    persistence) and test unchanged; null reads the whole train split; k above a class's train
    count is one line naming the key."""
    import symaudit.training._loop as loop
    from symaudit.errors import UserError

    seen = []
    real = loop.load_transitions

    def spy(stores_, splits, parts, *args, **kwargs):
        seen.append({f: {p: list(v[p]) for p in v} for f, v in splits.items()})
        return real(stores_, splits, parts, *args, **kwargs)

    monkeypatch.setattr(loop, "load_transitions", spy)
    one = {**FAST, "epochs": 1}
    run(stores, tmp_path / "all", one)
    run(stores, tmp_path / "two", {**one, "max_trajectories": 2})
    full, two = load_splits(tmp_path / "all"), load_splits(tmp_path / "two")
    assert full == two  # the seeded split itself is unchanged
    assert seen[0] == full  # null: the whole train split
    for fam, parts in full.items():
        assert seen[1][fam]["train"] == parts["train"][:2]
        assert seen[1][fam]["val"] == parts["val"] and len(parts["train"]) > 2
    assert resolve_settings({})["max_trajectories"] is None
    with pytest.raises(ValueError, match="'max_trajectories': expected an integer >= 1"):
        resolve_settings({"max_trajectories": 0})
    with pytest.raises(UserError, match=r"^train.max_trajectories = 6 exceeds the train split"):
        run(stores, tmp_path / "six", {**one, "max_trajectories": 6})
