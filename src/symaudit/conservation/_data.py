"""Synthetic data for the conservation study: random periodic fields and linear targets.

Inputs: Gaussian random fields ``(batch, channel, y, x)`` float64 with the isotropic amplitude
spectrum (1 + |k|^2 / k0^2)^(-slope / 2) (k the signed integer wave-vector), each example and
channel scaled to unit RMS.  The ensemble is D4-invariant; a finite sample is not.

Targets (one step of a linear PDE, exactly computable):

* ``"diffusion"``: y = exp(-nu |k|^2) u in Fourier space (a heat-equation step), a
  D4-equivariant target;
* ``"advection"``: the same followed by a shift of ``shift`` cells along +x — it commutes with
  translations but breaks the rotations and the reflection s, a D4-breaking target.

Vector channels (kind ``vector``) get the same filter componentwise, which is still
D4-equivariant for the diffusion target.
"""

from __future__ import annotations

import torch

__all__ = ["TARGETS", "make_target", "random_fields"]

TARGETS = ("diffusion", "advection")


def _wavenumbers(n: int) -> tuple[torch.Tensor, torch.Tensor]:
    k = torch.fft.fftfreq(n, d=1.0 / n, dtype=torch.float64)
    ky, kx = torch.meshgrid(k, k, indexing="ij")
    return ky, kx


def random_fields(
    batch: int, n: int, channels: int = 1, *, slope: float = 2.0, k0: float = 4.0, seed: int = 0
) -> torch.Tensor:
    """``(batch, channels, n, n)`` float64 Gaussian random fields (see the module docstring)."""
    gen = torch.Generator().manual_seed(seed)
    noise = torch.randn(batch, channels, n, n, generator=gen, dtype=torch.float64)
    ky, kx = _wavenumbers(n)
    amp = (1.0 + (kx**2 + ky**2) / k0**2) ** (-slope / 2.0)
    u = torch.fft.ifft2(torch.fft.fft2(noise) * amp).real
    return u / u.square().mean(dim=(-2, -1), keepdim=True).sqrt()


def make_target(
    inputs: torch.Tensor, kind: str = "diffusion", *, nu: float = 0.05, shift: int = 1
) -> torch.Tensor:
    """The target of ``inputs`` ``(batch, channel, y, x)`` for a target ``kind`` in
    :data:`TARGETS` (see the module docstring): the filter exp(-nu |k|^2), k the signed integer
    wave-vector, then for ``"advection"`` a periodic shift by ``shift`` cells along x."""
    if kind not in TARGETS:
        raise ValueError(f"target {kind!r}: expected one of {TARGETS}")
    n = inputs.shape[-1]
    ky, kx = _wavenumbers(n)
    symbol = torch.exp(-nu * (kx**2 + ky**2))
    y = torch.fft.ifft2(torch.fft.fft2(inputs.to(torch.float64)) * symbol).real
    if kind == "advection":
        y = torch.roll(y, shifts=shift, dims=-1)
    return y
