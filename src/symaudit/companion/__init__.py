"""The companion paper's diagnostics (Amarel et al., "Generalization vs. Memorization in
Autoregressive Deep Learning: Or, Examining Temporal Decay of Gradient Coherence"): how the
influence of one training signal spreads across time, across initial-condition classes and
across input distance, from the identity element's influence of the influence stage.

Pipeline (``symaudit companion``, rule ``companion`` behind the target ``stage_companion``)::

    results/{study}/influence/{dataset}/{model}/seed{s}/<first set>_chunk000.nc  (element e)
    + the run's analysis inputs and metrics.csv
      --> results/{study}/tables/{two_time_map, class_transfer, time_lag, influence_distance,
          conservation_two_time_map, training_curves}.csv
      --> results/{study}/figures/companion_*.png

Statistics on arrays (:mod:`._stats`): :func:`two_time_map`, :func:`class_transfer`,
:func:`time_lag`, :func:`input_distances`, :func:`log_edges`, :func:`distance_bins`,
:func:`quantiles`.  Tables: :func:`companion_tables`, :func:`write_tables`,
:func:`read_identity_influence`, :data:`TABLES`.  Figures: :func:`make_figures`,
:data:`FIGURES`.
"""

from ._figures import FIGURES, make_figures
from ._stats import (
    QUANTILES,
    class_transfer,
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
    "distance_bins",
    "input_distances",
    "log_edges",
    "make_figures",
    "quantiles",
    "read_identity_influence",
    "time_lag",
    "two_time_map",
    "write_tables",
]
