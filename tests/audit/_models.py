"""Models with known symmetries for the audit's tests, importable as python: SPEC factories
(``python:tests.audit._models:NAME``).

* :class:`GradDivAdvection` -- f(v) = v + dt (grad div v - (v . grad) v) on a periodic vector
  field in the_well's raw layout ``(b, x, y, c)`` (component 0 along x), spectral derivatives
  with the Nyquist mode dropped: isotropic, so equivariant under all of D4 and every shift, and
  NOT odd (the advection term is quadratic), so a wrong component pairing shows.
* :class:`Diffusion` -- f(u) = u + dt * (5-point Laplacian of each channel), layout
  ``(b, c, y, x)``: D4- and shift-equivariant for scalars and vectors alike.
* :class:`TensorSquare` -- f(T) = T + T.T + Laplacian(T) per point on a rank-2 tensor plus a
  scalar (``(b, c, y, x)``, channels s, Txx, Txy, Tyx, Tyy): (M T M^T)^2 = M T^2 M^T, so
  equivariant for the tensor action.
"""

from __future__ import annotations

import torch


def _k(n: int, dtype) -> torch.Tensor:
    """2 pi i k of an n-point periodic axis, Nyquist dropped (reflection-consistent)."""
    k = torch.fft.fftfreq(n, d=1.0 / n).to(dtype)
    if n % 2 == 0:
        k[n // 2] = 0.0
    return 2j * torch.pi * k


class GradDivAdvection(torch.nn.Module):
    def __init__(self, dt: float = 0.05):
        super().__init__()
        self.dt = dt
        self.register_buffer("anchor", torch.zeros((), dtype=torch.float64))  # the dtype

    @staticmethod
    def _d(f: torch.Tensor, axis: int) -> torch.Tensor:
        k = _k(f.shape[axis], torch.float64)
        shape = [1] * f.ndim
        shape[axis] = -1
        return torch.fft.ifftn(torch.fft.fftn(f, dim=(1, 2)) * k.view(shape), dim=(1, 2)).real

    def forward(self, v: torch.Tensor) -> torch.Tensor:  # (b, x, y, c)
        vx, vy = v[..., 0], v[..., 1]
        div = self._d(vx, 1) + self._d(vy, 2)
        out = []
        for comp, axis in ((vx, 1), (vy, 2)):
            adv = vx * self._d(comp, 1) + vy * self._d(comp, 2)
            out.append(comp + self.dt * (self._d(div, axis) - adv))
        return torch.stack(out, dim=-1)


def _laplacian(u: torch.Tensor) -> torch.Tensor:
    return (
        torch.roll(u, 1, -1)
        + torch.roll(u, -1, -1)
        + torch.roll(u, 1, -2)
        + torch.roll(u, -1, -2)
        - 4 * u
    )


class Diffusion(torch.nn.Module):
    def __init__(self, dt: float = 0.1, dtype: torch.dtype = torch.float32):
        super().__init__()
        self.scale = torch.nn.Parameter(torch.tensor(dt, dtype=dtype))

    def forward(self, u: torch.Tensor) -> torch.Tensor:  # (b, c, y, x)
        return u + self.scale * _laplacian(u)


class TensorSquare(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.register_buffer("anchor", torch.zeros((), dtype=torch.float64))

    def forward(self, u: torch.Tensor) -> torch.Tensor:  # (b, [s, xx, xy, yx, yy], y, x)
        s, t = u[:, :1], u[:, 1:].unflatten(1, (2, 2)).movedim((1, 2), (-2, -1))
        sq = (t @ t).movedim((-2, -1), (1, 2)).flatten(1, 2)
        return u + 0.1 * _laplacian(u) + 0.1 * torch.cat([s * s, sq], dim=1)


def grad_div_advection() -> torch.nn.Module:
    return GradDivAdvection()


def diffusion() -> torch.nn.Module:
    return Diffusion()


def diffusion_zero() -> torch.nn.Module:
    """A Diffusion whose weight the test loads with --weights."""
    return Diffusion(dt=0.0)


def tensor_square() -> torch.nn.Module:
    return TensorSquare()


def twirled_fno() -> torch.nn.Module:
    """A float32 neuraloperator FNO (positional_embedding=None, layout b c x y), twirled over
    D4 in symaudit's layout on a 2-component velocity: exactly D4-equivariant."""
    from neuralop.models import FNO

    from symaudit.audit import Adapter, parse_layout
    from symaudit.models import twirled

    torch.manual_seed(0)
    fno = FNO(
        n_modes=(6, 6),
        hidden_channels=8,
        in_channels=2,
        out_channels=2,
        positional_embedding=None,
        n_layers=2,
    )
    channels = [
        {"name": "velocity_x", "kind": "vector", "vector": "velocity", "axis": "x"},
        {"name": "velocity_y", "kind": "vector", "vector": "velocity", "axis": "y"},
    ]
    return twirled(Adapter(fno, parse_layout("b c x y")), channels)


class VelocityOfTwoFrames(torch.nn.Module):
    """``(b, t=2, c=3, y, x) -> (b, 1, 2, y, x)``: the velocity of the later frame plus the
    difference of the two (equivariant, ``layout b t c y x``, outputs = the velocity)."""

    def __init__(self):
        super().__init__()
        self.register_buffer("anchor", torch.zeros((), dtype=torch.float64))

    def forward(self, u: torch.Tensor) -> torch.Tensor:
        v = u[:, :, 1:]
        return (v[:, 1:] + 0.5 * (v[:, 1:] - v[:, :1])) + 0.1 * _laplacian(v[:, 1:])


def velocity_of_two_frames() -> torch.nn.Module:
    return VelocityOfTwoFrames()


def diffusion64() -> torch.nn.Module:
    return Diffusion(dtype=torch.float64)


def identity64() -> torch.nn.Module:
    """f(x) = x in float64: persistence itself."""
    return Diffusion(dt=0.0, dtype=torch.float64)
