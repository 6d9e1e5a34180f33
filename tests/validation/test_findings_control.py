"""Case 6's control (symaudit.validation._control): a diagonal anisotropy of the data (NSD)
under the correct pairing, from hand-made equivariance, law and fingerprint tables with known
answers: the control reproduces the four-element pattern or not; the law's R_hat = 1 met or
not; the pairing fingerprint mimicked or not; every row descriptive; absent inputs give
"not measured"; a study without NSD gets no control row (other studies' findings unchanged);
reciprocity on NSD is stated for the diagonal's stabiliser alone."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from symaudit import groups
from symaudit.aggregate._fingerprints import FINGERPRINT_COLUMNS
from symaudit.aggregate._law import LAW_COLUMNS
from symaudit.validation import _findings, _reciprocity
from symaudit.validation._control import control_rows

from .test_findings import _eq
from .test_findings_verdicts import _per_seed_table, _synthetic

FOUR = ("r", "r3", "s", "sr2")
NAN = float("nan")


def _law(element, r_median, c_max=1e-31, model="unet", dataset="NSD"):
    return {
        "dataset": dataset, "model": model, "element_set": "d4", "element": element,
        "c_median": c_max, "c_max": c_max, "commutes": c_max <= 1e-12, "rho_median": 0.2,
        "beta2_median": 0.0, "R_median": r_median, "Rhat_median": 1.0,
        "ratio_median": r_median, "ratio_median_lo": 0.9 * r_median,
        "ratio_median_hi": 1.1 * r_median, "excess_median": NAN, "excess_median_lo": NAN,
        "excess_median_hi": NAN, "slope": NAN, "slope_lo": NAN, "slope_hi": NAN,
        "intercept": NAN, "intercept_lo": NAN, "intercept_hi": NAN, "max_rel_diff_neg": NAN,
        "n_examples": 20, "n_seeds": 1, "n_clusters": 5, "ci_note": "", "note": "",
    }  # fmt: skip


def _fp(ratio, kappa, c_pair=3.0, model="unet", dataset="NSD"):
    rows = [
        ("*", "c_pair", c_pair), ("*", "c_correct", 1e-31), (model, "kappa_correct", kappa),
        (model, "kappa_ratio_correct", ratio),
    ]  # fmt: skip
    return [
        {"dataset": dataset, "model": m, "statistic": s, "element": "", "value": v,
         "lo": 0.9 * v, "hi": 1.1 * v, "n_clusters": 5, "ci_note": "", "note": ""}
        for m, s, v in rows
    ]  # fmt: skip


def _write(d, correct: dict, swapped: dict | None, law=None, fp=None, dataset="NSD"):
    eq = [_eq(dataset, "unet", "d4", g, correct[g], 0.9, 1.1) for g in groups.D4]
    pd.DataFrame(eq).to_csv(d / "equivariance_d4.csv", index=False)
    if swapped is not None:
        rows = [_eq(dataset, "unet", "d4_swapped", f"p*{g}*p", swapped[g], 0.9, 1.1)
                for g in groups.D4]  # fmt: skip
        pd.DataFrame(rows).to_csv(d / "equivariance_d4_swapped.csv", index=False)
    if law is not None:
        pd.DataFrame(law, columns=list(LAW_COLUMNS)).to_csv(d / "commutator_law.csv")
    if fp is not None:
        pd.DataFrame(fp, columns=list(FINGERPRINT_COLUMNS)).to_csv(d / "pairing_fingerprints.csv")
    return d


def _by(rows):
    return {r["case"].split(" | ", 2)[2]: r for r in rows}


def _pattern(large: float, small: float = 1.05) -> dict:
    return {g: (large if g in FOUR else small) for g in groups.D4}


def test_an_extrapolating_control_reproduces_the_pattern_without_the_fingerprint(tmp_path):
    # the anisotropy's failure: R = 3 at the four with c_g = 0, (R - 1) rho = 0.4 << c_neg 3
    law = [_law(g, 3.0 if g in FOUR else 1.0) for g in groups.D4]
    d = _write(tmp_path, _pattern(3.0), _pattern(8.0), law, _fp(ratio=0.4 / 3.0, kappa=0.4))
    rows = _by(control_rows(d))
    assert set(rows) == {
        "correct pairing: elements above 2",
        "wrong pairing: elements above 2",
        "the law at r, r3, s, sr2: c_g = 0, R_hat = 1",
        "fingerprint (a) with the correct pairing: (R-1)*rho vs c_neg/persistence",
    }
    assert all(r["kind"] == r["verdict"] == "descriptive" for r in rows.values())
    assert all(
        r["case"].startswith("6 NS pairing artefact | control NSD unet") for r in rows.values()
    )
    correct = rows["correct pairing: elements above 2"]
    assert correct["holds"] and correct["measured"].startswith("failing: r, r3, s, sr2;")
    assert rows["wrong pairing: elements above 2"]["holds"]
    law_row = rows["the law at r, r3, s, sr2: c_g = 0, R_hat = 1"]
    assert not law_row["holds"]  # R = 3 against R_hat = 1: beyond the law's band
    assert (
        "solver commutes: True" in law_row["measured"] and "r R 3 vs R_hat 1" in law_row["measured"]
    )
    fp = rows["fingerprint (a) with the correct pairing: (R-1)*rho vs c_neg/persistence"]
    assert not fp["holds"]
    assert (fp["lo"], fp["hi"]) == pytest.approx((0.9 * 0.4 / 3.0, 1.1 * 0.4 / 3.0))
    assert "c_neg/persistence 3 [2.7, 3.3]" in fp["measured"]


def test_a_control_that_generalises_shows_neither(tmp_path):
    law = [_law(g, 1.1) for g in groups.D4]
    d = _write(tmp_path, _pattern(1.1), _pattern(8.0), law, _fp(ratio=0.01, kappa=0.03))
    rows = _by(control_rows(d))
    correct = rows["correct pairing: elements above 2"]
    assert not correct["holds"] and correct["measured"].startswith("failing: none;")
    assert rows["the law at r, r3, s, sr2: c_g = 0, R_hat = 1"]["holds"]  # R within 1 +- 0.25
    # a control that DID mimic the fingerprint: ratio 1 -> holds (the row can say so)
    d = _write(tmp_path, _pattern(16.0), _pattern(16.0), law, _fp(ratio=1.0, kappa=3.0))
    rows = _by(control_rows(d))
    assert rows["fingerprint (a) with the correct pairing: (R-1)*rho vs c_neg/persistence"]["holds"]
    # a solver that does not commute is reported (c_g above round-off)
    law = [_law(g, 1.1, c_max=0.5 if g == "s" else 1e-31) for g in groups.D4]
    d = _write(tmp_path, _pattern(1.1), _pattern(8.0), law, _fp(ratio=0.01, kappa=0.03))
    law_row = _by(control_rows(d))["the law at r, r3, s, sr2: c_g = 0, R_hat = 1"]
    assert not law_row["holds"] and "solver commutes: False" in law_row["measured"]


def test_absent_inputs_are_not_measured(tmp_path):
    rows = _by(control_rows(_write(tmp_path, _pattern(3.0), None)))
    for what in (
        "wrong pairing",
        "the law at r, r3, s, sr2: c_g = 0, R_hat = 1",
        "fingerprint (a) with the correct pairing: (R-1)*rho vs c_neg/persistence",
    ):
        assert rows[what]["measured"].startswith("not measured: "), what
        assert rows[what]["verdict"] == "descriptive" and not rows[what]["holds"]
    assert "commutator_law.csv" in rows["the law at r, r3, s, sr2: c_g = 0, R_hat = 1"]["measured"]
    # the law table without this model's d4 rows; the fingerprints without kappa_correct
    law = [_law(g, 1.0, model="vit") for g in groups.D4]
    fp = [r for r in _fp(1.0, 3.0) if r["statistic"] != "kappa_correct"]
    rows = _by(control_rows(_write(tmp_path, _pattern(3.0), _pattern(8.0), law, fp)))
    assert (
        "no d4 rows of NSD unet" in rows["the law at r, r3, s, sr2: c_g = 0, R_hat = 1"]["measured"]
    )
    fp_row = rows["fingerprint (a) with the correct pairing: (R-1)*rho vs c_neg/persistence"]
    assert fp_row["measured"].startswith("not measured: no kappa_correct")


def test_a_study_without_the_control_has_no_control_rows(tmp_path):
    law = [_law(g, 3.0, dataset="NS") for g in groups.D4]
    d = _write(tmp_path, _pattern(3.0), _pattern(8.0), law, _fp(0.1, 0.3, dataset="NS"), "NS")
    assert control_rows(d) == []
    findings = _findings.build_findings(d, stride=16)
    assert not findings.case.str.contains("| control ", regex=False).any()
    assert control_rows(tmp_path / "nothing") == []  # no equivariance_d4.csv
    # with NSD the findings carry them, under case 6
    _write(tmp_path, _pattern(3.0), _pattern(8.0), dataset="NSD")
    findings = _findings.build_findings(d, stride=16)
    control = findings[findings.case.str.contains("| control NSD", regex=False)]
    assert len(control) == 4 and (control.kind == "descriptive").all()


def test_reciprocity_on_nsd_is_stated_for_the_diagonal_stabiliser_only(tmp_path):
    # anisotropic data: the coset maps them to the mirror image, so its errors are not
    # reciprocal (log R of s, sr2, r, r3 shifted by +1); the stabiliser's are
    log_r = _synthetic(True)
    for g in FOUR:
        log_r[g] = log_r[g] + 1.0
    table = _per_seed_table(log_r)
    table.assign(dataset="NSD").to_csv(tmp_path / "equivariance_d4_per_seed.csv")
    rows = _reciprocity.symmetric_rows(tmp_path)
    got = {r["case"].split(" | ")[-1]: r["verdict"] for r in rows}
    assert got == {f"median R at {g}": "holds" for g in ("r2", "sr", "sr3")}
    assert all(" NSD vit d4 " in r["case"] for r in rows)
    # the same table as symmetric NS data: the coset's rows exist and fail
    table.to_csv(tmp_path / "equivariance_d4_per_seed.csv")
    got = {r["case"].split(" | ")[-1]: r["verdict"] for r in _reciprocity.symmetric_rows(tmp_path)}
    assert got["median R at s"] == got["median R at sr2"] == "fails"
    assert got["Q3 R at r x Q1 R at r3"] == "fails" and got["median R at sr"] == "holds"
    assert np.isfinite([r["lo"] for r in rows]).all()
