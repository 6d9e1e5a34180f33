"""Persistence baselines live with the data; the increment model starts at persistence; the
model-quality table and gate flag runs that did not learn."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from symaudit import baselines, datasets, groups, losses
from symaudit.aggregate._jinja import quality_banner
from symaudit.aggregate._quality import COLUMNS, RunFiles, model_quality_table, quality_status
from symaudit.data.generate import generate_store
from symaudit.models import Increment, build, input_normalisation, load_checkpoint, save_checkpoint
from symaudit.store import open_store, write_store
from symaudit.training._data import load_transitions, make_splits


def test_eps_matches_the_loss():
    assert baselines.EPS == losses.EPS


def _numpy_persistence(fields: np.ndarray) -> np.ndarray:
    """The oracle, written out independently: SMSE(s_t, s_{t+1}) per (trajectory, t)."""
    out = np.empty((fields.shape[0], fields.shape[1] - 1))
    for i in range(fields.shape[0]):
        for t in range(fields.shape[1] - 1):
            pred = fields[i, t].astype(np.float64)
            target = fields[i, t + 1].astype(np.float64)
            rms = np.sqrt((target**2).mean(axis=(1, 2), keepdims=True)) + 1e-6
            out[i, t] = ((target - pred) ** 2 / rms).mean()
    return out


def test_generated_store_records_persistence_per_transition_and_class(tmp_path):
    store = generate_store(
        "NS-Gauss",
        tmp_path / "NS-Gauss.zarr",
        resolution=16,
        trajectories=5,
        time_steps=6,
        seed=3,
        cluster={"kind": "none"},
        shard=2,
        progress=False,
    )
    fields = store.read()
    expected = _numpy_persistence(fields)
    table = np.asarray(store.group[baselines.ARRAY][...])
    np.testing.assert_allclose(table, expected, rtol=1e-12, atol=0)
    assert store.group[baselines.ARRAY].metadata.dimension_names == baselines.DIMS
    attrs = open_store(store.path).attrs["baselines"]["persistence_smse"]
    assert attrs["mean"] == pytest.approx(expected.mean(), rel=1e-12)
    assert expected.mean() > 0


def test_split_persistence_equals_smse_of_the_training_transitions(tmp_path):
    rng = np.random.default_rng(0)
    channels = datasets.family("CE-RP").channels
    stores = []
    for k, family in enumerate(datasets.DATASETS["CE"]):
        fields = (1.0 + 0.1 * rng.standard_normal((6, 5, 4, 8, 8))).astype(np.float32)
        attrs = {
            "family": family,
            "pde": "compressible_euler",
            "channels": channels,
            "time": list(range(5)),
            "provenance": {"source": "test", "k": k},
        }
        stores.append(write_store(tmp_path / f"{family}.zarr", fields, attrs))
    splits = make_splits([s.family for s in stores], [6, 6, 6], seed=1, train=0.5, val=0.34)
    time_steps = 4  # fewer frames than stored: only the transitions training uses
    val = load_transitions(stores, splits, ("val",), time_steps)["val"]
    x, y = val.get(torch.arange(len(val)))
    oracle = float(losses.smse(x.double(), y.double()))
    assert baselines.split_persistence(stores, splits, "val", time_steps) == pytest.approx(
        oracle, rel=1e-6
    )


@pytest.mark.parametrize("name", ["unet", "vit", "twirled-unet"])
def test_untrained_increment_model_is_persistence_and_survives_a_checkpoint(name, tmp_path):
    channels = datasets.family("NS-BB").channels
    net = build(
        name,
        "tiny",
        2,
        channels,
        resolution=16,
        increment=True,
        generator=torch.Generator().manual_seed(0),
    )
    x = torch.randn(3, 2, 16, 16)
    # exact; the twirl averages 8 copies of x in float32, which rounds
    atol = 1e-6 if name.startswith("twirled") else 0.0
    torch.testing.assert_close(net(x), x, rtol=0, atol=atol)
    with torch.no_grad():
        next(p for n, p in net.named_parameters() if n.endswith("gain")).fill_(0.5)
    save_checkpoint(tmp_path / "m.pt", net, {"run": {}})
    again, meta = load_checkpoint(tmp_path / "m.pt")
    assert meta["model"]["increment"] is True
    torch.testing.assert_close(again(x), net.eval()(x), rtol=0, atol=0)
    assert not torch.equal(again(x), x)


def test_twirled_increment_model_stays_exactly_equivariant():
    channels = datasets.family("CE-RP").channels
    net = build(
        "twirled-vit",
        "tiny",
        4,
        channels,
        resolution=16,
        increment=True,
        dtype=torch.float64,
        generator=torch.Generator().manual_seed(1),
    )
    with torch.no_grad():
        for name, p in net.named_parameters():
            if name.endswith("gain"):
                p.fill_(0.7)
    x = torch.randn(2, 4, 16, 16, dtype=torch.float64)
    for g in groups.D4:
        torch.testing.assert_close(
            net(groups.act(g, x, channels)),
            groups.act(g, net(x), channels),
            rtol=1e-12,
            atol=1e-12,
        )
    assert isinstance(net.model, Increment)


def _metrics(path, val_ratios, persistence=0.02):
    rows = [
        {
            "epoch": e + 1,
            "steps": 10 * (e + 1),
            "train_smse": persistence * r,
            "val_smse": persistence * r,
            "val_persistence_smse": persistence,
            "val_ratio": r,
            "wall_time_s": 1.5,
        }
        for e, r in enumerate(val_ratios)
    ]
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


def test_quality_table_flags_exactly_the_runs_above_the_gate(tmp_path):
    runs = [
        RunFiles("CE", "unet", 0, _metrics(tmp_path / "a.csv", [3.0, 0.6])),
        RunFiles("CE", "unet", 1, _metrics(tmp_path / "b.csv", [3.0, 0.8])),
        RunFiles("NS", "vit", 0, _metrics(tmp_path / "c.csv", [2.0, 1.4])),
    ]
    table = model_quality_table(runs, max_ratio=0.7)
    assert list(table.columns) == list(COLUMNS)
    np.testing.assert_allclose(table["ratio"], [0.6, 0.8, 1.4])
    assert table["passes"].tolist() == [True, False, False]
    assert table["steps"].tolist() == [20, 20, 20]
    assert table["wall_time_s"].tolist() == [3.0, 3.0, 3.0]
    status = quality_status(table, 0.7)["quality_status"]
    assert [r["label"] for r in status["flagged"]] == ["CE unet seed 1", "NS vit seed 0"]
    assert baselines.quality_warning(tmp_path, 1.0) is not None  # no metrics.csv: unknown


def test_quality_warning_names_the_run(tmp_path):
    _metrics(tmp_path / "metrics.csv", [2.0, 1.3])
    message = baselines.quality_warning(tmp_path, 1.0)
    assert str(tmp_path) in message and "1.3 x persistence" in message
    assert baselines.quality_warning(tmp_path, 1.5) is None


def test_banner_names_only_the_failed_runs_behind_a_caption():
    from jinja2 import Environment

    status = quality_status(
        pd.DataFrame(
            [
                {
                    "dataset": "CE",
                    "model": "unet",
                    "seed": 0,
                    "epochs": 2,
                    "val_smse": 0.5,
                    "val_persistence_smse": 0.1,
                    "ratio": 5.0,
                    "passes": False,
                },
                {
                    "dataset": "NS",
                    "model": "vit",
                    "seed": 1,
                    "epochs": 2,
                    "val_smse": 0.01,
                    "val_persistence_smse": 0.1,
                    "ratio": 0.1,
                    "passes": True,
                },
            ]
        ),
        1.0,
    )

    class Snakemake:
        config = status

    def render(text):
        return Environment().from_string(text).render(snakemake=Snakemake)

    assert "worst: CE unet seed 0, 5 × persistence" in render(quality_banner())
    assert "Premise failed" in render(quality_banner('"CE"', '"unet"'))
    assert render(quality_banner('"NS"')) == ""
    assert render(quality_banner('"CE"', '"vit"')) == ""

    class Empty:
        config = {}

    assert Environment().from_string(quality_banner()).render(snakemake=Empty) == ""


def test_input_normalisation_pools_stores_and_commutes_with_d4():
    channels = datasets.family("CE-RP").channels  # density, momentum_x, momentum_y, energy
    stats = [
        {"mean": [1.0, 0.2, -0.1, 2.5], "rms": [1.1, 0.5, 0.4, 2.6]},
        {"mean": [3.0, 0.0, 0.3, 4.5], "rms": [3.3, 0.7, 0.6, 4.6]},
    ]
    shift, scale = input_normalisation(channels, stats, counts=[1, 3])
    # density: pooled mean 2.5, pooled mean square (1.21 + 3 * 10.89) / 4
    assert float(shift[0]) == pytest.approx(2.5)
    assert float(scale[0]) == pytest.approx(np.sqrt((1.21 + 3 * 10.89) / 4 - 2.5**2))
    # the momentum components: no shift, one scale (a rotation mixes them)
    assert float(shift[1]) == float(shift[2]) == 0.0
    pooled = [(0.25 + 3 * 0.49) / 4, (0.16 + 3 * 0.36) / 4]
    assert float(scale[1]) == float(scale[2]) == pytest.approx(np.sqrt(np.mean(pooled)))
    x = torch.randn(2, 4, 8, 8, dtype=torch.float64)
    for g in groups.D4:
        torch.testing.assert_close(
            (groups.act(g, x, channels) - shift) / scale,
            groups.act(g, (x - shift) / scale, channels),
            rtol=0,
            atol=1e-15,
        )
