"""Atomic file writes that respect the umask: every output appears complete or not at all, and
with the permissions any other file created by the process would get.

A writer renders into a uniquely named temporary file in the destination directory (same
filesystem, so :func:`os.replace` is an atomic rename) and renames it into place.  ``mkstemp``
creates its file with mode 0600; it is given ``0666 & ~umask`` before the rename, so tables and
figures on shared project space stay readable by the group when the umask says so.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import shutil
import socket
import tempfile
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

__all__ = [
    "atomic_dir",
    "atomic_path",
    "current_umask",
    "move_into",
    "remove_orphans",
    "replace_dir",
    "temporary_sibling",
    "write_atomic",
]


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


def replace_dir(
    tmp: str | os.PathLike, path: str | os.PathLike, *, marker: str | None = None
) -> Path:
    """Move the finished directory ``tmp`` onto ``path`` (same filesystem), removing an
    existing ``path`` first.  With ``marker``, an existing ``path`` is removed only when it holds
    that file (never delete what this code did not write); otherwise :class:`FileExistsError`."""
    tmp, path = Path(tmp), Path(path)
    if path.exists():
        if marker is not None and not (path / marker).exists():
            raise FileExistsError(f"{path} exists and has no {marker}; remove it")
        shutil.rmtree(path)
    os.replace(tmp, path)
    return path


def move_into(paths: Iterable[str | os.PathLike], directory: str | os.PathLike) -> list[Path]:
    """Move each file of ``paths`` into ``directory`` (created if needed; same filesystem), each
    by one rename, so a file is either still in place or wholly moved; returns the new paths."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    moved = []
    for path in map(Path, paths):
        os.replace(path, directory / path.name)
        moved.append(directory / path.name)
    return moved


def _host() -> str:
    return re.sub(r"[^A-Za-z0-9.]", "_", socket.gethostname()) or "host"


def temporary_sibling(path: str | os.PathLike) -> Path:
    """The temporary name a directory output ``path`` is built under by this process:
    ``<name>.tmp-<host>-<pid>`` (host and pid let :func:`remove_orphans` tell a killed
    writer's leftovers from a running one's)."""
    path = Path(path)
    return path.with_name(f"{path.name}.tmp-{_host()}-{os.getpid()}")


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def remove_orphans(path: str | os.PathLike) -> list[Path]:
    """Remove the temporaries of ``path`` that a killed writer on this host left behind
    (``<name>.tmp-<host>-<pid>``, :func:`atomic_dir`'s ``.<name>.tmp-<host>-<pid>``, and the
    older host-less ``<name>.tmp-<pid>`` and ``.<name>.tmp<pid>``) whose process is gone; a
    running writer's, this process's and another host's are kept.  Logs one warning per
    removal; returns the removed paths."""
    path = Path(path)
    if not path.parent.is_dir():
        return []
    name = re.escape(path.name)
    # <name>.tmp-[<host>-]<pid> (StoreBuilder) and .<name>.tmp[-<host>-]<pid> (atomic_dir)
    pattern = re.compile(rf"\.?{name}\.tmp-?(?:(?P<host>[^/]+)-)?(?P<pid>\d+)")
    removed = []
    for candidate in path.parent.iterdir():
        m = pattern.fullmatch(candidate.name)
        if not m or m["host"] not in (None, _host()):
            continue
        pid = int(m["pid"])
        if pid == os.getpid() or _running(pid):
            continue
        if candidate.is_dir() and not candidate.is_symlink():
            shutil.rmtree(candidate, ignore_errors=True)
        else:
            candidate.unlink(missing_ok=True)
        logging.getLogger("symaudit.io").warning(
            f"removed {candidate}: an unfinished temporary output of {path} left by process "
            f"{pid}, which is no longer running"
        )
        removed.append(candidate)
    return removed


@contextlib.contextmanager
def atomic_dir(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a fresh temporary directory next to ``path``; on success move it onto ``path``
    (:func:`replace_dir`), when the body raises remove it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_orphans(path)
    tmp = path.with_name(f".{path.name}.tmp-{_host()}-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    try:
        yield tmp
        replace_dir(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
