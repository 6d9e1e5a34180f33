"""Atomic, umask-respecting file writes for tables and figures (see :mod:`symaudit._io`)."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from symaudit._io import atomic_path, write_atomic

from ._layout import FIGURE_SUFFIXES

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["atomic_path", "save_figure", "write_atomic"]


def save_figure(
    fig: Figure,
    out_dir: str | os.PathLike,
    stem: str,
    formats: Iterable[str] = FIGURE_SUFFIXES,
    dpi: int = 200,
) -> list[Path]:
    """Write ``fig`` as ``<out_dir>/<stem>.<fmt>`` for each format, atomically."""
    written = []
    for fmt in formats:
        fmt = fmt.lstrip(".")
        path = Path(out_dir) / f"{stem}.{fmt}"
        write_atomic(path, lambda tmp, fmt=fmt: fig.savefig(tmp, format=fmt, dpi=dpi))
        written.append(path)
    return written
