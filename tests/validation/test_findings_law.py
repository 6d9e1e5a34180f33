"""The law rows of the findings (symaudit.validation._law) from a hand-made commutator_law.csv:
derived where the solver term dominates and judged by the interval, descriptive below; the
solver's commutator rows (exact) and case 6's c(p*g*p) = c(neg) row; a missing table."""

import pandas as pd

from symaudit.aggregate._law import LAW_COLUMNS
from symaudit.validation import build_findings
from symaudit.validation._law import CASE8, expected_commutes, law_rows

LABELS = {"3": "3 case", "6": "6 NS pairing artefact", "8": CASE8}


def _row(element_set, element, c_max, beta2=10.0, ratio=(1.0, 0.9, 1.1), neg=0.0, model="unet"):
    return {
        "dataset": "NS", "model": model, "element_set": element_set, "element": element,
        "c_median": c_max, "c_max": c_max, "commutes": c_max <= 1e-12, "rho_median": 0.2,
        "beta2_median": beta2, "R_median": 1 + beta2, "Rhat_median": 1 + beta2,
        "ratio_median": ratio[0], "ratio_median_lo": ratio[1], "ratio_median_hi": ratio[2],
        "excess_median": 1.0, "excess_median_lo": 0.9, "excess_median_hi": 1.1,
        "slope": 1.0, "slope_lo": 0.9, "slope_hi": 1.1, "intercept": 0.0, "intercept_lo": -0.1,
        "intercept_hi": 0.1, "max_rel_diff_neg": neg, "n_examples": 24, "n_seeds": 2,
        "n_clusters": 6, "ci_note": "", "note": "",
    }  # fmt: skip


def _write(tmp_path, rows):
    pd.DataFrame(rows, columns=list(LAW_COLUMNS)).to_csv(tmp_path / "commutator_law.csv")
    return tmp_path


def _table():
    rows = [_row("d4_swapped", f"p*{g}*p", 0.0) for g in ("e", "r2", "sr", "sr3")]
    rows += [_row("d4_swapped", f"p*{g}*p", 3.0) for g in ("r", "r3", "s", "sr2")]
    rows += [_row("negation", "e", 0.0), _row("negation", "neg", 3.0)]
    rows += [_row("d4", g, 1e-31) for g in ("e", "r", "s")]
    return rows


def test_law_rows_judge_by_the_interval(tmp_path):
    rows = _table()
    rows[-4] = _row("negation", "neg", 3.0, ratio=(1.2, 1.1, 1.3))  # straddles 1.25
    rows[4] = _row("d4_swapped", "p*r*p", 3.0, ratio=(1.6, 1.4, 1.8))  # wholly outside
    rows[5] = _row("d4_swapped", "p*r3*p", 3.0, beta2=0.5)  # solver term small: descriptive
    tables = _write(tmp_path, rows)
    six = {r["case"]: r for r in law_rows(tables, "6", LABELS)}
    law = {c.split("law at ")[1]: r for c, r in six.items() if "law at" in c}
    assert set(law) == {"p*r*p", "p*r3*p", "p*s*p", "p*sr2*p", "neg"}  # commuting: no row
    assert law["p*s*p"]["verdict"] == "holds" and law["p*s*p"]["kind"] == "derived"
    assert law["p*r*p"]["verdict"] == "fails"
    assert law["neg"]["verdict"] == "inconclusive"
    assert law["p*r3*p"]["kind"] == "descriptive"
    pairing = [r for c, r in six.items() if "c(p*g*p) = c(neg)" in c]
    assert len(pairing) == 1 and pairing[0]["verdict"] == "holds"


def test_solver_rows_know_where_the_solver_commutes(tmp_path):
    tables = _write(tmp_path, _table())
    solver = [r for r in law_rows(tables, "8", LABELS) if "| solver |" in r["case"]]
    assert len(solver) == 3 and all(r["verdict"] == "holds" for r in solver)
    wrong = _table()
    wrong[0] = _row("d4_swapped", "p*e*p", 1e-3)  # a commutator where the solver commutes
    tables = _write(tmp_path, wrong)
    solver = {r["case"]: r for r in law_rows(tables, "8", LABELS) if "| solver |" in r["case"]}
    assert solver[f"{CASE8} | solver | NS d4_swapped"]["verdict"] == "fails"


def test_a_set_with_nothing_but_the_identity_to_judge_has_no_solver_row(tmp_path):
    """CE boosts are a property of the finite-volume scheme (case 7), not judged here: with
    only boost(0,0) left the set has no row (it was a spurious "fails" in the validation run)."""
    boosts = [dict(_row("boost", g, c), dataset="CE") for g, c in
              (("boost(0,0)", 0.0), ("boost(1,0)", 3e-3), ("boost(0,1)", 2e-3))]  # fmt: skip
    tables = _write(tmp_path, _table() + boosts)
    solver = [r["case"] for r in law_rows(tables, "8", LABELS) if "| solver |" in r["case"]]
    assert len(solver) == 3 and not any("CE boost" in c for c in solver)


def test_expected_commutes():
    assert expected_commutes("NS", "r", 32) and not expected_commutes("NS", "neg", 32)
    assert not expected_commutes("NS", "p*s*p", 32) and expected_commutes("NS", "p*sr*p", 32)
    assert expected_commutes("CE", "boost(1,0)", 32) is None
    assert expected_commutes("CE", "boost(0,0)", 32)  # the identity
    assert not expected_commutes("NSK", "boost(0,1)", 32) and expected_commutes("NSK", "r2", 32)
    assert not expected_commutes("NSK", "r", 32) and not expected_commutes("NSK", "t(0,1)", 32)


def test_without_the_table_one_descriptive_row(tmp_path):
    df = build_findings(tmp_path)
    law = df[df["case"].str.startswith("8 ")]
    assert len(law) == 1 and law.iloc[0]["kind"] == "descriptive"
    assert "not measured" in law.iloc[0]["measured"]
