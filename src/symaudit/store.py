"""Zarr v3 dataset stores: ``<name>.zarr`` holding ``fields`` of layout
``(trajectory, time, channel, y, x)``, float32, one frame per chunk and several whole
trajectories per shard, described by its group attrs (family, pde, channels, time, stats,
provenance).  Coordinate arrays ``time`` (physical), ``channel`` (names), ``y`` and ``x`` (cell
centres) and consolidated metadata make ``xr.open_zarr(path)`` open it as a Dataset.

Writes are atomic: a store is built under ``<name>.zarr.tmp-<host>-<pid>`` and renamed into
place only when complete, so a reader never sees half a store and an interrupted job leaves
nothing that Snakemake would mistake for output; a killed writer's temporary is removed by the
next build of the same store (``symaudit._io.remove_orphans``).  Workers write disjoint,
shard-aligned trajectory ranges.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from symaudit import baselines
from symaudit._io import remove_orphans, replace_dir, temporary_sibling
from symaudit._store_meta import (
    COORDINATES,  # noqa: F401  (re-exported: the reserved coordinate names)
    coordinates,
    decode_attrs,
    describe,
    encode_attrs,
    extra_dims,
    index_coordinates,
    put_array,
)
from symaudit.errors import UserError

__all__ = [
    "SCHEMA_VERSION",
    "Store",
    "StoreBuilder",
    "add_arrays",
    "check_finite",
    "check_output",
    "check_finite_frames",
    "git_revision",
    "open_store",
    "shard_trajectories",
    "stats_from_moments",
    "write_store",
]

SCHEMA_VERSION = 1
DIMS = ("trajectory", "time", "channel", "y", "x")


def git_revision() -> str:
    """The git revision of the source tree, or ``"unknown"`` outside a checkout."""
    try:
        here = Path(__file__).resolve().parent
        out = subprocess.run(
            ["git", "-C", str(here), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5
        )
        return out.stdout.strip() or "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def shard_trajectories(n_trajectories: int, frame_bytes: int, n_times: int) -> int:
    """Trajectories per shard: about 32 MiB per shard, at least 1, at most all."""
    per_traj = frame_bytes * n_times
    return int(max(1, min(n_trajectories, (32 << 20) // max(per_traj, 1))))


def check_finite(
    block: np.ndarray,
    where: str,
    first_trajectory: int | None = None,
    channels: Sequence[str] | None = None,
) -> None:
    """Raise a one-line error naming ``where`` when ``block`` holds NaN or inf; for a
    ``(trajectory, time, channel, y, x)`` block starting at store trajectory
    ``first_trajectory`` the message names the trajectory, frame and channel (``channels``:
    their names)."""
    bad = ~np.isfinite(block)
    if bad.any():
        idx = tuple(int(i) for i in np.argwhere(bad)[0])
        value = block[idx]
        if first_trajectory is not None and block.ndim == 5:
            i, t, c, y, x = idx
            name = channels[c] if channels is not None and c < len(channels) else c
            raise ValueError(
                f"{where}: trajectory {first_trajectory + i} frame {t} channel {name} holds "
                f"{value} at (y, x) = ({y}, {x}) ({int(bad.sum())} non-finite values in this "
                "block)"
            )
        raise ValueError(f"{where}: non-finite value {value} at index {idx}")


def moments(block: np.ndarray) -> dict:
    """Per-channel sufficient statistics of a ``(trajectory, time, channel, y, x)`` block,
    accumulated in float64 so partial results from workers combine exactly."""
    b = block.astype(np.float64, copy=False)
    return {
        "count": int(b.shape[0] * b.shape[1] * b.shape[3] * b.shape[4]),
        "sum": b.sum(axis=(0, 1, 3, 4)),
        "sumsq": np.square(b).sum(axis=(0, 1, 3, 4)),
    }


def stats_from_moments(parts: Sequence[Mapping], channels: Sequence[Mapping]) -> dict:
    """Combine per-worker moments into per-channel mean/std/rms plus the tied std of each
    vector (one std shared by its components, so normalisation commutes with D4)."""
    count = sum(p["count"] for p in parts)
    total = np.sum([p["sum"] for p in parts], axis=0)
    total_sq = np.sum([p["sumsq"] for p in parts], axis=0)
    mean = total / count
    meansq = total_sq / count
    std = np.sqrt(np.maximum(meansq - mean**2, 0.0))
    rms = np.sqrt(meansq)
    tied = {}
    for c, ch in enumerate(channels):
        if ch["kind"] == "vector":
            tied.setdefault(ch["vector"], []).append(c)
    return {
        "over": "all trajectories and times",
        "channel": [ch["name"] for ch in channels],
        "mean": mean.tolist(),
        "std": std.tolist(),
        "rms": rms.tolist(),
        # RMS of the components about zero: sqrt(mean(|w|^2) / 2)
        "vector_std": {v: float(np.sqrt(np.mean(meansq[idx]))) for v, idx in tied.items()},
    }


@dataclass
class Store:
    """A read-only view of a finished store."""

    path: Path
    array: object  # zarr.Array
    attrs: dict
    group: object = None  # zarr.Group: the store's other arrays (baselines, seeds, ...)

    @property
    def channels(self) -> list[dict]:
        return list(self.attrs["channels"])

    @property
    def family(self) -> str:
        return self.attrs["family"]

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.array.shape)

    def read(self, trajectories=slice(None), times=slice(None)) -> np.ndarray:
        """Read ``fields[trajectories, times]`` into memory as float32; a damaged shard (a
        truncated file, a checksum mismatch) is one line naming the store, the array and the
        shard."""
        if isinstance(trajectories, slice):
            return self._get(trajectories, times)
        index = np.asarray(trajectories, dtype=np.int64).reshape(-1)
        if index.size == 0:
            return self._get(slice(0, 0), times)
        # one basic selection per trajectory: zarr's oindex with an index array was 35x
        # slower here (bench/loader.py's stores: 6.2 s against 0.18 s for 26 trajectories)
        return np.stack([self._get(int(i), times) for i in index])

    def _get(self, trajectories, times) -> np.ndarray:
        try:
            return np.asarray(self.array[trajectories, times])
        except (IndexError, TypeError):
            raise
        except Exception as err:  # zarr/numcodecs raise many types for a damaged chunk
            first = trajectories.start or 0 if isinstance(trajectories, slice) else trajectories
            shard = int(self.array.shards[0]) if self.array.shards else 1
            where = "/".join(["fields", "c", str(first // shard), "0", "0", "0", "0"])
            reason = " ".join(f"{type(err).__name__}: {err}".split()).split(". ")[0][:120]
            raise UserError(
                f"store {self.path}: array 'fields' cannot be read at trajectory {first} "
                f"(shard file {where}; {reason}); the store is damaged - delete it and rebuild "
                "it (rerun the data stage)"
            ) from None


def check_output(path: str | os.PathLike) -> Path:
    """Refuse an output store path that exists and is not a Zarr store (a file, a directory
    of something else): building replaces the target wholesale, so a typo must never delete
    it.  Cheap: called before any simulation or reading."""
    path = Path(path)
    if path.exists() and not (path / "zarr.json").is_file():
        what = "a file" if path.is_file() else "a directory that is not a Zarr store"
        raise UserError(f"output store {path} exists and is {what}; refusing to replace it")
    return path


def open_store(path: str | os.PathLike) -> Store:
    """Open ``<name>.zarr`` read-only; a one-line error names the path when it is not a
    finished store."""
    import zarr

    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"store {path} does not exist (run the data stage first)")
    try:
        # the group's own metadata, not the consolidated copy (for xarray): 0.5 ms faster
        # here, and never stale
        group = zarr.open_group(path, mode="r", use_consolidated=False)
        array = group["fields"]
    except Exception as err:  # zarr raises several types for a broken store
        raise ValueError(f"store {path}: not a symaudit Zarr store ({err})") from None
    attrs = decode_attrs(group.attrs)  # the one reader of the group attrs (_store_meta)
    missing = {"family", "pde", "channels", "time", "stats", "provenance"} - set(attrs)
    if missing:
        raise ValueError(f"store {path}: missing attrs {sorted(missing)}")
    return Store(path, array, attrs, group)


class StoreBuilder:
    """Build a store in a temporary directory; :meth:`commit` renames it into place.

    >>> builder = StoreBuilder(path, n_trajectories, n_times, channels, resolution)
    >>> builder.write(0, block)        # any process, shard-aligned start
    >>> builder.commit(attrs, [moments(block), ...])
    """

    def __init__(
        self,
        path: str | os.PathLike,
        n_trajectories: int,
        n_times: int,
        channels: Sequence[Mapping],
        resolution: int,
        shard: int | None = None,
        tmp: str | os.PathLike | None = None,
        create: bool = True,
    ):
        import zarr

        self.path = Path(path)
        self.tmp = Path(tmp) if tmp else temporary_sibling(self.path)
        n_channels = len(channels)
        self.channel_names = [str(ch.get("name", i)) for i, ch in enumerate(channels)]
        frame = (1, 1, n_channels, resolution, resolution)
        self.shard = shard or shard_trajectories(
            n_trajectories, 4 * n_channels * resolution**2, n_times
        )
        self.shape = (n_trajectories, n_times, n_channels, resolution, resolution)
        if create:
            parent = self.path.parent
            try:
                parent.mkdir(parents=True, exist_ok=True)
            except OSError as err:
                raise PermissionError(
                    f"output directory {parent} cannot be created: {err}"
                ) from None
            if not os.access(parent, os.W_OK):
                raise PermissionError(f"output directory {parent} is not writable")
            check_output(self.path)
            remove_orphans(self.path)  # what a killed earlier run of this output left behind
            shutil.rmtree(self.tmp, ignore_errors=True)
            group = zarr.open_group(self.tmp, mode="w", zarr_format=3)
            group.create_array(
                "fields",
                shape=self.shape,
                chunks=frame,
                shards=(self.shard, n_times, n_channels, resolution, resolution),
                dtype="float32",
                dimension_names=DIMS,
                compressors=None,  # float fields barely compress (docs/data.md §4); speed wins
                fill_value=np.nan,
            )

    def write(self, start: int, block: np.ndarray) -> dict:
        """Write ``block`` (trajectory, time, channel, y, x) at trajectory ``start``; return its
        moments.  ``start`` must be shard-aligned so concurrent writers never share a shard."""
        import zarr

        if start % self.shard:
            raise ValueError(
                f"write at trajectory {start} is not aligned to shards of {self.shard}"
            )
        if block.shape[1:] != self.shape[1:]:
            raise ValueError(f"block shape {block.shape[1:]} != store frame shape {self.shape[1:]}")
        check_finite(block, f"store {self.path}", start, self.channel_names)
        block = block.astype(np.float32)
        array = zarr.open_array(self.tmp / "fields", mode="r+")
        array[start : start + len(block)] = block
        part = moments(block)
        # the persistence baseline of what was written, for the store's baselines
        part["start"], part[baselines.ARRAY] = start, baselines.persistence_smse(block)
        return part

    def commit(self, attrs: Mapping, parts: Sequence[Mapping], extra_arrays: Mapping | None = None):
        """Record attrs and statistics, then atomically move the store into place."""
        import zarr

        group = zarr.open_group(self.tmp, mode="r+")
        full = dict(attrs)
        if parts and all(baselines.ARRAY in p for p in parts):
            table = np.empty((self.shape[0], self.shape[1] - 1), dtype=np.float64)
            for p in parts:
                table[p["start"] : p["start"] + len(p[baselines.ARRAY])] = p[baselines.ARRAY]
            group.create_array(
                baselines.ARRAY,
                shape=table.shape,
                dtype=table.dtype,
                dimension_names=baselines.DIMS,
            )[...] = table
            full["baselines"] = baselines.baseline_attrs(table)
        full.setdefault("schema_version", SCHEMA_VERSION)
        full.setdefault("axis_order", list(DIMS))
        full["stats"] = stats_from_moments(parts, full["channels"])
        for name, (dims, values, meta) in coordinates(full, self.shape).items():
            put_array(group, name, dims, values, meta)
        for name, values in (extra_arrays or {}).items():
            dims, values = extra_dims(name, values, self.shape[0])
            put_array(group, name, dims, values)
        describe(group, full["channels"], baselines.ARRAY)
        group.attrs.update(encode_attrs(full))
        _consolidate(self.tmp)
        replace_dir(self.tmp, self.path, marker="zarr.json")  # never delete what is not a store
        return open_store(self.path)

    def abort(self) -> None:
        shutil.rmtree(self.tmp, ignore_errors=True)


def write_store(
    path: str | os.PathLike, fields: np.ndarray, attrs: Mapping, extra_arrays: Mapping | None = None
):
    """Write a whole ``(trajectory, time, channel, y, x)`` array as a store, atomically."""
    n, t, c, h, w = fields.shape
    if h != w:
        raise ValueError(f"fields must be square in (y, x), got {(h, w)}")
    builder = StoreBuilder(path, n, t, attrs["channels"], h)
    try:
        parts = [
            builder.write(s, fields[s : s + builder.shard]) for s in range(0, n, builder.shard)
        ]
        return builder.commit(attrs, parts, extra_arrays)
    except BaseException:
        builder.abort()
        raise


def add_arrays(path: str | os.PathLike, arrays: Mapping) -> Store:
    """Add arrays to a finished store (``{name: values}`` or ``{name: (dims, values)}``, dims as
    for ``extra_arrays`` of :meth:`StoreBuilder.commit`) and refresh its consolidated metadata,
    so ``xr.open_zarr`` and :func:`open_store` see them."""
    import zarr

    store = open_store(path)
    group = zarr.open_group(store.path, mode="r+", use_consolidated=False)
    for name, values in arrays.items():
        dims, values = extra_dims(name, values, store.shape[0])
        put_array(group, name, dims, values)
    index_coordinates(group)
    _consolidate(store.path)
    return open_store(store.path)


def _consolidate(path: Path) -> None:
    """Consolidated metadata (one read opens the store); zarr warns that v3 has no spec for it."""
    import warnings

    import zarr

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Consolidated metadata", category=UserWarning)
        zarr.consolidate_metadata(path)


def check_finite_frames(
    store: Store, trajectories: Sequence[int], first_frame: int, block: np.ndarray
) -> None:
    """Refuse non-finite data read from ``store``: ``block`` is ``(trajectory, time, channel, y,
    x)`` of store trajectories ``trajectories`` from frame ``first_frame`` on; a one-line error
    names the store, the trajectory, the frame and the channel of the first NaN/inf."""
    for i in range(len(block)):
        if np.isfinite(block[i]).all():
            continue
        bad = ~np.isfinite(block[i])
        t, c, y, x = (int(v) for v in np.argwhere(bad)[0])
        frame = first_frame + t
        times = store.attrs.get("time") or []
        at = f" (time {times[frame]:g})" if frame < len(times) else ""
        names = [ch.get("name", str(k)) for k, ch in enumerate(store.channels)]
        name = names[c] if c < len(names) else str(c)
        raise ValueError(
            f"store {store.path}: trajectory {int(trajectories[i])} frame {frame}{at} channel "
            f"{name} holds {block[i][t, c, y, x]} at (y, x) = ({y}, {x}) ({int(bad.sum())} "
            "non-finite values in this trajectory's frames read); refusing to use it - rebuild "
            "the store"
        )
