"""Training of the emulators: seeded, resumable, optionally distributed (torchrun DDP).

Public API
----------
* :func:`train` — one (dataset group, model, seed) run into a run directory (see
  :mod:`symaudit.training._loop` for what the directory holds).
* :func:`resolve_settings`, :data:`DEFAULTS` — the config's ``train`` section.  Weight decay
  defaults to 1e-4, the reference CODE's ``AdamW(5e-4, 1e-4)``; the paper TEXT says 1e-6.
* :func:`load_splits`, :func:`analysis_batch` — the persisted splits of a run and the
  analysis mini-batches built from its test trajectories (used by the influence and
  equivariance stages).
* :func:`equivariance_fraction` — the minimal L_equiv / L tracker used at checkpoints.
* :func:`augment`, :func:`orbit_complete`, :func:`make_splits` — building blocks, exposed for
  tests and ablations.

Layouts: stores ``(trajectory, time, channel, y, x)``; batches ``(batch, channel, y, x)``.
"""

from symaudit.training._data import (
    analysis_batch,
    augment,
    load_splits,
    make_splits,
    orbit_complete,
)
from symaudit.training._equiv import equivariance_fraction
from symaudit.training._loop import TrainingDiverged, checkpoint_name, train
from symaudit.training._settings import DEFAULTS, resolve_settings

__all__ = [
    "DEFAULTS",
    "TrainingDiverged",
    "analysis_batch",
    "augment",
    "checkpoint_name",
    "equivariance_fraction",
    "load_splits",
    "make_splits",
    "orbit_complete",
    "resolve_settings",
    "train",
]
