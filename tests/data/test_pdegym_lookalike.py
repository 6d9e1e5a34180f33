"""Look-alike flows written as PDEGym chunk files: the layout ``ingest`` reads, refined grids
that keep what the self-checks test, and files that ``ingest`` accepts (axis decided as the
reference's pairing, stored fields equal to the written ones)."""

import numpy as np
import pytest

from symaudit import cli
from symaudit.data import pdegym_lookalike as lookalike
from symaudit.store import open_store


def test_spectral_refinement_keeps_the_coarse_samples_and_repetition_the_cells():
    rng = np.random.default_rng(0)
    n = 8
    spec = np.zeros((n, n), complex)
    spec[:3, :3] = rng.normal(size=(3, 3))  # band-limited: no Nyquist content
    coarse = np.fft.ifft2(spec).real
    fine = lookalike.refine(coarse[None], 4, spectral=True)[0]
    assert fine.shape == (32, 32)
    np.testing.assert_allclose(fine[::4, ::4], coarse, atol=1e-12)
    blocky = lookalike.refine(coarse[None], 2, spectral=False)[0]
    np.testing.assert_array_equal(blocky[::2, ::2], coarse)
    np.testing.assert_array_equal(blocky[1::2, 1::2], coarse)


def test_ce_file_channels_satisfy_the_eos():
    state = np.zeros((2, 4, 4, 4))
    state[:, 0], state[:, 1], state[:, 2] = 1.5, 0.3, -0.6  # rho, m_x, m_y
    state[:, 3] = 2.0
    out = lookalike.file_frames(state, "compressible_euler")
    rho, u, v, p, e = (out[:, c].astype(np.float64) for c in range(5))
    np.testing.assert_allclose(u, 0.2, rtol=1e-6)
    np.testing.assert_allclose(v, -0.4, rtol=1e-6)
    np.testing.assert_allclose(e, p / 0.4 + 0.5 * rho * (u**2 + v**2), rtol=1e-6)


@pytest.mark.parametrize("family", ["CE-RP", "NS-Gauss"])
def test_ingest_accepts_the_files(tmp_path, capsys, family):
    out = tmp_path / family
    argv = ["pdegym-lookalike", family, "--resolution", "32", "--solve-resolution", "16"]
    argv += ["--trajectories", "3", "--seed", "1", "--time-steps", "5", "--out", str(out)]
    assert cli.main(argv) == 0
    prefix = "data" if family.startswith("CE") else "velocity"
    files = sorted(out.glob("*.nc"))
    assert [f.name for f in files] == [f"{prefix}_0.nc", f"{prefix}_1.nc"]  # 2 + 1 samples
    store_path = tmp_path / f"{family}.zarr"
    code = cli.main(["ingest", *map(str, files), "--family", family, "--out", str(store_path)])
    assert code == 0, capsys.readouterr().err
    store = open_store(store_path)
    assert store.shape == (3, 5, 4 if prefix == "data" else 2, 32, 32)
    assert store.attrs["axis_convention"]["x_axis"]["netcdf_dim"] == "y"
    import netCDF4

    with netCDF4.Dataset(files[0]) as ds:
        raw = np.asarray(ds.variables[prefix][:])
    if prefix == "velocity":  # NS stores [u, v] as written (netCDF dim y = physical x)
        np.testing.assert_array_equal(store.read(slice(0, 2)), raw[:, :, :2])
