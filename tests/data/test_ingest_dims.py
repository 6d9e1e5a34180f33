"""Ingest finds the dims of a PDEGym-style file by NAME (symaudit.dims): another order is
transposed, aliases and the override are honoured, ambiguous or missing dims are refused with one
line naming the file and the dims found."""

from __future__ import annotations

import numpy as np
import pytest

from symaudit.data import ingest as ing
from symaudit.store import open_store

from ._pdegym_files import (
    ce_fields,
    expected_store,
    ns_fields,
    one_line_error,
    run_cli,
    to_file_layout,
    write_pdegym,
)


@pytest.mark.parametrize(
    "order",
    [
        ("time", "sample", "channel", "x", "y"),  # the case: time and samples swapped
        ("sample", "channel", "time", "y", "x"),
        ("y", "x", "channel", "time", "sample"),
    ],
)
def test_dims_in_another_order_are_read_by_name(tmp_path, capsys, order):
    phys = ns_fields(np.random.default_rng(80), samples=3)
    src = write_pdegym(
        tmp_path / "velocity_0.nc", "velocity", to_file_layout(phys, "x"), order=order
    )
    out = tmp_path / "o.zarr"
    code, stdout, err = run_cli(capsys, src, "--family", "NS-BB", "--out", out, "--quiet")
    assert code == 0, err
    store = open_store(out)
    np.testing.assert_array_equal(store.read(), expected_store(phys, "ns"))
    files = store.attrs["provenance"]["files"]
    assert files[0]["dims"] == list(order)
    assert store.attrs["axis_convention"]["x_axis"]["file_dim_name"] == "x"


def test_aliases_and_override(tmp_path):
    phys = ce_fields(np.random.default_rng(81), samples=2)
    aliased = ("member", "t", "c", "lat", "lon")  # lat = the file's "y" dim, lon = its "x"
    src = write_pdegym(tmp_path / "data_0.nc", "data", to_file_layout(phys, "y"), dims=aliased)
    store = ing.ingest([src], "CE-RP", tmp_path / "a.zarr", check_trajectories=2)
    np.testing.assert_array_equal(store.read(), expected_store(phys, "ce"))
    # names no alias knows need the override, which may also rename a known alias
    odd = ("run", "step", "quantity", "i", "j")
    src2 = write_pdegym(tmp_path / "data_1.nc", "data", to_file_layout(phys, "y"), dims=odd)
    store = ing.ingest(
        [src2],
        "CE-RP",
        tmp_path / "b.zarr",
        dims="run=trajectory,step=time,quantity=channel,i=x,j=y",
    )
    np.testing.assert_array_equal(store.read(), expected_store(phys, "ce"))
    assert store.attrs["provenance"]["files"][0]["read_as"]["i"] == "x"


@pytest.mark.parametrize(
    "dims, extra, expect",
    [
        (("sample", "time", "channel", "i", "j"), (), "'i' is an unknown dim name"),
        (("sample", "t", "time", "x", "y"), (), "both 't' and 'time' mean time"),
        (("sample", "member", "channel", "x", "y"), (), "both 'sample' and 'member' mean"),
        (("sample", "time", "channel", "x", "y"), ("--dims", "lon=x"), "names lon, not among"),
        (("sample", "time", "channel", "x", "y"), ("--dims", "x=z"), "'z' is not one of"),
    ],
)
def test_ambiguous_unknown_or_missing_dims_are_refused(tmp_path, capsys, dims, extra, expect):
    phys = ns_fields(np.random.default_rng(82), samples=2)
    src = write_pdegym(tmp_path / "velocity_0.nc", "velocity", phys, dims=dims)
    out = tmp_path / "o.zarr"
    line = one_line_error(capsys, src, "--family", "NS-BB", "--out", out, *extra)
    assert expect in line, line
    if "override" not in expect and "not one of" not in expect:
        assert str(src) in line and f"dims ({', '.join(dims)})" in line
    assert not out.exists()


def test_missing_chunk_is_refused(tmp_path, capsys):
    rng = np.random.default_rng(83)
    files = [
        write_pdegym(tmp_path / f"velocity_{i}.nc", "velocity", ns_fields(rng, samples=1))
        for i in (0, 2)
    ]
    line = one_line_error(capsys, *files, "--family", "NS-BB", "--out", tmp_path / "o.zarr")
    assert "chunk number(s) 1 missing" in line and str(tmp_path / "velocity_1.nc") in line
    assert not (tmp_path / "o.zarr").exists()


def test_ingested_store_is_described_and_exports_to_netcdf(tmp_path):
    from tests.test_store import assert_readable_by_others

    phys = ns_fields(np.random.default_rng(84), samples=2)
    src = write_pdegym(tmp_path / "velocity_0.nc", "velocity", to_file_layout(phys, "x"))
    store = ing.ingest([src], "NS-BB", tmp_path / "i.zarr", check_trajectories=2)
    ds = assert_readable_by_others(store.path, tmp_path)
    assert ds["source_sample"].dims == ("trajectory",)
    assert store.attrs["axis_convention"]["x_axis"]["netcdf_dim"] == "x"  # nested, decoded
