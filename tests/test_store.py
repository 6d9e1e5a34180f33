"""Zarr stores: round trip, layout, statistics against numpy, atomic writes, bad input."""

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
