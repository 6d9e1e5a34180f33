"""Atomic, umask-respecting file writes for tables and figures (see :mod:`symaudit._io`)."""

from symaudit._io import atomic_path, write_atomic

__all__ = ["atomic_path", "write_atomic"]
