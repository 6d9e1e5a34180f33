"""The findings table: every case's rows, in case order, from a study's ``tables/`` directory.

:data:`CASES` is the registry: case label -> ``rows(tables, options)``, in the order of
``findings.csv``; ``options`` are :func:`build_findings`' keyword arguments.  Each case family
lives in its own module and imports only :mod:`._rows` (case 4 also the aggregation's readers
of the runs' files and its bootstrap: its statistic is paired by seed, which the tables pool).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path

import pandas as pd

from symaudit._io import write_atomic

from ._augmentation import CASE4, case4_rows
from ._control import control_rows
from ._exact import CASE1, CASE2, case1_rows, case2_rows
from ._kinematic import CASE7, case7_rows
from ._law import CASE8, law_rows
from ._pairing import CASE6, case6_rows, fingerprint_rows
from ._physics import CASE3, case3_rows
from ._quality import CASE as QUALITY
from ._quality import quality_rows
from ._reciprocity import CASE_R, symmetric_rows
from ._reference import CASE5, case5_rows, ordering_rows
from ._rows import TOLERANCE, as_descriptive

#: columns of ``findings.csv`` (``kind``, ``lo``, ``hi``, ``verdict``: ``_rows``)
COLUMNS = ("case", "kind", "expected", "measured", "lo", "hi", "verdict", "holds")

#: the label of the law rows of each case (symaudit.validation._law)
_LAW_LABELS = {"3": CASE3, "6": CASE6, "8": CASE8}

#: case label -> rows(tables, options), in the order of findings.csv.  The quality gate (a
#: precondition) and case 5 (expectations without a derivation, docs/validation.md) are
#: descriptive as a whole (but case 5's ordering rows: exact); the other modules classify
#: their rows themselves (case 4: derived where paired over seeds, else descriptive).
CASES: Mapping[str, Callable[[Path, dict], list[dict]]] = {
    QUALITY: lambda tables, o: as_descriptive(quality_rows(tables, o["max_persistence_ratio"])),
    CASE1: lambda tables, o: case1_rows(tables, o["twirled_models"], o["tol"]),
    CASE2: lambda tables, o: case2_rows(tables, o["unet_models"], o["stride"], o["tol"]),
    CASE_R: lambda tables, o: symmetric_rows(tables, o.get("resolution")),
    CASE3: lambda tables, o: case3_rows(tables) + law_rows(tables, "3", _LAW_LABELS),
    # the runs' own per-seed files under tables/.. (the tables pool the seeds)
    CASE4: lambda tables, o: case4_rows(tables, o.get("augmented"), o.get("bootstrap")),
    CASE5: lambda tables, o: (
        as_descriptive(case5_rows(tables, o.get("primary_damping"), o.get("resolution")))
        + ordering_rows(tables)
    ),  # method and damping separated: one exact row per run
    # the control (a diagonal anisotropy of the data, correct pairing; NSD): descriptive rows,
    # none in a study without such a dataset
    CASE6: lambda tables, o: (
        case6_rows(tables)
        + law_rows(tables, "6", _LAW_LABELS)
        + fingerprint_rows(tables)
        + control_rows(tables)
    ),
    # computed by the findings step itself, only when asked (``kinematic``: about 20 s)
    CASE7: lambda tables, o: case7_rows() if o.get("kinematic") else [],
    # the law R ~ 1 + c_g / rho from tables/commutator_law.csv (analysis.commutator): the
    # solver's commutator rows and the law rows of the sets of no other case
    CASE8: lambda tables, o: law_rows(tables, "8", _LAW_LABELS, o.get("resolution")),
}


def build_findings(
    tables_dir: str | os.PathLike,
    *,
    max_persistence_ratio: float | None = None,
    twirled_models: Iterable[str] | None = None,
    unet_models: Sequence[str] = ("unet",),
    stride: int | None = None,
    tol: float = TOLERANCE,
    **settings,
) -> pd.DataFrame:
    """The findings table (:data:`COLUMNS`) of the study whose tables are in ``tables_dir``.

    Parameters
    ----------
    max_persistence_ratio
        The quality bound; default: ``quality_status.yaml``'s, else 1.
    twirled_models
        Models of case 1; default: every ``twirled-*`` model in ``equivariance_d4.csv``.
    unet_models
        Models of case 2 (UNets).
    stride
        Total down-sampling factor of case 2; default ``symaudit.models.UNet.stride``.
    tol
        Relative tolerance of the exact cases 1 and 2.
    **settings
        ``augmented`` (case 4: augmented model -> its base; default ``X-aug`` -> ``X``),
        ``bootstrap`` (case 4: the interval settings, config ``analysis.bootstrap``, a
        :class:`~symaudit.aggregate._bootstrap.Bootstrap`; default its defaults),
        ``primary_damping`` (case 5: the primary λ), ``resolution`` (case 5: the grid of
        G(N, k); default 32) and ``kinematic`` (case 7: compute the boost, scaling and Lie
        derivative rows; default off).
    """
    tables = Path(tables_dir)
    if not tables.is_dir():
        raise FileNotFoundError(f"tables directory {tables} does not exist")
    options = {
        "max_persistence_ratio": max_persistence_ratio,
        "twirled_models": twirled_models,
        "unet_models": unet_models,
        "stride": stride,
        "tol": tol,
        **settings,
    }
    rows = [r for rows in CASES.values() for r in rows(tables, options)]
    return pd.DataFrame(rows, columns=list(COLUMNS))


def write_findings(df: pd.DataFrame, path: str | os.PathLike) -> Path:
    """Write the findings table atomically (CSV)."""
    return write_atomic(path, lambda tmp: df.to_csv(tmp, index=False))
