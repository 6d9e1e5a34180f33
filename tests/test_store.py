"""Zarr stores: round trip, layout, statistics against numpy, atomic writes, bad input."""

import json
import warnings

import numpy as np
import pytest
import zarr

from symaudit import store as st
from symaudit.datasets import channels_for


def _attrs(family="CE-RP"):
    return {
        "family": family,
        "pde": "compressible_euler",
        "channels": channels_for(family),
        "time": [0.0, 0.5, 1.0],
        "provenance": {"source": "generated"},
    }


def test_round_trip_layout_and_stats(tmp_path):
    rng = np.random.default_rng(0)
    fields = rng.standard_normal((5, 3, 4, 8, 8)).astype(np.float32)
    fields[:, :, 1] *= 2.0  # momentum_x and momentum_y get different spreads
    store = st.write_store(tmp_path / "a.zarr", fields, _attrs())
    again = st.open_store(tmp_path / "a.zarr")
    assert np.array_equal(again.read(), fields)
    assert np.array_equal(again.read([4, 1], slice(1, 3)), fields[[4, 1], 1:3])
    arr = zarr.open_array(tmp_path / "a.zarr" / "fields", mode="r")
    assert arr.metadata.dimension_names == ("trajectory", "time", "channel", "y", "x")
    assert arr.chunks == (1, 1, 4, 8, 8) and arr.dtype == np.float32
    stats = store.attrs["stats"]
    f64 = fields.astype(np.float64)
    np.testing.assert_allclose(stats["mean"], f64.mean(axis=(0, 1, 3, 4)), rtol=1e-12)
    np.testing.assert_allclose(stats["std"], f64.std(axis=(0, 1, 3, 4)), rtol=1e-9)
    np.testing.assert_allclose(stats["rms"], np.sqrt((f64**2).mean(axis=(0, 1, 3, 4))), rtol=1e-12)
    tied = np.sqrt(((f64[:, :, 1] ** 2 + f64[:, :, 2] ** 2) / 2).mean())
    assert stats["vector_std"]["momentum"] == pytest.approx(tied, rel=1e-12)


def test_shard_aligned_parallel_writes_combine(tmp_path):
    rng = np.random.default_rng(1)
    fields = rng.standard_normal((6, 2, 4, 8, 8)).astype(np.float32)
    builder = st.StoreBuilder(tmp_path / "b.zarr", 6, 2, channels_for("CE"), 8, shard=2)
    parts = [builder.write(s, fields[s : s + 2]) for s in (4, 0, 2)]  # any order
    assert not (tmp_path / "b.zarr").exists()  # invisible until committed
    with pytest.raises(ValueError, match="not aligned"):
        builder.write(1, fields[1:3])
    store = builder.commit(_attrs() | {"time": [0.0, 1.0]}, parts)
    assert np.array_equal(store.read(), fields)
    assert not builder.tmp.exists()


def test_nan_is_rejected_and_nothing_is_left_behind(tmp_path):
    fields = np.zeros((2, 2, 4, 8, 8), np.float32)
    fields[1, 0, 2, 3, 4] = np.nan
    message = r"c.zarr: trajectory 1 frame 0 channel momentum_y holds nan at \(y, x\) = \(3, 4\)"
    with pytest.raises(ValueError, match=message):
        st.write_store(tmp_path / "c.zarr", fields, _attrs())
    assert list(tmp_path.iterdir()) == []


def test_unwritable_output_and_missing_store(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(PermissionError, match="cannot be created"):
        st.write_store(blocker / "d.zarr", np.zeros((1, 3, 4, 8, 8), np.float32), _attrs())
    with pytest.raises(FileNotFoundError, match="does not exist"):
        st.open_store(tmp_path / "nope.zarr")
    zarr.open_group(tmp_path / "e.zarr", mode="w").create_array("fields", shape=(1,), dtype="f4")
    with pytest.raises(ValueError, match="missing attrs"):
        st.open_store(tmp_path / "e.zarr")


def test_xarray_opens_a_store_with_dims_and_coordinates(tmp_path):
    xr = pytest.importorskip("xarray")
    rng = np.random.default_rng(2)
    fields = rng.standard_normal((3, 3, 4, 8, 8)).astype(np.float32)
    attrs = _attrs() | {"grid": {"N": 8, "domain": [[0, 1], [0, 2]]}}
    st.write_store(
        tmp_path / "x.zarr",
        fields,
        attrs,
        {"trajectory_seed": np.arange(3), "baseline": (("time",), np.ones(3))},
    )
    meta = zarr.open_group(tmp_path / "x.zarr", mode="r").metadata
    assert meta.consolidated_metadata is not None  # one read opens the store
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no missing-dimension or consolidation warnings
        ds = xr.open_zarr(tmp_path / "x.zarr")
    assert ds["fields"].dims == ("trajectory", "time", "channel", "y", "x")
    np.testing.assert_array_equal(ds["fields"].values, fields)
    np.testing.assert_array_equal(ds["time"].values, [0.0, 0.5, 1.0])
    assert list(ds["channel"].values) == [ch["name"] for ch in channels_for("CE-RP")]
    np.testing.assert_allclose(ds["x"].values, (np.arange(8) + 0.5) / 8)
    np.testing.assert_allclose(ds["y"].values, 2 * (np.arange(8) + 0.5) / 8)
    assert ds["trajectory_seed"].dims == ("trajectory",)
    assert ds["baseline"].dims == ("time",)
    assert ds.attrs["family"] == "CE-RP"
    sel = ds["fields"].sel(channel="momentum_x", time=0.5).values
    np.testing.assert_array_equal(sel, fields[:, 1, 1])
    # every array of the group has dimension names (xarray needs them on all arrays)
    group = zarr.open_group(tmp_path / "x.zarr", mode="r")
    for name, array in group.arrays():
        assert array.metadata.dimension_names, name
    assert np.array_equal(st.open_store(tmp_path / "x.zarr").read(), fields)
    # an array added to a finished store is seen through the refreshed consolidated metadata
    st.add_arrays(tmp_path / "x.zarr", {"late": (("trajectory", "time"), np.zeros((3, 3)))})
    assert xr.open_zarr(tmp_path / "x.zarr")["late"].dims == ("trajectory", "time")
    with pytest.raises(ValueError, match="store array time already exists"):
        st.add_arrays(tmp_path / "x.zarr", {"time": np.zeros(3)})


# --- stores others can read (docs/data.md §4.1) -------------------------------------------


def assert_readable_by_others(path, tmp_path):
    """Every variable has long_name and units, every dimension a coordinate, the netCDF round
    trip of ``xr.open_zarr`` is identical, and the library still reads the nested attrs."""
    xr = pytest.importorskip("xarray")
    ds = xr.open_zarr(path)
    for name, var in ds.variables.items():
        assert {"long_name", "units"} <= set(var.attrs), name
        assert "standard_name" not in var.attrs, name  # CF has none for these quantities
    assert set(ds.dims) <= set(ds.coords), set(ds.dims) - set(ds.coords)
    channels = st.open_store(path).channels
    assert list(ds["channel_kind"].values) == [ch["kind"] for ch in channels]
    assert set(ds["channel_units"].values) == {"1"}
    ds.to_netcdf(tmp_path / "export.nc")
    with xr.open_dataset(tmp_path / "export.nc") as back:
        xr.testing.assert_identical(back.load(), ds.load())
    store = st.open_store(path)
    assert isinstance(store.attrs["grid"], dict) and isinstance(store.attrs["stats"], dict)
    assert "json_attrs" not in store.attrs
    return ds


def test_generated_store_is_described_and_exports_to_netcdf(tmp_path):
    from symaudit.data.generate import generate_store

    out = tmp_path / "NS-Gauss.zarr"
    store = generate_store(
        "NS-Gauss", out, 8, 2, 0, time_steps=3, cluster={"kind": "none"}, progress=False
    )
    ds = assert_readable_by_others(out, tmp_path)
    assert set(ds.dims) == {"trajectory", "time", "channel", "y", "x", "transition"}
    assert ds["persistence_smse"].dims == ("trajectory", "transition")
    assert ds["x"].attrs["axis"] == "X" and ds["time"].attrs["axis"] == "T"
    assert ds.attrs["family"] == "NS-Gauss" and store.attrs["grid"]["N"] == 8
    np.testing.assert_array_equal(ds["fields"].values, store.read())  # values untouched
    for meta in out.rglob("zarr.json"):  # strict JSON: no bare NaN/Infinity tokens
        json.loads(
            meta.read_text(), parse_constant=lambda token, m=meta: pytest.fail(f"{m}: {token}")
        )


def test_store_written_with_nested_attrs_still_opens(tmp_path):
    st.write_store(tmp_path / "old.zarr", np.zeros((1, 3, 4, 8, 8), np.float32), _attrs())
    meta = json.loads((tmp_path / "old.zarr" / "zarr.json").read_text())
    keys = meta["attributes"].pop("json_attrs").split()
    for key in keys:  # what stores written before the encoding hold
        meta["attributes"][key] = json.loads(meta["attributes"][key])
    group = zarr.open_group(tmp_path / "old.zarr", mode="r+", use_consolidated=False)
    group.attrs.clear()
    group.attrs.update(meta["attributes"])
    assert st.open_store(tmp_path / "old.zarr").attrs["channels"] == channels_for("CE-RP")


def test_output_that_is_not_a_store_is_refused_before_any_work(tmp_path):
    target = tmp_path / "x.zarr"
    target.write_text("keep me")
    with pytest.raises(ValueError, match=r"x.zarr exists and is a file; refusing to replace it"):
        st.StoreBuilder(target, 1, 3, channels_for("CE-RP"), 8)
    assert target.read_text() == "keep me" and sorted(tmp_path.iterdir()) == [target]


def test_orphaned_temporaries_of_killed_writers_are_removed(tmp_path, capsys):
    import os
    import subprocess
    import sys

    from symaudit._io import temporary_sibling
    from symaudit.cli import setup_logging

    setup_logging("INFO")
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()  # a pid that is gone
    ours = temporary_sibling(tmp_path / "o.zarr").name.rsplit("-", 1)[0]  # o.zarr.tmp-<host>
    dead = [tmp_path / f"o.zarr.tmp-{child.pid}", tmp_path / f"{ours}-{child.pid}"]
    alive = [
        tmp_path / f"o.zarr.tmp-{os.getppid()}",  # a running process: another writer
        tmp_path / f"o.zarr.tmp-elsewhere-{child.pid}",  # another host: cannot tell
        tmp_path / f"other.zarr.tmp-{child.pid}",  # another output
    ]
    for d in dead + alive:
        (d / "fields").mkdir(parents=True)
    st.write_store(tmp_path / "o.zarr", np.zeros((1, 3, 4, 8, 8), np.float32), _attrs())
    assert not any(d.exists() for d in dead) and all(d.exists() for d in alive)
    err = capsys.readouterr().err
    assert err.count("left by process") == 2 and f"o.zarr.tmp-{child.pid}" in err


def test_damaged_shard_names_the_store_array_and_shard(tmp_path):
    st.write_store(tmp_path / "d.zarr", np.ones((2, 3, 4, 8, 8), np.float32), _attrs())
    shard = tmp_path / "d.zarr" / "fields" / "c" / "0" / "0" / "0" / "0" / "0"
    shard.write_bytes(shard.read_bytes()[:-7])  # truncated
    message = (
        r"store .*d.zarr: array 'fields' cannot be read at trajectory 1 \(shard file fields/c/0/"
    )
    with pytest.raises(ValueError, match=message):
        st.open_store(tmp_path / "d.zarr").read([1])
