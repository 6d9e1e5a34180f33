"""The validation study's findings: one row per check of a known answer, from the study's tables.

Input: a study's ``tables/`` directory as written by ``symaudit aggregate`` and
``symaudit quality`` (``equivariance_{set}.csv``, ``influence_{set}.csv``, ``model_quality.csv``,
optionally ``quality_status.yaml``).  Nothing is recomputed from per-job stores: a finding says
what the study's own tables say.  Output: ``findings.csv`` with columns :data:`COLUMNS`,
``case, expected, measured, holds``, one row per check, in case order:

* ``quality``: every run passes the quality gate, val SMSE <= bound x persistence
  (``model_quality.csv``, column ``ratio``).
* case 1, exact control: a D4-twirled model (``twirled-*``) has relative equivariance error
  1 +- ``tol`` for EVERY example and every D4 element (columns ``min``/``max`` of
  ``equivariance_d4.csv``), and the median standardised self-influence of every D4 element
  equals e's within ``tol`` relative (``influence_d4.csv``).
* case 2, architecture-exact translations: the UNet commutes with periodic shifts that are
  multiples of its total down-sampling factor (``symaudit.models.UNet.stride``), so there the
  relative error is 1 for every example and the influence median equals the identity's; every
  other shift is reported beside them (expected: error median > 1, influence median different).
  Read from ``equivariance_{shift_x,shift_y,shift_box}.csv`` and the influence tables.
* cases 3 and 6: :mod:`symaudit.aggregate._findings_symmetry` (``case3_rows``, ``case6_rows``).
* cases 4 and 5: :mod:`symaudit.aggregate._findings_training` (registered in ``_builders``).

A check whose input table (or model, or column) is absent gets ONE row with ``measured`` =
``not measured: <why>`` and ``holds`` = False: a finding is never silently missing.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from symaudit import groups

from ._findings_rows import missing as _missing
from ._findings_rows import read_table as _read
from ._findings_rows import row as _row
from ._findings_symmetry import case3_rows, case6_rows
from ._io import write_atomic

__all__ = ["COLUMNS", "TOLERANCE", "build_findings", "write_findings"]

#: columns of ``findings.csv``
COLUMNS = ("case", "expected", "measured", "holds")

#: relative tolerance of the exact cases (1 and 2)
TOLERANCE = 1e-6

SHIFT_SETS = ("shift_x", "shift_y", "shift_box")

#: cases the builder does not measure yet: case label -> what is expected
PENDING = {
    "4 augmentation": "D4 + shift augmentation lowers the equivariance share of the loss and "
    "narrows the spread of per-element influence",
    "5 exact vs the reference's approximation": "relative gap and Kendall tau between converged "
    "and Galerkin influence; case 3's conclusion unchanged",
}


def _num(x: float) -> str:
    return f"{float(x):.9g}"


def _rel(a: float, b: float) -> float:
    """|a - b| / |b| (inf when b is 0 and a is not; NaN propagates)."""
    if b == 0:
        return 0.0 if a == 0 else float("inf")
    return abs(a - b) / abs(b)


# --- the quality gate -----------------------------------------------------------------------


def _quality_bound(tables: Path, bound: float | None) -> float:
    if bound is not None:
        return float(bound)
    status = tables / "quality_status.yaml"
    if status.is_file():
        import yaml

        doc = yaml.safe_load(status.read_text()) or {}
        value = (doc.get("quality_status") or {}).get("max_persistence_ratio")
        if value is not None:
            return float(value)
    return 1.0


def quality_rows(tables: Path, bound: float | None = None) -> list[dict]:
    bound = _quality_bound(tables, bound)
    case = "quality gate"
    expected = f"val SMSE <= {bound:g} x persistence"
    df = _read(tables, "model_quality.csv")
    if df is None or df.empty:
        return [_missing(case, expected, "model_quality.csv absent or empty")]
    rows = []
    for r in df.itertuples(index=False):
        holds = bool(np.isfinite(r.ratio) and r.ratio <= bound)
        rows.append(
            _row(
                f"{case} | {r.dataset} {r.model} seed {r.seed}",
                expected,
                f"val SMSE = {_num(r.ratio)} x persistence",
                holds,
            )
        )
    return rows


# --- exact equivariance and influence -------------------------------------------------------


def _equivariance_row(case: str, r, tol: float) -> dict:
    expected = f"relative error 1 +- {tol:g} for every example"
    if not {"min", "max"} <= set(r._fields):
        return _missing(case, expected, "the table has no min/max columns (rerun aggregate)")
    lo, hi = float(r.min), float(r.max)
    dev = max(abs(lo - 1.0), abs(hi - 1.0))
    return _row(
        case,
        expected,
        f"min {_num(lo)}, max {_num(hi)} over {int(r.n_examples)} examples (|dev| {dev:.3g})",
        bool(np.isfinite(dev) and dev <= tol),
    )


def _influence_row(case: str, r, ref, identity: str, tol: float, equal: bool = True) -> dict:
    med, ref_med = float(r.median), float(ref.median)
    dev = _rel(med, ref_med)
    quart = max(_rel(float(r.q1), float(ref.q1)), _rel(float(r.q3), float(ref.q3)))
    measured = (
        f"median {_num(med)} vs {identity} {_num(ref_med)} (relative {dev:.3g}; "
        f"Q1/Q3 up to {quart:.3g}; converged {bool(r.converged)})"
    )
    if equal:
        expected = f"median influence = {identity}'s within {tol:g} relative"
        holds = bool(np.isfinite(dev) and dev <= tol and r.converged and ref.converged)
    else:
        expected = f"median influence differs from {identity}'s by > {tol:g} relative"
        holds = bool(np.isfinite(dev) and dev > tol)
    return _row(case, expected, measured, holds)


def _by_element(df: pd.DataFrame, dataset: str, model: str) -> dict:
    sub = df[(df.dataset == dataset) & (df.model == model)]
    return {r.element: r for r in sub.itertuples(index=False)}


def case1_rows(tables: Path, models: Iterable[str] | None = None, tol: float = TOLERANCE):
    """Case 1 rows: every twirled model (or ``models``) on every dataset, every D4 element."""
    case = "1 exact control"
    eq, inf = _read(tables, "equivariance_d4.csv"), _read(tables, "influence_d4.csv")
    if eq is None:
        return [_missing(case, "twirled model exactly D4-equivariant", "no equivariance_d4.csv")]
    chosen = sorted(
        {m for m in eq.model.unique() if m.startswith("twirled-")}
        if models is None
        else set(models)
    )
    if not chosen:
        return [_missing(case, "twirled model exactly D4-equivariant", "no twirled-* model")]
    rows = []
    for model in chosen:
        # the datasets this model was run on (a study may run it on some datasets only)
        ran = set(eq.dataset[eq.model == model])
        if inf is not None:
            ran |= set(inf.dataset[inf.model == model])
        if not ran:
            rows.append(_missing(f"{case} | {model}", "equivariance_d4 rows", "model absent"))
        for dataset in sorted(ran):
            label = f"{case} | {dataset} {model}"
            eqs = _by_element(eq, dataset, model)
            if not eqs:
                rows.append(_missing(label, "equivariance_d4 rows", "model absent from table"))
                continue
            for g in groups.D4:
                if g not in eqs:
                    rows.append(_missing(f"{label} | equivariance {g}", "a row", "element absent"))
                else:
                    rows.append(_equivariance_row(f"{label} | equivariance {g}", eqs[g], tol))
            infs = _by_element(inf, dataset, model) if inf is not None else {}
            if "e" not in infs:
                why = "no influence_d4.csv" if inf is None else "model or e absent from table"
                rows.append(_missing(f"{label} | influence", "Pi^g = Pi^e for all of D4", why))
                continue
            for g in groups.D4[1:]:
                what = f"{label} | influence {g}"
                if g not in infs:
                    rows.append(_missing(what, "a row", "element absent"))
                else:
                    rows.append(_influence_row(what, infs[g], infs["e"], "e", tol))
    return rows


def _stride() -> int:
    from symaudit.models import UNet

    return int(UNet.stride)


def case2_rows(
    tables: Path,
    models: Sequence[str] = ("unet",),
    stride: int | None = None,
    tol: float = TOLERANCE,
):
    """Case 2 rows: shifts that are multiples of the UNet's stride are exact; others beside."""
    case = "2 architecture-exact translations"
    stride = _stride() if stride is None else int(stride)
    expected = f"UNet exactly equivariant for shifts that are multiples of its stride {stride}"
    rows: list[dict] = []
    found = False
    for set_name in SHIFT_SETS:
        eq = _read(tables, f"equivariance_{set_name}.csv")
        inf = _read(tables, f"influence_{set_name}.csv")
        if eq is None:
            continue
        for model in models:
            for dataset in sorted(eq.dataset.unique()):
                eqs = _by_element(eq, dataset, model)
                if not eqs:
                    continue
                found = True
                infs = _by_element(inf, dataset, model) if inf is not None else {}
                identity = "t(0,0)"
                label = f"{case} | {dataset} {model} {set_name}"
                multiples = [
                    g
                    for g in eqs
                    if g != identity
                    and groups.parse(g).dx % stride == 0
                    and groups.parse(g).dy % stride == 0
                ]
                if not multiples:
                    rows.append(
                        _missing(
                            f"{label} | exact shifts",
                            expected,
                            f"no non-zero multiple of {stride} among the shifts of {set_name}",
                        )
                    )
                for g in eqs:
                    if g == identity:
                        continue
                    exact = g in multiples
                    r = eqs[g]
                    tag = "exact" if exact else "other"
                    if exact:
                        rows.append(_equivariance_row(f"{label} | {tag} equivariance {g}", r, tol))
                    else:
                        rows.append(
                            _row(
                                f"{label} | {tag} equivariance {g}",
                                "relative error > 1 (reference statistic: median over seeds "
                                "of the per-seed Q3), the shift not a multiple of the stride",
                                f"median {_num(r.median)} (Q1 {_num(r.q1)}, Q3 {_num(r.q3)})",
                                bool(r.median > 1.0 + tol),
                            )
                        )
                    what = f"{label} | {tag} influence {g}"
                    if identity not in infs or g not in infs:
                        why = f"no influence_{set_name}.csv" if inf is None else "row absent"
                        rows.append(_missing(what, "influence beside the error", why))
                    else:
                        rows.append(
                            _influence_row(what, infs[g], infs[identity], identity, tol, exact)
                        )
    if not found:
        why = f"no {'/'.join(models)} rows in any equivariance_{{{','.join(SHIFT_SETS)}}}.csv"
        return [_missing(case, expected, why)]
    return rows


def _builders() -> dict:
    """Case label -> ``builder(tables, settings) -> rows`` of the cases built in other modules
    (imported here: they use this module's helpers)."""
    from ._findings_training import CASES as training_cases

    return {**training_cases}


def pending_rows(tables: Path | None = None, settings: dict | None = None) -> list[dict]:
    """Rows of cases 4 and 5: a registered builder's, else one "not measured" row per case."""
    builders = _builders() if tables is not None else {}
    rows = []
    for case, what in PENDING.items():
        if case in builders:
            rows += builders[case](tables, settings or {})
        else:
            rows.append(_missing(case, what, "no builder for this case yet"))
    return rows


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
    **settings
        Options of the cases built in other modules (``_builders``): ``augmented`` (case 4:
        augmented model -> its base; default ``X-aug`` -> ``X``), ``primary_damping`` (case 5:
        the primary λ) and ``resolution`` (case 5: the grid of G(N, k); default 32).
    """
    tables = Path(tables_dir)
    if not tables.is_dir():
        raise FileNotFoundError(f"tables directory {tables} does not exist")
    rows = quality_rows(tables, max_persistence_ratio)
    rows += case1_rows(tables, twirled_models, tol)
    rows += case2_rows(tables, unet_models, stride, tol)
    rows += case3_rows(tables)
    rows += pending_rows(tables, settings)
    rows += case6_rows(tables)
    return pd.DataFrame(rows, columns=list(COLUMNS))


def write_findings(df: pd.DataFrame, path: str | os.PathLike) -> Path:
    return write_atomic(path, lambda tmp: df.to_csv(tmp, index=False))
