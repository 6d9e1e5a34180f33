"""What every foreign-data reader shares (:mod:`._data`, :mod:`._hdf5`): :class:`Foreign`, the
data set read, and the ``--trajectories`` / ``--time-steps`` selections (:func:`pick`,
:func:`select_frames`)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from symaudit.errors import UserError

__all__ = ["Foreign", "pick", "select_frames"]


@dataclass
class Foreign:
    """One foreign data set, read.

    fields : ``(trajectory, time, channel, y, x)`` float64.
    channels : one dict per channel: ``name``, ``kind`` and, for vector / tensor components,
        the object's name under ``vector`` / ``tensor`` and ``axis`` (``x``/``y``; ``xx``...).
    periodic : axis (``x``, ``y``) -> True when translations along it are a symmetry.
    notes : axis -> why it is (not) periodic; plus assumptions, one line each (``log``).
    """

    fields: np.ndarray
    channels: list[dict]
    periodic: dict[str, bool]
    source: str
    name: str
    notes: dict[str, str] = field(default_factory=dict)
    log: list[str] = field(default_factory=list)


def pick(trajectories, n: int, where) -> list[int] | None:
    """``--trajectories`` checked against the ``n`` trajectories of ``where``: sorted, unique
    (HDF5 reads them in increasing order), or None for all."""
    if trajectories is None:
        return None
    chosen = sorted({int(t) for t in trajectories})
    if not chosen or chosen[0] < 0 or chosen[-1] >= n:
        raise UserError(
            f"--trajectories: {where} has trajectories 0..{n - 1}, asked for "
            f"{chosen[:3]}{'...' if len(chosen) > 3 else ''}"
        )
    return chosen


def select_frames(text: str | None, n_times: int) -> slice:
    """``--time-steps``: ``"N"`` (the first N frames) or ``"A:B"`` (frames A..B-1)."""
    if not text:
        return slice(0, n_times)
    try:
        a, sep, b = str(text).partition(":")
        start, stop = (int(a), int(b)) if sep else (0, int(a))
    except ValueError:
        raise UserError(f"--time-steps {text!r}: expected N or A:B (frame numbers)") from None
    if not 0 <= start < stop <= n_times or stop - start < 2:
        raise UserError(f"--time-steps {text!r}: needs 2+ frames within 0..{n_times}")
    return slice(start, stop)
