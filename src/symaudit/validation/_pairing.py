"""Case 6: the NS pairing artefact, from the study's tables.

``equivariance_d4.csv`` beside ``equivariance_d4_swapped.csv``, and the influence tables; every
model of the NS group: the wrong pairing ``p*g*p`` against the correct g (statistics: the
tables' ``median`` columns, as in case 3).  Rows: the elements where the swapped error median
exceeds ``LARGE`` are exactly r, r3, s, sr2; there the swapped influence median is below the
correct one; for e, r2, sr, sr3 the swapped numbers equal the correct ones (exact algebra:
p*g*p = g, relative ``TOLERANCE``); the correct action has no error median above ``LARGE`` at
all.  Kinds: the equalities at e, r2, sr, sr3 are exact; the "failing" and "suppressed" rows
are descriptive (``LARGE`` is a chosen threshold, not a derived one).
"""

from __future__ import annotations

from pathlib import Path

from symaudit import groups

from ._law import DOMINANT, LAW_TOL
from ._rows import LARGE, TOLERANCE, medians, missing, num, read_table, row, verdict

CASE6 = "6 NS pairing artefact"
#: D4 elements whose matrices do not commute with the component exchange
NON_COMMUTING = tuple(g for g in groups.D4 if not groups.commutes_with_exchange(g))
COMMUTING = tuple(g for g in groups.D4 if g not in NON_COMMUTING)


def _num(x: float) -> str:
    return num(x, 4)


def _failing_text(failing: list[str], values: dict[str, float]) -> str:
    """The failing D4 elements and every element's error median, for one pairing."""
    listed = ", ".join(f"{g} {_num(values[g])}" for g in groups.D4)
    return f"failing: {', '.join(failing) or 'none'}; medians {listed}"


def _max_rel(a: dict[str, float], b: dict[str, float]) -> float:
    """max over the commuting elements of |a - b| / |b|."""
    return max(abs(a[g] - b[g]) / abs(b[g]) for g in COMMUTING)


def _error_rows(label: str, four: str, right: dict, swapped: dict) -> list[dict]:
    failing = [g for g in groups.D4 if swapped[g] > LARGE]
    correct_failing = [g for g in groups.D4 if right[g] > LARGE]
    return [
        row(
            f"{label} | swapped pairing: failing elements",
            f"error median > {LARGE:g} at exactly {four}",
            _failing_text(failing, swapped),
            failing == list(NON_COMMUTING),
            "descriptive",
        ),
        row(
            f"{label} | correct pairing: no failure",
            f"error median <= {LARGE:g} for every D4 element",
            _failing_text(correct_failing, right),
            not correct_failing,
            "descriptive",
        ),
        row(
            f"{label} | swapped = correct at {', '.join(COMMUTING)}",
            f"error medians equal within {TOLERANCE:g} relative (p*g*p = g exactly)",
            f"max relative difference {_max_rel(swapped, right):.3g}",
            bool(_max_rel(swapped, right) <= TOLERANCE),
        ),
    ]


def _influence_rows(label: str, four: str, i_right: dict, i_swap: dict) -> list[dict]:
    return [
        row(
            f"{label} | swapped pairing: influence suppressed at {four}",
            "influence median below the correct action's at each of them",
            ", ".join(f"{g} {_num(i_swap[g])} vs {_num(i_right[g])}" for g in NON_COMMUTING),
            all(i_swap[g] < i_right[g] for g in NON_COMMUTING),
            "descriptive",
        ),
        row(
            f"{label} | swapped influence = correct at {', '.join(COMMUTING)}",
            f"influence medians equal within {TOLERANCE:g} relative",
            f"max relative difference {_max_rel(i_swap, i_right):.3g}",
            bool(_max_rel(i_swap, i_right) <= TOLERANCE),
        ),
    ]


def case6_rows(tables: Path, datasets=("NS", "CE")) -> list[dict]:
    """Case 6 rows for every model of ``equivariance_d4_swapped.csv`` on ``datasets``."""
    four = ", ".join(NON_COMMUTING)
    expected = f"wrong pairing fails at exactly {four}; the correct action does not"
    eq = read_table(tables, "equivariance_d4.csv")
    eq_s = read_table(tables, "equivariance_d4_swapped.csv")
    inf = read_table(tables, "influence_d4.csv")
    inf_s = read_table(tables, "influence_d4_swapped.csv")
    if eq is None or eq_s is None:
        return [missing(CASE6, expected, "no equivariance_d4.csv and equivariance_d4_swapped.csv")]
    pairs = sorted({(d, m) for d, m in zip(eq_s.dataset, eq_s.model, strict=True) if d in datasets})
    if not pairs:
        return [missing(CASE6, expected, f"no {'/'.join(datasets)} rows in d4_swapped tables")]
    rows: list[dict] = []
    for dataset, model in pairs:
        label = f"{CASE6} | {dataset} {model}"
        right = medians(eq, dataset=dataset, model=model)
        wrong = medians(eq_s, dataset=dataset, model=model)
        swapped = {g: wrong.get(f"p*{g}*p") for g in groups.D4}
        if any(v is None for v in swapped.values()) or not set(groups.D4) <= set(right):
            rows.append(missing(label, expected, "a D4 element absent from a table"))
            continue
        rows += _error_rows(label, four, right, swapped)
        i_right = medians(inf, dataset=dataset, model=model)
        i_wrong = medians(inf_s, dataset=dataset, model=model)
        if not set(groups.D4) <= set(i_right) or not all(f"p*{g}*p" in i_wrong for g in groups.D4):
            why = "no influence_d4(_swapped).csv" if inf is None or inf_s is None else "rows absent"
            rows.append(missing(f"{label} | influence", "influence beside the error", why))
            continue
        rows += _influence_rows(label, four, i_right, {g: i_wrong[f"p*{g}*p"] for g in groups.D4})
    return rows


# --- the fingerprints (tables/pairing_fingerprints.csv, symaudit.aggregate._fingerprints) ------

#: (a) per model: kappa / c_pair = 1 within this band (the law's own band: kappa is the law's
#: excess (R - 1) rho, compared with the model-free c_neg / persistence)
KAPPA_TOL = LAW_TOL
#: (a) across models: max / min of kappa below this; the per-model band allows each kappa in
#: c_pair (1 +- KAPPA_TOL), so two models may differ by (1 + tol) / (1 - tol) = 5/3 and no more
KAPPA_SPREAD = (1.0 + KAPPA_TOL) / (1.0 - KAPPA_TOL)
#: (b) equal-sized failures: max / min of the four median R below 1 + SPREAD_TOL
SPREAD_TOL = 0.25


def _interval(r) -> str:
    return f"{_num(r.value)} [{_num(r.lo)}, {_num(r.hi)}]"


def _fingerprint_a(label, k, ratio, c_pair, beta2) -> dict:
    dominant = beta2 >= DOMINANT
    kind = "derived" if dominant else "descriptive"
    holds = bool(abs(float(ratio.value) - 1.0) <= KAPPA_TOL)
    why = "" if dominant else f" (descriptive: c/SMSE(f) {_num(beta2)} < {DOMINANT:g})"
    return row(
        f"{label} | fingerprint (a): (R-1)*rho = c_neg/persistence",
        f"median (R-1)*rho at {', '.join(NON_COMMUTING)} / model-free median c_neg/persistence"
        f" = 1 within {KAPPA_TOL:g}{why}",
        f"ratio {_interval(ratio)}; (R-1)*rho {_interval(k)}; c_neg/persistence "
        f"{_interval(c_pair)}; c/SMSE(f) {_num(beta2)}",
        holds,
        kind,
        ratio.lo,
        ratio.hi,
        verdict(kind, holds, ratio.lo, ratio.hi, equal=1.0, band=KAPPA_TOL),
    )


def _fingerprint_b(label, spread, medians_r, beta2) -> dict:
    dominant = beta2 >= DOMINANT
    kind = "derived" if dominant else "descriptive"
    bound = 1.0 + SPREAD_TOL
    holds = bool(float(spread.value) < bound)
    why = "" if dominant else f" (descriptive: c/SMSE(f) {_num(beta2)} < {DOMINANT:g})"
    listed = ", ".join(f"{g} {_num(v)}" for g, v in medians_r.items())
    return row(
        f"{label} | fingerprint (b): equal-sized failures",
        f"max/min of the median R at {', '.join(NON_COMMUTING)} < {bound:g}{why}",
        f"max/min {_interval(spread)}; median R {listed}",
        holds,
        kind,
        spread.lo,
        spread.hi,
        verdict(kind, holds, spread.lo, spread.hi, below=bound),
    )


def _fingerprint_c(label: str, inf, inf_s, dataset: str, model: str) -> dict:
    """(c) descriptive: the standardised influence at the four, beside the correct action's."""
    what = f"{label} | fingerprint (c): influence at {', '.join(NON_COMMUTING)}"
    expected = "reported (no derived expectation): standardised influence median < 0 there"
    right = medians(inf, dataset=dataset, model=model)
    wrong = medians(inf_s, dataset=dataset, model=model)
    got = {g: wrong.get(f"p*{g}*p") for g in NON_COMMUTING}
    if any(v is None for v in got.values()):
        return missing(what, expected, "no influence_d4_swapped.csv rows", "descriptive")
    listed = ", ".join(f"{g} {_num(got[g])} (correct {_num(right.get(g, float('nan')))})"
                       for g in NON_COMMUTING)  # fmt: skip
    return row(what, expected, listed, all(v < 0 for v in got.values()), "descriptive")


def _twirled_row(label: str, eq_s, eq_n, dataset: str, model: str) -> dict | None:
    """Exact: an exactly D4-equivariant (twirled) model has R(p*g*p) = R(neg) at the four,
    example by example (f(g z) = g f(z) and SMSE is invariant under g), so their statistics
    agree; with the correct action its R is 1 on ANY data, so no data anisotropy can make it
    fail there."""
    wrong = medians(eq_s, dataset=dataset, model=model)
    neg = medians(eq_n, dataset=dataset, model=model).get("neg")
    if neg is None or not all(f"p*{g}*p" in wrong for g in NON_COMMUTING):
        return None
    worst = max(abs(wrong[f"p*{g}*p"] - neg) / abs(neg) for g in NON_COMMUTING)
    return row(
        f"{label} | twirled: R(p*g*p) = R(neg)",
        f"error medians at {', '.join(NON_COMMUTING)} equal neg's within {TOLERANCE:g} relative"
        " (an exactly D4-equivariant model: p*g*p = g o neg)",
        f"neg {_num(neg)}; max relative difference {worst:.3g}",
        bool(worst <= TOLERANCE),
    )


def fingerprint_rows(tables: Path) -> list[dict]:
    """Case 6's fingerprint rows from ``pairing_fingerprints.csv`` (none without the law
    table: the law rows say why), the influence tables and, for twirled models, the
    negation table."""
    fp = read_table(tables, "pairing_fingerprints.csv")
    if fp is None:
        if read_table(tables, "commutator_law.csv") is None:
            return []
        why = "no pairing_fingerprints.csv (symaudit commutator-law --fingerprints)"
        return [missing(f"{CASE6} | fingerprints", "fingerprints (a), (b)", why, "derived")]
    inf, inf_s = (
        read_table(tables, "influence_d4.csv"),
        read_table(tables, "influence_d4_swapped.csv"),
    )
    eq_s = read_table(tables, "equivariance_d4_swapped.csv")
    eq_n = read_table(tables, "equivariance_negation.csv")
    for column in ("element", "note"):
        fp[column] = fp[column].astype(object).where(fp[column].notna(), "")
    rows: list[dict] = []
    for dataset, part in fp.groupby("dataset", sort=True):
        get = {(r.model, r.statistic, r.element): r for r in part.itertuples(index=False)}
        c_pair = get.get(("*", "c_pair", ""))
        models = sorted(m for m in part.model.unique() if m != "*")
        betas = {}
        for model in models:
            label = f"{CASE6} | {dataset} {model}"
            need = [
                get.get((model, s, "")) for s in ("kappa", "kappa_ratio", "failure_spread", "beta2")
            ]
            if c_pair is None or any(r is None for r in need):
                why = part[part.model == model].note.iloc[0] or "statistics absent"
                rows.append(
                    missing(f"{label} | fingerprints", "fingerprints (a), (b)", why, "derived")
                )
                continue
            k, ratio, spread, beta = need
            betas[model] = float(beta.value)
            rows.append(_fingerprint_a(label, k, ratio, c_pair, betas[model]))
            per_element = {g: get[(model, "R_median", f"p*{g}*p")].value for g in NON_COMMUTING}
            rows.append(_fingerprint_b(label, spread, per_element, betas[model]))
            if inf_s is not None:
                rows.append(_fingerprint_c(label, inf, inf_s, dataset, model))
            if model.startswith("twirled-") and eq_s is not None and eq_n is not None:
                twirled = _twirled_row(label, eq_s, eq_n, dataset, model)
                rows += [twirled] if twirled is not None else []
        spread = get.get(("*", "kappa_spread", ""))
        if spread is not None and betas:
            dominant = min(betas.values()) >= DOMINANT
            kind = "derived" if dominant else "descriptive"
            holds = bool(float(spread.value) < KAPPA_SPREAD)
            why = "" if dominant else " (descriptive: a model with c/SMSE(f) < 1)"
            kappas = ", ".join(f"{m} {_num(get[(m, 'kappa', '')].value)}" for m in betas)
            rows.append(
                row(
                    f"{CASE6} | {dataset} | fingerprint (a): (R-1)*rho the same for every model",
                    f"max/min over models of median (R-1)*rho < {KAPPA_SPREAD:.4g}{why}",
                    f"max/min {_interval(spread)}; (R-1)*rho {kappas}",
                    holds,
                    kind,
                    spread.lo,
                    spread.hi,
                    verdict(kind, holds, spread.lo, spread.hi, below=KAPPA_SPREAD),
                )
            )
    return rows
