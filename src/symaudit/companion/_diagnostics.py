"""One run's model-dependent companion diagnostics in one pass (one job per run): rollouts of
the final model, the Gauss–Newton spectrum at every epoch, and the identity element's raw
influence at the epochs before the last (whose influence the influence stage computes).

The NetCDF written by :func:`run_diagnostics` (``symaudit companion run``) holds

* ``rollout_error`` (batch, class, start, horizon): :func:`rollout_errors` of final.pt from
  the analysis transitions' input frames (coordinate ``start``: frame t · time_stride,
  :func:`symaudit.outputs.transition_frames`; ``horizon``: model steps = frames);
* ``eigenvalue`` (epoch, batch, mode), ``rank`` and ``lambda_max`` (epoch, batch):
  :func:`gradient_span_spectrum` of each epoch's checkpoint (NaN past the rank);
* with earlier epochs: ``pi_raw`` (influence_epoch, batch, bra_transition, bra_class,
  ket_transition, ket_class), the raw identity influence Π of those checkpoints (the influence
  stage's solve and SMSE bras on the untransformed batch,
  :func:`symaudit.influence.influence_matrix`), and ``ket_converged`` (influence_epoch, batch,
  ket_transition, ket_class);
* attrs ``dataset``, ``model``, ``seed`` (the run, from its final checkpoint),
  ``train_transitions`` (the training horizon), ``last_epoch`` and ``time_stride`` (the
  analysis frames: the spectrum and influence examples are the influence stage's).

The format is declared in :data:`symaudit.outputs.DIAGNOSTICS`.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from symaudit.outputs import (
    FINAL_CHECKPOINT,
    PI_DIMS,
    checkpoint_name,
    per_class,
    to_grid,
    transition_coords,
    transition_frames,
)

__all__ = ["checkpoint_path", "run_diagnostics"]

_LOG = logging.getLogger("symaudit.companion")


def checkpoint_path(run_dir: str | os.PathLike, epoch: int, last_epoch: int) -> Path:
    """final.pt at the last epoch, else training's kept ``ckpt_epoch{E:04d}.pt``
    (:func:`symaudit.outputs.checkpoint_name`)."""
    name = FINAL_CHECKPOINT if epoch == last_epoch else checkpoint_name(epoch)
    path = Path(run_dir) / name
    if not path.exists():
        raise FileNotFoundError(
            f"checkpoint {path} does not exist (training keeps epoch 1, every "
            "train.checkpoint_every and the last)"
        )
    return path


@dataclass
class _Arrays:
    """The diagnostics' arrays of one run, filled checkpoint by checkpoint (layouts: module
    docstring); ``time_steps`` T, ``classes`` C and ``time_stride`` of the analysis batches."""

    time_steps: int
    classes: int
    eig: np.ndarray  # (epoch, batch, mode), NaN past the rank
    rank: np.ndarray  # (epoch, batch)
    top: np.ndarray  # (epoch, batch): lambda_max
    pi_raw: np.ndarray  # (influence_epoch, batch, bra_transition, bra_class, ket_tr., ket_class)
    converged: np.ndarray  # (influence_epoch, batch, ket_transition, ket_class)
    rollout: np.ndarray | None = None  # (batch, class, start, horizon)
    time_stride: int = 1  # transition t: input frame t * time_stride (transition_frames)

    @classmethod
    def empty(
        cls, epochs: int, earlier: int, batches: int, time_steps: int, classes: int, stride=1
    ):
        t, c = time_steps, classes
        return cls(
            time_steps=t,
            classes=c,
            eig=np.full((epochs, batches, c * t), np.nan),
            rank=np.zeros((epochs, batches), dtype=np.int64),
            top=np.zeros((epochs, batches)),
            pi_raw=np.zeros((earlier, batches, t, c, t, c)),
            converged=np.zeros((earlier, batches, t, c), dtype=bool),
            time_stride=int(stride),
        )

    def measure(
        self, i: int, epoch: int, model, trajectories, batches, influence, mode: str, chunk: int
    ) -> None:
        """Epoch row ``i`` from that checkpoint's ``model``: per analysis batch (``trajectories``
        of :func:`analysis_trajectories`) the gradient-span spectrum and, with ``influence``
        (the solve's keywords; None at the last epoch), the raw identity influence Π and which
        kets converged; ``mode``, ``chunk``: the spectrum's operator mode and vmap chunk
        (``influence.operator_mode``, ``influence.vmap_chunk``)."""
        import torch

        from symaudit.influence import influence_matrix

        from ._spectrum import gradient_span_spectrum

        t, c = self.time_steps, self.classes
        frames = torch.from_numpy(transition_frames(t, self.time_stride))
        param = next(model.parameters())
        for k, traj in enumerate(trajectories):
            traj = torch.as_tensor(traj[:, : int(frames[-1]) + 2])
            traj = traj.to(device=param.device, dtype=param.dtype)
            x = traj[:, frames].reshape(-1, *traj.shape[2:])  # example n = t + T · class
            y = traj[:, frames + 1].reshape(-1, *traj.shape[2:])
            clock = time.perf_counter()
            found = gradient_span_spectrum(model, x, y, mode=mode, chunk_size=chunk)
            _LOG.info(
                f"epoch {epoch} batch {batches[k]}: spectrum (rank {found['rank']}) "
                f"{time.perf_counter() - clock:.1f} s"
            )
            self.eig[i, k, : found["rank"]] = found["eigenvalues"]
            self.rank[i, k], self.top[i, k] = found["rank"], found["lambda_max"]
            if influence is None:
                continue
            result = influence_matrix(model, x, x, y, x, y, **influence)
            _LOG.info(
                f"epoch {epoch} batch {batches[k]}: identity influence "
                f"{time.perf_counter() - clock:.1f} s (spectrum included)"
            )
            self.pi_raw[i, k] = to_grid(result.values.double().cpu().numpy(), t, c)
            self.converged[i, k] = per_class([r.converged for r in result.records], t, c, None)

    def dataset(
        self,
        batches,
        class_names,
        epochs,
        earlier,
        *,
        identity: dict,
        train_transitions,
        last_epoch,
        damping: str,
    ):
        """The ``xarray.Dataset`` of the module docstring (``identity``: the run's dataset,
        model and seed; ``damping``: the influence settings' damping, recorded as text)."""
        import xarray as xr

        from ._spectrum import ENERGY

        t = self.time_steps
        data = {
            "rollout_error": (("batch", "class", "start", "horizon"), self.rollout),
            "eigenvalue": (("epoch", "batch", "mode"), self.eig),
            "rank": (("epoch", "batch"), self.rank),
            "lambda_max": (("epoch", "batch"), self.top),
        }
        coords = {
            "batch": list(batches),
            "class": class_names,
            "start": transition_frames(t, self.time_stride),
            "horizon": np.arange(1, self.rollout.shape[3] + 1),
            "epoch": epochs,
            "mode": np.arange(self.classes * t),
        }
        if earlier:
            dims = ("influence_epoch", *PI_DIMS[1:])
            data["pi_raw"] = (dims, self.pi_raw)
            data["ket_converged"] = (dims[:2] + dims[4:], self.converged)
            coords.update(
                influence_epoch=list(earlier),
                **transition_coords(
                    t, "bra_transition", "ket_transition", time_stride=self.time_stride
                ),
                bra_class=class_names,
                ket_class=class_names,
            )
        attrs = {
            **identity,
            "train_transitions": int(train_transitions),
            "last_epoch": int(last_epoch),
            "rollout_error": "cumulative one-step SMSE of final.pt's rollout from the true "
            "state at frame `start` (NaN past the stores' frames)",
            "eigenvalue": "of Q (J^T J / D) Q^T, Q the span of the per-example SMSE "
            f"gradients (energy rule {ENERGY:g}), descending, NaN past the rank",
            "pi_raw": "raw identity influence of the earlier epochs' checkpoints",
            "damping": damping,
            "time_stride": self.time_stride,
        }
        return xr.Dataset(data, coords=coords, attrs=attrs)


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
    time_stride: int = 1,
):
    """The diagnostics of one run as an ``xarray.Dataset`` (see the module docstring).

    ``influence``: the influence settings resolved by the influence stage
    (``symaudit.influence._stage.resolve_settings``), one damping value; ``time_stride``: the
    analysis frames (``analysis.time_stride``), those of the influence stage."""
    from symaudit._device import choose_device
    from symaudit.influence import SolveOptions
    from symaudit.models import load_checkpoint
    from symaudit.runs import run_identity

    from ._rollout import rollout_errors
    from ._run import analysis_trajectories

    if any(e >= last_epoch for e in earlier_epochs):
        raise ValueError(f"earlier epochs {list(earlier_epochs)} must be below {last_epoch}")
    device = choose_device(device)
    t = int(time_steps)
    solve = SolveOptions.keywords(influence)
    trajectories = [analysis_trajectories(run_dir, stores, b) for b in batches]
    epochs = [*earlier_epochs, last_epoch]
    arrays = _Arrays.empty(
        len(epochs), len(earlier_epochs), len(batches), t, len(stores), time_stride
    )
    starts = transition_frames(t, time_stride)  # rollouts from the analysis input frames
    for i, epoch in enumerate(epochs):
        path = checkpoint_path(run_dir, epoch, last_epoch)
        model, meta = load_checkpoint(path)
        model = model.to(device).eval()
        last = epoch == last_epoch
        if last:
            identity = run_identity(meta, path).as_dict()
            clock = time.perf_counter()
            arrays.rollout = np.stack(
                [rollout_errors(model, traj, starts) for traj in trajectories]
            )
            _LOG.info(f"epoch {epoch}: rollouts {time.perf_counter() - clock:.1f} s")
        # influence.operator_mode and .vmap_chunk: the spectrum's operator too
        mode, chunk = solve["operator_mode"], solve["chunk_size"]
        arrays.measure(i, epoch, model, trajectories, batches, None if last else solve, mode, chunk)
    classes = [Path(p).name.removesuffix(".zarr") for p in stores]
    return arrays.dataset(
        batches,
        classes,
        epochs,
        earlier_epochs,
        identity=identity,
        train_transitions=train_transitions,
        last_epoch=last_epoch,
        damping=str(dict(influence["damping"])),
    )
