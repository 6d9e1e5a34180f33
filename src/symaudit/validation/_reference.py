"""Case 5: the exact influence against the reference's Galerkin approximation.

``influence_robustness_medians.csv`` (per dataset, model, element set, element and damping: the
pooled median standardised self-influence; ``damping`` = the λ as written by ``repr(float)`` or
``galerkin``).  For every trained model (``twirled-*`` models, whose D4 medians tie by
construction, are left out) on the D4 set: the relative gap |Π_galerkin - Π_λ| / |Π_λ| of each
element's median at the primary λ (median and max over the elements) and Kendall's τ-b of the
two element rankings; holds when τ >= ``STABLE_TAU`` (the ranking the audit reports is the
reference's).  Then case 3's conclusion (influence suppressed outside the Kolmogorov subgroup
G(N, k), docs/validation.md) on every element set measured for the Kolmogorov dataset ``NSK``:
the median over the elements outside G of the per-element medians divided by the same over the
elements inside G, at the primary λ and under Galerkin; holds when both ratios are on the same
side of 1 (the conclusion does not change).  These rows are descriptive (the exact solve at
the primary λ and Galerkin at ε = 1e-6 absolute change method and damping together).

Method and damping separated (:func:`ordering_rows`, ``influence_galerkin_ordering.csv``, per
run): the **exact** row "Π_G(x, x) ≤ Π(x, x) + ‖g‖ ‖r‖ / λ for every self-influence pair at
the primary λ" (Q(QᵀAQ)⁻¹Qᵀ ⪯ A⁻¹ for A = JᵀJ/D + λI SPD, any Q with orthonormal columns;
docs/algorithms.md §6.4), holds when the fraction is 1; and a **descriptive** row, the median
relative gap |Π_G − Π| / |Π| of the raw self-influence with Galerkin at the primary λ (the
subspace alone) beside the same with Galerkin at ε (subspace and damping).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from symaudit import groups
from symaudit.aggregate import GALERKIN, STABLE_TAU, kendall_tau
from symaudit.groups.kolmogorov import fixes_forcing

from ._rows import medians, missing, num, read_table, row

CASE5 = "5 exact vs the reference's approximation"
#: the dataset group of case 3 (Kolmogorov-forced NS)
KOLMOGOROV_DATASET = "NSK"
#: the grid of a study whose resolution is not passed (the quick and validation studies')
DEFAULT_RESOLUTION = 32


#: per run: the ordering and the matched / mismatched gaps (symaudit.aggregate ORDERING_TABLE)
ORDERING_CSV = "influence_galerkin_ordering.csv"
ORDERING_EXPECTED = (
    "Π_G(x, x) ≤ Π(x, x) + ‖g‖ ‖r‖ / λ for every self-influence pair, Galerkin and the exact "
    "solve at the same primary λ (Q(QᵀAQ)⁻¹Qᵀ ⪯ A⁻¹): fraction = 1"
)
GAP_EXPECTED = (
    "reported: median |Π_G − Π| / |Π| of the raw self-influence, Galerkin at the primary λ "
    "(subspace alone) beside Galerkin at ε = 1e-6 (subspace and damping)"
)


def ordering_rows(tables: Path) -> list[dict]:
    """Per run of ``influence_galerkin_ordering.csv``: the exact ordering row and the
    descriptive matched-damping gap row.  None at all when the study has no Galerkin
    reference values (:func:`case5_rows` reports that); one not-measured row when it has them
    but no ordering table (stores written before the matched-damping values)."""
    label = f"{CASE5} | Π_G ≤ Π at the primary λ"
    table = read_table(tables, ORDERING_CSV)
    if table is None or table.empty:
        med = read_table(tables, "influence_robustness_medians.csv")
        if med is None or GALERKIN not in set(med.damping.astype(str)):
            return []
        if table is None:
            return [missing(label, ORDERING_EXPECTED, f"no {ORDERING_CSV}")]
        stale = "no self_influence_* in the influence stores (rerun influence-bras)"
        return [missing(label, ORDERING_EXPECTED, stale)]
    rows = []
    for r in table.itertuples(index=False):
        run = f"{r.dataset} {r.model} seed{int(r.seed)}"
        n, ordered = int(r.n_pairs), int(r.n_ordered)
        if n == 0:
            rows.append(missing(f"{label} | {run}", ORDERING_EXPECTED, "no finite pairs"))
        else:
            rows.append(
                row(
                    f"{label} | {run}",
                    ORDERING_EXPECTED,
                    f"{ordered}/{n} pairs ordered (fraction {num(r.fraction_ordered)}); "
                    f"max (Π_G − Π) / (‖g‖ ‖r‖ / λ) {num(r.max_excess)}",
                    ordered == n,
                )
            )
        matched, mismatched = float(r.gap_matched_median), float(r.gap_mismatched_median)
        rows.append(
            row(
                f"{CASE5} | matched-damping gap | {run}",
                GAP_EXPECTED,
                f"median relative gap {num(matched)} at the primary λ (subspace), "
                f"{num(mismatched)} at ε = 1e-6 (subspace and damping) over {n} pairs",
                bool(np.isfinite(matched)),
                kind="descriptive",
            )
        )
    return rows


def _primary_key(dampings, primary: float) -> str | None:
    for d in dampings:
        if d != GALERKIN and np.isclose(float(d), primary, rtol=1e-9, atol=0.0):
            return d
    return None


def _gap_row(label, med, dataset, model, lam):
    expected = (
        f"Kendall tau of the D4 ranking, primary λ vs Galerkin, >= {STABLE_TAU:g} "
        "(relative gap of the medians reported)"
    )
    exact = medians(med, dataset=dataset, model=model, element_set="d4", damping=lam)
    gal = medians(med, dataset=dataset, model=model, element_set="d4", damping=GALERKIN)
    common = [g for g in groups.D4 if g in exact and g in gal]
    if len(common) < 2:
        return missing(label, expected, "fewer than two D4 elements with both values")
    a = np.array([exact[g] for g in common], dtype=float)
    b = np.array([gal[g] for g in common], dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        gap = np.abs(b - a) / np.abs(a)
    tau = kendall_tau(a, b)
    return row(
        label,
        expected,
        f"tau {num(tau)}; relative gap median {num(np.nanmedian(gap))}, max "
        f"{num(np.nanmax(gap))} over {len(common)} elements (λ {lam})",
        bool(np.isfinite(tau) and tau >= STABLE_TAU),
    )


def _suppression(values: dict[str, float], resolution: int):
    inside = [g for g in values if fixes_forcing(g, resolution)]
    outside = [g for g in values if g not in inside]
    if not inside or not outside:
        return None, inside, outside
    out, within = [values[g] for g in outside], [values[g] for g in inside]
    ratio = float(np.nanmedian(out) / np.nanmedian(within))
    return ratio, inside, outside


def _case3_rows(med: pd.DataFrame, lam: str | None, resolution: int) -> list[dict]:
    label = f"{CASE5} | case 3 under Galerkin"
    expected = (
        "case 3's conclusion unchanged: median influence outside G(N, k) over inside is on "
        "the same side of 1 at the primary λ and under Galerkin"
    )
    nsk = med[med.dataset == KOLMOGOROV_DATASET]
    if nsk.empty:
        why = f"no {KOLMOGOROV_DATASET} rows in influence_robustness_medians.csv"
        return [missing(label, expected, why)]
    if lam is None:
        return [missing(label, expected, "the primary λ is not among the table's dampings")]
    rows = []
    for (model, element_set), _ in nsk.groupby(["model", "element_set"], sort=True):
        what = f"{label} | {model} {element_set}"
        where = {"dataset": KOLMOGOROV_DATASET, "model": model, "element_set": element_set}
        exact = medians(nsk, **where, damping=lam)
        gal = medians(nsk, **where, damping=GALERKIN)
        if not gal or not exact:
            rows.append(missing(what, expected, "no Galerkin or primary-λ values"))
            continue
        r_exact, inside, outside = _suppression(exact, resolution)
        r_gal, _, _ = _suppression(gal, resolution)
        if r_exact is None or r_gal is None:
            why = f"{len(inside)} element(s) inside G and {len(outside)} outside: need both"
            rows.append(missing(what, expected, why))
            continue
        holds = bool(
            np.isfinite(r_exact) and np.isfinite(r_gal) and (r_exact < 1.0) == (r_gal < 1.0)
        )
        rows.append(
            row(
                what,
                expected,
                f"outside / inside {num(r_exact)} at λ {lam}, {num(r_gal)} under Galerkin "
                f"({len(outside)} outside, {len(inside)} inside; suppressed: "
                f"{r_exact < 1.0} / {r_gal < 1.0})",
                holds,
            )
        )
    return rows


def case5_rows(
    tables: Path, primary: float | None = None, resolution: int | None = None
) -> list[dict]:
    """Case 5 rows: primary λ vs Galerkin per trained model on D4, then case 3's conclusion."""
    expected = "relative gap and Kendall tau between converged and Galerkin influence"
    med = read_table(tables, "influence_robustness_medians.csv")
    if med is None or med.empty:
        return [
            missing(
                CASE5,
                expected,
                "no influence_robustness_medians.csv (a study with a "
                "damping path and influence.galerkin_reference)",
            )
        ]
    med = med.astype({"damping": str})
    if primary is None:
        return [missing(CASE5, expected, "the primary λ (influence.damping.primary) not given")]
    lam = _primary_key(med.damping.unique(), float(primary))
    if lam is None or GALERKIN not in set(med.damping):
        why = (
            f"λ {primary:g} absent from the table"
            if lam is None
            else "no Galerkin values (influence.galerkin_reference)"
        )
        return [missing(CASE5, expected, why)]
    rows = []
    d4 = med[(med.element_set == "d4") & (med.dataset != KOLMOGOROV_DATASET)]
    for (dataset, model), _ in d4.groupby(["dataset", "model"], sort=True):
        if model.startswith("twirled-"):
            continue  # D4 medians tie by construction: no ranking to compare
        rows.append(_gap_row(f"{CASE5} | {dataset} {model}", d4, dataset, model, lam))
    if not rows:
        rows.append(missing(CASE5, expected, "no trained (non-twirled) model on the D4 set"))
    rows += _case3_rows(med, lam, DEFAULT_RESOLUTION if resolution is None else resolution)
    return rows
