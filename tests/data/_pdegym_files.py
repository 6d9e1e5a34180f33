"""PDEGym netCDF files written from analytic fields whose physics is known exactly (the
ingestion tests' inputs), and the ingest CLI run in-process.

Layout ``(sample, time, channel, x, y)``; "truth" is the netCDF dim that holds physical x: for
``"x"`` the file stores ``phys[..., ix, iy]``, for ``"y"`` it stores ``phys[..., iy, ix]``.
* NS: velocity from a streamfunction with a few Fourier modes, u = d_y psi, v = -d_x psi
  (exactly divergence-free), plus a random tracer channel;
* CE: an entropy wave -- density advected by a uniform velocity at constant pressure, an exact
  Euler solution -- with E from the ideal-gas EOS (gamma = 1.4).
"""

from __future__ import annotations

import re

import numpy as np

from symaudit import cli

N, T, S = 32, 5, 4
GAMMA = 1.4
GRID = np.arange(N) / N
NS_MODES = [(1, 2), (3, -1), (2, 0), (0, 1), (-2, 3)]  # (k_x, k_y); |k_x| != |k_y| mostly


# ---------------------------------------------------------------------------------------------
# analytic fields, layout (sample, time, channel, x, y): first spatial index = physical x


def ns_fields(rng, samples=S, modes=NS_MODES, grid=GRID, times=T):
    """Divergence-free velocity from psi = sum a sin(2 pi k.X + phase + w t); float32."""
    x, y = np.meshgrid(grid, grid, indexing="ij")
    out = np.zeros((samples, times, 3, grid.size, grid.size))
    for s in range(samples):
        for kx, ky in modes:
            a, phase, w = rng.uniform(0.5, 1.0), rng.uniform(0, 2 * np.pi), rng.uniform(-2, 2)
            for i, t in enumerate(np.linspace(0, 1, times)):
                c = a * 2 * np.pi * np.cos(2 * np.pi * (kx * x + ky * y) + phase + w * t)
                out[s, i, 0] += ky * c  # u = d_y psi
                out[s, i, 1] -= kx * c  # v = -d_x psi
        out[s, :, 2] = rng.random((times, grid.size, grid.size))  # tracer: ignored
    return out.astype(np.float32)


def ce_fields(rng, samples=S, times=T):
    """Entropy waves rho(X - c t), uniform velocity c, constant p; primitive [rho, u, v, p, E]
    with E from the EOS, all float32.  |c_x - c_y| = 0.3 so the pairings are distinguishable."""
    x, y = np.meshgrid(GRID, GRID, indexing="ij")
    out = np.zeros((samples, times, 5, N, N))
    for s in range(samples):
        cx = rng.uniform(-0.4, 0.4)
        cy = cx - 0.3 if cx > 0 else cx + 0.3
        p0, ph = rng.uniform(0.5, 1.0), rng.uniform(0, 2 * np.pi, 3)
        for i, t in enumerate(np.linspace(0, 1, times)):
            xs, ys = x - cx * t, y - cy * t
            rho = (
                1
                + 0.3 * np.sin(2 * np.pi * xs + ph[0])
                + 0.2 * np.cos(2 * np.pi * ys + ph[1])
                + 0.1 * np.sin(2 * np.pi * (xs - ys) + ph[2])
            )
            one = np.ones_like(rho)
            energy = p0 / (GAMMA - 1) + 0.5 * rho * (cx**2 + cy**2)
            out[s, i] = [rho, cx * one, cy * one, p0 * one, energy]
    return out.astype(np.float32)


def to_file_layout(phys, truth):
    """What a PDEGym file holds if netCDF dim ``truth`` is physical x."""
    return phys if truth == "x" else np.ascontiguousarray(phys.swapaxes(-1, -2))


def expected_store(phys, pde):
    """Store layout (..., y, x) of the physical fields, CE converted in float32."""
    if pde == "ce":
        rho, u, v, e = phys[:, :, 0], phys[:, :, 1], phys[:, :, 2], phys[:, :, 4]
        phys = np.stack([rho, rho * u, rho * v, e], axis=2)  # float32 * float32 -> float32
    else:
        phys = phys[:, :, :2]
    return phys.swapaxes(-1, -2)


PDEGYM_DIMS = ("sample", "time", "channel", "x", "y")


def write_pdegym(path, variable, array, dims=PDEGYM_DIMS, order=None):
    """Write ``array`` (layout ``dims``) as netCDF variable ``variable``; ``order`` (a
    permutation of ``dims``) stores it with its dims in that order instead, transposed, as a
    foreign file with the same names but another order would."""
    import netCDF4

    if order is not None:
        array = np.ascontiguousarray(array.transpose([list(dims).index(d) for d in order]))
        dims = tuple(order)
    with netCDF4.Dataset(path, "w", format="NETCDF4") as ds:
        for name, size in zip(dims, array.shape, strict=True):
            ds.createDimension(name, size)
        ds.createVariable(variable, array.dtype, dims)[:] = array
    return path


def run_cli(capsys, *argv):
    code = cli.main(["ingest", *map(str, argv)])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def one_line_error(capsys, *argv):
    """Run the CLI expecting exit 2 with exactly one error line; return that line."""
    code, _, err = run_cli(capsys, *argv, "--quiet")
    lines = err.strip().splitlines()
    assert code == 2, err
    assert len(lines) == 1, err
    assert re.match(r"\S+Z symaudit ingest: error: ", lines[0]), lines[0]
    return lines[0]
