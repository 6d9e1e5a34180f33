"""The companion paper's diagnostics (Amarel et al., "Generalization vs. Memorization in
Autoregressive Deep Learning: Or, Examining Temporal Decay of Gradient Coherence"): how the
influence of one training signal spreads across time, across initial-condition classes and
across input distance, from the identity element's influence of the influence stage.

Pipeline (``symaudit companion run`` / ``tables``, rules ``companion_run`` and
``companion_tables`` behind ``stage_companion``)::

    per run: final.pt and the kept checkpoints at companion.epochs
      --companion run-->  results/{study}/companion/{dataset}/{model}/seed{s}/diagnostics.nc
                          (rollouts, Gauss–Newton spectra, earlier-epoch identity influence)
    + results/{study}/influence/{dataset}/{model}/seed{s}/<first set>_chunk000.nc (element e),
      the analysis inputs and metrics.csv of every run
      --companion tables-->  results/{study}/tables/<TABLES>.csv, figures/companion_*.png

Statistics on arrays (:mod:`._stats`): :func:`two_time_map`, :func:`class_transfer`,
:func:`time_lag`, :func:`diagonal_means`, :func:`input_distances`, :func:`log_edges`,
:func:`distance_bins`, :func:`quantiles`.  Rollouts: :func:`rollout_errors`,
:func:`cross_time_ratio`, :func:`pearson`.  Per run: :func:`run_diagnostics`,
:func:`gradient_span_spectrum`.  Tables: :func:`companion_tables`,
:func:`write_tables`, :func:`read_identity_influence`, :data:`TABLES`.  Figures:
:func:`make_figures`, :data:`FIGURES`.
"""

from ._diagnostics import run_diagnostics
from ._figures import FIGURES, make_figures
from ._rollout import cross_time_ratio, pearson, rollout_errors
from ._spectrum import gradient_span_spectrum
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
from ._tables import (
    TABLES,
    CompanionRun,
    companion_tables,
    read_diagnostics,
    read_identity_influence,
    write_tables,
)

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
    "gradient_span_spectrum",
    "input_distances",
    "log_edges",
    "make_figures",
    "pearson",
    "quantiles",
    "read_diagnostics",
    "read_identity_influence",
    "rollout_errors",
    "run_diagnostics",
    "time_lag",
    "two_time_map",
    "write_tables",
]
