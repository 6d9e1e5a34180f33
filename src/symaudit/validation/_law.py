"""The law R_g ~ 1 + c_g / rho (case 8, and the law rows of cases 3 and 6), from
``tables/commutator_law.csv`` (:mod:`symaudit.aggregate._law`; derivation and assumptions in
docs/validation.md "The law").

c_g = SMSE(Phi(g x), g Phi(x)) is the generating solver's commutator, computed from the data and
the solver alone; the law predicts R_hat = 1 + c_g / SMSE(f(x), y) per example.  Rows:

* **solver** (exact, model-free, one per dataset and element set): c_g vanishes (c_max /
  persistence <= ``COMMUTES_TOL``) at exactly the elements the solver should commute with
  (D4 x shifts and NS boosts; on NSK the members of G(N, k) and the x-boosts; ``p*g*p`` at e,
  r2, sr, sr3; never ``neg``; CE boosts are a property of the scheme, not judged) and not at the
  others;
* **pairing = negation** (exact, case 6): on velocity-only data ``p*g*p`` = g o neg at r, r3,
  s, sr2, and the solver commutes with g, so their c_g equals c_neg example by example
  (relative ``TOLERANCE``);
* **law** (one per dataset, model and element with c_g > 0): the median over examples of
  R / R_hat = 1 within +- :data:`LAW_TOL`, judged by its bootstrap interval (derived) where the
  law's solver term dominates (median c_g / SMSE(f) >= :data:`DOMINANT`, i.e. it predicts at
  least a doubling of the error); below that the model's own equivariance error competes with
  the solver term and the row is descriptive (reported, not a known answer).

:data:`LAW_TOL` is a chosen band, fixed before any study ran (not tuned): the law drops the
change of the model's own error under g (its own symmetry error, for which the symmetric
cases tolerate a few percent to tens of percent) and a cross term whose Cauchy–Schwarz bound
at equal errors is 2 beta / (1 + beta^2) with beta^2 = c_g / SMSE(f); 0.25 asks the law to
predict the error within a quarter, a statement the issue's hand estimates (case 6: 13–18
predicted, 11–20 measured) would meet and a law off by a factor (the wrong normalisation, a
missing commutator) would not.
"""

from __future__ import annotations

import math
from pathlib import Path

from symaudit import groups
from symaudit.groups.kolmogorov import fixes_forcing

from ._rows import TOLERANCE, missing, num, read_table, row, verdict

CASE8 = "8 the law R ~ 1 + c/rho"
#: the law holds when median R / R_hat lies within 1 +- LAW_TOL (module docstring)
LAW_TOL = 0.25
#: the law row is derived (judged) where the median c_g / SMSE(f) is at least this
DOMINANT = 1.0
#: c_max / persistence at or below this: the solver commutes (symaudit.aggregate._law)
COMMUTES_TOL = 1e-12
#: element sets whose law rows belong to case 3 and case 6; the others' to case 8
SETS_OF_CASE = {"kolmogorov": "3", "d4_swapped": "6", "negation": "6"}


def _num(x) -> str:
    return num(x, 4)


def expected_commutes(dataset: str, element: str, n: int) -> bool | None:
    """Whether the generating solver of ``dataset`` should commute with ``element`` on an n x n
    grid; None where it is a property of the scheme, not a symmetry (CE boosts)."""
    g = groups.parse_transition(element)
    if isinstance(g, groups.Negate):
        return False
    if isinstance(g, groups.Scale):
        return True
    if isinstance(g, groups.Boost):
        if (g.m, g.n) == (0, 0):
            return True  # the identity
        if dataset == "CE":
            return None  # a finite-volume scheme is not Galilean invariant (case 7)
        return not (dataset == "NSK" and g.n)  # Kolmogorov forcing moves under y-boosts
    if g.swap and not groups.commutes_with_exchange(groups.Element(g.rotate, g.reflect)):
        return False  # p*g*p = g o neg there
    plain = groups.Element(g.rotate, g.reflect, g.dx, g.dy).name
    return fixes_forcing(plain, n) if dataset == "NSK" else True


def solver_rows(df, resolution: int | None = None) -> list[dict]:
    """The model-free rows: which elements the solver commutes with, per dataset and set."""
    rows = []
    for (dataset, element_set), sub in df.groupby(["dataset", "element_set"], sort=True):
        first = sub[sub["model"] == sorted(sub["model"].unique())[0]]
        n = int(resolution or 32)
        wrong, judged = [], 0
        for r in first.itertuples(index=False):
            want = expected_commutes(dataset, r.element, n)
            if want is None or not math.isfinite(float(r.c_max)):
                continue
            judged += 1
            if bool(float(r.c_max) <= COMMUTES_TOL) != want:
                wrong.append(f"{r.element} {_num(r.c_max)}")
        zero = [r.element for r in first.itertuples() if float(r.c_max) <= COMMUTES_TOL]
        if judged <= 1 and not wrong:  # nothing but the identity to judge (CE boosts: case 7)
            continue
        rows.append(
            row(
                f"{CASE8} | solver | {dataset} {element_set}",
                f"c_g / persistence <= {COMMUTES_TOL:g} exactly where the solver commutes "
                "with g, above it elsewhere",
                f"{judged} elements judged; commuting: {', '.join(zero) or 'none'}; "
                f"contrary: {', '.join(wrong) or 'none'}",
                not wrong and judged > 0,
            )
        )
    return rows


def pairing_rows(df) -> list[dict]:
    """Case 6, exact: c(p*g*p) = c(neg) at the four non-commuting D4 elements."""
    rows = []
    sub = df[(df["element_set"] == "d4_swapped") & df["max_rel_diff_neg"].notna()]
    for dataset, part in sub.groupby("dataset", sort=True):
        first = part[part["model"] == sorted(part["model"].unique())[0]]
        four = [f"p*{g}*p" for g in groups.D4 if not groups.commutes_with_exchange(g)]
        got = {r.element: float(r.max_rel_diff_neg) for r in first.itertuples()}
        if not all(g in got for g in four):
            continue
        worst = max(got[g] for g in four)
        rows.append(
            row(
                f"6 NS pairing artefact | {dataset} | c(p*g*p) = c(neg)",
                f"at {', '.join(four)}: c_g equals c_neg example by example within "
                f"{TOLERANCE:g} relative (p*g*p = g o neg on velocity data)",
                f"max relative difference {worst:.3g}",
                bool(worst <= TOLERANCE),
            )
        )
    return rows


def _law_row(label: str, r) -> dict:
    beta2 = float(r.beta2_median)
    derived = math.isfinite(beta2) and beta2 >= DOMINANT
    lo, hi = float(r.ratio_median_lo), float(r.ratio_median_hi)
    point = float(r.ratio_median)
    holds = bool(abs(point - 1.0) <= LAW_TOL)
    kind = "derived" if derived else "descriptive"
    judged = verdict(kind, holds, lo, hi, equal=1.0, band=LAW_TOL)
    measured = (
        f"median R/R_hat {_num(point)} [{_num(lo)}, {_num(hi)}]; R {_num(r.R_median)} vs R_hat "
        f"{_num(r.Rhat_median)}; c/persistence {_num(r.c_median)}, rho {_num(r.rho_median)}; "
        f"excess (R-1)/(R_hat-1) {_num(r.excess_median)}; slope {_num(r.slope)} "
        f"[{_num(r.slope_lo)}, {_num(r.slope_hi)}], intercept {_num(r.intercept)}"
    )
    why = "" if derived else f" (descriptive: c/SMSE(f) {_num(beta2)} < {DOMINANT:g})"
    return row(
        label,
        f"median over examples of R / (1 + c_g/SMSE(f)) = 1 within {LAW_TOL:g}{why}",
        measured + (f"; {r.ci_note}" if isinstance(r.ci_note, str) and r.ci_note else ""),
        holds,
        kind,
        lo,
        hi,
        judged,
    )


def law_rows(
    tables: Path, case: str, labels: dict[str, str], resolution: int | None = None
) -> list[dict]:
    """The law rows of the element sets that belong to ``case`` ("3", "6" or "8"; ``labels``:
    case -> its label in findings.csv)."""
    df = read_table(tables, "commutator_law.csv")
    if df is None:
        if case == "8":
            why = "no commutator_law.csv (analysis.commutator.enabled, generated data)"
            return [missing(CASE8, "R ~ 1 + c_g/SMSE(f) where c_g > 0", why, "descriptive")]
        return []
    rows: list[dict] = []
    if case == "8":
        rows += solver_rows(df[df["c_max"].notna()], resolution)
    if case == "6":
        rows += pairing_rows(df)
    for r in df.itertuples(index=False):
        if SETS_OF_CASE.get(r.element_set, "8") != case:
            continue
        if isinstance(r.note, str) and r.note and not math.isfinite(float(r.c_max)):
            why = r.note
            what = f"{labels[case]} | {r.dataset} {r.model} | law"
            rows.append(missing(what, "R ~ 1 + c_g/SMSE(f)", why, "derived"))
            continue
        if bool(r.commutes):
            continue  # R_hat = 1: the law adds nothing (reciprocity rows cover R there)
        label = f"{labels[case]} | {r.dataset} {r.model} | law at {r.element}"
        rows.append(_law_row(label, r))
    return rows
