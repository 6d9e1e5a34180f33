"""Atomic file writes that respect the umask: every output appears complete or not at all, and
with the permissions any other file created by the process would get.

A writer renders into a uniquely named temporary file in the destination directory (same
filesystem, so :func:`os.replace` is an atomic rename) and renames it into place.  ``mkstemp``
creates its file with mode 0600; it is given ``0666 & ~umask`` before the rename, so tables and
figures on shared project space stay readable by the group when the umask says so.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

__all__ = ["atomic_path", "current_umask", "write_atomic"]


def current_umask() -> int:
    """The process umask, read without changing it where Linux allows (``/proc``); elsewhere
    set and restored at once."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except OSError:
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, fsync: bool = False) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; on success give it the umask's mode and rename
    it onto ``path``; when the body raises, remove it.

    The temporary name keeps the final suffix (``.x.png.tmp`` would confuse writers that pick a
    format from the suffix).  ``fsync`` flushes the file to disk before the rename.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=path.suffix)
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        os.chmod(tmp, 0o666 & ~current_umask())
        if fsync:
            with open(tmp, "rb+") as fh:
                os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def write_atomic(path: str | os.PathLike, write: Callable[[Path], object]) -> Path:
    """Call ``write(tmp_path)`` and move the result onto ``path``; returns ``path``."""
    with atomic_path(path) as tmp:
        write(tmp)
    return Path(path)
