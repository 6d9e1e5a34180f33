"""One run's model-dependent companion diagnostics in one pass (one job per run): rollouts of
the final model, the Gauss–Newton spectrum at every epoch, and the identity element's raw
influence at the epochs before the last (whose influence the influence stage computes).

The NetCDF written by :func:`run_diagnostics` (``symaudit companion run``) holds

* ``rollout_error`` (batch, class, start, horizon): :func:`rollout_errors` of final.pt;
* ``eigenvalue`` (epoch, batch, mode), ``rank`` and ``lambda_max`` (epoch, batch):
  :func:`gradient_span_spectrum` of each epoch's checkpoint (NaN past the rank);
* with earlier epochs: ``pi_raw`` (influence_epoch, batch, bra_time, bra_class, ket_time,
  ket_class), the raw identity influence Π of those checkpoints (the influence stage's solve
  and SMSE bras on the untransformed batch, :func:`symaudit.influence.influence_matrix`),
  and ``ket_converged`` (influence_epoch, batch, ket_time, ket_class);
* attrs ``train_transitions`` (the training horizon) and ``last_epoch``.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

__all__ = ["checkpoint_path", "run_diagnostics"]

_LOG = logging.getLogger("symaudit.companion")


def checkpoint_path(run_dir: str | os.PathLike, epoch: int, last_epoch: int) -> Path:
    """final.pt at the last epoch, else training's kept ``ckpt_epoch{E:04d}.pt``."""
    name = "final.pt" if epoch == last_epoch else f"ckpt_epoch{int(epoch):04d}.pt"
    path = Path(run_dir) / name
    if not path.exists():
        raise FileNotFoundError(
            f"checkpoint {path} does not exist (training keeps epoch 1, every "
            "train.checkpoint_every and the last)"
        )
    return path


def _grid(values: np.ndarray, time_steps: int, classes: int) -> np.ndarray:
    """(CT, CT) with n = t + T · class -> (bra_time, bra_class, ket_time, ket_class)."""
    return values.reshape(classes, time_steps, classes, time_steps).transpose(1, 0, 3, 2)


def run_diagnostics(
    run_dir: str | os.PathLike,
    stores: Sequence[str | os.PathLike],
    batches: Sequence[int],
    time_steps: int,
    last_epoch: int,
    earlier_epochs: Sequence[int],
    influence: Mapping,
    train_transitions: int,
    device=None,
):
    """The diagnostics of one run as an ``xarray.Dataset`` (see the module docstring).

    ``influence``: the influence settings resolved by the influence stage
    (``symaudit.influence._stage.resolve_settings``), one damping value."""
    import torch
    import xarray as xr

    from symaudit.influence import influence_matrix
    from symaudit.models import load_checkpoint

    from ._rollout import rollout_errors
    from ._run import analysis_trajectories
    from ._spectrum import ENERGY, gradient_span_spectrum

    if any(e >= last_epoch for e in earlier_epochs):
        raise ValueError(f"earlier epochs {list(earlier_epochs)} must be below {last_epoch}")
    device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    t = int(time_steps)
    trajectories = [analysis_trajectories(run_dir, stores, b) for b in batches]
    epochs = [*earlier_epochs, last_epoch]
    c = len(stores)  # classes: 3, the validation group NSK 1
    n = c * t
    eig = np.full((len(epochs), len(batches), n), np.nan)
    rank = np.zeros((len(epochs), len(batches)), dtype=np.int64)
    top = np.zeros((len(epochs), len(batches)))
    pi_raw = np.zeros((len(earlier_epochs), len(batches), t, c, t, c))
    converged = np.zeros((len(earlier_epochs), len(batches), t, c), dtype=bool)
    rollout = None
    for i, epoch in enumerate(epochs):
        model, _ = load_checkpoint(checkpoint_path(run_dir, epoch, last_epoch))
        model = model.to(device).eval()
        param = next(model.parameters())
        if epoch == last_epoch:
            clock = time.perf_counter()
            rollout = np.stack([rollout_errors(model, traj, t) for traj in trajectories])
            _LOG.info(f"epoch {epoch}: rollouts {time.perf_counter() - clock:.1f} s")
        for k, traj in enumerate(trajectories):
            traj = torch.as_tensor(traj[:, : t + 1]).to(device=param.device, dtype=param.dtype)
            x = traj[:, :t].reshape(-1, *traj.shape[2:])  # example n = t + T · class
            y = traj[:, 1:].reshape(-1, *traj.shape[2:])
            clock = time.perf_counter()
            found = gradient_span_spectrum(model, x, y)
            _LOG.info(
                f"epoch {epoch} batch {batches[k]}: spectrum (rank {found['rank']}) "
                f"{time.perf_counter() - clock:.1f} s"
            )
            eig[i, k, : found["rank"]] = found["eigenvalues"]
            rank[i, k], top[i, k] = found["rank"], found["lambda_max"]
            if epoch == last_epoch:
                continue
            result = influence_matrix(
                model,
                x,
                x,
                y,
                x,
                y,
                damping=influence["damping"],
                rtol=influence["rtol"],
                normalization=influence["normalization"],
                method=influence["method"],
                preconditioner_rank=influence["preconditioner_rank"],
                max_iterations=influence["max_iterations"],
                fail_on_unconverged=influence["fail_on_unconverged"],
                galerkin_energy=influence["galerkin_energy"],
            )
            _LOG.info(
                f"epoch {epoch} batch {batches[k]}: identity influence "
                f"{time.perf_counter() - clock:.1f} s (spectrum included)"
            )
            pi_raw[i, k] = _grid(result.values.double().cpu().numpy(), t, c)
            ok = np.array([r.converged for r in result.records]).reshape(c, t).T
            converged[i, k] = ok
    classes = [Path(p).name.removesuffix(".zarr") for p in stores]
    data = {
        "rollout_error": (("batch", "class", "start", "horizon"), rollout),
        "eigenvalue": (("epoch", "batch", "mode"), eig),
        "rank": (("epoch", "batch"), rank),
        "lambda_max": (("epoch", "batch"), top),
    }
    coords = {
        "batch": list(batches),
        "class": classes,
        "start": np.arange(t),
        "horizon": np.arange(1, rollout.shape[3] + 1),
        "epoch": epochs,
        "mode": np.arange(n),
    }
    if earlier_epochs:
        dims = ("influence_epoch", "batch", "bra_time", "bra_class", "ket_time", "ket_class")
        data["pi_raw"] = (dims, pi_raw)
        data["ket_converged"] = (("influence_epoch", "batch", "ket_time", "ket_class"), converged)
        coords.update(
            influence_epoch=list(earlier_epochs),
            bra_time=np.arange(t),
            ket_time=np.arange(t),
            bra_class=classes,
            ket_class=classes,
        )
    return xr.Dataset(
        data,
        coords=coords,
        attrs={
            "train_transitions": int(train_transitions),
            "last_epoch": int(last_epoch),
            "rollout_error": "cumulative one-step SMSE of final.pt's rollout from the true "
            "state at `start` (NaN past the stores' frames)",
            "eigenvalue": "of Q (J^T J / D) Q^T, Q the span of the per-example SMSE "
            f"gradients (energy rule {ENERGY:g}), descending, NaN past the rank",
            "pi_raw": "raw identity influence of the earlier epochs' checkpoints",
            "damping": str(dict(influence["damping"])),
        },
    )
