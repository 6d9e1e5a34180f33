"""The conservation tracker: per D4 orbit of wave-vectors, the direction and norm of the
non-equivariant part of a kernel over training, and the balancedness of a two-layer model.

For a kernel K ``(out, in, y, x)`` let K^perp = K - P K (P the D4 twirl, by channel kind) and
for an orbit O of wave-vectors let v_O be the real vector of all entries of fft2(K^perp)(k),
k in O (real and imaginary parts).  Per step n:

* norm ratio   rho_{n,O} = ||v_{n,O}|| / ||v_{0,O}||
* defect       d_{n,O} = || v_{n,O}/||v_{n,O}|| - <u_0, v_{n,O}/||v_{n,O}||> u_0 ||,
               u_0 = v_{0,O}/||v_{0,O}||: the sine of the angle between the two directions,
               computed from the orthogonal residual (no 1 - cos^2 cancellation);
               sign-blind, so a factor lambda_O < 0 still counts as conserved.
* noise floor  an orbit is ``floored`` at step n when ||v_{n,O}|| or ||v_{0,O}|| is at most
               ``floor`` times the Frobenius norm of the whole spectrum fft2(K_n) (resp. K_0):
               its direction is then set by round-off, and its defect is NaN (excluded).
               Orbits on which P is the identity (the zero and Nyquist wave-vectors of a scalar
               field) are floored at every step.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from symaudit import groups
from symaudit.conservation._theory import wavevector_orbits
from symaudit.models._linear import twirl_kernel
from symaudit.settings import CONSERVATION

__all__ = ["DEFAULT_FLOOR", "OrbitTrack", "balancedness", "balancedness_drift", "track"]

#: relative noise floor (see the module docstring; the config's conservation.floor)
DEFAULT_FLOOR = CONSERVATION["floor"]


@dataclass
class OrbitTrack:
    """Per-step, per-orbit quantities, each ``(steps + 1, n_orbits)`` float64 (``floored``
    bool); ``sizes`` ``(n_orbits,)`` the number of wave-vectors in each orbit; ``labels``
    ``(ky, kx)`` the orbit of each wave-vector."""

    norm: torch.Tensor
    ratio: torch.Tensor
    defect: torch.Tensor
    floored: torch.Tensor
    sizes: torch.Tensor
    labels: np.ndarray
    floor: float

    def max_defect(self) -> torch.Tensor:
        """max over the orbits above the floor of d_{n,O}, ``(steps + 1,)`` (NaN if none)."""
        d = self.defect.clone()
        d[self.floored] = -1.0
        out = d.max(dim=1).values
        out[out < 0] = float("nan")
        return out

    def ratio_power_error(self) -> float:
        """max over steps and unfloored orbits of |rho_{n,O} - rho_{1,O}^n| / rho_{1,O}^n: how
        far the norm is from geometric decay at the first step's rate."""
        steps = torch.arange(self.ratio.shape[0], dtype=torch.float64)[:, None]
        expected = self.ratio[1][None, :] ** steps
        rel = (self.ratio - expected).abs() / expected
        rel[self.floored] = float("nan")
        return float(torch.nan_to_num(rel, nan=0.0).max())

    def table(self) -> pd.DataFrame:
        """Long table: ``step, orbit, size, norm, ratio, defect, floored``."""
        s, o = self.norm.shape
        return pd.DataFrame(
            {
                "step": np.repeat(np.arange(s), o),
                "orbit": np.tile(np.arange(o), s),
                "size": np.tile(self.sizes.numpy(), s),
                "norm": self.norm.numpy().ravel(),
                "ratio": self.ratio.numpy().ravel(),
                "defect": self.defect.numpy().ravel(),
                "floored": self.floored.numpy().ravel(),
            }
        )


def _orbit_vectors(spectra: torch.Tensor, labels: np.ndarray) -> list[torch.Tensor]:
    """``(steps, out, in, ky, kx)`` complex -> per orbit a real ``(steps, dim)`` matrix."""
    flat = torch.view_as_real(spectra.flatten(-2))  # (steps, out, in, ky*kx, 2)
    lab = labels.ravel()
    out = []
    for o in range(int(lab.max()) + 1):
        idx = torch.as_tensor(np.flatnonzero(lab == o))
        out.append(flat[:, :, :, idx].reshape(flat.shape[0], -1))
    return out


def track(
    kernels: torch.Tensor,
    channels: Sequence[Mapping | str],
    *,
    floor: float = DEFAULT_FLOOR,
    elements: Sequence[str] = groups.D4,
) -> OrbitTrack:
    """Track the non-equivariant part of ``kernels`` ``(steps + 1, out, in, y, x)`` (the
    ``History.kernels`` of a run) orbit by orbit.  ``channels``: the channel list (kinds) of
    the fields the kernel maps."""
    k = kernels.to(torch.float64)
    n = k.shape[-1]
    labels = wavevector_orbits(n, elements)
    perp = torch.fft.fft2(k - twirl_kernel(k, channels, elements=elements))
    whole = torch.linalg.vector_norm(torch.fft.fft2(k).flatten(1), dim=1)  # (steps,)
    vecs = _orbit_vectors(perp, labels)
    norms = torch.stack([torch.linalg.vector_norm(v, dim=1) for v in vecs], dim=1)
    floored = norms <= floor * whole[:, None]
    floored = floored | floored[:1]
    defects = []
    for v, nrm in zip(vecs, norms.T, strict=True):
        u = v / nrm.clamp_min(torch.finfo(torch.float64).tiny)[:, None]
        u0 = u[0]
        resid = u - (u @ u0)[:, None] * u0[None, :]
        defects.append(torch.linalg.vector_norm(resid, dim=1))
    defect = torch.stack(defects, dim=1)
    defect[floored] = float("nan")
    ratio = norms / norms[:1].clamp_min(torch.finfo(torch.float64).tiny)
    sizes = torch.bincount(torch.as_tensor(labels.ravel()))
    return OrbitTrack(norms, ratio, defect, floored, sizes, labels, floor)


def balancedness(kernel1: torch.Tensor, kernel2: torch.Tensor) -> torch.Tensor:
    """B(k) = K1^(k) K1^(k)^H - K2^(k)^H K2^(k), ``(..., ky, kx, hidden, hidden)`` complex,
    for layers ``(..., hidden, in, y, x)`` and ``(..., out, hidden, y, x)``: the per-wave-vector
    balancedness matrix of a two-layer linear convolution, constant under gradient FLOW (any
    data, any augmentation); gradient descent moves it by O(lr^2) per step."""
    a = torch.fft.fft2(kernel1.to(torch.float64)).movedim((-2, -1), (-4, -3))  # (..,y,x,h,i)
    b = torch.fft.fft2(kernel2.to(torch.float64)).movedim((-2, -1), (-4, -3))  # (..,y,x,o,h)
    return a @ a.conj().transpose(-2, -1) - b.conj().transpose(-2, -1) @ b


def balancedness_drift(kernel1: torch.Tensor, kernel2: torch.Tensor) -> torch.Tensor:
    """||B_n - B_0|| / (||K1_0 K1_0^H|| + ||K2_0^H K2_0||) per step, ``(steps + 1,)``, for
    layer histories ``(steps + 1, ...)`` (Frobenius norms over all wave-vectors)."""
    bal = balancedness(kernel1, kernel2)
    a0 = torch.fft.fft2(kernel1[0].to(torch.float64)).movedim((-2, -1), (-4, -3))
    b0 = torch.fft.fft2(kernel2[0].to(torch.float64)).movedim((-2, -1), (-4, -3))
    scale = torch.linalg.vector_norm(a0 @ a0.conj().transpose(-2, -1)) + torch.linalg.vector_norm(
        b0.conj().transpose(-2, -1) @ b0
    )
    return torch.linalg.vector_norm((bal - bal[:1]).flatten(1), dim=1) / scale
