"""Foreign data read as it is (docs/audit.md §2): the_well HDF5, PDEBench 2-D CFD HDF5 (both in
:mod:`._hdf5`), netCDF and symaudit Zarr, each turned into :class:`Foreign`.

:class:`Foreign` (:mod:`._foreign`, with the trajectory and frame selection both readers
share) holds ``fields`` of layout ``(trajectory, time, channel, y, x)`` in float64 (x
the last axis, whatever the file's order: its dims are found by NAME through
:func:`symaudit.dims.resolve_dims`), the channel list the group action reads (kinds from the
file's own structure, or the override), and which axes are periodic, with the reason for each
(what the file declares, or the assumption made and how to override it).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from symaudit.dims import resolve_dims
from symaudit.errors import UserError

from ._foreign import Foreign, pick, select_frames
from ._hdf5 import hdf5_kind, read_hdf5

__all__ = ["Foreign", "parse_channels", "parse_periodic", "pick", "read_data", "select_frames"]


def parse_channels(text: str | None, n: int, names: list[str]) -> list[dict] | None:
    """``"scalar,vector:v:x,vector:v:y"`` (one entry per channel, in the file's order) ->
    channel dicts; None when ``text`` is empty.  ``kind[:object:axis]``."""
    if not text:
        return None
    parts = [p.strip() for p in str(text).split(",") if p.strip()]
    if len(parts) != n:
        raise UserError(f"--channels names {len(parts)} channels, the data have {n} ({names})")
    out = []
    for i, (part, name) in enumerate(zip(parts, names, strict=True)):
        kind, *rest = part.split(":")
        ch = {"name": name, "kind": kind}
        if kind in ("vector", "tensor"):
            if len(rest) != 2:
                raise UserError(f"--channels entry {i} {part!r}: expected {kind}:OBJECT:AXIS")
            ch[kind], ch["axis"] = rest
        elif rest or kind not in ("scalar", "pseudoscalar"):
            raise UserError(
                f"--channels entry {i} {part!r}: expected scalar, pseudoscalar, "
                "vector:OBJECT:x|y or tensor:OBJECT:xx|xy|yx|yy"
            )
        out.append(ch)
    return out


def parse_periodic(text: str | None) -> dict[str, bool] | None:
    """``"x,y"``, ``"x"``, ``"none"`` -> which axes are periodic; None when not given."""
    if text is None:
        return None
    axes = {a.strip().lower() for a in str(text).split(",") if a.strip()} - {"none"}
    if not axes <= {"x", "y"}:
        raise UserError(f"--periodic {text!r}: expected x, y, x,y or none")
    return {"x": "x" in axes, "y": "y" in axes}


def _zarr(path: Path, trajectories, time_steps) -> Foreign:
    from symaudit.store import open_store

    store = open_store(path)
    chosen = pick(trajectories, store.shape[0], path)
    idx = slice(None) if chosen is None else chosen
    frames = select_frames(time_steps, store.shape[1])
    fields = store.read(idx, frames).astype(np.float64)
    channels = [dict(c) for c in store.channels]
    periodic = {"x": True, "y": True}
    notes = {a: "symaudit stores are periodic" for a in "xy"}
    return Foreign(fields, channels, periodic, "zarr", path.name.removesuffix(".zarr"), notes)


def _netcdf_channels(var, dim: str) -> list[dict] | None:
    """Channel kinds from the coordinates a symaudit store exported to netCDF carries along
    ``dim`` (``channel_kind``, ``channel_vector``, ``channel_axis``), else None."""
    coords = var.coords
    if "channel_kind" not in coords:
        return None
    out = []
    for i in range(var.sizes[dim]):
        kind = str(coords["channel_kind"].values[i])
        name = str(coords["channel"].values[i]) if "channel" in coords else f"c{i}"
        ch = {"name": name, "kind": kind}
        if kind in ("vector", "tensor"):
            ch[kind] = str(coords["channel_vector"].values[i])
            ch["axis"] = str(coords["channel_axis"].values[i])
        out.append(ch)
    return out


def _netcdf(path: Path, trajectories, time_steps, variable, dims) -> Foreign:
    import xarray as xr

    ds = xr.open_dataset(path)
    candidates = [v for v in ds.data_vars if ds[v].ndim == 5]
    name = variable or (candidates[0] if len(candidates) == 1 else None)
    if name is None or name not in ds:
        raise UserError(
            f"{path}: name the variable with --variable (5-D variables: {candidates or 'none'})"
        )
    var = ds[name]
    dm = resolve_dims(var.dims, f"{path}: variable {name!r}", dims)
    order = [dm.name(c) for c in ("trajectory", "time", "channel", "y", "x")]
    var = var.transpose(*order)
    chosen = pick(trajectories, var.sizes[order[0]], path)
    if chosen is not None:
        var = var.isel({order[0]: chosen})
    var = var.isel({order[1]: select_frames(time_steps, var.sizes[order[1]])})
    fields = np.asarray(var.values, dtype=np.float64)
    channels = _netcdf_channels(var, order[2])
    if channels is None:
        n = fields.shape[2]
        channels = [{"name": f"c{i}", "kind": "unknown"} for i in range(n)]
    grid = json.loads(ds.attrs["grid"]) if isinstance(ds.attrs.get("grid"), str) else {}
    periodic = {"x": True, "y": True}
    why = "declared by the file" if grid.get("periodic") else "assumed (override: --periodic)"
    ds.close()
    notes = {a: f"netCDF: periodic {why}" for a in "xy"}
    return Foreign(fields, channels, periodic, "netcdf", path.stem, notes)


def _kind(path: Path) -> str:
    if path.is_dir() and (path.suffix == ".zarr" or (path / "zarr.json").exists()):
        return "zarr"
    if not path.exists():
        raise UserError(f"data {path}: no such file or directory")
    if path.suffix in (".nc", ".nc4", ".cdf"):
        return "netcdf"
    with open(path, "rb") as fh:
        magic = fh.read(8)
    if magic == b"\x89HDF\r\n\x1a\n":
        return hdf5_kind(path)
    if magic[:3] == b"CDF":
        return "netcdf"
    raise UserError(
        f"data {path}: not a the_well or PDEBench HDF5 file, a netCDF file or a symaudit store"
    )


def read_data(
    path: str | Path,
    *,
    trajectories=None,
    time_steps: str | None = None,
    channels: str | None = None,
    periodic: str | None = None,
    dims: str | None = None,
    variable: str | None = None,
) -> Foreign:
    """Read ``path`` (format from its content) into :class:`Foreign`, only the
    ``trajectories`` (indices) and ``time_steps`` (:func:`select_frames`) asked for; ``channels``,
    ``periodic`` and ``dims`` override what the file says (module docstring)."""
    path = Path(path)
    kind = _kind(path)
    if kind == "zarr":
        data = _zarr(path, trajectories, time_steps)
    elif kind == "netcdf":
        data = _netcdf(path, trajectories, time_steps, variable, dims)
    else:
        data = read_hdf5(path, kind, trajectories, time_steps, dims)
    names = [c["name"] for c in data.channels]
    override = parse_channels(channels, len(names), names)
    if override is not None:
        data.channels = override
        data.log.append(f"channel kinds from --channels: {channels}")
    unknown = [c["name"] for c in data.channels if c["kind"] == "unknown"]
    if unknown:
        raise UserError(
            f"data {path}: the file does not say how channels {unknown} transform; give "
            "--channels (e.g. scalar,vector:v:x,vector:v:y)"
        )
    chosen = parse_periodic(periodic)
    if chosen is not None:
        data.periodic = chosen
        data.notes = {a: "--periodic" for a in "xy"}
    if data.fields.shape[1] < 2:
        raise UserError(f"data {path}: {data.fields.shape[1]} frame(s); a transition needs 2")
    return data
