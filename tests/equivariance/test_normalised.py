"""The relative error under boosts and scalings (symaudit.equivariance): the paper's raw
statistic against its closed form, and the normalised statistic (untransformed target's SMSE
weights, prediction pulled back by g^-1) equal to 1 for exactly equivariant models, float64."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from symaudit import datasets, groups
from symaudit.equivariance import (
    check_group,
    normalised_relative_error,
    relative_error,
    relative_errors,
    sweep,
)
from symaudit.losses import EPS

CE = datasets.channels_for("CE")  # density, momentum_x, momentum_y, energy
NS = datasets.channels_for("NS")  # velocity_x, velocity_y
N, DT = 16, 0.05  # U = (m, n) / (N dt) = 1.25 (m, n): not dyadic, like a real store's 1/20
BOOSTS = ["boost(1,0)", "boost(0,-1)", "boost(-1,1)", "boost(2,1)"]


def ce_state(seed: int, n: int = 4) -> torch.Tensor:
    """Positive density and energy, momentum of either sign: (n, 4, N, N) float64."""
    gen = torch.Generator().manual_seed(seed)
    a = torch.randn(n, 4, N, N, generator=gen, dtype=torch.float64)
    a[:, 0] = 1.0 + 0.3 * a[:, 0].tanh()
    a[:, 3] = 2.5 + 0.5 * a[:, 3].tanh()
    return a


def ns_state(seed: int, n: int = 4) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    u = torch.randn(n, 2, N, N, generator=gen, dtype=torch.float64)
    return u - u.mean(dim=(-2, -1), keepdim=True)  # zero-mean velocity


def noisy(a: torch.Tensor, seed: int, scale: float = 0.2) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    return a + scale * torch.randn(a.shape, generator=gen, dtype=torch.float64)


def persistence(x: torch.Tensor) -> torch.Tensor:
    return x.clone()


# --- exactly boost-equivariant models: Fourier multipliers advected by the bulk velocity ------


def _wavenumbers(n: int):
    k = torch.fft.fftfreq(n, 1.0 / n, dtype=torch.float64)
    return k[:, None], torch.fft.rfftfreq(n, 1.0 / n, dtype=torch.float64)[None, :]


def advect(a: torch.Tensor, velocity: torch.Tensor, nu: float = 2e-3) -> torch.Tensor:
    """exp(-nu |2 pi k|^2 dt) then the band-limited shift by velocity * dt per example (the
    Nyquist row and column dropped): the exact solution operator of u_t + V . grad u = nu lap u
    with V the given velocity, ``velocity`` of shape (batch, 2)."""
    ky, kx = _wavenumbers(a.shape[-1])
    decay = torch.exp(-nu * (2 * np.pi) ** 2 * (kx**2 + ky**2) * DT)
    decay = decay * (ky.abs() < a.shape[-1] / 2) * (kx < a.shape[-1] / 2)
    sx, sy = (velocity[:, i, None, None, None] * DT for i in range(2))
    phase = torch.exp(-2j * np.pi * (kx * sx + ky * sy))
    return torch.fft.irfft2(torch.fft.rfft2(a) * decay * phase, s=a.shape[-2:])


def ns_oseen(u: torch.Tensor) -> torch.Tensor:
    """Viscous decay of the fluctuation advected by the mean flow, plus the mean flow:
    f(u) = mean(u) + S_{mean(u) dt} K (u - mean(u)), exactly boost-equivariant."""
    mean = u.mean(dim=(-2, -1), keepdim=True)
    return mean + advect(u - mean, mean[:, :, 0, 0])


def ce_bulk(s: torch.Tensor) -> torch.Tensor:
    """K applied to every conserved variable, advected by the bulk velocity (total momentum /
    total mass): exactly boost-equivariant, since B_U is linear with constant coefficients."""
    bulk = s[:, 1:3].sum(dim=(-2, -1)) / s[:, :1].sum(dim=(-2, -1))
    return advect(s, bulk)


# --- scale -----------------------------------------------------------------------------------


def closed_form_scale(x: torch.Tensor, y: torch.Tensor, alpha: float) -> np.ndarray:
    """Persistence under scale(alpha), by hand: per channel d_c = mean (y_c - x_c)^2 and
    s_c = RMS(y_c); R = sum_c alpha^2 d_c / (alpha s_c + eps) / sum_c d_c / (s_c + eps)."""
    xn, yn = x.numpy(), y.numpy()
    d = ((yn - xn) ** 2).mean(axis=(-2, -1))
    s = np.sqrt((yn**2).mean(axis=(-2, -1)))
    return (alpha**2 * d / (alpha * s + EPS)).sum(-1) / (d / (s + EPS)).sum(-1)


@pytest.mark.parametrize("alpha", [0.5, 2.0])
def test_persistence_scale_raw_closed_form_and_normalised_one(alpha):
    x = ce_state(0)
    y = noisy(x, 1)
    name = groups.Scale(alpha).name
    raw = relative_error(persistence, x, y, name, CE)
    np.testing.assert_allclose(raw.numpy(), closed_form_scale(x, y, alpha), rtol=1e-13)
    # R / alpha - 1 is a weighted mean of eps (alpha - 1) / (alpha s_c + eps): below
    # eps |alpha - 1| / (min(alpha, 1) min_c s_c)
    s_min = float(y.square().mean(dim=(-2, -1)).sqrt().min())
    bound = EPS * abs(alpha - 1) / (min(alpha, 1.0) * s_min)
    assert float((raw / alpha - 1).abs().max()) <= bound
    assert float((raw / alpha - 1).abs().max()) > 0  # the normaliser's +1e-6 is visible
    normalised = normalised_relative_error(persistence, x, y, name, CE)
    assert torch.equal(normalised, torch.ones_like(normalised))  # powers of two: bitwise


def test_scale_normalised_is_raw_over_alpha_up_to_the_normaliser():
    """Any model (here a conv net, not scale-equivariant: it has biases): Rn = R / alpha to a
    relative eps |alpha - 1| / (alpha min_c s_c) (docs/algorithms.md §5.3)."""
    torch.manual_seed(1)
    net = torch.nn.Conv2d(4, 4, 3, padding=1, padding_mode="circular").double()
    x = ce_state(20)
    y = noisy(x, 21)
    s_min = float(y.square().mean(dim=(-2, -1)).sqrt().min())
    for alpha in (0.5, 2.0):
        name = groups.Scale(alpha).name
        res = sweep(net, x, y, [name], CE)
        ratio = res.normalised[0] / (res.relative[0] / alpha)
        assert float((ratio - 1).abs().max()) <= EPS * abs(alpha - 1) / (alpha * s_min)
        assert float((res.normalised[0] - 1).abs().min()) > 1e-3  # the net breaks the scaling


def test_scale_identity_and_refusal_for_ns():
    x = ce_state(2)
    y = noisy(x, 3)
    assert torch.equal(
        relative_error(persistence, x, y, "scale(1)", CE), torch.ones(4, dtype=torch.float64)
    )
    u = ns_state(4)
    with pytest.raises(ValueError, match=r"^scale\(2\): no exact scaling without a density"):
        relative_error(persistence, u, noisy(u, 5), "scale(2)", NS)


# --- boosts ----------------------------------------------------------------------------------


def closed_form_ns_boost(fx: torch.Tensor, y: torch.Tensor, name: str) -> np.ndarray:
    """An exactly boost-equivariant NS model, by hand: f(g x) - g y is the rolled f(x) - y, so
    d_c is unchanged and only the normaliser moves: R = sum_c d_c / (RMS(y_c + U_c) + eps) /
    sum_c d_c / (RMS(y_c) + eps)."""
    m, n = (int(v) for v in name[len("boost(") : -1].split(","))
    u = np.array([m / (N * DT), n / (N * DT)])[:, None, None]
    fn, yn = fx.numpy(), y.numpy()
    d = ((yn - fn) ** 2).mean(axis=(-2, -1))
    s = np.sqrt((yn**2).mean(axis=(-2, -1)))
    s_boosted = np.sqrt(((yn + u) ** 2).mean(axis=(-2, -1)))
    return (d / (s_boosted + EPS)).sum(-1) / (d / (s + EPS)).sum(-1)


def test_ns_boost_equivariant_model_raw_below_one_normalised_one():
    x = ns_state(6)
    y = noisy(ns_oseen(x), 7, scale=0.05)
    raw = relative_errors(ns_oseen, x, y, BOOSTS, NS, dt=DT)
    normalised = relative_errors(ns_oseen, x, y, BOOSTS, NS, dt=DT, normalised=True)
    fx = ns_oseen(x)
    for i, g in enumerate(BOOSTS):
        np.testing.assert_allclose(raw[i].numpy(), closed_form_ns_boost(fx, y, g), rtol=1e-10)
    assert float(raw.max()) < 1  # zero-mean targets: RMS(y + U) > RMS(y)
    np.testing.assert_allclose(normalised.numpy(), 1.0, rtol=0, atol=1e-10)
    # NS: the normalised value IS SMSE(f(g x), g y) with the untransformed target's weights
    for i, g in enumerate(BOOSTS):
        gy = groups.act_transition(g, None, y, NS, dt=DT)[1]
        fgx = ns_oseen(groups.act_transition(g, x, None, NS, dt=DT)[0])
        fixed = (
            (fgx - gy).square() / (y.square().mean(dim=(-2, -1), keepdim=True).sqrt() + EPS)
        ).mean(dim=(-3, -2, -1))
        np.testing.assert_allclose(
            fixed
            / ((fx - y).square() / (y.square().mean(dim=(-2, -1), keepdim=True).sqrt() + EPS)).mean(
                dim=(-3, -2, -1)
            ),
            normalised[i],
            rtol=1e-10,
        )


def test_ce_boost_equivariant_model_normalised_one():
    """CE: the boost mixes the error's channels (momentum error + U x density error), so only
    the pulled-back prediction scores 1; the raw statistic does not."""
    x = ce_state(8)
    y = noisy(ce_bulk(x), 9, scale=0.05)
    raw = relative_errors(ce_bulk, x, y, BOOSTS, CE, dt=DT)
    normalised = relative_errors(ce_bulk, x, y, BOOSTS, CE, dt=DT, normalised=True)
    np.testing.assert_allclose(normalised.numpy(), 1.0, rtol=0, atol=1e-10)
    assert float((raw - 1).abs().min()) > 1e-3


def test_persistence_is_not_boost_equivariant():
    """Persistence adds U but does not move the field while the boosted target is rolled: on
    data where persistence is good (y close to x), its pulled-back prediction is x rolled back
    one cell, so the normalised error is far above 1."""
    x = ns_state(10)
    y = noisy(x, 11, scale=0.01)
    normalised = normalised_relative_error(persistence, x, y, "boost(1,0)", NS, dt=DT)
    assert float(normalised.min()) > 2


def test_d4_normalised_equals_raw():
    torch.manual_seed(0)
    net = torch.nn.Conv2d(4, 4, 3, padding=1, padding_mode="circular").double()
    x = ce_state(12)
    y = noisy(x, 13)
    names = ["e", "r", "sr3", "t(3,1)", "s*t(0,4)"]
    res = sweep(net, x, y, names, CE)
    assert torch.equal(res.normalised, res.relative)
    with torch.no_grad():  # the explicit pull-back agrees to round-off
        for i, g in enumerate(names[:4]):
            z = groups.act(groups.inverse(g), net(groups.act(g, x, CE)), CE)
            pulled = (
                (z - y).square() / (y.square().mean(dim=(-2, -1), keepdim=True).sqrt() + EPS)
            ).mean(dim=(-3, -2, -1))
            np.testing.assert_allclose(
                (pulled / res.baseline).numpy(), res.relative[i].numpy(), rtol=1e-12
            )


def test_mixed_sets_share_one_sweep():
    x = ce_state(14)
    y = noisy(x, 15)
    names = ["e", "r", "boost(1,0)", "scale(2)", "boost(0,0)"]
    res = sweep(persistence, x, y, names, CE, dt=DT)
    assert torch.equal(res.relative[0], torch.ones(4, dtype=torch.float64))
    assert torch.equal(
        res.relative[4], torch.ones(4, dtype=torch.float64)
    )  # boost(0,0) reuses f(x)
    assert torch.equal(res.normalised[3], torch.ones(4, dtype=torch.float64))


class Counting(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.calls = 0

    def forward(self, x):
        self.calls += 1
        return x


@pytest.mark.parametrize(
    ("element", "channels", "kwargs", "message"),
    [
        ("boost(1,0)", CE, {}, "needs the frame spacing dt"),
        (
            "boost(1,0)",
            [
                {"name": c["name"], "kind": c["kind"], "vector": c["vector"], "axis": c["axis"]}
                for c in CE
            ],
            {"dt": DT},
            "needs every channel's role",
        ),
        ("scale(2)", NS, {}, "no exact scaling"),
        ("scale(0)", CE, {}, "finite alpha > 0"),
    ],
)
def test_refused_before_any_forward_pass(element, channels, kwargs, message):
    model = Counting()
    x = ce_state(16) if len(channels) == 4 else ns_state(16)
    with pytest.raises(ValueError, match=message) as info:
        relative_error(model, x, x, element, channels, **kwargs)
    assert model.calls == 0 and "\n" not in str(info.value)


def test_no_twirl_over_boosts_or_scalings():
    for group in (["boost(0,0)", "boost(1,0)"], ["scale(1)", "scale(2)"]):
        with pytest.raises(ValueError, match="not an element of a finite group"):
            check_group(group, (N, N))
    x = ce_state(17)
    with pytest.raises(ValueError, match="no twirl over it"):
        sweep(persistence, x, x, ["boost(1,0)"], CE, dt=DT, twirl=True)


def _low_modes(a: torch.Tensor, kmax: int) -> torch.Tensor:
    ky, kx = _wavenumbers(a.shape[-1])
    keep = (ky.abs() <= kmax) & (kx <= kmax)
    return torch.fft.irfft2(torch.fft.rfft2(a) * keep, s=a.shape[-2:])


def test_ns_solver_one_frame_normalised_one():
    """The generating solver advanced one frame from a zero-mean field, exact under boosts
    (docs/algorithms.md §9.4): normalised R = 1 (measured within 2e-15), raw R 0.21-0.66."""
    from symaudit.data._ns import NSSolver

    solver = NSSolver(N, nu=2e-3)

    def step(u: torch.Tensor) -> torch.Tensor:
        return torch.tensor(np.stack([solver.solve(a, [0.0, DT])[-1] for a in u.numpy()]))

    x = _low_modes(ns_state(18, n=2), 3)
    y = noisy(step(x), 19, scale=0.01)
    names = ["boost(1,0)", "boost(0,-1)", "boost(1,1)"]
    normalised = relative_errors(step, x, y, names, NS, dt=DT, normalised=True)
    np.testing.assert_allclose(normalised.numpy(), 1.0, rtol=0, atol=1e-12)
    raw = relative_errors(step, x, y, names, NS, dt=DT)
    assert float(raw.max()) < 0.9
