"""Forward-pass equivariance error and the twirl decomposition.

* :func:`relative_error` / :func:`relative_errors` — the paper's relative SMSE,
  SMSE(f(g x), g y) / SMSE(f(x), y) per example (docs/algorithms.md §5.1), for one element or for
  many elements with f(x) computed once and several transformed copies per forward pass; the
  elements include ``boost(m,n)`` and ``scale(alpha)`` (acting on transitions), whose raw value
  an exactly equivariant model does not score as 1.
* :func:`normalised_relative_error` (and ``relative_errors(..., normalised=True)``) — the
  relative error with the untransformed target's SMSE weights and the prediction pulled back by
  g^-1: exactly 1 for an exactly equivariant model under every element (docs/algorithms.md
  §5.3).
* :func:`twirl_decomposition` — the twisted predictions g^-1 f(g x) over a finite group, their
  mean mu(x) (the twirled, exactly equivariant prediction) and the exact split
  L = L_mean + L_equiv of the SMSE-weighted loss (twirling paper, Proposition 1), with the
  test-time-twirled loss.
* :func:`lie_derivative` — the normalised Lie derivative ||L f(x)|| / ||f(x)|| along x or y
  translations (Gruver et al. 2023), per example, through the band-limited sub-cell shift
  :func:`shift_subcell`; :func:`subcell_profile`, the relative error R(eps) under sub-cell
  shifts (docs/algorithms.md §9).
* :func:`sweep` — the engine both use; the stage CLI (:mod:`symaudit.equivariance.cli`) calls it
  once per analysis batch to get the relative errors and the decomposition from the same
  forward passes.
* :func:`placement` / :func:`evaluating` — the (device, dtype) a model computes in, and a
  context that runs it in eval mode without gradients (also used by :mod:`symaudit.testing`).

Layout everywhere: ``(batch, channel, y, x)``; element names as in :mod:`symaudit.groups`.
"""

from symaudit.equivariance._api import (
    decomposition,
    normalised_relative_error,
    relative_error,
    relative_errors,
    twirl_decomposition,
)
from symaudit.equivariance._lie import lie_derivative, shift_subcell, subcell_profile
from symaudit.equivariance._sweep import (
    SweepResult,
    check_group,
    evaluating,
    is_identity,
    placement,
    sweep,
)

__all__ = [
    "SweepResult",
    "check_group",
    "decomposition",
    "evaluating",
    "is_identity",
    "lie_derivative",
    "normalised_relative_error",
    "placement",
    "relative_error",
    "relative_errors",
    "shift_subcell",
    "subcell_profile",
    "sweep",
    "twirl_decomposition",
]
