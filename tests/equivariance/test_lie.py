"""Continuous translations (symaudit.equivariance: shift_subcell, lie_derivative,
subcell_profile; docs/algorithms.md §9), in float64 against closed forms:

* the band-limited shift of a single Fourier mode is the mode evaluated at j - eps; for integer
  eps the shift is ``torch.roll``; the shifts compose additively; the Nyquist mode is dropped;
* a Fourier multiplier (a random periodic convolution applied by FFT) commutes with every
  sub-cell shift: Lie derivative 0 (<= 1e-10), profile R(eps) = 1;
* a pointwise nonlinearity (tanh on every grid value) commutes BITWISE with every integer roll
  but not with sub-cell shifts (tanh of a band-limited field has harmonics beyond the band); its
  Lie derivative has the closed form P (D tanh(x) - tanh'(x) D x), D the spectral derivative in
  cells and P the removal of the Nyquist mode, checked against a numpy FFT oracle.  Chosen over
  a stride-2 subsample/upsample pair because that pair is exact only under EVEN shifts, while
  the pointwise map is exact under every integer shift and has an oracle;
* the tiny UNet (stride 16) has a Lie derivative far from 0, and its profile at integer eps
  equals the relative error of the integer shifts (:func:`relative_errors`).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from symaudit import datasets, models
from symaudit.equivariance import (
    lie_derivative,
    relative_errors,
    shift_subcell,
    subcell_profile,
)

NS = datasets.channels_for("NS")
CE = datasets.channels_for("CE")
AXES = {"x": -1, "y": -2}


def band_limited(batch: int, channels: int, n: int, kmax: int, seed: int, scale: float = 1.0):
    """Random real fields ``(batch, channel, y, x)`` float64 with modes |kx|, |ky| <= kmax only
    (no Nyquist content for kmax < n / 2), std about ``scale``."""
    gen = torch.Generator().manual_seed(seed)
    noise = torch.randn(batch, channels, n, n, generator=gen, dtype=torch.float64)
    spec = torch.fft.fft2(noise)
    k = torch.fft.fftfreq(n, 1.0 / n).abs()
    mask = (k[:, None] <= kmax) & (k[None, :] <= kmax)
    field = torch.fft.ifft2(spec * mask).real
    return scale * field / field.std()


class PeriodicConvolution(nn.Module):
    """f(x) = K * x, a random channel-mixing periodic convolution applied as a Fourier
    multiplier (rfft2, multiply, irfft2): it commutes with every band-limited shift."""

    def __init__(self, channels: int, n: int, seed: int):
        super().__init__()
        gen = torch.Generator().manual_seed(seed)
        kernel = torch.randn(channels, channels, n, n, generator=gen, dtype=torch.float64)
        self.register_buffer("kernel_hat", torch.fft.rfft2(kernel / n))

    def forward(self, x):
        spec = torch.einsum("oiyx,biyx->boyx", self.kernel_hat, torch.fft.rfft2(x))
        return torch.fft.irfft2(spec, s=x.shape[-2:])


class Pointwise(nn.Module):
    def forward(self, x):
        return torch.tanh(x)


# --- the sub-cell shift --------------------------------------------------------------------


@pytest.mark.parametrize("n", [16, 15])
@pytest.mark.parametrize("axis", [-1, -2])
def test_shift_of_a_fourier_mode_is_the_mode_at_j_minus_eps(n, axis):
    j = torch.arange(n, dtype=torch.float64)
    for k in (1, 3, (n - 1) // 2):
        for eps in (0.3, -1.7, 5.25):
            mode = torch.cos(2 * np.pi * k * j / n + 0.4)
            field = mode[:, None].expand(n, 4) if axis == -2 else mode[None, :].expand(4, n)
            got = shift_subcell(field.contiguous(), eps, axis)
            want = torch.cos(2 * np.pi * k * (j - eps) / n + 0.4)
            want = want[:, None].expand(n, 4) if axis == -2 else want[None, :].expand(4, n)
            assert torch.allclose(got, want, rtol=0, atol=1e-13)


@pytest.mark.parametrize("axis", [-1, -2])
def test_integer_shift_is_roll_on_band_limited_input(axis):
    x = band_limited(3, 2, 16, 7, seed=1)  # 7 < 16 / 2: no Nyquist content
    for k in (1, 2, -3, 16, 21):
        err = (shift_subcell(x, k, axis) - torch.roll(x, k, axis)).abs().max()
        assert err <= 1e-13, (k, float(err))


def test_shifts_compose_and_drop_the_nyquist_mode():
    x = band_limited(2, 3, 16, 8, seed=2)  # kmax = 8 = N/2: Nyquist content present
    two = shift_subcell(shift_subcell(x, 0.3, -1), 0.45, -1)
    assert (two - shift_subcell(x, 0.75, -1)).abs().max() <= 1e-13
    nyquist = torch.cos(np.pi * torch.arange(16, dtype=torch.float64)).expand(16, 16)
    for eps in (0.0, 0.5, 1.0):
        assert shift_subcell(nyquist, eps, -1).abs().max() <= 1e-15
    # T_0 is the projection that removes the Nyquist mode: idempotent, identity without it
    once = shift_subcell(x, 0.0, -1)
    assert (shift_subcell(once, 0.0, -1) - once).abs().max() <= 1e-14
    assert (once - x).abs().max() > 1e-3
    assert shift_subcell(x.float(), 0.25, -1).dtype == torch.float32
    with pytest.raises(ValueError, match="real floating"):
        shift_subcell(torch.ones(4, dtype=torch.int64), 0.5, -1)


# --- the Lie derivative --------------------------------------------------------------------


@pytest.mark.parametrize("direction", ["x", "y"])
def test_lie_derivative_of_a_fourier_multiplier_vanishes(direction):
    model = PeriodicConvolution(2, 16, seed=3)
    x = band_limited(4, 2, 16, 8, seed=4)  # Nyquist content too: P commutes with f
    got = lie_derivative(model, x, NS, direction)
    assert got.shape == (4,) and got.dtype == torch.float64
    assert got.max() <= 1e-10, got


def _np_tanh_lie(x: np.ndarray, axis: int) -> np.ndarray:
    """||P (D tanh(x) - tanh'(x) D x)|| / ||tanh(x)|| per example, D the spectral derivative in
    cells without the Nyquist mode (numpy FFT, float64)."""
    n = x.shape[axis]
    k = np.fft.fftfreq(n, 1.0 / n)
    mult = np.where(np.abs(k) < n / 2, 2j * np.pi * k / n, 0.0)
    keep = np.where(np.abs(k) < n / 2, 1.0, 0.0)
    shape = [1] * x.ndim
    shape[axis] = n
    mult, keep = mult.reshape(shape), keep.reshape(shape)

    def deriv(a):
        return np.fft.ifft(mult * np.fft.fft(a, axis=axis), axis=axis).real

    f = np.tanh(x)
    lie = deriv(f) - np.fft.ifft(keep * np.fft.fft((1 - f**2) * deriv(x), axis=axis), axis=axis)
    lie = lie.real.reshape(x.shape[0], -1)
    return np.linalg.norm(lie, axis=1) / np.linalg.norm(f.reshape(x.shape[0], -1), axis=1)


@pytest.mark.parametrize("direction", ["x", "y"])
def test_pointwise_nonlinearity_integer_exact_but_not_subcell(direction):
    axis = AXES[direction]
    model = Pointwise()
    x = band_limited(3, 4, 16, 5, seed=5, scale=1.5)
    for k in (1, 3):  # exact, bitwise, under every integer shift
        assert torch.equal(model(torch.roll(x, k, axis)), torch.roll(model(x), k, axis))
    got = lie_derivative(model, x, CE, direction)
    want = _np_tanh_lie(x.numpy(), axis)
    assert np.allclose(got.numpy(), want, rtol=1e-10, atol=0), (got, want)
    assert got.min() > 1e-3


def tiny_unet():
    gen = torch.Generator().manual_seed(7)
    return models.build("unet", "tiny", 2, resolution=32, generator=gen, dtype=torch.float64)


def test_lie_derivative_of_the_tiny_unet_is_not_small():
    model = tiny_unet()
    x = band_limited(3, 2, 32, 10, seed=6)
    for direction in ("x", "y"):
        got = lie_derivative(model, x, NS, direction)
        assert torch.isfinite(got).all() and got.min() > 1e-3, got
    assert model.training  # the mode is restored


def test_lie_derivative_refuses_bad_arguments():
    x = band_limited(1, 2, 16, 4, seed=0)
    with pytest.raises(ValueError, match="direction"):
        lie_derivative(Pointwise(), x, NS, "z")
    with pytest.raises(ValueError, match="channel"):
        lie_derivative(Pointwise(), x, CE, "x")
    with pytest.raises(ValueError, match="batch, channel"):
        lie_derivative(Pointwise(), x[0], NS, "x")


# --- the sub-cell profile ------------------------------------------------------------------


def test_profile_of_a_fourier_multiplier_is_one():
    model = PeriodicConvolution(2, 16, seed=8)
    x = band_limited(3, 2, 16, 7, seed=9)
    y = x + 0.3 * band_limited(3, 2, 16, 7, seed=10)
    got = subcell_profile(model, x, y, NS, "y", shifts_per_batch=3)
    assert got.shape == (8, 3)
    assert (got - 1).abs().max() <= 1e-10


def test_profile_at_integer_shifts_is_the_relative_error():
    model = tiny_unet()
    x = band_limited(2, 2, 32, 10, seed=11)
    y = x + 0.3 * band_limited(2, 2, 32, 10, seed=12)
    shifts = [0, 1, 3, 16]
    for direction, name in (("x", "t({k},0)"), ("y", "t(0,{k})")):
        got = subcell_profile(model, x, y, NS, direction, shifts)
        elements = [name.format(k=k) if k else "e" for k in shifts]
        want = relative_errors(model, x, y, elements, NS)
        assert torch.allclose(got, want, rtol=1e-10, atol=0), (got, want)
        assert (got[1:3] - 1).abs().max() > 1e-3  # not symmetries of the UNet
        assert (got[3] - 1).abs().max() <= 1e-10  # its stride 16 is
