"""The workflow's example of an external model (``config/external.yaml``, docs/audit.md §9):
a python factory and a data file it can be audited on, written here, no download.

* :func:`fourier_multiplier` -- ``python:symaudit.audit.examples:fourier_multiplier``: one step
  of an anisotropic diffusion, a real multiplier per Fourier mode, exp(-ν dt (a kx² + b ky² +
  c kx ky)), in float64, layout ``b c y x``.  Known answer: a shift is a phase per mode, so the
  model is equivariant to every integer periodic shift (R = 1 to round-off); a ≠ b and c ≠ 0
  make it fail the rotations and reflections of D4 (R ≠ 1).
* :func:`write_example_data` -- a the_well HDF5 file of one scalar field ``u`` evolving under
  the isotropic diffusion (a = b = 1, c = 0), periodic on both axes:
  ``python -m symaudit.audit.examples --out FILE`` (the workflow's rule
  ``audit_example_data``).
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import numpy as np
import torch

__all__ = ["FourierMultiplier", "fourier_multiplier", "write_example_data"]

#: ν dt of one frame of the example data and of the model's step
NU_DT = 2e-3


def _symbol(ny: int, nx: int, a: float, b: float, c: float) -> np.ndarray:
    """exp(-ν dt (a kx² + b ky² + c kx ky)) on the (ny, nx) grid of integer wavenumbers;
    even in k, so a real field stays real."""
    ky = np.fft.fftfreq(ny, d=1.0 / ny)[:, None]
    kx = np.fft.fftfreq(nx, d=1.0 / nx)[None, :]
    return np.exp(-NU_DT * (a * kx**2 + b * ky**2 + c * kx * ky))


class FourierMultiplier(torch.nn.Module):
    """u ↦ IFFT(m(k) FFT(u)) per channel, ``(b, c, y, x)``, in float64."""

    def __init__(self, a: float = 1.5, b: float = 0.5, c: float = 0.3):
        super().__init__()
        self.coefficients = (a, b, c)
        self.register_buffer("anchor", torch.zeros((), dtype=torch.float64))  # the dtype

    def forward(self, u: torch.Tensor) -> torch.Tensor:
        m = torch.from_numpy(_symbol(u.shape[-2], u.shape[-1], *self.coefficients))
        spectrum = torch.fft.fft2(u.to(torch.float64)) * m.to(u.device)
        return torch.fft.ifft2(spectrum).real.to(u.dtype)


def fourier_multiplier() -> torch.nn.Module:
    """The example model (a python: factory)."""
    return FourierMultiplier()


def _initial(rng: np.random.Generator, n: int, modes: int = 4) -> np.ndarray:
    """A smooth random periodic field on an n × n grid (a few Fourier modes)."""
    a = np.arange(n)[:, None] * 2 * math.pi / n
    out = np.zeros((n, n))
    for k in range(-modes, modes + 1):
        for l in range(-modes, modes + 1):
            if k or l:
                amp = rng.normal() / math.hypot(k, l)
                out += amp * np.cos(k * a + l * a.T + rng.uniform(0, 2 * math.pi))
    return out


def write_example_data(
    path: str | Path, trajectories: int = 2, time_steps: int = 4, resolution: int = 16, seed=0
) -> Path:
    """``trajectories`` × ``time_steps`` frames of isotropic diffusion of a scalar ``u`` on a
    periodic ``resolution``² grid, as a the_well HDF5 file (``t0_fields/u``, spatial dims x, y)."""
    import h5py

    rng = np.random.default_rng(seed)
    step = _symbol(resolution, resolution, 1.0, 1.0, 0.0)
    u = np.empty((trajectories, time_steps, resolution, resolution))
    for b in range(trajectories):
        u[b, 0] = _initial(rng, resolution)
        for t in range(1, time_steps):
            u[b, t] = np.fft.ifft2(np.fft.fft2(u[b, t - 1]) * step).real
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with h5py.File(path, "w") as f:
        f.attrs.update(dataset_name="symaudit-example", grid_type="cartesian", n_spatial_dims=2)
        f.attrs.update(n_trajectories=trajectories, simulation_parameters=[])
        dims = f.create_group("dimensions")
        dims.attrs["spatial_dims"] = ["x", "y"]
        dims.create_dataset("time", data=np.arange(time_steps, dtype=np.float64))
        for name in ("x", "y"):
            dims.create_dataset(name, data=(np.arange(resolution) + 0.5) / resolution)
        bcs = f.create_group("boundary_conditions")
        for name in ("x", "y"):
            g = bcs.create_group(f"{name}_periodic")
            g.attrs.update(associated_dims=[name], bc_type="PERIODIC", associated_fields=[])
            g.attrs.update(sample_varying=False, time_varying=False)
        fields = f.create_group("t0_fields")
        fields.attrs["field_names"] = ["u"]
        # the_well's (B, T, d0, d1) with d0 = x: our (y, x) arrays transposed
        ds = fields.create_dataset("u", data=u.transpose(0, 1, 3, 2))
        ds.attrs.update(dim_varying=[True, True], sample_varying=True, time_varying=True)
        for group in ("t1_fields", "t2_fields"):
            f.create_group(group).attrs["field_names"] = []
    return path


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=write_example_data.__doc__)
    p.add_argument("--out", required=True, help="the HDF5 file to write")
    p.add_argument("--trajectories", type=int, default=2)
    p.add_argument("--time-steps", type=int, default=4)
    p.add_argument("--resolution", type=int, default=16)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    write_example_data(args.out, args.trajectories, args.time_steps, args.resolution, args.seed)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
