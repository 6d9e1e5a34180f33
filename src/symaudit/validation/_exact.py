"""Cases 1 and 2: symmetries that hold exactly by construction.

* case 1, exact control: a D4-twirled model (``twirled-*``) has relative equivariance error
  1 +- the exact tolerance of the table's precision for EVERY example and every D4 element
  (columns ``min``/``max`` of ``equivariance_d4.csv``; ``tol`` in float32, 1e-12 in float64:
  :func:`._rows.exact_tolerance`), and the median standardised self-influence of every D4
  element equals e's within ``tol`` relative (``influence_d4.csv``; whatever the precision of
  the forward passes: the influence is the solve's).
* case 2, architecture-exact translations: the UNet commutes with periodic shifts that are
  multiples of its total down-sampling factor (``symaudit.models.UNet.stride``), so there the
  relative error is 1 for every example and the influence median equals the identity's; every
  other shift is reported beside them (descriptive rows: error median > 1 and influence median
  different are typical outcomes, not known answers).  Read from
  ``equivariance_{shift_x,shift_y,shift_box}.csv`` and the influence tables.  What is known
  off the stride is in :mod:`._reciprocity`: the per-example period R(k + stride) = R(k) (exact)
  and reciprocity Q3(+k) Q1(-k) = 1 (derived).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from symaudit import groups

from ._reciprocity import grid_size, period_rows
from ._rows import TOLERANCE, by_element, exact_tolerance, missing, num, read_table, row

CASE1 = "1 exact control"
CASE2 = "2 architecture-exact translations"
SHIFT_SETS = ("shift_x", "shift_y", "shift_box")


def _rel(a: float, b: float) -> float:
    """|a - b| / |b| (inf when b is 0 and a is not; NaN propagates)."""
    if b == 0:
        return 0.0 if a == 0 else float("inf")
    return abs(a - b) / abs(b)


def _equivariance_row(case: str, r, tol: float) -> dict:
    """An exact forward row: R = 1 for every example, judged at the tolerance of the precision
    the table records (:func:`._rows.exact_tolerance`; ``tol``: float32's)."""
    tol, precision = exact_tolerance(r, tol)
    expected = f"relative error 1 +- {tol:g} for every example ({precision} forward passes)"
    if not {"min", "max"} <= set(r._fields):
        return missing(case, expected, "the table has no min/max columns (rerun aggregate)")
    lo, hi = float(r.min), float(r.max)
    dev = max(abs(lo - 1.0), abs(hi - 1.0))
    return row(
        case,
        expected,
        f"min {num(lo)}, max {num(hi)} over {int(r.n_examples)} examples (|dev| {dev:.3g})",
        bool(np.isfinite(dev) and dev <= tol),
    )


def _influence_row(case: str, r, ref, identity: str, tol: float, equal: bool = True) -> dict:
    med, ref_med = float(r.median), float(ref.median)
    dev = _rel(med, ref_med)
    quart = max(_rel(float(r.q1), float(ref.q1)), _rel(float(r.q3), float(ref.q3)))
    measured = (
        f"median {num(med)} vs {identity} {num(ref_med)} (relative {dev:.3g}; "
        f"Q1/Q3 up to {quart:.3g}; converged {bool(r.converged)})"
    )
    if equal:
        tol, precision = exact_tolerance(r, tol)
        expected = f"median influence = {identity}'s within {tol:g} relative ({precision} bras)"
        holds = bool(np.isfinite(dev) and dev <= tol and r.converged and ref.converged)
    else:  # descriptive: "different" is no known answer
        expected = f"reported: median influence differs from {identity}'s by > {tol:g} relative"
        holds = bool(np.isfinite(dev) and dev > tol)
    return row(case, expected, measured, holds, "exact" if equal else "descriptive")


def _twirled_rows(label: str, eqs: dict, infs: dict, inf_absent: bool, tol: float) -> list[dict]:
    """Case 1 rows of one (dataset, twirled model): every D4 element's error, then influence."""
    rows = []
    for g in groups.D4:
        if g not in eqs:
            rows.append(missing(f"{label} | equivariance {g}", "a row", "element absent"))
        else:
            rows.append(_equivariance_row(f"{label} | equivariance {g}", eqs[g], tol))
    if "e" not in infs:
        why = "no influence_d4.csv" if inf_absent else "model or e absent from table"
        return [*rows, missing(f"{label} | influence", "Pi^g = Pi^e for all of D4", why)]
    for g in groups.D4[1:]:
        what = f"{label} | influence {g}"
        if g not in infs:
            rows.append(missing(what, "a row", "element absent"))
        else:
            rows.append(_influence_row(what, infs[g], infs["e"], "e", tol))
    return rows


def case1_rows(tables: Path, models: Iterable[str] | None = None, tol: float = TOLERANCE):
    """Case 1 rows: every twirled model (or ``models``) on every dataset, every D4 element;
    ``tol``: the influence rows' tolerance and the error rows' in float32
    (:func:`._rows.exact_tolerance`)."""
    eq, inf = read_table(tables, "equivariance_d4.csv"), read_table(tables, "influence_d4.csv")
    if eq is None:
        return [missing(CASE1, "twirled model exactly D4-equivariant", "no equivariance_d4.csv")]
    chosen = sorted(
        {m for m in eq.model.unique() if m.startswith("twirled-")}
        if models is None
        else set(models)
    )
    if not chosen:
        return [missing(CASE1, "twirled model exactly D4-equivariant", "no twirled-* model")]
    rows = []
    for model in chosen:
        # the datasets this model was run on (a study may run it on some datasets only)
        ran = set(eq.dataset[eq.model == model])
        if inf is not None:
            ran |= set(inf.dataset[inf.model == model])
        if not ran:
            rows.append(missing(f"{CASE1} | {model}", "equivariance_d4 rows", "model absent"))
        for dataset in sorted(ran):
            label = f"{CASE1} | {dataset} {model}"
            eqs = by_element(eq, dataset=dataset, model=model)
            if not eqs:
                rows.append(missing(label, "equivariance_d4 rows", "model absent from table"))
                continue
            infs = by_element(inf, dataset=dataset, model=model)
            rows += _twirled_rows(label, eqs, infs, inf is None, tol)
    return rows


def _stride() -> int:
    from symaudit.models import UNet

    return int(UNet.stride)


def _shift_rows(label, eqs, infs, inf_absent, set_name, multiples, tol) -> list[dict]:
    """Case 2 rows of one (dataset, model, shift set): each shift's error and influence."""
    identity, rows = "t(0,0)", []
    for g, r in eqs.items():
        if g == identity:
            continue
        exact = g in multiples
        tag = "exact" if exact else "other"
        if exact:
            rows.append(_equivariance_row(f"{label} | {tag} equivariance {g}", r, tol))
        else:
            rows.append(
                row(
                    f"{label} | {tag} equivariance {g}",
                    "reported: relative error > 1, a typical outcome, not a known answer "
                    "(reference statistic: median over seeds of the per-seed Q3)",
                    f"median {num(r.median)} (Q1 {num(r.q1)}, Q3 {num(r.q3)})",
                    bool(r.median > 1.0 + tol),
                    "descriptive",
                )
            )
        what = f"{label} | {tag} influence {g}"
        if identity not in infs or g not in infs:
            why = f"no influence_{set_name}.csv" if inf_absent else "row absent"
            kind = "exact" if exact else "descriptive"
            rows.append(missing(what, "influence beside the error", why, kind))
        else:
            rows.append(_influence_row(what, infs[g], infs[identity], identity, tol, exact))
    return rows


def case2_rows(
    tables: Path,
    models: Sequence[str] = ("unet",),
    stride: int | None = None,
    tol: float = TOLERANCE,
):
    """Case 2 rows: shifts that are multiples of the UNet's stride are exact; others beside.
    ``tol`` as :func:`case1_rows`' (the error rows in float64: :func:`._rows.exact_tolerance`)."""
    stride = _stride() if stride is None else int(stride)
    expected = f"UNet exactly equivariant for shifts that are multiples of its stride {stride}"
    rows: list[dict] = []
    found = False
    n = grid_size(tables)
    for set_name in SHIFT_SETS:
        eq = read_table(tables, f"equivariance_{set_name}.csv")
        eq_seed = read_table(tables, f"equivariance_{set_name}_per_seed.csv")
        inf = read_table(tables, f"influence_{set_name}.csv")
        if eq is None:
            continue
        for model in models:
            for dataset in sorted(eq.dataset.unique()):
                eqs = by_element(eq, dataset=dataset, model=model)
                if not eqs:
                    continue
                found = True
                label = f"{CASE2} | {dataset} {model} {set_name}"
                multiples = [
                    g
                    for g in eqs
                    if g != "t(0,0)"
                    and groups.parse(g).dx % stride == 0
                    and groups.parse(g).dy % stride == 0
                ]
                if not multiples:
                    why = f"no non-zero multiple of {stride} among the shifts of {set_name}"
                    rows.append(missing(f"{label} | exact shifts", expected, why))
                infs = by_element(inf, dataset=dataset, model=model)
                rows += _shift_rows(label, eqs, infs, inf is None, set_name, multiples, tol)
                args = (eq_seed, inf, dataset, model, list(eqs), stride, n, tol)
                rows += period_rows(label, *args)
    if not found:
        why = f"no {'/'.join(models)} rows in any equivariance_{{{','.join(SHIFT_SETS)}}}.csv"
        return [missing(CASE2, expected, why)]
    return rows
