"""PDEGym netCDF ingestion: the axis pairing is recovered from the data, stored arrays are the
expected transposition / conservative conversion bit for bit, chunk order, streaming across
shards and files, and one-line errors for bad input.

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

import re

import numpy as np
import pytest

from symaudit import cli
from symaudit.data import ingest as ing
from symaudit.store import open_store

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


def write_pdegym(path, variable, array, dims=("sample", "time", "channel", "x", "y")):
    import netCDF4

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
    names = ["data_10.nc", "data_2.nc", "data_0.nc", "data_1.nc"]
    assert [p.name for p in ing.order_files([tmp_path / n for n in names])] == [
        "data_0.nc",
        "data_1.nc",
        "data_2.nc",
        "data_10.nc",
    ]
    assert [p.name for p in ing.order_files([tmp_path / n for n in names], "lexicographic")] == [
        "data_0.nc",
        "data_1.nc",
        "data_10.nc",
        "data_2.nc",
    ]
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


# ---------------------------------------------------------------------------------------------
# bad input: exit 2 and ONE line naming the culprit


@pytest.fixture
def ns_file(tmp_path):
    phys = ns_fields(np.random.default_rng(70), samples=S)
    return write_pdegym(tmp_path / "velocity_0.nc", "velocity", phys), phys


def test_error_missing_file(tmp_path, capsys):
    missing = tmp_path / "velocity_3.nc"
    line = one_line_error(capsys, missing, "--family", "NS-BB", "--out", tmp_path / "o.zarr")
    assert str(missing) in line and "does not exist" in line
    assert not (tmp_path / "o.zarr").exists()


def test_error_unknown_family(ns_file, tmp_path, capsys):
    line = one_line_error(capsys, ns_file[0], "--family", "NS-Foo", "--out", tmp_path / "o.zarr")
    assert "'NS-Foo'" in line and "unknown family" in line


def test_error_missing_variable(tmp_path, capsys):
    src = write_pdegym(tmp_path / "data_0.nc", "data", ce_fields(np.random.default_rng(0), 1))
    line = one_line_error(capsys, src, "--family", "NS-Sines", "--out", tmp_path / "o.zarr")
    assert str(src) in line and "'velocity'" in line and "data" in line


def test_error_not_netcdf(tmp_path, capsys):
    bad = tmp_path / "velocity_0.nc"
    bad.write_text("not a netCDF file\n")
    line = one_line_error(capsys, bad, "--family", "NS-BB", "--out", tmp_path / "o.zarr")
    assert str(bad) in line and "not a readable netCDF file" in line


def test_error_wrong_rank(tmp_path, capsys):
    src = write_pdegym(
        tmp_path / "data_0.nc",
        "data",
        np.zeros((2, 3, 5, 8), np.float32),
        dims=("sample", "time", "channel", "x"),
    )
    line = one_line_error(capsys, src, "--family", "CE-RP", "--out", tmp_path / "o.zarr")
    assert str(src) in line and "'data'" in line and "(2, 3, 5, 8)" in line and "rank 5" in line


def test_error_wrong_channel_count(tmp_path, capsys):
    src = write_pdegym(tmp_path / "data_0.nc", "data", np.zeros((2, 3, 4, 8, 8), np.float32))
    line = one_line_error(capsys, src, "--family", "CE-RPUI", "--out", tmp_path / "o.zarr")
    assert str(src) in line and "(2, 3, 4, 8, 8)" in line and "5 channels" in line


def test_error_non_square(tmp_path, capsys):
    src = write_pdegym(
        tmp_path / "velocity_0.nc", "velocity", np.zeros((2, 3, 2, 8, 16), np.float32)
    )
    line = one_line_error(capsys, src, "--family", "NS-BB", "--out", tmp_path / "o.zarr")
    assert str(src) in line and "(2, 3, 2, 8, 16)" in line and "square" in line


def test_error_mismatched_files(ns_file, tmp_path, capsys):
    other = write_pdegym(
        tmp_path / "velocity_1.nc",
        "velocity",
        ns_fields(np.random.default_rng(1), samples=1, times=3),
    )
    line = one_line_error(
        capsys, ns_file[0], other, "--family", "NS-BB", "--out", tmp_path / "o.zarr"
    )
    assert str(other) in line and "(3, 3, 32, 32)" in line and "(5, 3, 32, 32)" in line


@pytest.mark.parametrize(("bad", "check", "kind"), [(1, 8, "NaN"), (3, 1, "inf")])
def test_error_non_finite(tmp_path, capsys, bad, check, kind):
    # trajectory 1 is caught by the self-check, trajectory 3 (K = 1) only while streaming
    phys = ns_fields(np.random.default_rng(80))
    phys[bad, 2, 1, 5, 7] = np.nan if kind == "NaN" else np.inf
    src = write_pdegym(tmp_path / "velocity_0.nc", "velocity", phys)
    line = one_line_error(
        capsys,
        src,
        "--family",
        "NS-BB",
        "--out",
        tmp_path / "o.zarr",
        "--check-trajectories",
        check,
    )
    assert str(src) in line and f"{kind} in variable 'velocity' at trajectory {bad}" in line
    assert "time 2" in line and "channel 'v'" in line
    assert not (tmp_path / "o.zarr").exists()
    assert not list(tmp_path.glob("o.zarr.tmp-*"))  # the half-built store was removed


def test_error_unwritten_fill_values(tmp_path, capsys):
    import netCDF4

    phys = ns_fields(np.random.default_rng(82), samples=4)
    src = tmp_path / "velocity_0.nc"
    with netCDF4.Dataset(src, "w") as ds:  # like a truncated export: sample 3 never written
        for name, size in zip(("sample", "time", "channel", "x", "y"), phys.shape, strict=True):
            ds.createDimension(name, size)
        ds.createVariable("velocity", "f4", ("sample", "time", "channel", "x", "y"))[:3] = phys[:3]
    line = one_line_error(
        capsys, src, "--family", "NS-BB", "--out", tmp_path / "o.zarr", "--check-trajectories", 1
    )
    assert str(src) in line and "fill value (unwritten)" in line and "trajectory 3" in line


def test_nan_in_ignored_tracer_is_fine(tmp_path):
    phys = ns_fields(np.random.default_rng(81), samples=2)
    phys[0, 0, 2, 0, 0] = np.nan
    src = write_pdegym(tmp_path / "velocity_0.nc", "velocity", phys)
    store = ing.ingest([src], "NS-BB", tmp_path / "t.zarr")
    np.testing.assert_array_equal(store.read(), expected_store(phys, "ns"))


def test_error_ambiguous_pairing(tmp_path, capsys):
    # modes with |k_x| = |k_y| are divergence-free under BOTH pairings: no basis to decide
    phys = ns_fields(np.random.default_rng(90), modes=[(1, 1), (2, -2), (1, -1)])
    src = write_pdegym(tmp_path / "velocity_0.nc", "velocity", phys)
    line = one_line_error(capsys, src, "--family", "NS-Gauss", "--out", tmp_path / "o.zarr")
    assert "ambiguous axis pairing" in line and "--x-axis" in line and "NS-Gauss" in line
    assert not (tmp_path / "o.zarr").exists()


def test_error_neither_pairing_fits(tmp_path, capsys):
    noise = np.random.default_rng(91).standard_normal((2, T, 2, N, N)).astype(np.float32)
    src = write_pdegym(tmp_path / "velocity_0.nc", "velocity", noise)
    line = one_line_error(capsys, src, "--family", "NS-BB", "--out", tmp_path / "o.zarr")
    assert "neither axis pairing fits" in line


def test_error_mixed_conventions(tmp_path, capsys):
    rng = np.random.default_rng(92)
    files = [
        write_pdegym(
            tmp_path / f"velocity_{i}.nc",
            "velocity",
            to_file_layout(ns_fields(rng, samples=2), truth),
        )
        for i, truth in enumerate(["x", "x", "y"])
    ]
    line = one_line_error(capsys, *files, "--family", "NS-BB", "--out", tmp_path / "o.zarr")
    assert str(files[2]) in line and "mixed conventions" in line


def test_error_eos_channel_order(tmp_path, capsys):
    phys = ce_fields(np.random.default_rng(93))
    src = write_pdegym(tmp_path / "data_0.nc", "data", phys[:, :, [0, 1, 2, 4, 3]])  # p <-> E
    line = one_line_error(capsys, src, "--family", "CE-RP", "--out", tmp_path / "o.zarr")
    assert str(src) in line and "gamma = 1.4" in line and "[rho, u, v, p, E]" in line


def test_error_unwritable_output(ns_file, tmp_path, capsys, monkeypatch):
    blocker = tmp_path / "a_file"
    blocker.write_text("")
    out = blocker / "o.zarr"  # its parent is a regular file
    line = one_line_error(capsys, ns_file[0], "--family", "NS-BB", "--out", out)
    assert str(blocker) in line and "cannot be created" in line
    # a read-only directory (os.access is what StoreBuilder asks; root would pass a chmod)
    monkeypatch.setattr("symaudit.store.os.access", lambda *a, **k: False)
    line = one_line_error(capsys, ns_file[0], "--family", "NS-BB", "--out", tmp_path / "o.zarr")
    assert str(tmp_path) in line and "not writable" in line


def test_error_refuses_to_replace_non_store(ns_file, tmp_path, capsys):
    precious = tmp_path / "precious"
    precious.mkdir()
    (precious / "keep.txt").write_text("x")
    line = one_line_error(capsys, ns_file[0], "--family", "NS-BB", "--out", precious)
    assert str(precious) in line and "not a Zarr store" in line
    assert (precious / "keep.txt").exists()


def test_replaces_existing_store(ns_file, tmp_path):
    out = tmp_path / "r.zarr"
    ing.ingest([ns_file[0]], "NS-BB", out, check_trajectories=1)
    store = ing.ingest([ns_file[0]], "NS-BB", out, check_trajectories=2)
    assert store.attrs["axis_convention"]["evidence"]["trajectories_per_file"] == 2
