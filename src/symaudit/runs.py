"""A trained run, opened once: its identity, splits, analysis batches and device.

A run directory ``models/{dataset}/{model}/seed{seed}`` (see :mod:`symaudit.training`) holds
``splits.json`` and the checkpoints.  The analysis stages need the same four things from it;
this module is the one place that reads them:

* the identity (dataset, model, preset, seed) from the checkpoint's OWN record
  (``meta["run"]``, written by training); the directory layout is only a fallback for
  checkpoints made outside training;
* the persisted splits (:func:`load_splits`) and the analysis mini-batches built from the test
  trajectories (:func:`analysis_batch`, example order n = t + T·class, docs/algorithms.md §1.5);
* the device (:func:`symaudit._device.choose_device`) and the model's dtype, cast up to the
  analysis precision (``analysis.dtype``, :func:`analysis_dtype`; here, and nowhere else);
* :func:`per_class` (:mod:`symaudit.outputs`, the example order's home): ``(..., n)`` values
  back to ``(..., time, class)``.

It sits below the stages (it imports models and stores, never training), so influence and
equivariance need not import training to read a run.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from symaudit._device import choose_device
from symaudit.outputs import per_class, transition_frames
from symaudit.store import Store, check_finite_frames, open_store

__all__ = [
    "SPLITS_FILE",
    "RunIdentity",
    "TrainedRun",
    "ANALYSIS_DTYPES",
    "analysis_batch",
    "analysis_dtype",
    "frame_geometry",
    "load_splits",
    "open_run",
    "per_class",
    "run_identity",
]

SPLITS_FILE = "splits.json"

#: the precisions of the forward-pass analysis stages (config ``analysis.dtype``)
ANALYSIS_DTYPES = ("float32", "float64")


def analysis_dtype(trained: torch.dtype, requested: str | torch.dtype | None) -> torch.dtype:
    """The precision a model trained in ``trained`` is analysed in: ``requested`` (config
    ``analysis.dtype``: a name of :data:`ANALYSIS_DTYPES` or a torch dtype; None: ``trained``)
    when it is wider, else ``trained`` -- a model is cast up, never down (float32 on a
    float32-trained model: no cast, the numbers of a float32 study unchanged; float64: the
    float32 weights and batch exactly representable, the arithmetic float64)."""
    if requested is None:
        return trained
    if isinstance(requested, str):
        if requested not in ANALYSIS_DTYPES:
            raise ValueError(f"analysis dtype must be one of {ANALYSIS_DTYPES}, got {requested!r}")
        requested = getattr(torch, requested)
    wider = torch.finfo(requested).bits > torch.finfo(trained).bits
    return requested if wider else trained


@dataclass(frozen=True)
class RunIdentity:
    """Which run a checkpoint belongs to; ``seed`` is always an int."""

    dataset: str
    model: str
    seed: int
    preset: str | None = None

    def as_dict(self) -> dict:
        return {"dataset": self.dataset, "model": self.model, "seed": self.seed}


def _from_path(checkpoint: Path) -> dict:
    """dataset / model / seed from ``.../{dataset}/{model}/seed{seed}/<file>``, else {}."""
    parts = checkpoint.resolve().parts
    if len(parts) >= 4 and parts[-2].startswith("seed") and parts[-2][4:].isdigit():
        return {"dataset": parts[-4], "model": parts[-3], "seed": int(parts[-2][4:])}
    return {}


def run_identity(meta: Mapping, checkpoint: str | os.PathLike | None = None) -> RunIdentity:
    """The identity recorded in a checkpoint's ``meta``.

    Training stores it under ``meta["run"]`` (dataset, model, preset, seed);
    :func:`symaudit.models.load_checkpoint` adds the architecture under ``meta["model"]``.  A
    checkpoint saved by hand may carry ``dataset`` / ``seed`` at the top level instead; the
    run-directory layout of ``checkpoint`` fills what neither names.  A one-line error when
    something is still missing.
    """
    recorded = meta.get("run") if isinstance(meta.get("run"), Mapping) else meta
    spec = meta.get("model") if isinstance(meta.get("model"), Mapping) else {}
    guess = _from_path(Path(checkpoint)) if checkpoint is not None else {}
    # a variant (e.g. unet-aug) is labelled by its study name; the architecture is in ``spec``
    model = recorded.get("name") or recorded.get("model")
    if not isinstance(model, str):
        model = spec.get("name") or guess.get("model")
    found = {
        "dataset": recorded.get("dataset", guess.get("dataset")),
        "model": model,
        "seed": recorded.get("seed", guess.get("seed")),
    }
    missing = [k for k, v in found.items() if v is None]
    if missing:
        where = checkpoint if checkpoint is not None else "checkpoint meta"
        raise ValueError(f"{where}: the run's {', '.join(missing)} is recorded nowhere")
    preset = recorded.get("preset") or spec.get("preset")
    return RunIdentity(str(found["dataset"]), str(found["model"]), int(found["seed"]), preset)


def load_splits(run_dir: str | os.PathLike) -> dict[str, dict[str, list[int]]]:
    """The persisted splits of a training run: ``{family: {"train", "val", "test": [index...]}}``
    in the dataset group's class order (trajectory indices into each class store)."""
    path = Path(run_dir) / SPLITS_FILE
    if not path.exists():
        raise FileNotFoundError(f"splits file {path} does not exist (train the run first)")
    try:
        payload = json.loads(path.read_text())
        return {
            k: {s: list(v[s]) for s in ("train", "val", "test")}
            for k, v in payload["splits"].items()
        }
    except (json.JSONDecodeError, KeyError, TypeError) as err:
        raise ValueError(f"splits file {path}: malformed ({err})") from None


def analysis_batch(
    stores: Sequence[Store | str | os.PathLike],
    splits: Mapping[str, Mapping[str, Sequence[int]]],
    k: int,
    time_steps: int = 16,
    time_stride: int = 1,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Analysis mini-batch ``k`` (0-based) of a run, docs/algorithms.md §1.5.

    Batch k is the k-th TEST trajectory of each of the 3 classes: transition t = 0 ..
    time_steps - 1 has input frame ``t * time_stride`` and target frame ``t * time_stride + 1``
    (:func:`symaudit.outputs.transition_frames`; stride 1: inputs frames ``0 .. time_steps -
    1``, targets frames ``1 .. time_steps``).

    Parameters
    ----------
    stores : sequence of Store or path
        The dataset group's class stores, in class order.
    splits : mapping
        :func:`load_splits` of the run (``{family: {"test": [...]}}``).
    k : int
        Which test trajectory, 0-based (the reference's batches 1..18 are k = 0..17).
    time_steps : int
        Transitions per trajectory (16 in the reference).
    time_stride : int
        Frames between consecutive transitions' inputs (``analysis.time_stride``, default 1).

    Returns
    -------
    inputs, targets : torch.Tensor
        float32, ``(time_steps * 3, channel, y, x)``, example ``n = t + time_steps * class``
        (t fastest).
    """
    frames = transition_frames(time_steps, time_stride)
    needed = int(frames[-1]) + 2  # frames 0 .. the last target frame
    inputs, targets = [], []
    for item in stores:
        store = item if isinstance(item, Store) else open_store(item)
        if store.family not in splits:
            raise ValueError(f"store {store.path}: family {store.family!r} is not in the splits")
        test = list(splits[store.family]["test"])
        if not 0 <= k < len(test):
            raise ValueError(
                f"analysis batch k={k}: class {store.family} has {len(test)} test trajectories"
            )
        if store.shape[1] < needed:
            stride = f" at time_stride {time_stride}" if time_stride != 1 else ""
            raise ValueError(
                f"store {store.path} has {store.shape[1]} time steps; batch needs {needed}"
                f" ({time_steps} transitions{stride})"
            )
        block = store.read([test[k]], slice(0, needed))
        check_finite_frames(store, [test[k]], 0, block)
        traj = block[0]  # (time, channel, y, x)
        traj = torch.from_numpy(np.ascontiguousarray(traj, dtype=np.float32))
        index = torch.from_numpy(frames)
        inputs.append(traj[index])
        targets.append(traj[index + 1])
    return torch.cat(inputs), torch.cat(targets)


def frame_geometry(stores: Sequence[Store]) -> dict:
    """``{"dt", "extent"}`` of a dataset group's class stores
    (:func:`symaudit.groups.frame_geometry`), the keywords a boost needs; every store must have
    the first one's, or a boost would move the classes by different velocities (one line
    naming the store that differs)."""
    from symaudit import groups

    found = [groups.frame_geometry(s.attrs) for s in stores]
    for s, geometry in zip(stores[1:], found[1:], strict=True):
        if geometry != found[0]:
            raise ValueError(
                f"store {s.path}: frame spacing/domain {geometry} differ from "
                f"{stores[0].path}'s {found[0]}; a boost needs one frame geometry"
            )
    return found[0]


@dataclass
class TrainedRun:
    """A trained model with everything the analysis stages read from its run."""

    checkpoint: Path
    run_dir: Path
    model: torch.nn.Module  # eval mode, on ``device``, in the analysis precision (:attr:`dtype`)
    meta: dict
    identity: RunIdentity
    splits: dict
    stores: list[Store]
    device: torch.device
    #: the checkpoint's dtype (the precision it was trained in); :attr:`dtype` may be wider
    trained_dtype: torch.dtype | None = None

    @property
    def dtype(self) -> torch.dtype:
        """The precision the model computes in (and :meth:`batch` delivers): the analysis
        precision, :func:`analysis_dtype`."""
        return next(self.model.parameters()).dtype

    def precision_attrs(self) -> dict[str, str]:
        """The per-job files' record of precision: ``model_dtype``, the checkpoint's (as
        trained), and ``analysis_dtype``, the forward passes' (:attr:`dtype`; the findings
        judge the exact rows by it, :func:`symaudit.validation.exact_tolerance`)."""
        trained = self.trained_dtype or self.dtype
        return {
            "model_dtype": str(trained).removeprefix("torch."),
            "analysis_dtype": str(self.dtype).removeprefix("torch."),
        }

    @property
    def channels(self) -> list:
        return self.stores[0].channels

    @property
    def families(self) -> list[str]:
        return [s.family for s in self.stores]

    def frame_geometry(self) -> dict:
        """The class stores' :func:`frame_geometry`."""
        return frame_geometry(self.stores)

    def batch(
        self, k: int, time_steps: int, time_stride: int = 1
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Analysis batch ``k``: ``(classes * time_steps, channel, y, x)`` inputs and targets on the
        run's device in the model's dtype, example n = t + time_steps * class (input frame
        t * time_stride: :func:`analysis_batch`)."""
        inputs, targets = analysis_batch(self.stores, self.splits, int(k), time_steps, time_stride)
        to = {"device": self.device, "dtype": self.dtype}
        return inputs.to(**to), targets.to(**to)

    def batches(
        self, ks: Sequence[int], time_steps: int, time_stride: int = 1
    ) -> Iterator[tuple[int, torch.Tensor, torch.Tensor]]:
        """``(k, inputs, targets)`` for each analysis batch ``k`` in ``ks``."""
        for k in ks:
            yield (int(k), *self.batch(k, time_steps, time_stride))


def open_run(
    checkpoint: str | os.PathLike,
    stores: Sequence[str | os.PathLike | Store],
    run_dir: str | os.PathLike | None = None,
    device: str | torch.device | None = "auto",
    dtype: str | torch.dtype | None = None,
) -> TrainedRun:
    """Open a trained run: the model of ``checkpoint`` on ``device``, its identity, the splits
    of ``run_dir`` (default: the checkpoint's directory) and the class ``stores`` (in class
    order).  ``dtype`` (config ``analysis.dtype``; None: the checkpoint's): the precision of
    the forward passes, the one place a model is cast (:func:`analysis_dtype`: up, never
    down); :meth:`TrainedRun.batch` casts the analysis batch to it."""
    from symaudit.models import load_checkpoint

    checkpoint = Path(checkpoint)
    if not checkpoint.exists():
        raise FileNotFoundError(f"checkpoint {checkpoint} does not exist (run the train stage)")
    run_dir = Path(run_dir) if run_dir is not None else checkpoint.parent
    device = choose_device(device)
    model, meta = load_checkpoint(checkpoint)
    trained = next(model.parameters()).dtype
    precision = analysis_dtype(trained, dtype)
    if precision != trained:
        model = model.to(precision)
    opened = [s if isinstance(s, Store) else open_store(s) for s in stores]
    return TrainedRun(
        checkpoint=checkpoint,
        run_dir=run_dir,
        model=model.to(device).eval(),
        meta=dict(meta),
        identity=run_identity(meta, checkpoint),
        splits=load_splits(run_dir),
        stores=opened,
        device=device,
        trained_dtype=trained,
    )
