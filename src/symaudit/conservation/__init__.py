"""Conserved quantities of gradient training under data symmetry, on linear periodic
convolutions where the answer is exact (derivation: ``docs/conservation.md``).

* :mod:`._theory` — wave-vector orbits, the twirled second moment, the exact GD factors and the
  closed form of L_equiv;
* :mod:`._train` — a full-batch trainer with orbit-complete / random / no augmentation, GD or
  Adam, MSE or log-cosh, recording every step's kernel;
* :mod:`._track` — the tracker: per-orbit direction defect, norm ratio and noise floor, and the
  balancedness of the two-layer model;
* :mod:`._data` — random fields and linear (D4-equivariant or D4-breaking) targets;
* :mod:`._influence` — the influence Π = aᵀ(JᵀJ/D + λI)⁻¹g of the linear model in closed form,
  per wave-vector (the exact oracle of the influence solver).

Layout everywhere ``(batch, channel, y, x)``; kernels ``(out, in, y, x)``.
"""

from symaudit.conservation._data import TARGETS, make_target, random_fields
from symaudit.conservation._influence import (
    linear_influence,
    linear_lambda_max,
    linear_metric_spectrum,
    linear_smse_gradients,
)
from symaudit.conservation._theory import (
    channel_anisotropy,
    equiv_closed_form,
    equiv_orbit_form,
    gd_factors,
    orbit_averaged,
    predicted_perp,
    safe_lr,
    twirled_second_moment,
    wavevector_orbits,
)
from symaudit.conservation._track import (
    DEFAULT_FLOOR,
    OrbitTrack,
    balancedness,
    balancedness_drift,
    track,
)
from symaudit.conservation._train import (
    AUGMENTATIONS,
    LOSSES,
    OPTIMIZERS,
    History,
    logcosh,
    train_full_batch,
)

__all__ = [
    "AUGMENTATIONS",
    "DEFAULT_FLOOR",
    "LOSSES",
    "OPTIMIZERS",
    "TARGETS",
    "History",
    "OrbitTrack",
    "balancedness",
    "balancedness_drift",
    "channel_anisotropy",
    "equiv_closed_form",
    "equiv_orbit_form",
    "gd_factors",
    "linear_influence",
    "linear_lambda_max",
    "linear_metric_spectrum",
    "linear_smse_gradients",
    "logcosh",
    "make_target",
    "orbit_averaged",
    "predicted_perp",
    "random_fields",
    "safe_lr",
    "track",
    "train_full_batch",
    "twirled_second_moment",
    "wavevector_orbits",
]
