"""PDEGym ingestion refuses bad input: exit 2 and ONE line naming the culprit (file, variable,
shape, pairing, values), and never loses an existing store it did not write."""

from __future__ import annotations

import numpy as np
import pytest

from symaudit.data import ingest as ing

from ._pdegym_files import (
    N,
    S,
    T,
    ce_fields,
    expected_store,
    ns_fields,
    one_line_error,
    to_file_layout,
    write_pdegym,
)

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
