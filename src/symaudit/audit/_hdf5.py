"""the_well and PDEBench HDF5 files, read with h5py as their formats document them.

**the_well** (docs/data_format.md of PolymathicAI/the_well): fields grouped by tensor order,
``t0_fields/<name>`` scalars ``(B, T, d0, d1)``, ``t1_fields/<name>`` vectors
``(B, T, d0, d1, D)`` and ``t2_fields/<name>`` rank-2 tensors ``(B, T, d0, d1, D, D)`` (or
``D*D`` flattened row-major), each group listing its fields in the attr ``field_names``.  The
spatial axes d0, d1 are NAMED by ``dimensions.attrs["spatial_dims"]`` (e.g. ``["x", "y"]``), and
vector component i (tensor index i) goes along ``spatial_dims[i]``: that declared order is what
pairs components with axes here (through :func:`symaudit.dims.resolve_dims`, so ``--dims``
renames unusual names).  Channels are kept in the file's order (t0, t1, t2 fields, components
in the file's order), labelled by the axis each component goes along.  A field without the
sample or time axis (``sample_varying`` / ``time_varying`` false) is broadcast.  Boundaries:
``boundary_conditions/<group>`` with ``bc_type`` (periodic / wall / open) and
``associated_dims``; an axis is periodic when every condition on it says periodic.

**PDEBench 2-D CFD**: ``density``, ``pressure`` (scalars), ``Vx``, ``Vy`` (the velocity's x and
y components), each ``(N, T, X, Y)`` (x first), with ``x-coordinate`` / ``y-coordinate``.  The
files do not declare boundaries; the file name does (``..._periodic_...``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from symaudit.dims import resolve_dims
from symaudit.errors import UserError

from ._foreign import Foreign, pick, select_frames

__all__ = ["hdf5_kind", "read_hdf5"]

_PDEBENCH = ("density", "pressure", "Vx", "Vy")


def _h5py():
    try:
        import h5py
    except ImportError:
        raise UserError("reading HDF5 needs h5py: pip install h5py") from None
    return h5py


def hdf5_kind(path: Path) -> str:
    """``the_well`` or ``pdebench`` from the file's groups and datasets."""
    with _h5py().File(path, "r") as f:
        if any(g in f for g in ("t0_fields", "t1_fields", "t2_fields")):
            return "the_well"
        if all(k in f for k in _PDEBENCH):
            return "pdebench"
        keys = ", ".join(sorted(f.keys())[:8])
    raise UserError(
        f"data {path}: an HDF5 file that is neither the_well's (t0_fields/t1_fields/t2_fields) "
        f"nor PDEBench 2-D CFD ({', '.join(_PDEBENCH)}); it holds {keys}"
    )


def _text(values) -> list[str]:
    return [v.decode() if isinstance(v, bytes) else str(v) for v in np.atleast_1d(values)]


def _read(ds, trajectories, frames: slice, n_traj: int) -> np.ndarray:
    """A the_well dataset as ``(B, T, d0, d1, ...)`` (the ``trajectories`` and ``frames`` asked
    for), broadcast over a missing sample or time axis."""
    sample = bool(ds.attrs.get("sample_varying", True))
    timed = bool(ds.attrs.get("time_varying", True))
    if not all(bool(v) for v in np.atleast_1d(ds.attrs.get("dim_varying", [True]))):
        raise UserError(f"{ds.file.filename}: field {ds.name} does not vary along every axis")
    t = frames if timed else slice(None)
    if sample:
        arr = ds[:, t] if trajectories is None else ds[sorted(trajectories), t]
    else:
        arr = ds[t][None]
    arr = np.asarray(arr, dtype=np.float64)
    if not timed:
        arr = arr[:, None]
    n = n_traj if trajectories is None else len(trajectories)
    return np.broadcast_to(arr, (n, *arr.shape[1:])) if arr.shape[0] == 1 and n > 1 else arr


def _boundaries(f, canon: dict[str, str]) -> tuple[dict[str, bool], dict[str, str]]:
    periodic, notes = {"x": None, "y": None}, {}
    for name, group in (f.get("boundary_conditions") or {}).items():
        bc = _text(group.attrs.get("bc_type", "unknown"))[0]
        for dim in _text(group.attrs.get("associated_dims", [])):
            axis = canon.get(dim)
            if axis is None:
                continue
            ok = bc.lower() == "periodic"
            periodic[axis] = ok if periodic[axis] is None else periodic[axis] and ok
            notes[axis] = f"boundary_conditions/{name}: bc_type {bc}"
    for axis in "xy":
        if periodic[axis] is None:
            periodic[axis] = False
            notes[axis] = "the file declares no boundary condition (override: --periodic)"
    return periodic, notes


def _the_well(path: Path, trajectories, time_steps, dims) -> Foreign:
    with _h5py().File(path, "r") as f:
        spatial = _text(f["dimensions"].attrs["spatial_dims"])
        if len(spatial) != 2:
            raise UserError(f"data {path}: {len(spatial)} spatial dims {spatial}; the audit is 2-D")
        dm = resolve_dims(spatial, f"{path}: dimensions/spatial_dims", dims, required=("x", "y"))
        canon = {spatial[dm.axis[a]]: a for a in "xy"}  # file dim name -> x | y
        labels = [canon[d] for d in spatial]  # component i goes along spatial[i]
        first = next(
            f[g][k] for g in ("t0_fields", "t1_fields", "t2_fields") if g in f for k in f[g]
        )
        n_traj = int(f.attrs.get("n_trajectories", 0)) or first.shape[0]
        trajectories = pick(trajectories, n_traj, path)
        n_times = f["dimensions"]["time"].shape[0] if "time" in f["dimensions"] else None
        frames = select_frames(time_steps, n_times or first.shape[1])
        blocks, channels = [], []
        for order, group in enumerate(("t0_fields", "t1_fields", "t2_fields")):
            if group not in f:
                continue
            for name in _text(f[group].attrs.get("field_names", list(f[group].keys()))):
                arr = _read(f[group][name], trajectories, frames, n_traj)
                arr = arr.reshape(*arr.shape[:4], *(2,) * order)  # D*D -> (D, D)
                comps = [()] if order == 0 else [(i,) for i in range(2)]
                if order == 2:
                    comps = [(i, j) for i in range(2) for j in range(2)]
                for comp in comps:
                    blocks.append(arr[(..., *comp)] if comp else arr)
                    channels.append(_channel(name, order, "".join(labels[i] for i in comp)))
        periodic, notes = _boundaries(f, canon)
        lengths = {d: f["dimensions"][d].shape[0] for d in spatial if d in f["dimensions"]}
    if not blocks:
        raise UserError(f"data {path}: no fields in t0_fields, t1_fields or t2_fields")
    fields = np.stack(blocks, axis=2)  # (B, T, C, d0, d1)
    for i, d in enumerate(spatial):  # the declared order against the coordinates' lengths
        if d in lengths and lengths[d] != fields.shape[3 + i]:
            raise UserError(
                f"data {path}: spatial_dims {spatial} puts {d!r} on an axis of "
                f"{fields.shape[3 + i]} points, but dimensions/{d} has {lengths[d]}"
            )
    fields = np.transpose(fields, (0, 1, 2, 3 + dm.axis["y"], 3 + dm.axis["x"]))
    data = Foreign(np.ascontiguousarray(fields), channels, periodic, "the_well", path.stem, notes)
    data.log.append(f"the_well: spatial_dims {spatial} -> components paired by that order")
    return data


def _channel(name: str, order: int, label: str) -> dict:
    if order == 0:
        return {"name": name, "kind": "scalar"}
    kind = "vector" if order == 1 else "tensor"
    return {"name": f"{name}_{label}", "kind": kind, kind: name, "axis": label}


def _pdebench(path: Path, trajectories, time_steps, dims) -> Foreign:
    with _h5py().File(path, "r") as f:
        if "Vz" in f:
            raise UserError(f"data {path}: a 3-D PDEBench file (Vz); the audit is 2-D")
        chosen = pick(trajectories, f["density"].shape[0], path)
        idx = slice(None) if chosen is None else chosen
        frames = select_frames(time_steps, f["density"].shape[1])
        arrays = [np.asarray(f[k][idx, frames], dtype=np.float64) for k in _PDEBENCH]
    fields = np.stack(arrays, axis=2)  # (N, T, C, X, Y): x first
    fields = np.ascontiguousarray(np.swapaxes(fields, -1, -2))
    channels = [
        {"name": "density", "kind": "scalar"},
        {"name": "pressure", "kind": "scalar"},
        {"name": "Vx", "kind": "vector", "vector": "velocity", "axis": "x"},
        {"name": "Vy", "kind": "vector", "vector": "velocity", "axis": "y"},
    ]
    ok = "periodic" in path.name.lower()
    why = "file name says periodic" if ok else "file name does not say periodic"
    notes = {a: f"PDEBench: {why} (override: --periodic)" for a in "xy"}
    return Foreign(fields, channels, {"x": ok, "y": ok}, "pdebench", path.stem, notes)


def read_hdf5(path: Path, kind: str, trajectories, time_steps, dims) -> Foreign:
    """Read a the_well or PDEBench file (``kind`` from :func:`hdf5_kind`)."""
    return (_the_well if kind == "the_well" else _pdebench)(path, trajectories, time_steps, dims)
