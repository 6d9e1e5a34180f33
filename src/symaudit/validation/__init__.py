"""The validation study's findings: one row per check of a known answer, from the study's tables.

Input: a study's ``tables/`` directory as written by ``symaudit aggregate`` and
``symaudit quality`` (``equivariance_{set}.csv``, ``influence_{set}.csv``, ``twirl_d4.csv``,
``influence_robustness_medians.csv``, ``model_quality.csv``, optionally
``quality_status.yaml``).  Nothing is recomputed from per-job stores: a finding says what the
study's own tables say.  Output (``symaudit findings``, :mod:`symaudit.validation.cli`):
``findings.csv`` with columns :data:`COLUMNS`, ``case, kind, expected, measured, lo, hi,
verdict, holds``, one row per check, in the case order of :data:`CASES` (derivations in
docs/validation.md).  ``kind`` is exact, derived or descriptive; ``verdict`` (holds, fails,
inconclusive; ``descriptive`` for descriptive rows) judges exact rows by their point value and
derived rows by their interval ``lo``..``hi``; ``holds`` is the point comparison
(``_rows.verdict``; :func:`tally` counts only exact and derived rows as known answers):

* ``quality gate`` (``_quality``): every run passes val SMSE <= bound x persistence;
* cases 1 and 2 (``_exact``): the D4-twirled control and the UNet's stride-multiple shifts are
  exact, and its period R(k + stride) = R(k) (``_reciprocity``);
* case 2r (``_reciprocity``): reciprocity on symmetric data, per seed (derived);
* case 3 (``_physics``): the Kolmogorov forcing breaks D4 x translations to G(N, k);
* case 4 (``_augmentation``): augmentation against its base model;
* case 5 (``_reference``): the exact influence against the reference's Galerkin approximation;
* case 6 (``_pairing``): the NS pairing artefact ``p*g*p``; its control (``_control``,
  descriptive): a diagonal anisotropy of the data (NSD) under the correct pairing;
* case 7 (``_kinematic``, with ``--kinematic``): boosts, mass scaling and the Lie derivative,
  small float64 computations of the findings step itself (not from the tables);
* case 8 (``_law``; its rows for the ``kolmogorov`` set under case 3, for ``d4_swapped`` and
  ``negation`` under case 6): the law R_g ~ 1 + c_g / rho from ``commutator_law.csv``, the
  generating solver's commutator joined with the measured errors (derived where the solver term
  dominates), and the solver's own commutator rows (exact).

A check whose input table (or model, or column) is absent gets ONE row with ``measured`` =
``not measured: <why>``, ``holds`` = False and verdict ``inconclusive`` (``descriptive`` for a
descriptive row): a finding is never silently missing.  Row
helpers and the tolerances (:data:`TOLERANCE`, :data:`FORWARD_TOLERANCE` with
:func:`exact_tolerance`, the exact forward rows' by the precision a table records,
:data:`INSIDE_TOL`, :data:`LARGE`) have one home, ``_rows``.
"""

from __future__ import annotations

from ._findings import CASES, COLUMNS, build_findings, write_findings
from ._rows import (
    EQUAL_TOL,
    FORWARD_TOLERANCE,
    INSIDE_TOL,
    KINDS,
    LARGE,
    TOLERANCE,
    VERDICTS,
    exact_tolerance,
    family_tally,
    tally,
    tally_line,
)

__all__ = [
    "CASES",
    "COLUMNS",
    "EQUAL_TOL",
    "FORWARD_TOLERANCE",
    "INSIDE_TOL",
    "KINDS",
    "LARGE",
    "TOLERANCE",
    "VERDICTS",
    "build_findings",
    "exact_tolerance",
    "family_tally",
    "tally",
    "tally_line",
    "write_findings",
]
