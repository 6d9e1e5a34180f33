"""The one user-facing error type.

A :class:`UserError` is a mistake the user can fix (a bad setting, a missing input, a wrong
device); the ``symaudit`` command prints it as one line without a traceback and exits with code
2.  It subclasses :class:`ValueError`, so code and tests that catch ``ValueError`` keep working.
"""

from __future__ import annotations

__all__ = ["UserError"]


class UserError(ValueError):
    """An error the user can fix; printed as one line without a traceback."""
