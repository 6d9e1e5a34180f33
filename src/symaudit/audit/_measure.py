"""Per-element measurements on a foreign model (docs/audit.md §4).

For every analysis example n (a transition: K input frames -> the next frame) and element g:

* ``relative``: R_g(n) = SMSE(f(g x_n), g y_n) / SMSE(f(x_n), y_n), the studies' statistic
  (:func:`symaudit.equivariance.relative_error`; exactly 1 for the identity);
* ``residual``: ||f(g x_n) - g f(x_n)|| / ||f(x_n)|| (norms over channel, y, x), the direct
  equivariance defect, compared with the tolerance of the model's dtype (:data:`TOLERANCE`).

The group acts on float64 arrays (it only permutes, flips, rolls and negates: exact in any
dtype), the transformed input is then cast to the model's dtype, and every loss and norm is
float64: what remains is the model's own round-off.  Layouts: inputs ``(n, K*C, y, x)`` (K
frames stacked frame-major), targets and outputs ``(n, C_out, y, x)``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from symaudit import groups
from symaudit.equivariance import evaluating, is_identity, placement
from symaudit.errors import UserError
from symaudit.losses import smse

__all__ = [
    "TOLERANCE",
    "Measured",
    "history_channels",
    "measure",
    "persistence_smse",
    "tolerance",
    "transitions",
]

#: relative equivariance residual an exactly equivariant model stays within, per dtype
TOLERANCE = {
    torch.float64: 1e-10,
    torch.float32: 1e-4,
    torch.float16: 1e-2,
    torch.bfloat16: 5e-2,
}


def tolerance(dtype: torch.dtype) -> float:
    return TOLERANCE.get(dtype, 1e-4)


@dataclass
class Measured:
    """``relative`` and ``residual``: ``(E, n)`` float64 arrays, rows in ``elements`` order;
    ``index``: ``(n, 2)`` (trajectory, input frame) of every example."""

    elements: list[str]
    relative: np.ndarray
    residual: np.ndarray
    index: np.ndarray
    dtype: str
    tolerance: float


def history_channels(channels: Sequence[dict], history: int) -> list[dict]:
    """The channel list of K frames stacked frame-major: each frame's vectors and tensors are
    objects of their own (``velocity@0`` for the oldest frame)."""
    if history == 1:
        return [dict(c) for c in channels]
    out = []
    for k in range(history):
        for c in channels:
            c = dict(c, name=f"{c['name']}@{k}")
            if c["kind"] in ("vector", "tensor"):
                c[c["kind"]] = f"{c[c['kind']]}@{k}"
            out.append(c)
    return out


def transitions(
    fields: np.ndarray, history: int, outputs: Sequence[int]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every transition of ``fields`` ``(trajectory, time, channel, y, x)``: inputs
    ``(n, K*C, y, x)``, targets ``(n, len(outputs), y, x)`` and their (trajectory, frame)
    index, trajectory-major, time fastest."""
    b, t, c, ny, nx = fields.shape
    starts = range(history - 1, t - 1)
    xs, ys, index = [], [], []
    for i in range(b):
        for s in starts:
            xs.append(fields[i, s - history + 1 : s + 1].reshape(history * c, ny, nx))
            ys.append(fields[i, s + 1, list(outputs)])
            index.append((i, s))
    return np.stack(xs), np.stack(ys), np.asarray(index, dtype=np.int64)


def _norm(a: torch.Tensor) -> torch.Tensor:
    return a.flatten(1).norm(dim=1)


def measure(
    model,
    inputs: np.ndarray,
    targets: np.ndarray,
    elements: Sequence[str],
    in_channels: Sequence[dict],
    out_channels: Sequence[dict],
    *,
    device: torch.device | str = "cpu",
    batch_size: int = 16,
) -> tuple[np.ndarray, np.ndarray, torch.dtype, np.ndarray]:
    """(relative, residual) ``(E, n)`` of ``model`` on the examples (module docstring), the
    model's dtype, and SMSE(f(x), y) ``(n,)`` (the quality gate's numerator)."""
    x_all = torch.as_tensor(inputs, dtype=torch.float64)
    y_all = torch.as_tensor(targets, dtype=torch.float64)
    _, dtype = placement(model, x_all)
    shape = tuple(x_all.shape[-2:])
    n, e = x_all.shape[0], len(elements)
    relative, residual, baseline = np.empty((e, n)), np.empty((e, n)), np.empty(n)
    with evaluating(model):
        for start in range(0, n, batch_size):
            x = x_all[start : start + batch_size].to(device)
            y = y_all[start : start + batch_size].to(device)
            fx = model(x.to(dtype)).to(torch.float64)
            if fx.shape != y.shape:
                raise UserError(
                    f"the model returns {tuple(fx.shape)} for targets {tuple(y.shape)} "
                    "(batch, channel, y, x): say which channels it predicts with --outputs"
                )
            base, scale = smse(fx, y, reduction="per_example"), _norm(fx)
            baseline[start : start + len(x)] = base.cpu().numpy()
            for i, g in enumerate(elements):
                if is_identity(g, shape):
                    fgx = fx
                else:
                    fgx = model(groups.act(g, x, in_channels).to(dtype)).to(torch.float64)
                gy = groups.act(g, y, out_channels)
                rel = smse(fgx, gy, reduction="per_example") / base
                res = _norm(fgx - groups.act(g, fx, out_channels)) / scale
                relative[i, start : start + len(x)] = rel.cpu().numpy()
                residual[i, start : start + len(x)] = res.cpu().numpy()
    return relative, residual, dtype, baseline


def persistence_smse(inputs: np.ndarray, targets: np.ndarray, history: int, outputs) -> np.ndarray:
    """SMSE(s_t, s_{t+1}) per example: the last input frame's ``outputs`` channels predicting
    the target (persistence, the studies' baseline)."""
    c = inputs.shape[1] // history
    last = inputs[:, (history - 1) * c + np.asarray(list(outputs))]
    return smse(torch.as_tensor(last), torch.as_tensor(targets), reduction="per_example").numpy()
