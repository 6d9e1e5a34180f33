"""What makes a store readable by others (docs/data.md §4.1): CF-style attributes on every
variable, a coordinate for every dimension, per-channel metadata as coordinates along
``channel``, and group attrs a netCDF file can hold.

netCDF attributes are strings, numbers or flat lists of numbers; a store's group attrs also hold
mappings (``grid``, ``channels``, ``stats``, ``provenance``...).  :func:`encode_attrs` writes every
such value as a JSON string and lists their keys in ``json_attrs``, so
``xr.open_zarr(store).to_netcdf(path)`` works; :func:`decode_attrs` is the one function that
reads them back (``symaudit.store.open_store`` goes through it; stores written before keep their
nested attrs and decode unchanged).  All fields are nondimensional (unit square, t in [0, 1]):
``units`` is ``"1"`` throughout, and CF has no ``standard_name`` for generic nondimensional
density, momentum, energy or velocity, so none is given.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from numbers import Number
from pathlib import Path

import numpy as np

__all__ = [
    "COORDINATES",
    "JSON_ATTRS",
    "coordinates",
    "describe",
    "extra_dims",
    "put_array",
    "channel_coordinates",
    "decode_attrs",
    "encode_attrs",
    "index_coordinates",
    "jsonable",
    "variable_attrs",
]

#: the coordinate arrays every store has (names reserved)
COORDINATES = ("time", "channel", "y", "x")
#: group attr listing the keys whose values are JSON strings
JSON_ATTRS = "json_attrs"

_ONE = "1"  # CF units of a dimensionless quantity
VARIABLES: dict[str, dict[str, str]] = {
    "fields": {"long_name": "flow fields, nondimensional (channels: see the channel coordinate)"},
    "trajectory": {"long_name": "trajectory index"},
    "transition": {"long_name": "transition index t: from frame t to frame t+1"},
    "time": {"long_name": "time of the frame, nondimensional (on [0, 1])", "axis": "T"},
    "channel": {"long_name": "channel name"},
    "y": {"axis": "Y"},
    "x": {"axis": "X"},
    "persistence_smse": {
        "long_name": "SMSE of persistence (frame t+1 predicted as frame t) per transition"
    },
    "trajectory_seed": {"long_name": "seed of the trajectory's initial condition"},
    "source_file": {"long_name": "index of the trajectory's input file in provenance.input_files"},
    "source_sample": {"long_name": "sample index of the trajectory in its input file"},
    "channel_kind": {"long_name": "how the channel transforms under D4: scalar, vector, ..."},
    "channel_vector": {"long_name": "the vector a component belongs to ('' for scalars)"},
    "channel_axis": {"long_name": "the axis a vector component points along ('' for scalars)"},
    "channel_long_name": {"long_name": "what the channel holds"},
    "channel_units": {"long_name": "units of the channel"},
}

CHANNEL_LONG_NAMES = {
    "density": "mass density rho",
    "momentum_x": "x-momentum density rho u",
    "momentum_y": "y-momentum density rho v",
    "energy": "total energy per unit volume E",
    "velocity_x": "x-component of velocity u",
    "velocity_y": "y-component of velocity v",
}


def variable_attrs(name: str, given: Mapping | None = None) -> dict:
    """``long_name`` and ``units`` (and ``axis`` for coordinates) of the store variable
    ``name``; ``given`` entries win."""
    out = {"long_name": name.replace("_", " "), "units": _ONE} | VARIABLES.get(name, {})
    return out | dict(given or {})


def channel_coordinates(channels) -> dict[str, np.ndarray]:
    """Per-channel metadata as string arrays along ``channel`` (kind, vector, axis, long
    name, units): xarray shows them as coordinates of ``fields``."""

    def col(f):
        return np.asarray([str(f(ch) or "") for ch in channels], dtype=str)

    return {
        "channel_kind": col(lambda ch: ch.get("kind")),
        "channel_vector": col(lambda ch: ch.get("vector")),
        "channel_axis": col(lambda ch: ch.get("axis")),
        "channel_long_name": col(
            lambda ch: CHANNEL_LONG_NAMES.get(ch["name"], str(ch["name"]).replace("_", " "))
        ),
        "channel_units": col(lambda ch: ch.get("units", _ONE)),
    }


def index_coordinates(group) -> list[str]:
    """Give every dimension of the group's arrays that has no coordinate an integer one
    (``trajectory``, ``transition``, ...); returns the names added."""
    dims: dict[str, int] = {}
    for _, array in group.arrays():
        for dim, size in zip(array.metadata.dimension_names or (), array.shape, strict=False):
            dims.setdefault(dim, size)
    added = []
    for dim, size in dims.items():
        if dim is None or dim in group:
            continue
        array = group.create_array(dim, shape=(size,), dtype="int64", dimension_names=(dim,))
        array[...] = np.arange(size, dtype=np.int64)
        array.attrs.update(
            variable_attrs(dim, {"long_name": f"{dim} index"} if dim not in VARIABLES else None)
        )
        added.append(dim)
    return added


def jsonable(value):
    """``value`` with numpy scalars/arrays and paths turned into plain Python."""
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, Path):
        return str(value)
    return value


def _netcdf_ok(value) -> bool:
    def number(v):  # a NaN/inf would be a bare NaN token in zarr.json: not JSON
        return isinstance(v, Number) and not isinstance(v, bool) and bool(np.isfinite(v))

    if isinstance(value, str) or number(value):
        return True
    return isinstance(value, list) and bool(value) and all(number(v) for v in value)


def encode_attrs(attrs: Mapping) -> dict:
    """Group attrs netCDF can hold: values that are not a string, a number or a flat list of
    numbers become JSON strings, their keys listed in :data:`JSON_ATTRS`."""
    out, encoded = {}, []
    for key, value in jsonable(attrs).items():
        if key == JSON_ATTRS:
            continue
        if _netcdf_ok(value):
            out[key] = value
        else:
            out[key] = json.dumps(value, separators=(",", ":"))
            encoded.append(key)
    out[JSON_ATTRS] = " ".join(encoded)
    return out


def decode_attrs(raw: Mapping) -> dict:
    """The attrs as the library uses them: the keys listed in :data:`JSON_ATTRS` decoded; the
    nested attrs of a store written before this encoding pass through unchanged."""
    out = dict(raw)
    for key in str(out.pop(JSON_ATTRS, "") or "").split():
        if isinstance(out.get(key), str):
            out[key] = json.loads(out[key])
    return out


# ---------------------------------------------------------------------------------------------
# arrays


def coordinates(attrs: Mapping, shape: Sequence[int]) -> dict:
    """The coordinate arrays ``xr.open_zarr`` shows: physical time, channel names and the cell
    centres of y and x on the store's domain (default the unit square)."""
    _, n_times, n_channels, ny, nx = shape
    times = np.asarray(attrs["time"], dtype=np.float64)
    if times.shape != (n_times,):
        raise ValueError(f"attrs time has {times.size} entries but fields has {n_times} frames")
    names = [str(ch["name"]) for ch in attrs["channels"]]
    if len(names) != n_channels:
        raise ValueError(f"attrs channels has {len(names)} entries but fields has {n_channels}")
    grid = attrs.get("grid") or {}
    (x0, x1), (y0, y1) = grid.get("domain") or [[0.0, 1.0], [0.0, 1.0]]
    # periodic grid of n points: cell centres, or nodes from the lower edge (a node grid whose
    # duplicated endpoint was dropped at ingest)
    node = grid.get("layout") == "node"
    offset, what = (0.0, "grid node") if node else (0.5, "cell centre")

    def points(lo, hi, n):
        return lo + (np.arange(n, dtype=np.float64) + offset) * (hi - lo) / n

    return {
        "time": (("time",), times, None),
        "channel": (("channel",), np.asarray(names, dtype=str), None),
        "y": (("y",), points(y0, y1, ny), {"long_name": f"{what} y, nondimensional"}),
        "x": (("x",), points(x0, x1, nx), {"long_name": f"{what} x, nondimensional"}),
    }


def extra_dims(name: str, values, n_trajectories: int) -> tuple[tuple[str, ...], np.ndarray]:
    """Dimension names of an extra array: ``(dims, values)`` as given, else ``trajectory`` for a
    leading axis of one entry per trajectory and ``<name>_dim<i>`` for the other axes."""
    if isinstance(values, tuple) and len(values) == 2 and isinstance(values[0], tuple | list):
        dims, values = tuple(values[0]), np.asarray(values[1])
        if len(dims) != values.ndim:
            raise ValueError(
                f"extra array {name}: {len(dims)} dimension names for {values.ndim} axes"
            )
        return dims, values
    values = np.asarray(values)
    dims = tuple(f"{name}_dim{i}" for i in range(values.ndim))
    if values.ndim and values.shape[0] == n_trajectories:
        dims = ("trajectory",) + dims[1:]
    return dims, values


def put_array(group, name: str, dims, values: np.ndarray, meta: Mapping | None = None) -> None:
    if name in group:
        raise ValueError(f"store array {name} already exists (names {COORDINATES} are reserved)")
    kwargs = {"dtype": str} if values.dtype.kind in "US" else {"dtype": values.dtype}
    array = group.create_array(name, shape=values.shape, dimension_names=tuple(dims), **kwargs)
    array[...] = values
    array.attrs.update(variable_attrs(name, meta))


def describe(group, channels, baseline: str) -> None:
    """CF-style attrs on ``fields`` and the baseline, per-channel coordinates along
    ``channel``, and a coordinate for every dimension (docs/data.md §4.1)."""
    extra = channel_coordinates(channels)
    for name, values in extra.items():
        put_array(group, name, ("channel",), values)
    group["fields"].attrs.update(variable_attrs("fields", {"coordinates": " ".join(extra)}))
    if baseline in group:
        group[baseline].attrs.update(variable_attrs(baseline))
    index_coordinates(group)
