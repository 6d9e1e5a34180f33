"""The companion paper's diagnostics (Amarel et al., "Generalization vs. Memorization in
Autoregressive Deep Learning: Or, Examining Temporal Decay of Gradient Coherence"): how the
influence of one training signal spreads across time, across initial-condition classes and
across input distance, from the identity element's influence of the influence stage.

Pipeline (``symaudit companion rollout`` / ``tables``, rules ``companion_rollout``,
``companion_solve``, ``companion_identity``, ``companion_tables`` behind ``stage_companion``)::

    results/{study}/influence/{dataset}/{model}/seed{s}/<first set>_chunk000.nc  (element e)
    + per run: analysis trajectories, metrics.csv, rollouts (companion/.../rollout.nc) and
      the identity influence at each configured epoch (companion/.../epoch{E}/identity.nc)
      --> results/{study}/tables/{two_time_map, class_transfer, time_lag, influence_distance,
          conservation_two_time_map, training_curves, rollout_error, rollout_correlation,
          influence_dynamics}.csv
      --> results/{study}/figures/companion_*.png

Statistics on arrays (:mod:`._stats`): :func:`two_time_map`, :func:`class_transfer`,
:func:`time_lag`, :func:`diagonal_means`, :func:`input_distances`, :func:`log_edges`,
:func:`distance_bins`, :func:`quantiles`.  Rollouts: :func:`rollout_errors`,
:func:`cross_time_ratio`, :func:`pearson`.  Tables: :func:`companion_tables`,
:func:`write_tables`, :func:`read_identity_influence`, :data:`TABLES`.  Figures:
:func:`make_figures`, :data:`FIGURES`.
"""

from ._figures import FIGURES, make_figures
from ._rollout import cross_time_ratio, pearson, rollout_errors
from ._stats import (
    QUANTILES,
    class_transfer,
    diagonal_means,
    distance_bins,
    input_distances,
    log_edges,
    quantiles,
    time_lag,
    two_time_map,
)
from ._tables import TABLES, CompanionRun, companion_tables, read_identity_influence, write_tables

__all__ = [
    "FIGURES",
    "QUANTILES",
    "TABLES",
    "CompanionRun",
    "class_transfer",
    "companion_tables",
    "cross_time_ratio",
    "diagonal_means",
    "distance_bins",
    "input_distances",
    "log_edges",
    "make_figures",
    "pearson",
    "quantiles",
    "read_identity_influence",
    "rollout_errors",
    "time_lag",
    "two_time_map",
    "write_tables",
]
