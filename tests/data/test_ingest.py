"""PDEGym netCDF ingestion: the axis pairing is recovered from the data, stored arrays are the
expected transposition / conservative conversion bit for bit, chunk order, streaming across
shards and files (bad input: ``test_ingest_errors.py``).

Every input here is WRITTEN by the test in PDEGym's layout ``(sample, time, channel, x, y)``
from analytic fields whose physics is known exactly:

* NS: velocity from a streamfunction with a few Fourier modes, u = d_y psi, v = -d_x psi
  (exactly divergence-free), plus a random tracer channel;
* CE: an entropy wave -- density advected by a uniform velocity at constant pressure, an exact
  Euler solution -- with E from the ideal-gas EOS (gamma = 1.4).

"truth" below is the netCDF dim that holds physical x: for ``"x"`` the file stores
``phys[..., ix, iy]``, for ``"y"`` it stores ``phys[..., iy, ix]``.  Whatever the truth, the
store must hold ``phys`` in layout ``(..., y, x)``.
"""

from __future__ import annotations

import numpy as np
import pytest

from symaudit.data import ingest as ing
from symaudit.store import open_store

from ._pdegym_files import (
    GAMMA,
    N,
    S,
    T,
    ce_fields,
    expected_store,
    ns_fields,
    one_line_error,
    run_cli,
    to_file_layout,
    write_pdegym,
)

# ---------------------------------------------------------------------------------------------
# the residuals themselves (oracles: exact analytic fields)


def test_divergence_residual_separates_pairings():
    phys = ns_fields(np.random.default_rng(1), samples=2)
    res = ing.divergence_residuals(phys)  # u really goes with axis a = "x"
    assert np.nanmax(res["x"]) < 1e-5  # float32 round-off only
    assert np.nanmin(res["y"]) > 0.1
    swapped = ing.divergence_residuals(phys.swapaxes(-1, -2))
    np.testing.assert_allclose(swapped["x"], res["y"], rtol=1e-12)
    np.testing.assert_allclose(swapped["y"], res["x"], rtol=1e-12, atol=1e-12)


def test_continuity_residual_and_eos_on_entropy_wave():
    phys = ce_fields(np.random.default_rng(2), samples=2)
    res = ing.continuity_residuals(phys, dt=1 / (T - 1))
    assert res["x"].shape == (2, T - 2)  # Simpson windows of 3 frames
    assert np.nanmax(res["x"]) < 1e-2 < 0.3 < np.nanmin(res["y"])
    sums = ing.eos_sums(phys)
    assert np.sqrt(sums["sq_residual"] / sums["sq_energy"]) < 1e-6
    assert 1 + sums["p_p"] / sums["p_eint"] == pytest.approx(GAMMA, rel=1e-6)


def test_endpoint_gaps():
    a = np.zeros((1, 1, 1, 4, 4), np.float32)
    a[..., :, :] = np.arange(4.0)[None, :]  # varies along y only, ends differ by 3 of max 3
    assert ing.endpoint_gaps(a) == {"x": 0.0, "y": 1.0}


# ---------------------------------------------------------------------------------------------
# ingestion recovers the pairing; the store is the expected array bit for bit


@pytest.mark.parametrize("truth", ["x", "y"])
def test_ns_pairing_recovered_and_stored_exactly(tmp_path, truth):
    phys = ns_fields(np.random.default_rng(10))
    src = write_pdegym(tmp_path / "velocity_0.nc", "velocity", to_file_layout(phys, truth))
    store = ing.ingest([src], "NS-Gauss", tmp_path / "ns.zarr")
    conv = store.attrs["axis_convention"]
    assert conv["x_axis"]["netcdf_dim"] == truth
    assert conv["transposed"] == (truth == "x")
    assert conv["decided_by"] == "spectral_divergence"
    assert conv["agrees_with_reference"] == (truth == "y")
    cand = conv["evidence"]["candidates"]
    other = "y" if truth == "x" else "x"
    assert cand[truth]["median"] < 1e-5 and cand[other]["median"] > 0.1
    assert conv["evidence"]["wins"] == 1.0
    assert conv["periodicity"]["duplicate_endpoint"] == {"x": False, "y": False}
    fields = store.read()
    assert fields.dtype == np.float32 and fields.shape == (S, T, 2, N, N)
    np.testing.assert_array_equal(fields, expected_store(phys, "ns"))
    assert [c["name"] for c in store.channels] == ["velocity_x", "velocity_y"]
    assert store.attrs["time"] == pytest.approx(np.linspace(0, 1, T).tolist())
    assert store.attrs["pde"] == "incompressible_ns" and store.attrs["family"] == "NS-Gauss"
    prov = store.attrs["provenance"]
    assert prov["source"] == "pdegym" and prov["order"] == "numeric"
    assert prov["input_files"] == [str(src.resolve())]
    assert prov["ingester"]["version"] == ing.INGESTER_VERSION and prov["git_revision"]
    stats = store.attrs["stats"]
    oracle = expected_store(phys, "ns").astype(np.float64)
    np.testing.assert_allclose(stats["mean"], oracle.mean(axis=(0, 1, 3, 4)), atol=1e-9)
    np.testing.assert_allclose(stats["std"], oracle.std(axis=(0, 1, 3, 4)), rtol=1e-9)


@pytest.mark.parametrize("truth", ["x", "y"])
def test_ce_pairing_recovered_and_conversion_exact(tmp_path, truth):
    phys = ce_fields(np.random.default_rng(20))
    src = write_pdegym(tmp_path / "data_0.nc", "data", to_file_layout(phys, truth))
    store = ing.ingest([src], "CE-RP", tmp_path / "ce.zarr")
    conv = store.attrs["axis_convention"]
    assert conv["x_axis"]["netcdf_dim"] == truth
    assert conv["decided_by"] == "mass_continuity"
    other = "y" if truth == "x" else "x"
    cand = conv["evidence"]["candidates"]
    assert cand[truth]["median"] < 1e-2 and cand[other]["median"] > 0.3
    assert conv["eos"]["relative_residual"] < 1e-6
    assert conv["eos"]["gamma_fit"] == pytest.approx(GAMMA, rel=1e-6)
    fields = store.read()
    assert [c["name"] for c in store.channels] == ["density", "momentum_x", "momentum_y", "energy"]
    expected = expected_store(phys, "ce")
    np.testing.assert_array_equal(fields, expected)
    # the momentum is the float32 product rho*u of the file's own float32 values, pointwise
    rho_u = phys[:, :, 0] * phys[:, :, 1]
    assert rho_u.dtype == np.float32
    np.testing.assert_array_equal(fields[:, :, 1], rho_u.swapaxes(-1, -2))


def test_duplicated_endpoint_detected_dropped_and_recorded(tmp_path, capsys):
    # a node grid including x = 1: the last column repeats the first (up to sin(2 pi) ~ 1e-16)
    phys = ns_fields(np.random.default_rng(30), grid=np.linspace(0, 1, N + 1))
    src = write_pdegym(tmp_path / "velocity_0.nc", "velocity", to_file_layout(phys, "y"))
    code, stdout, _ = run_cli(
        capsys, src, "--family", "NS-BB", "--out", tmp_path / "dup.zarr", "--quiet"
    )
    assert code == 0 and "duplicated endpoint: dropped (N 33 -> 32)" in stdout
    store = open_store(tmp_path / "dup.zarr")
    conv = store.attrs["axis_convention"]
    assert conv["periodicity"]["duplicate_endpoint"] == {"x": True, "y": True}
    assert max(conv["periodicity"]["max_relative_endpoint_gap"].values()) < 1e-6
    assert store.attrs["grid"]["duplicate_endpoint"] == {"x": True, "y": True}
    assert store.attrs["grid"]["N"] == N and store.attrs["grid"]["layout"] == "node"
    ends = store.attrs["provenance"]["endpoint"]
    assert ends["duplicated"] and (ends["file_N"], ends["stored_N"]) == (N + 1, N)
    # the duplicate column was dropped for the spectral test, so the decision is still clean
    assert conv["x_axis"]["netcdf_dim"] == "y"
    assert conv["evidence"]["candidates"]["y"]["median"] < 1e-5
    # the stored grid is the periodic one: nodes 0, 1/N, ..., (N-1)/N, no repeated point
    np.testing.assert_array_equal(store.read(), expected_store(phys, "ns")[..., :N, :N])
    assert store.shape[-2:] == (N, N)
    xr = pytest.importorskip("xarray")
    np.testing.assert_allclose(xr.open_zarr(store.path)["x"].values, np.arange(N) / N)
    # refused on request, with the figures in one line
    line = one_line_error(
        capsys, src, "--family", "NS-BB", "--out", tmp_path / "r.zarr", "--endpoint", "refuse"
    )
    assert str(src) in line and "duplicated periodic endpoint" in line and "off by one" in line
    assert not (tmp_path / "r.zarr").exists()


def test_duplicated_endpoint_beyond_the_checked_trajectories_is_refused(tmp_path, capsys):
    phys = ns_fields(np.random.default_rng(31), samples=3, grid=np.linspace(0, 1, N + 1))
    phys[2, :, :, -1, :] += 0.5  # trajectory 2 (not among K = 1 checked) has a real last column
    src = write_pdegym(tmp_path / "velocity_0.nc", "velocity", to_file_layout(phys, "y"))
    line = one_line_error(
        capsys, src, "--family", "NS-BB", "--out", tmp_path / "o.zarr", "--check-trajectories", 1
    )
    assert str(src) in line and "trajectory 2" in line and "refusing to drop" in line
    assert not (tmp_path / "o.zarr").exists()


def test_duplicated_endpoint_along_one_axis_or_in_some_files_is_refused(tmp_path, capsys):
    grid = np.linspace(0, 1, N + 1)
    phys = ns_fields(np.random.default_rng(32), samples=2, grid=grid)
    one_axis = phys.copy()
    one_axis[..., :, -1] += 0.5  # netCDF dim y's last point now differs from its first
    a = write_pdegym(tmp_path / "velocity_0.nc", "velocity", one_axis)
    line = one_line_error(
        capsys, a, "--family", "NS-BB", "--out", tmp_path / "o.zarr", "--x-axis", "x"
    )
    assert str(a) in line and "along netCDF dim 'x' only" in line
    b = write_pdegym(tmp_path / "velocity_1.nc", "velocity", phys)
    periodic = ns_fields(np.random.default_rng(33), samples=2, grid=np.arange(N + 1) / (N + 1))
    c = write_pdegym(tmp_path / "velocity_2.nc", "velocity", periodic)
    line = one_line_error(
        capsys, b, c, "--family", "NS-BB", "--out", tmp_path / "o.zarr", "--x-axis", "x"
    )
    assert str(c) in line and "different grids" in line


def test_one_assembled_file_needs_no_chunk_number(tmp_path, capsys):
    phys = ce_fields(np.random.default_rng(34), samples=2)
    src = write_pdegym(tmp_path / "CE-RP.nc", "data", to_file_layout(phys, "y"))
    code, stdout, _ = run_cli(
        capsys, src, "--family", "CE-RP", "--out", tmp_path / "a.zarr", "--quiet"
    )
    assert code == 0 and "duplicated endpoint: none" in stdout
    store = open_store(tmp_path / "a.zarr")
    np.testing.assert_array_equal(store.read(), expected_store(phys, "ce"))
    assert store.attrs["provenance"]["input_files"] == [str(src.resolve())]


def test_streams_across_files_and_shards(tmp_path):
    rng = np.random.default_rng(40)
    parts = [ns_fields(rng, samples=n) for n in (3, 4, 2)]
    files = [
        write_pdegym(tmp_path / f"velocity_{i}.nc", "velocity", to_file_layout(p, "x"))
        for i, p in enumerate(parts)
    ]
    # shard 2 over files of 3, 4, 2 samples: shards [2, 4) and [6, 8) straddle file boundaries
    store = ing.ingest(files[::-1], "NS-Sines", tmp_path / "s.zarr", shard=2, check_trajectories=2)
    expected = np.concatenate([expected_store(p, "ns") for p in parts])
    np.testing.assert_array_equal(store.read(), expected)
    np.testing.assert_array_equal(_array(store, "source_file"), [0, 0, 0, 1, 1, 1, 1, 2, 2])
    np.testing.assert_array_equal(_array(store, "source_sample"), [0, 1, 2, 0, 1, 2, 3, 0, 1])
    per_file = store.attrs["axis_convention"]["evidence"]["per_file"]
    assert [e["trajectories"] for e in per_file] == [2, 2, 2]


def _array(store, name):
    import zarr

    return np.asarray(zarr.open_group(store.path, mode="r")[name][...])


@pytest.mark.parametrize("order", ["numeric", "lexicographic"])
def test_chunk_order(tmp_path, capsys, order):
    rng = np.random.default_rng(50)
    parts = {i: ce_fields(rng, samples=1) for i in range(11)}  # data_0 ... data_10
    files = [
        write_pdegym(tmp_path / f"data_{i}.nc", "data", to_file_layout(p, "y"))
        for i, p in parts.items()
    ]
    shuffled = [files[i] for i in np.random.default_rng(0).permutation(len(files))]
    out = tmp_path / f"{order}.zarr"
    code, stdout, _ = run_cli(
        capsys, *shuffled, "--family", "CE-CRP", "--out", out, "--order", order, "--quiet"
    )
    assert code == 0 and stdout.startswith(f"wrote {out}")
    expect = list(range(11)) if order == "numeric" else [0, 1, 10, 2, 3, 4, 5, 6, 7, 8, 9]
    store = open_store(out)
    np.testing.assert_array_equal(
        store.read(), np.concatenate([expected_store(parts[i], "ce") for i in expect])
    )
    assert store.attrs["provenance"]["order"] == order
    names = [p.rsplit("/", 1)[-1] for p in store.attrs["provenance"]["input_files"]]
    assert names == [f"data_{i}.nc" for i in expect]


def test_order_files_rules(tmp_path):
    names = [f"data_{i}.nc" for i in (10, 2, 0, 1, 9, 3, 8, 4, 7, 5, 6)]
    numeric = [f"data_{i}.nc" for i in range(11)]
    lexicographic = [f"data_{i}.nc" for i in (0, 1, 10, 2, 3, 4, 5, 6, 7, 8, 9)]
    assert [p.name for p in ing.order_files([tmp_path / n for n in names])] == numeric
    got = ing.order_files([tmp_path / n for n in names], "lexicographic")
    assert [p.name for p in got] == lexicographic
    # a gap in the numbering is a missing chunk, in either order; a later start is fine
    for order in ing.ORDERS:
        with pytest.raises(ValueError, match=r"chunk number\(s\) 1 missing .*velocity_1\.nc"):
            ing.order_files([tmp_path / "velocity_0.nc", tmp_path / "velocity_2.nc"], order)
    later = [tmp_path / "velocity_4.nc", tmp_path / "velocity_3.nc"]
    assert ing.order_files(later) == later[::-1]
    with pytest.raises(ValueError, match="given twice"):
        ing.order_files([tmp_path / "data_1.nc", tmp_path / "data_1.nc"])
    with pytest.raises(ValueError, match="same chunk number 1"):
        ing.order_files([tmp_path / "data_1.nc", tmp_path / "data_01.nc"])
    assert ing.order_files([tmp_path / "CE-RP.nc"]) == [tmp_path / "CE-RP.nc"]
    with pytest.raises(ValueError, match="no chunk number"):
        ing.order_files([tmp_path / "CE-RP.nc", tmp_path / "data_1.nc"])


def test_override_records_evidence(tmp_path):
    phys = ns_fields(np.random.default_rng(60), samples=2)
    src = write_pdegym(tmp_path / "velocity_0.nc", "velocity", to_file_layout(phys, "x"))
    store = ing.ingest([src], "NS-BB", tmp_path / "o.zarr", x_axis="y")  # force the wrong one
    conv = store.attrs["axis_convention"]
    assert conv["decided_by"] == "override" and conv["x_axis"]["netcdf_dim"] == "y"
    assert conv["agrees_with_evidence"] is False and conv["evidence"]["preferred"] == "x"
    np.testing.assert_array_equal(store.read(), phys[:, :, :2])  # no transposition
