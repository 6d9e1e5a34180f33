"""The one place that turns a device request into a :class:`torch.device`."""

from __future__ import annotations

import torch

from symaudit.errors import UserError

__all__ = ["choose_device"]


def choose_device(name: str | torch.device | None = "auto") -> torch.device:
    """``auto`` (or None): ``cuda`` when available, else ``cpu``; otherwise ``cpu``, ``cuda`` or
    ``cuda:i``, checked: a CUDA request on a machine without CUDA is a :class:`UserError`."""
    if name is None or name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise UserError(f"device {name!r}: expected auto, cpu or cuda[:i]") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise UserError(f"device {name}: CUDA is not available on this machine")
    return device
