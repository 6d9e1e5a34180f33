"""Influence for a foreign model (``--influence``; docs/audit.md §7), through the studies' solver.

Per trajectory b of the file (the audit's analysis batch: its transitions are the kets) and
element g: Π^g = :func:`symaudit.influence.influence_matrix` with the Gauss-Newton metric over
the trajectory's inputs, kets (x_n, y_n) and bras (g x_n, g y_n); every bra row standardised over
its kets (:func:`symaudit.influence.standardise`, the reference's normalisation) and the diagonal
Π̃^g[n, n] kept -- the studies' statistic (docs/algorithms.md §6), so the table comes from
:func:`symaudit.aggregate.influence_statistics`.

Everything goes through ``torch.func``: a TorchScript model cannot, and is refused in one line.
Complex parameters (neuraloperator's spectral weights) enter the metric as real pairs
(:class:`symaudit.influence.ParameterSpace`).  A model that writes into a tensor in place under
``vmap`` (neuraloperator's ``SpectralConv``) is differentiated one example at a time.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np
import torch
import xarray as xr

from symaudit import groups
from symaudit.errors import UserError
from symaudit.settings import DAMPING_BY_METHOD, INFLUENCE

__all__ = ["check_differentiable", "influence_diagonals", "influence_study"]

log = logging.getLogger("symaudit.audit")


def check_differentiable(kind: str) -> None:
    if kind == "torchscript":
        raise UserError(
            "--influence needs torch.func, which cannot differentiate a TorchScript model "
            "(give it as python:pkg.module:factory or export:FILE)"
        )


def _solve(model, xb, yb, bx, by, chunk: int):
    from symaudit.influence import influence_matrix

    return influence_matrix(
        model, xb, xb, yb, bx, by,
        damping=DAMPING_BY_METHOD[None], rtol=INFLUENCE["rtol"],
        normalization=INFLUENCE["normalization"], chunk_size=chunk,
        fail_on_unconverged=False, max_iterations=INFLUENCE["max_iterations"],
    )  # fmt: skip


def influence_diagonals(
    model,
    inputs: np.ndarray,
    targets: np.ndarray,
    index: np.ndarray,
    elements: Sequence[str],
    in_channels: Sequence[dict],
    out_channels: Sequence[dict],
    *,
    device="cpu",
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Standardised diagonals ``(E, n)`` (examples in ``index`` order), and per trajectory the
    unconverged ket solves and the ket count."""
    from symaudit.equivariance import placement
    from symaudit.influence import standardise

    x_all = torch.as_tensor(inputs, dtype=torch.float64)
    _, dtype = placement(model, x_all)
    trajs = np.unique(index[:, 0])
    diag = np.full((len(elements), len(index)), np.nan)
    unconverged, kets = np.zeros(len(trajs), np.int64), np.zeros(len(trajs), np.int64)
    chunk = 8
    for t, b in enumerate(trajs):
        rows = np.flatnonzero(index[:, 0] == b)
        xb = x_all[rows].to(device)
        yb = torch.as_tensor(targets[rows], dtype=torch.float64, device=device)
        bx = torch.cat([groups.act(g, xb, in_channels) for g in elements]).to(dtype)
        by = torch.cat([groups.act(g, yb, out_channels) for g in elements]).to(dtype)
        xb, yb = xb.to(dtype), yb.to(dtype)
        try:
            result = _solve(model, xb, yb, bx, by, chunk)
        except RuntimeError as err:
            if "vmap" not in str(err) or chunk == 1:
                raise
            log.info("the model cannot run under vmap: gradients one example at a time")
            chunk = 1
            result = _solve(model, xb, yb, bx, by, chunk)
        std = standardise(result.values).reshape(len(elements), len(rows), len(rows))
        diag[:, rows] = torch.diagonal(std, dim1=-2, dim2=-1).cpu().numpy()
        unconverged[t] = sum(not r.converged for r in result.records)
        kets[t] = len(result.records)
    return diag, unconverged, kets


def influence_study(diag, unconverged, kets, elements, index) -> xr.Dataset:
    """The diagonals as the studies' influence Dataset (:func:`influence_statistics`'s input):
    ``diag`` dims ``(seed, element, batch, transition, class)``, counts ``(seed, batch)``."""
    trajs, frames = np.unique(index[:, 0]), np.unique(index[:, 1])
    grid = diag.reshape(len(elements), len(trajs), len(frames))
    coords = {
        "seed": [0],
        "element": list(elements),
        "batch": trajs,
        "transition": frames,
        "class": [0],
    }
    return xr.Dataset(
        {
            "diag": (("seed", "element", "batch", "transition", "class"), grid[None, ..., None]),
            "n_unconverged": (("seed", "batch"), unconverged[None]),
            "n_kets": (("seed", "batch"), kets[None]),
        },
        coords=coords,
    )
