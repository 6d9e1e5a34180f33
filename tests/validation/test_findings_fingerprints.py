"""Case 6's fingerprint rows (symaudit.validation._pairing.fingerprint_rows) from hand-made
pairing_fingerprints.csv and equivariance/influence tables, against known answers: the
fingerprints hold (intervals inside the bands), fail (intervals wholly outside), are
inconclusive (NaN intervals: too few clusters; or straddling a band edge), are descriptive where
the law's solver term does not dominate; the twirled model's exact R(p*g*p) = R(neg); and the
tables' absence."""

import math

import pandas as pd

from symaudit.aggregate._fingerprints import FINGERPRINT_COLUMNS, FOUR
from symaudit.validation._pairing import KAPPA_SPREAD, SPREAD_TOL, fingerprint_rows

NAN = math.nan


def _fp(model, kappa=3.0, ratio=(1.0, 0.9, 1.1), spread=(1.05, 1.0, 1.15), beta2=15.0, c=3.0):
    rows = [
        (model, "beta2", "", beta2, NAN, NAN),
        (model, "kappa", "", kappa, kappa * 0.9, kappa * 1.1),
        (model, "kappa_ratio", "", *ratio),
        (model, "failure_spread", "", *spread),
    ]
    rows += [(model, "R_median", g, 1 + c / 0.2, NAN, NAN) for g in FOUR]
    return rows


def _write(tmp_path, rows, c_pair=(3.0, 2.8, 3.2), kappa_spread=(1.1, 1.0, 1.3)):
    table = [("*", "c_pair", "", *c_pair), *rows]
    if kappa_spread is not None:
        table.append(("*", "kappa_spread", "", *kappa_spread))
    df = pd.DataFrame(
        [
            {"dataset": "NS", "model": m, "statistic": s, "element": e, "value": v, "lo": lo,
             "hi": hi, "n_clusters": 5, "ci_note": "", "note": ""}
            for m, s, e, v, lo, hi in table
        ],
        columns=list(FINGERPRINT_COLUMNS),
    )  # fmt: skip
    df.to_csv(tmp_path / "pairing_fingerprints.csv", index=False)
    return tmp_path


def _by(rows):
    return {r["case"].split(" | ", 1)[1]: r for r in rows}


def test_the_fingerprints_hold(tmp_path):
    rows = _by(fingerprint_rows(_write(tmp_path, _fp("unet") + _fp("vit"))))
    a = rows["NS unet | fingerprint (a): (R-1)*rho = c_neg/persistence"]
    b = rows["NS unet | fingerprint (b): equal-sized failures"]
    across = rows["NS | fingerprint (a): (R-1)*rho the same for every model"]
    for r in (a, b, across):
        assert r["kind"] == "derived" and r["verdict"] == "holds", r
    assert (a["lo"], a["hi"]) == (0.9, 1.1)
    assert len(rows) == 5  # (a), (b) per model, (a) across models; no influence table


def test_the_fingerprints_fail(tmp_path):
    # an excess that does not scale with 1/rho (extrapolation): kappa far from c_neg, models
    # unequal; one element failing twice as hard as another
    rows = _fp("unet", kappa=1.0, ratio=(0.33, 0.3, 0.36), spread=(2.0, 1.8, 2.2))
    rows += _fp("vit", kappa=6.0, ratio=(2.0, 1.8, 2.2))
    out = _by(fingerprint_rows(_write(tmp_path, rows, kappa_spread=(6.0, 5.0, 7.0))))
    assert out["NS unet | fingerprint (a): (R-1)*rho = c_neg/persistence"]["verdict"] == "fails"
    assert out["NS vit | fingerprint (a): (R-1)*rho = c_neg/persistence"]["verdict"] == "fails"
    assert out["NS unet | fingerprint (b): equal-sized failures"]["verdict"] == "fails"
    across = out["NS | fingerprint (a): (R-1)*rho the same for every model"]
    assert across["verdict"] == "fails" and across["lo"] > KAPPA_SPREAD


def test_the_fingerprints_are_inconclusive_with_few_clusters_or_a_straddle(tmp_path):
    rows = _fp("unet", ratio=(1.0, NAN, NAN), spread=(1.1, NAN, NAN))  # < min_clusters
    rows += _fp("vit", ratio=(1.2, 1.1, 1.4), spread=(1.2, 1.1, 1 + SPREAD_TOL + 0.1))
    out = _by(fingerprint_rows(_write(tmp_path, rows, kappa_spread=(1.1, NAN, NAN))))
    for model in ("unet", "vit"):
        for what in ("(a): (R-1)*rho = c_neg/persistence", "(b): equal-sized failures"):
            r = out[f"NS {model} | fingerprint {what}"]
            assert r["kind"] == "derived" and r["verdict"] == "inconclusive", (model, what)
    assert out["NS | fingerprint (a): (R-1)*rho the same for every model"]["verdict"] == (
        "inconclusive"
    )


def test_a_small_solver_term_makes_the_rows_descriptive(tmp_path):
    rows = _fp("unet", beta2=0.5) + _fp("vit")
    out = _by(fingerprint_rows(_write(tmp_path, rows)))
    assert out["NS unet | fingerprint (a): (R-1)*rho = c_neg/persistence"]["kind"] == "descriptive"
    assert out["NS unet | fingerprint (b): equal-sized failures"]["verdict"] == "descriptive"
    assert out["NS vit | fingerprint (b): equal-sized failures"]["kind"] == "derived"
    assert out["NS | fingerprint (a): (R-1)*rho the same for every model"]["kind"] == "descriptive"


def _medians(tmp_path, name, model, values):
    df = pd.DataFrame(
        [{"dataset": "NS", "model": model, "element": g, "median": v} for g, v in values.items()]
    )
    df.to_csv(tmp_path / name, index=False)


def test_influence_is_descriptive_and_the_twirled_model_is_exact(tmp_path):
    tables = _write(tmp_path, _fp("twirled-unet") + _fp("unet"))
    four = {g: 16.0 for g in FOUR}
    _medians(tmp_path, "equivariance_d4_swapped.csv", "twirled-unet", four)
    _medians(tmp_path, "equivariance_negation.csv", "twirled-unet", {"e": 1.0, "neg": 16.0})
    _medians(
        tmp_path, "influence_d4.csv", "twirled-unet", {g: 2.0 for g in ("r", "r3", "s", "sr2")}
    )
    _medians(tmp_path, "influence_d4_swapped.csv", "twirled-unet", {g: -1.5 for g in FOUR})
    out = _by(fingerprint_rows(tables))
    exact = out["NS twirled-unet | twirled: R(p*g*p) = R(neg)"]
    assert exact["kind"] == "exact" and exact["verdict"] == "holds"
    c = out["NS twirled-unet | fingerprint (c): influence at r, r3, s, sr2"]
    assert c["kind"] == "descriptive" and c["holds"]
    missing = out["NS unet | fingerprint (c): influence at r, r3, s, sr2"]
    assert "not measured" in missing["measured"]
    _medians(tmp_path, "equivariance_d4_swapped.csv", "twirled-unet", {**four, "p*s*p": 15.0})
    out = _by(fingerprint_rows(tables))
    assert out["NS twirled-unet | twirled: R(p*g*p) = R(neg)"]["verdict"] == "fails"


def test_absent_tables(tmp_path):
    assert fingerprint_rows(tmp_path) == []  # no law table either: the law rows say why
    (tmp_path / "commutator_law.csv").write_text("dataset\n")
    rows = fingerprint_rows(tmp_path)
    assert len(rows) == 1 and rows[0]["verdict"] == "inconclusive"
    assert "pairing_fingerprints.csv" in rows[0]["measured"]
