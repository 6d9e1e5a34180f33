"""Conserved quantities of GD under exact D4 averaging, on the linear periodic convolution.

Oracles: the closed forms of ``symaudit.conservation`` (derived in docs/conservation.md) and
direct sums; float64 throughout.  The acceptance oracle runs N = 32, 100 full-batch GD steps.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from symaudit import groups
from symaudit.conservation import (
    balancedness_drift,
    channel_anisotropy,
    equiv_closed_form,
    equiv_orbit_form,
    gd_factors,
    make_target,
    orbit_averaged,
    predicted_perp,
    random_fields,
    safe_lr,
    track,
    train_full_batch,
    twirled_second_moment,
    wavevector_orbits,
)
from symaudit.datasets import channels_for
from symaudit.equivariance import twirl_decomposition
from symaudit.models import build, load_checkpoint, save_checkpoint
from symaudit.models._linear import act_kernel, periodic_conv, twirl_kernel

SCALAR = [{"name": "u", "kind": "scalar", "vector": None, "axis": None}]
N = 32
STEPS = 100


def _model(name="linear", channels=SCALAR, n=N, seed=0, **kw):
    return build(
        name,
        "tiny",
        len(channels),
        channels,
        resolution=n,
        dtype=torch.float64,
        generator=torch.Generator().manual_seed(seed),
    )


@pytest.fixture(scope="module")
def data():
    x = random_fields(16, N, 1, seed=1)
    return x, {t: make_target(x, t) for t in ("diffusion", "advection")}


@pytest.fixture(scope="module")
def runs(data):
    """One 100-step run per (arm, target); arms as in the conservation study."""
    x, targets = data
    lr = safe_lr(x, 0.5)
    arms = {
        "orbit": ("orbit", "gd", "mse", lr),
        "random": ("random", "gd", "mse", lr),
        "none": ("none", "gd", "mse", lr),
        "adam": ("orbit", "adam", "mse", 1e-3),
        "logcosh": ("orbit", "gd", "logcosh", lr),
    }
    out = {}
    for target in ("diffusion", "advection"):
        for arm, (aug, opt, loss, step) in arms.items():
            if arm in ("adam", "logcosh") and target == "advection":
                continue
            model = _model()
            hist = train_full_batch(
                model,
                x,
                targets[target],
                SCALAR,
                steps=STEPS,
                lr=step,
                augmentation=aug,
                optimizer=opt,
                loss=loss,
                seed=3,
            )
            out[arm, target] = (hist, track(hist.kernels, SCALAR), lr)
    return out


# --- the model and the kernel action --------------------------------------------------------


def test_periodic_conv_matches_direct_sum():
    n = 5
    gen = torch.Generator().manual_seed(0)
    k = torch.randn(2, 3, n, n, generator=gen, dtype=torch.float64)
    u = torch.randn(1, 3, n, n, generator=gen, dtype=torch.float64)
    direct = torch.zeros(1, 2, n, n, dtype=torch.float64)
    for y in range(n):
        for x in range(n):
            for yy in range(n):
                for xx in range(n):
                    direct[0, :, y, x] += k[:, :, yy, xx] @ u[0, :, (y - yy) % n, (x - xx) % n]
    assert torch.allclose(periodic_conv(k, u), direct, atol=1e-12, rtol=0)


@pytest.mark.parametrize("dataset", ["CE", "NS"])
def test_kernel_action_is_conjugation_by_groups_act(dataset):
    """z_g = g^-1 f(g x) is the convolution with g^-1 . K, for vector channels too."""
    ch = channels_for(dataset)
    model = _model(channels=ch, n=8)
    x = torch.randn(
        3, len(ch), 8, 8, generator=torch.Generator().manual_seed(1), dtype=torch.float64
    )
    with torch.no_grad():
        for g in groups.D4:
            twisted = groups.act(groups.inverse(g), model(groups.act(g, x, ch)), ch)
            direct = periodic_conv(act_kernel(groups.inverse(g), model.kernel, ch), x)
            assert torch.allclose(twisted, direct, atol=1e-13, rtol=0), g


def test_twirl_kernel_is_the_projection_onto_equivariant_convolutions():
    ch = channels_for("CE")
    k = torch.randn(4, 4, 8, 8, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    pk = twirl_kernel(k, ch)
    assert torch.allclose(twirl_kernel(pk, ch), pk, atol=1e-14, rtol=0)  # idempotent
    perp = k - pk
    assert abs(float((perp * pk).sum())) < 1e-12 * float(k.square().sum())  # orthogonal
    x = torch.randn(2, 4, 8, 8, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    for g in groups.D4:  # P K convolves equivariantly, by channel kind
        lhs = periodic_conv(pk, groups.act(g, x, ch))
        assert torch.allclose(lhs, groups.act(g, periodic_conv(pk, x), ch), atol=1e-13, rtol=0)


def test_linear_models_in_registry_and_checkpoints(tmp_path):
    ch = channels_for("NS")
    for name in ("linear", "linear2"):
        model = _model(name, channels=ch, n=16)
        x = torch.randn(2, 2, 16, 16, dtype=torch.float64)
        with torch.no_grad():
            y = model(x)
            assert y.shape == x.shape
            assert torch.allclose(periodic_conv(model.end_to_end_kernel(), x), y, atol=1e-13)
        path = save_checkpoint(tmp_path / f"{name}.pt", model, {"seed": 0})
        again, meta = load_checkpoint(path)
        assert meta["model"]["name"] == name
        with torch.no_grad():
            assert torch.equal(again(x), y)


# --- the orbit structure and the second moment ----------------------------------------------


def test_wavevector_orbits_are_d4_orbits():
    labels = wavevector_orbits(N)
    sizes = np.bincount(labels.ravel())
    assert sizes.sum() == N * N and set(sizes) <= {1, 2, 4, 8}
    # closure: every element maps an orbit onto itself
    ky, kx = np.meshgrid(np.arange(N), np.arange(N), indexing="ij")
    for g in groups.D4:
        m = groups.matrix(g)
        x1, y1 = (m[0, 0] * kx + m[0, 1] * ky) % N, (m[1, 0] * kx + m[1, 1] * ky) % N
        assert np.array_equal(labels[y1, x1], labels)
    # (0,0) and (N/2,N/2) alone; (N/2,0) with (0,N/2); everything else 4 or 8
    assert sizes[labels[0, 0]] == 1 and sizes[labels[N // 2, N // 2]] == 1
    assert sizes[labels[0, N // 2]] == 2


def test_twirled_second_moment_is_constant_on_orbits(data):
    x, _ = data
    s = twirled_second_moment(x, SCALAR)[..., 0, 0].real
    labels = wavevector_orbits(N)
    per_orbit = orbit_averaged(s, labels)
    assert torch.allclose(s, per_orbit[torch.as_tensor(labels)], rtol=1e-13, atol=0)
    plain = twirled_second_moment(x, SCALAR, elements=None)[..., 0, 0].real
    spread = (plain - orbit_averaged(plain, labels)[torch.as_tensor(labels)]).abs().max()
    assert spread > 1e-2 * plain.max()  # a finite sample is far from orbit-constant


# --- the acceptance oracle ------------------------------------------------------------------


@pytest.mark.parametrize("target", ["diffusion", "advection"])
def test_orbit_complete_gd_conserves_direction(runs, target):
    hist, tr, _ = runs["orbit", target]
    defect = tr.max_defect()
    assert float(np.nanmax(defect.numpy())) < 1e-10
    # most orbits stay above the noise floor for the whole run (the oracle is not vacuous)
    assert int((~tr.floored[-1]).sum()) >= 0.9 * tr.floored.shape[1]
    assert tr.ratio_power_error() < 1e-9


@pytest.mark.parametrize("target", ["diffusion", "advection"])
def test_orbit_complete_norm_follows_closed_form(data, runs, target):
    """||K^perp_O|| after n steps = |lambda_O|^n ||K^perp_O|| at the start, lambda_O =
    1 - 2 lr s_O / N^2 with s_O the orbit mean of the twirled power spectrum."""
    x, _ = data
    hist, tr, lr = runs["orbit", target]
    factors = gd_factors(twirled_second_moment(x, SCALAR), lr)[..., 0, 0].real
    lam = orbit_averaged(factors, tr.labels)
    n = torch.arange(STEPS + 1, dtype=torch.float64)[:, None]
    expected = lam.abs()[None, :] ** n
    ok = ~tr.floored
    rel = ((tr.ratio - expected).abs() / expected)[ok]
    assert float(rel.max()) < 1e-9
    assert torch.allclose(tr.ratio[1][ok[1]], lam.abs()[ok[1]], rtol=1e-12, atol=0)
    # the whole non-equivariant spectrum, not just its norms
    pred = predicted_perp(
        hist.kernels[0], gd_factors(twirled_second_moment(x, SCALAR), lr), STEPS, SCALAR
    )
    k = hist.kernels
    got = torch.fft.fft2(k - twirl_kernel(k, SCALAR)).permute(0, 3, 4, 1, 2)
    scale = torch.fft.fft2(k).abs().amax(dim=(1, 2, 3, 4))[:, None, None, None, None]
    assert float(((got - pred).abs() / scale).max()) < 1e-12


def test_no_augmentation_on_d4_breaking_target_breaks_direction(runs):
    _, tr, _ = runs["none", "advection"]
    assert float(np.nanmax(tr.max_defect().numpy())) > 1e-3


@pytest.mark.parametrize(
    "arm,target",
    [
        ("random", "diffusion"),
        ("random", "advection"),
        ("none", "diffusion"),
        ("adam", "diffusion"),
        ("logcosh", "diffusion"),
    ],
)
def test_expected_failures_are_measured(runs, arm, target):
    """Random single-element augmentation, no augmentation (even with an equivariant target:
    a finite sample's spectrum is not orbit-constant), Adam and log-cosh all move the
    direction by far more than round-off."""
    _, tr, _ = runs[arm, target]
    assert float(np.nanmax(tr.max_defect().numpy())) > 1e-3


def test_twirl_decomposition_equals_closed_form(data, runs):
    x, targets = data
    y = targets["advection"]
    hist, _, _ = runs["orbit", "advection"]
    model = _model()
    for step in (0, 10, STEPS):
        with torch.no_grad():
            model.kernel.copy_(hist.kernels[step])
        dec = twirl_decomposition(model, x, y, list(groups.D4), SCALAR)
        orbit, _, _ = equiv_orbit_form(model.kernel.detach(), x, y)
        general = equiv_closed_form(model.kernel.detach(), x, y, SCALAR)
        ref = dec["per_example"]["equiv"]
        assert torch.allclose(orbit, ref, rtol=1e-10, atol=0)
        assert torch.allclose(general, ref, rtol=1e-10, atol=0)


def test_twirl_decomposition_closed_form_with_vector_channels():
    ch = channels_for("CE")
    model = _model(channels=ch, n=16, seed=4)
    x = random_fields(3, 16, 4, seed=5)
    y = make_target(x, "advection")
    dec = twirl_decomposition(model, x, y, list(groups.D4), ch)
    got = equiv_closed_form(model.kernel.detach(), x, y, ch)
    assert torch.allclose(got, dec["per_example"]["equiv"], rtol=1e-10, atol=0)


def test_vector_channels_follow_the_matrix_oracle():
    """With vector channels the factor is a channel matrix A(k); the non-equivariant part is
    K^perp(k) A(k)^n exactly, and its per-orbit direction is conserved only when every S(k)
    is a multiple of the identity (here it is not)."""
    ch = channels_for("CE")
    n, steps = 16, 30
    x = random_fields(6, n, 4, seed=6)
    y = make_target(x, "advection")
    model = _model(channels=ch, n=n, seed=7)
    lr = safe_lr(x, 0.5)
    hist = train_full_batch(model, x, y, ch, steps=steps, lr=lr, augmentation="orbit")
    s = twirled_second_moment(x, ch)
    assert channel_anisotropy(s) > 1e-2
    pred = predicted_perp(hist.kernels[0], gd_factors(s, lr), steps, ch)
    k = hist.kernels
    got = torch.fft.fft2(k - twirl_kernel(k, ch)).permute(0, 3, 4, 1, 2)
    scale = torch.fft.fft2(k).abs().amax(dim=(1, 2, 3, 4))[:, None, None, None, None]
    assert float(((got - pred).abs() / scale).max()) < 1e-12
    assert float(np.nanmax(track(k, ch).max_defect().numpy())) > 1e-3


def test_two_layer_balancedness_drift_is_second_order_in_the_step():
    """B(k) = K1 K1^H - K2^H K2 is conserved by gradient flow; GD over a fixed time T = n lr
    drifts by O(lr): halving lr (and doubling n) halves the drift."""
    x = random_fields(8, 16, 1, seed=8)
    y = make_target(x, "advection")
    lr = safe_lr(x, 0.05)
    drift = []
    for scale, steps in ((1.0, 40), (0.5, 80)):
        model = _model("linear2", n=16, seed=9)
        hist = train_full_batch(model, x, y, SCALAR, steps=steps, lr=scale * lr)
        drift.append(float(balancedness_drift(hist.kernel1, hist.kernel2)[-1]))
    assert 1e-12 < drift[1] < drift[0]
    assert 1.9 < drift[0] / drift[1] < 2.1


# --- the study and its command line ---------------------------------------------------------


def test_conservation_cli_writes_findings_and_figure(tmp_path):
    import json

    import pandas as pd

    from symaudit.cli import main

    settings = {"resolution": 16, "batch": 6, "steps": 30, "two_layer_steps": 20}
    rc = main(
        ["conservation", "--out-dir", str(tmp_path), "--settings", json.dumps(settings), "--strict"]
    )
    findings = pd.read_csv(tmp_path / "tables" / "findings.csv")
    assert list(findings.columns) == ["case", "expected", "measured", "holds"]
    assert len(findings) == 27 and findings["holds"].all() and rc == 0
    defects = pd.read_csv(tmp_path / "tables" / "defects.csv")
    assert set(defects["arm"]) == {"orbit", "random", "none", "adam", "logcosh"}
    assert len(defects) == 2 * 5 * 31
    orbits = pd.read_csv(tmp_path / "tables" / "orbits.csv.gz")
    assert set(orbits.columns) >= {"step", "orbit", "size", "norm", "ratio", "defect", "floored"}
    assert len(pd.read_csv(tmp_path / "tables" / "balancedness.csv")) == 21 + 41
    assert (tmp_path / "figures" / "conservation_defect.png").stat().st_size > 10_000
    with pytest.raises(ValueError, match="unknown conservation setting .stepz."):
        from symaudit.conservation._study import settings_with_defaults

        settings_with_defaults({"stepz": 3})


def test_orbit_complete_sgd_conserves_direction_with_varying_factors(data):
    """Mini-batches of 4 examples, each orbit-completed: every step's second moment is
    orbit-constant, so the direction is still conserved; the per-step factor changes with the
    batch, so the norm is no longer geometric."""
    x, targets = data
    hist = train_full_batch(
        _model(), x, targets["advection"], SCALAR, steps=40, lr=safe_lr(x, 0.5), batch_size=4
    )
    tr = track(hist.kernels, SCALAR)
    assert float(np.nanmax(tr.max_defect().numpy())) < 1e-10
    assert tr.ratio_power_error() > 1e-3


# --- the options in the real training loop --------------------------------------------------


@pytest.mark.parametrize("orbit", [True, False])
def test_training_loop_orbit_augmentation_keeps_equivariant_kernels_equivariant(tmp_path, orbit):
    """``train`` with ``augment.orbit`` and ``optimizer: sgd``: the SMSE averaged over every
    D4 element of every example is invariant under K -> g.K, so its gradient is equivariant and
    a kernel made equivariant at the first step stays equivariant to round-off (NS: vector
    channels).  One random element per example (``augment.d4``) does not keep it."""
    from symaudit.training import train
    from tests.training.test_training import T, write_group

    ch = channels_for("NS")
    stores = write_group(tmp_path / "stores", "NS", n_traj=4)
    start = {}

    def make_equivariant(event, info):
        if event == "step" and info["epoch"] == 1 and info["step"] == 1:
            with torch.no_grad():
                k = info["model"].kernel
                k.copy_(twirl_kernel(k, ch))
                start["kernel"] = k.detach().clone()

    settings = {
        "epochs": 2,
        "batch_size": 4,
        "time_steps": T,
        "checkpoint_every": 1,
        "max_batches_per_epoch": 3,
        "dtype": "float64",
        "optimizer": "sgd",
        "lr": 1e-3,
        "weight_decay": 0.0,
        "augment": {"orbit": orbit, "d4": not orbit},
    }
    final = train(
        "NS", "linear", "tiny", 0, stores, tmp_path / "run", settings,
        callbacks=[make_equivariant], log=None,
    )  # fmt: skip
    model, meta = load_checkpoint(final)
    k = model.kernel.detach()
    moved = float((k - start["kernel"]).norm() / start["kernel"].norm())
    perp = float((k - twirl_kernel(k, ch)).norm() / k.norm())
    assert moved > 1e-3  # training did change the kernel
    if orbit:
        assert perp < 1e-13
    else:
        assert perp > 1e-4


def test_training_settings_for_the_conservation_options():
    from symaudit.training import resolve_settings

    s = resolve_settings({"optimizer": "sgd", "augment": {"orbit": True}})
    assert s["optimizer"] == "sgd" and s["augment"] == {"d4": False, "shifts": False, "orbit": True}
    assert resolve_settings({})["optimizer"] == "adamw"
    with pytest.raises(ValueError, match="optimizer"):
        resolve_settings({"optimizer": "lbfgs"})
    with pytest.raises(ValueError, match="exclude each other"):
        resolve_settings({"augment": {"orbit": True, "d4": True}})


def test_twirled_linear_is_the_convolution_with_the_twirled_kernel():
    """The registry's ``twirled-linear`` (Twirled over D4, by channel kind) is exactly the
    convolution with P(K): the model-level and the kernel-level twirl agree."""
    ch = channels_for("CE")
    model = _model("twirled-linear", channels=ch, n=8, seed=11)
    x = torch.randn(2, 4, 8, 8, generator=torch.Generator().manual_seed(12), dtype=torch.float64)
    with torch.no_grad():
        expected = periodic_conv(twirl_kernel(model.model.kernel, ch), x)
        assert torch.allclose(model(x), expected, atol=1e-13, rtol=0)


def test_vector_channels_with_scalar_second_moment_conserve_direction():
    """The exact condition is sufficient: fields (a, b), (b, a), (a, -b), (b, -a) together have
    u^(k) u^(k)^H = (|a^|^2 + |b^|^2) I at every k, so S(k) is a multiple of the identity and the
    per-orbit direction of K_perp is conserved for a velocity (vector) channel pair too."""
    ch = channels_for("NS")
    n, steps = 16, 40
    a, b = random_fields(2, n, 2, seed=13).unbind(dim=1)
    x = torch.cat(
        [torch.stack(p, dim=1) for p in ((a, b), (b, a), (a, -b), (b, -a))]
    )  # (8, 2, n, n)
    y = make_target(x, "advection")
    assert channel_anisotropy(twirled_second_moment(x, ch)) < 1e-13
    hist = train_full_batch(_model(channels=ch, n=n, seed=14), x, y, ch, steps=steps,
                            lr=safe_lr(x, 0.5))  # fmt: skip
    tr = track(hist.kernels, ch)
    assert float(np.nanmax(tr.max_defect().numpy())) < 1e-10
    assert tr.ratio_power_error() < 1e-9
