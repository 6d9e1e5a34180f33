"""Forward-pass equivariance error and the twirl decomposition (symaudit.equivariance), checked
against oracles: exact symmetries of hand-built nets, a direct numpy SMSE, a brute-force
decomposition over stacked twisted predictions, and the Twirled module itself."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from symaudit import datasets, groups
from symaudit.equivariance import (
    check_group,
    relative_error,
    relative_errors,
    sweep,
    twirl_decomposition,
)
from symaudit.models._twirl import twirled
from symaudit.testing import assert_equivariant

CE = datasets.channels_for("CE")  # density, momentum_x, momentum_y, energy
NS = datasets.channels_for("NS")
D4 = list(groups.D4)


def conv_net(channels: int, seed: int, padding_mode: str = "circular", hidden: int = 6):
    """A small float64 conv net, 3x3 stencils, no pooling: with circular padding it commutes
    exactly with every periodic shift and with nothing in D4 (random, unsymmetric kernels)."""
    torch.manual_seed(seed)
    return nn.Sequential(
        nn.Conv2d(channels, hidden, 3, padding=1, padding_mode=padding_mode),
        nn.Tanh(),
        nn.Conv2d(hidden, channels, 3, padding=1, padding_mode=padding_mode),
    ).double()


def data(channels: int, seed: int, n: int = 5, size: int = 16):
    gen = torch.Generator().manual_seed(1000 + seed)
    x = torch.randn(n, channels, size, size, generator=gen, dtype=torch.float64)
    y = x + 0.3 * torch.randn(n, channels, size, size, generator=gen, dtype=torch.float64)
    return x, y


# --- an independent numpy oracle ----------------------------------------------------------


def np_act_ce(name: str, a: np.ndarray) -> np.ndarray:
    """The contract's action on CE channels (rho, m_x, m_y, E), written out by hand."""
    rho, mx, my, en = (a[..., c, :, :] for c in range(4))
    if name.startswith("t("):
        dx, dy = (int(v) for v in name[2:-1].split(","))
        return np.roll(a, shift=(dy, dx), axis=(-2, -1))

    def rot(b):  # r on a scalar: rot90(k=-1) over (y, x)
        return np.rot90(b, -1, axes=(-2, -1))

    k = {"r": 1, "r2": 2, "r3": 3}.get(name.removeprefix("s"), 0)
    for _ in range(k):  # (w_x, w_y) -> (-rot w_y, rot w_x)
        rho, mx, my, en = rot(rho), -rot(my), rot(mx), rot(en)
    if name.startswith("s"):  # flip x, negate the x component
        rho, mx, my, en = (np.flip(b, -1) for b in (rho, mx, my, en))
        mx = -mx
    return np.stack([rho, mx, my, en], axis=-3)


def np_smse(pred: np.ndarray, target: np.ndarray) -> np.ndarray:
    scale = np.sqrt(np.mean(target**2, axis=(-2, -1), keepdims=True)) + 1e-6
    return np.mean((target - pred) ** 2 / scale, axis=(-3, -2, -1))


# --- relative errors ----------------------------------------------------------------------


def test_identity_is_exactly_one():
    net = conv_net(4, seed=0, padding_mode="zeros")
    x, y = data(4, seed=0)
    for e in ("e", "t(0,0)", "t(16,0)", "t(-16,32)"):  # all the identity on a 16^2 grid
        assert torch.equal(relative_error(net, x, y, e, CE), torch.ones(5, dtype=torch.float64))
    # mixed into a chunk with other elements it is still exactly 1
    rel = relative_errors(net, x, y, ["r", "e", "t(1,2)"], CE, elements_per_batch=3)
    assert torch.equal(rel[1], torch.ones(5, dtype=torch.float64))


@pytest.mark.parametrize("element", ["r", "sr", "r3", "t(3,5)"])
def test_relative_error_matches_numpy_oracle(element):
    net = conv_net(4, seed=1, padding_mode="zeros")  # zero padding: not even shift-equivariant
    x, y = data(4, seed=1)
    gx = torch.from_numpy(np_act_ce(element, x.numpy()).copy())
    with torch.no_grad():
        f_gx, f_x = net(gx).numpy(), net(x).numpy()
    expected = np_smse(f_gx, np_act_ce(element, y.numpy())) / np_smse(f_x, y.numpy())
    got = relative_error(net, x, y, element, CE).numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-12)
    assert np.abs(expected - 1).max() > 1e-3  # the element really changes the error


def test_many_elements_agree_with_one_at_a_time_and_any_chunking():
    net = conv_net(4, seed=2, padding_mode="zeros")
    x, y = data(4, seed=2)
    names = [*D4, "t(1,0)", "t(0,3)", "t(5,7)"]
    one = torch.stack([relative_error(net, x, y, g, CE) for g in names])
    for k in (1, 4, 11):
        many = relative_errors(net, x, y, names, CE, elements_per_batch=k)
        assert many.shape == (len(names), 5) and many.dtype == torch.float64
        torch.testing.assert_close(many, one, rtol=1e-12, atol=0)
    repeated = relative_errors(net, x, y, ["sr", "t(1,0)", "sr"], CE)  # every row filled
    torch.testing.assert_close(repeated, one[[5, 8, 5]], rtol=1e-12, atol=0)


def test_float32_model_float64_ratios():
    net = conv_net(2, seed=3).float()
    x, y = data(2, seed=3)
    rel = relative_errors(net, x.float(), y.float(), ["t(2,3)", "r"], NS)
    assert rel.dtype == torch.float64
    assert abs(float(rel[0].max()) - 1) < 1e-5  # circular conv: shift-equivariant to fp32 noise


def test_twirled_net_is_d4_equivariant():
    for channels, c in ((CE, 4), (NS, 2)):
        net = twirled(conv_net(c, seed=4), channels)
        x, y = data(c, seed=4)
        rel = relative_errors(net, x, y, D4, channels)
        assert (rel - 1).abs().max() < 1e-10  # float64: 1 to round-off (brief: 1e-5)
        dec = twirl_decomposition(net, x, y, D4, channels)
        assert dec["equiv"] <= 1e-10 * dec["total"]
        assert dec["per_example"]["equiv"].max() <= 1e-10 * dec["per_example"]["total"].min()
        # the plain net is not: the test discriminates
        plain = relative_errors(conv_net(c, seed=4), x, y, D4, channels)
        assert (plain - 1).abs().max() > 1e-3


def test_circular_conv_is_exactly_shift_equivariant():
    net = conv_net(4, seed=5)
    x, y = data(4, seed=5)
    shifts = ["t(3,0)", "t(0,7)", "t(5,11)", "t(-2,3)", "t(15,15)"]
    rel = relative_errors(net, x, y, shifts, CE)
    assert (rel - 1).abs().max() < 1e-13
    dec = twirl_decomposition(
        net, x, y, [f"t({4 * i},{4 * j})" for i in range(4) for j in range(4)], CE
    )
    assert dec["equiv"] <= 1e-25 * dec["total"]
    # zero padding breaks it near the border: the same check fails
    rel0 = relative_errors(conv_net(4, seed=5, padding_mode="zeros"), x, y, shifts, CE)
    assert (rel0 - 1).abs().max() > 1e-3


# --- the twirl decomposition --------------------------------------------------------------


def brute_force(net, x, y, elements, channels):
    """Proposition 1 computed directly from the stacked twisted predictions (numpy)."""
    with torch.no_grad():
        z = np.stack(
            [
                groups.act(groups.inverse(g), net(groups.act(g, x, channels)), channels).numpy()
                for g in elements
            ]
        )
    yn = y.numpy()
    w = 1 / (np.sqrt(np.mean(yn**2, axis=(-2, -1), keepdims=True)) + 1e-6)
    mu = z.mean(axis=0)
    total = np.mean(w * (z - yn) ** 2, axis=(-3, -2, -1)).mean(axis=0)
    mean = np.mean(w * (mu - yn) ** 2, axis=(-3, -2, -1))
    equiv = np.mean(w * (z - mu) ** 2, axis=(-3, -2, -1)).mean(axis=0)
    return total, mean, equiv, mu


GROUPS = {
    "d4": D4,
    "rotations": ["e", "r", "r2", "r3"],
    "shift4": [f"t({4 * i},0)" for i in range(4)],
    "box8": [f"t({8 * i},{8 * j})" for i in range(2) for j in range(2)],
}


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("group", list(GROUPS))
def test_decomposition_is_exact_and_matches_brute_force(seed, group):
    elements = GROUPS[group]
    net = conv_net(4, seed=10 + seed, padding_mode="zeros")  # not symmetric under anything
    x, y = data(4, seed=10 + seed)
    dec = twirl_decomposition(net, x, y, elements, CE, elements_per_batch=3, return_prediction=True)
    pe = dec["per_example"]
    total, mean, equiv, mu = brute_force(net, x, y, elements, CE)
    np.testing.assert_allclose(pe["total"].numpy(), total, rtol=1e-12)
    np.testing.assert_allclose(pe["mean"].numpy(), mean, rtol=1e-12)
    np.testing.assert_allclose(pe["equiv"].numpy(), equiv, rtol=1e-10)
    np.testing.assert_allclose(dec["prediction"].numpy(), mu, rtol=1e-12, atol=1e-14)
    # L = L_mean + L_equiv, per example and overall
    assert (pe["total"] - pe["mean"] - pe["equiv"]).abs().max() <= 1e-10 * pe["total"].min()
    assert abs(dec["total"] - dec["mean"] - dec["equiv"]) <= 1e-10 * dec["total"]
    assert dec["equiv"] > 1e-4 * dec["total"]  # a non-trivial split
    assert dec["percent"] == pytest.approx(100 * dec["equiv"] / dec["total"], rel=1e-14)
    torch.testing.assert_close(pe["percent"], 100 * pe["equiv"] / pe["total"])
    # total is the plain SMSE averaged over the group: SMSE(f(x), y) * mean_g R_g
    rel = relative_errors(net, x, y, elements, CE)
    torch.testing.assert_close(pe["total"], pe["plain"] * rel.mean(dim=0), rtol=1e-12, atol=0)
    assert pe["plain"].equal(sweep(net, x, y, [], CE).baseline)


@pytest.mark.parametrize("seed", range(6))
def test_test_time_twirling_never_increases_the_loss(seed):
    channels, c = (CE, 4) if seed % 2 else (NS, 2)
    net = conv_net(c, seed=20 + seed, padding_mode="zeros", hidden=3 + seed)
    x, y = data(c, seed=20 + seed, n=4)
    y = y * (1 + seed)  # different scales, different error levels
    group = D4 if seed < 3 else GROUPS["shift4"]
    dec = twirl_decomposition(net, x, y, group, channels)
    pe = dec["per_example"]
    assert (pe["twirled_loss"] <= pe["total"]).all()  # Jensen, per example
    torch.testing.assert_close(pe["twirled_loss"], pe["mean"], rtol=1e-14, atol=0)
    if group == D4:  # mu is exactly the Twirled module's output (an independent implementation)
        with torch.no_grad():
            expected = (
                (twirled(net, channels)(x) - y).square()
                / (y.square().mean(dim=(-2, -1), keepdim=True).sqrt() + 1e-6)
            ).mean(dim=(-3, -2, -1))
        torch.testing.assert_close(pe["twirled_loss"], expected, rtol=1e-12, atol=0)


def test_agrees_with_the_training_tracker():
    training = pytest.importorskip("symaudit.training")
    net = conv_net(4, seed=40, padding_mode="zeros")
    x, y = data(4, seed=40)
    dec = twirl_decomposition(net, x, y, D4, CE)
    fraction = training.equivariance_fraction(net, x, y, CE)  # stacked, not streamed
    assert dec["percent"] == pytest.approx(100 * fraction, rel=1e-10)


def test_check_group():
    shape = (16, 16)
    for ok in (
        D4,
        ["e"],
        ["e", "s"],
        ["e", "r2"],
        ["e", "r", "r2", "r3"],
        ["e", "sr", "sr3", "r2"],
        GROUPS["shift4"],
        GROUPS["box8"],
        ["t(0,0)", "t(8,0)"],
    ):
        check_group(ok, shape)
    bad = [
        (r"do not form a group", ["e", "r"]),
        (r"r o r = r2 is missing", ["e", "r", "r3"]),
        (r"t\(3,0\) o t\(15,0\) = t\(2,0\)", [f"t({3 * i},0)" for i in range(6)]),  # 3 !| 16
        (r"duplicate", ["e", "e", "s", "s"]),
        (r"duplicate", ["t(0,0)", "t(16,0)"]),
        (r"mixing", ["e", "s", "t(8,0)"]),
    ]
    for message, elements in bad:
        with pytest.raises(ValueError, match=message):
            check_group(elements, shape)
    with pytest.raises(ValueError, match="unknown group element"):
        relative_error(conv_net(2, 0), *data(2, 0), "q", NS)


def test_model_mode_is_restored():
    net = nn.Sequential(conv_net(2, 0), nn.Dropout(0.5)).train()
    x, y = data(2, 0)
    rel = relative_error(net, x, y, "t(1,1)", NS)  # dropout off inside: exactly equivariant
    assert (rel - 1).abs().max() < 1e-13
    assert all(m.training for m in net.modules())


# --- assert_equivariant -------------------------------------------------------------------


def test_assert_equivariant():
    x, _ = data(4, seed=30)
    assert_equivariant(twirled(conv_net(4, seed=30), CE), D4, x, CE, atol=1e-10)
    assert_equivariant(conv_net(4, seed=30), ["t(3,1)", "t(0,9)"], x, CE, atol=1e-12)
    with pytest.raises(AssertionError, match="not equivariant") as err:
        assert_equivariant(conv_net(4, seed=30), D4, x, CE, atol=1e-6)
    assert "r2" in str(err.value) and "e:" not in str(err.value)  # names the failing elements


# --- the reference UNet -------------------------------------------------------------------


def test_unet_shift_equivariance_by_multiples_of_its_stride():
    models = pytest.importorskip("symaudit.models")
    gen = torch.Generator().manual_seed(0)
    # the paper's resolution, small preset, float64: exact up to round-off (total stride 16)
    net = models.build("unet", "small", 2, resolution=128, generator=gen, dtype=torch.float64)
    x = torch.randn(1, 2, 128, 128, generator=gen, dtype=torch.float64)
    y = x + 0.1 * torch.randn(1, 2, 128, 128, generator=gen, dtype=torch.float64)
    rel = relative_errors(net, x, y, ["t(48,112)"], NS)  # one element: 2 forwards at 128^2
    assert (rel - 1).abs().max() < 1e-12
    # and only for multiples of 16 (checked on the cheap tiny preset)
    net = models.build("unet", "tiny", 2, resolution=32, generator=gen, dtype=torch.float64)
    x, y = x[..., :32, :32], y[..., :32, :32]
    rel = relative_errors(net, x, y, ["t(16,16)", "t(1,0)", "t(0,8)"], NS)
    assert (rel[0] - 1).abs().max() < 1e-12
    assert (rel[1:] - 1).abs().min() > 1e-5


def test_twirled_unet_is_d4_equivariant():
    models = pytest.importorskip("symaudit.models")
    gen = torch.Generator().manual_seed(1)
    net = models.build(
        "twirled-unet", "tiny", 4, CE, resolution=32, generator=gen, dtype=torch.float64
    )
    x = torch.randn(1, 4, 32, 32, generator=gen, dtype=torch.float64)
    y = x + 0.1 * torch.randn(1, 4, 32, 32, generator=gen, dtype=torch.float64)
    rel = relative_errors(net, x, y, ["r", "r2", "s", "sr3"], CE)
    assert (rel - 1).abs().max() < 1e-10


# --- the stage CLI ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    """Three 32^2 NS class stores, a run directory with splits.json and a tiny-UNet final.pt."""
    models = pytest.importorskip("symaudit.models")
    training = pytest.importorskip("symaudit.training")
    from symaudit.store import write_store
    from symaudit.training._data import write_splits

    root = tmp_path_factory.mktemp("run")
    rng = np.random.default_rng(0)
    stores = []
    for family in datasets.DATASETS["NS"]:
        fields = rng.standard_normal((3, 6, 2, 32, 32)).astype(np.float32)
        attrs = {
            "family": family,
            "pde": "incompressible_ns",
            "channels": NS,
            "time": [0.1 * i for i in range(6)],
            "provenance": {"source": "test"},
        }
        stores.append(write_store(root / f"{family}.zarr", fields, attrs).path)
    run_dir = root / "models" / "NS" / "unet" / "seed3"
    run_dir.mkdir(parents=True)
    splits = training.make_splits(datasets.DATASETS["NS"], [3, 3, 3], 0, 0.34, 0.0)
    write_splits(run_dir, splits, 0, {"train": 0.34, "val": 0.0})
    net = models.build("unet", "tiny", 2, resolution=32, generator=torch.Generator().manual_seed(5))
    models.save_checkpoint(run_dir / "final.pt", net, {"dataset": "NS", "seed": 3})
    return {"stores": stores, "run_dir": run_dir, "checkpoint": run_dir / "final.pt"}


def _cli(run, *extra):
    from symaudit.cli import main

    argv = ["equivariance", "--checkpoint", str(run["checkpoint"]), "--run-dir",
            str(run["run_dir"]), "--stores", *map(str, run["stores"]), "--time-steps", "2",
            *extra]  # fmt: skip
    return main(argv)


def test_cli_writes_relative_errors_and_twirl(tiny_run, tmp_path, capsys):
    import xarray as xr

    from symaudit.models import load_checkpoint
    from symaudit.runs import analysis_batch, load_splits

    elements = ["e", "r", "sr2", "t(1,3)"]
    out, twirl_out = tmp_path / "sub" / "chunk.nc", tmp_path / "twirl.nc"
    rc = _cli(
        tiny_run, "--batches", "0", "1", "--set-name", "d4", "--elements", *elements,
        "--elements-per-batch", "3", "--out", str(out), "--twirl-out", str(twirl_out),
    )  # fmt: skip
    assert rc == 0
    assert "elements/s" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.rglob("*") if p.is_file()) == ["chunk.nc", "twirl.nc"]

    families = list(datasets.DATASETS["NS"])
    with xr.open_dataset(out) as ds:
        ds = ds.load()
    assert ds["relative_error"].dims == ("element", "batch", "transition", "class")
    assert ds["relative_error"].shape == (4, 2, 2, 3)
    assert list(ds["element"].values) == elements and list(ds["class"].values) == families
    assert list(ds["batch"].values) == [0, 1] and list(ds["transition"].values) == [0, 1]
    assert ds.attrs["dataset"] == "NS" and ds.attrs["model"] == "unet"
    # the seed as influence records it: an int, not the string of a directory name
    assert isinstance(ds.attrs["seed"], np.integer) and ds.attrs["seed"] == 3
    assert ds.attrs["set_name"] == "d4"
    assert ds["relative_error"].dtype == np.float64
    assert (ds["relative_error"].sel(element="e") == 1).all()

    # the oracle: the library on the same batches, reordered n = t + T * class -> (t, class)
    model, _ = load_checkpoint(tiny_run["checkpoint"])
    splits = load_splits(tiny_run["run_dir"])
    with xr.open_dataset(twirl_out) as tw:
        tw = tw.load()
    assert tw["percent"].dims == ("batch", "class") and tw["example_total"].shape == (2, 2, 3)
    for b in (1,):  # the second batch: also checks which batch lands where
        x, y = analysis_batch(tiny_run["stores"], splits, b, time_steps=2)
        rel = relative_errors(model, x, y, elements, NS, elements_per_batch=3)
        expected = rel.numpy().reshape(4, 3, 2).transpose(0, 2, 1)
        np.testing.assert_allclose(ds["relative_error"].sel(batch=b).values, expected, rtol=1e-6)
        dec = twirl_decomposition(model, x, y, D4, NS)
        for key in ("total", "mean", "equiv", "twirled_loss", "plain"):
            per = dec["per_example"][key].numpy().reshape(3, 2)
            np.testing.assert_allclose(tw[f"example_{key}"].sel(batch=b).values, per.T, rtol=1e-6)
            np.testing.assert_allclose(tw[key].sel(batch=b).values, per.mean(axis=1), rtol=1e-6)
        pct = 100 * tw["equiv"].sel(batch=b) / tw["total"].sel(batch=b)
        np.testing.assert_allclose(tw["percent"].sel(batch=b).values, pct.values, rtol=1e-12)
    np.testing.assert_allclose(tw["total"].values, (tw["mean"] + tw["equiv"]).values, rtol=1e-10)
    assert tw.attrs["twirl_elements"] == " ".join(D4)


def test_cli_user_errors_are_one_line(tiny_run, tmp_path, capsys):
    cases = [
        (["--elements", "e", "q", "--out", "X"], "unknown group element 'q'"),
        (["--elements", "e"], "nothing to do"),
        (["--elements", "e", "--out", "X", "--batches", "7"], "analysis batch k=7"),
        (["--set-name", "shift_box", "--elements", "e", "--twirl-out", "X"], "not a group"),
        (["--elements", "e", "--twirl-out", "X", "--twirl-elements", "e", "r"], "r o r = r2"),
    ]
    for extra, message in cases:
        extra = [str(tmp_path / "o.nc") if a == "X" else a for a in extra]
        if "--batches" not in extra:
            extra += ["--batches", "0"]
        if "--set-name" not in extra:
            extra += ["--set-name", "d4"]
        assert _cli(tiny_run, *extra) == 2
        # one error line (the run has no metrics.csv: the quality gate also logs a warning)
        err = [line for line in capsys.readouterr().err.splitlines() if ": warning: " not in line]
        assert len(err) == 1 and message in err[0], err
    assert not list(tmp_path.iterdir())  # nothing half-written
