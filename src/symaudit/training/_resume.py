"""Which checkpoint a resumed run starts from: the newest READABLE one.

A checkpoint truncated by a kill during the copy to scratch or by a full disk must not stop a
resume: it is passed over with one log line and the run resumes from the one before it (the
epochs after it are trained again and its file is overwritten, atomically, when reached).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from symaudit.models import UnreadableCheckpoint, read_checkpoint

__all__ = ["newest_checkpoint"]


def newest_checkpoint(
    out: Path, final: str, pattern: re.Pattern, say: Callable[[str], None] = lambda m: None
) -> tuple[Path, dict] | tuple[None, None]:
    """The readable checkpoint of ``out`` with the most epochs and its payload; ``final`` (the
    finished run's file) wins ties.  Epoch checkpoints are the files matching ``pattern``
    (group 1: the epoch).  (``final`` is not always the newest: a finished run being extended
    writes epoch checkpoints beyond it before the new ``final`` replaces it.)"""
    if not out.exists():
        return None, None
    found = [(int(m[1]), 0, p, None) for p in out.glob("*.pt") if (m := pattern.match(p.name))]
    if (out / final).exists() and (payload := _readable(out / final, say)) is not None:
        found.append((int(payload["state"]["epoch"]), 1, out / final, payload))
    for _, _, path, payload in sorted(found, key=lambda f: f[:2], reverse=True):
        if (payload := payload or _readable(path, say)) is not None:
            return path, payload
    return None, None


def _readable(path: Path, say: Callable[[str], None]) -> dict | None:
    try:
        return read_checkpoint(path)
    except UnreadableCheckpoint as err:
        say(f"train: {err}; passed over: falling back to the previous checkpoint, if any")
        return None
