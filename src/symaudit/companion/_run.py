"""What the companion stage reads from a trained run's data: its analysis trajectories, through
:mod:`symaudit.runs` (the run's persisted splits and the analysis batches every stage uses).
Imported by the workflow (``symaudit.companion.TABLES``), so torch is imported only on use."""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np

__all__ = ["analysis_trajectories"]


def analysis_trajectories(
    run_dir: str | os.PathLike,
    stores: Sequence[str | os.PathLike],
    batch: int,
    frames: int | None = None,
) -> np.ndarray:
    """The trajectories of analysis batch ``batch`` of a run (the k-th test trajectory of each
    class, from the run's persisted ``splits.json``): (class, frames, channel, y, x) float32,
    frames ``0 .. frames - 1`` (None: every frame of the stores).  The influence stage's
    inputs are frames t · S (:func:`symaudit.outputs.transition_frames`): example n = t + T ·
    class is ``[class, t · S]``."""
    from symaudit.runs import analysis_batch, load_splits  # torch: not at workflow parse time
    from symaudit.store import open_store

    if frames is None:
        frames = min(open_store(p).shape[1] for p in stores)
    inputs, targets = analysis_batch(list(stores), load_splits(run_dir), int(batch), frames - 1)
    classes = len(stores)
    x = inputs.numpy().reshape(classes, frames - 1, *inputs.shape[1:])
    last = targets.numpy().reshape(classes, frames - 1, *targets.shape[1:])[:, -1:]
    return np.concatenate([x, last], axis=1)
