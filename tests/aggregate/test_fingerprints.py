"""Case 6's pairing fingerprints (symaudit.aggregate._fingerprints) on hand-made per-example
data: a model that obeys the law exactly has (R - 1) rho = c / persistence example by example,
so kappa = c_pair, kappa_ratio = 1 and kappa_spread = 1 with degenerate intervals, whatever its
accuracy; equal failures give failure_spread 1; a model whose excess does not scale with 1/rho
(an extrapolation error, as a data anisotropy would give) moves kappa_ratio off 1; too few
clusters give NaN intervals; the CLI path writes the table beside the law table; only the
control dataset (NSD, its data not D4-invariant) gets the correct action's statistics."""

import numpy as np
import pandas as pd
import pytest

from symaudit.aggregate._bootstrap import Bootstrap
from symaudit.aggregate._fingerprints import (
    CORRECT,
    FINGERPRINT_COLUMNS,
    FOUR,
    fingerprint_table,
)

BOOT = Bootstrap(resamples=300, min_clusters=5)
S, B, M = 2, 3, 8  # seeds, analysis batches per seed, examples per batch


def _gathered(models: dict, seed=0, batches=B):
    """{(NS, model, d4_swapped): {element: parts}}; ``models`` = {model: R(c, smse) rule}."""
    rng = np.random.default_rng(seed)
    persist = np.full((batches, M), 0.5)
    c = {s: rng.uniform(1.0, 2.0, size=(batches, M)) for s in range(S)}  # c_neg per seed
    out = {}
    for i, (model, rule) in enumerate(models.items()):
        smse = {s: 0.05 * (i + 1) * rng.uniform(0.8, 1.2, size=(batches, M)) for s in range(S)}
        by_element = {}
        for k, g in enumerate(("e", *FOUR)):
            cg = {s: np.zeros_like(c[s]) if g == "e" else c[s] for s in range(S)}
            by_element[g] = [
                (s, rule(cg[s], smse[s], k), smse[s], persist, cg[s], c[s]) for s in range(S)
            ]
        out["NS", model, "d4_swapped"] = by_element
    return out


def _law(c, smse, k):
    return 1.0 + c / smse


def _table(gathered, boot=BOOT):
    df = fingerprint_table(gathered, boot)
    assert list(df.columns) == list(FINGERPRINT_COLUMNS)
    return df.set_index(["model", "statistic", "element"])


def test_the_law_gives_the_same_kappa_for_every_model():
    gathered = _gathered({"unet": _law, "vit": _law, "twirled-unet": _law})
    df = _table(gathered)
    c_pair = df.loc[("*", "c_pair", "")]
    parts = gathered["NS", "unet", "d4_swapped"]
    c = np.concatenate([p[4] / p[3] for g in FOUR for p in parts[g]], axis=None)
    assert c_pair.value == pytest.approx(np.median(c))  # c_neg / persistence, model-free
    assert c_pair.lo < c_pair.value < c_pair.hi
    for model in ("unet", "vit", "twirled-unet"):
        k = df.loc[(model, "kappa", "")]
        assert k.value == pytest.approx(c_pair.value)  # (R - 1) rho = c / persistence
        ratio = df.loc[(model, "kappa_ratio", "")]
        assert ratio.value == pytest.approx(1.0)
        assert ratio.lo == pytest.approx(1.0) and ratio.hi == pytest.approx(1.0)  # joint
        spread = df.loc[(model, "failure_spread", "")]
        assert spread.value == pytest.approx(1.0) and spread.hi == pytest.approx(1.0)
        assert df.loc[(model, "beta2", "")].value > 5  # the solver term dominates
    spread = df.loc[("*", "kappa_spread", "")]
    assert spread.value == pytest.approx(1.0) and spread.hi == pytest.approx(1.0)
    assert spread.note == "3 models"


def test_kappa_is_the_median_of_r_minus_one_times_rho_by_hand():
    gathered = _gathered({"unet": lambda c, smse, k: 1.0 + 0.7 * c / smse + 0.1 * k})
    df = _table(gathered)
    parts = gathered["NS", "unet", "d4_swapped"]
    kappa = np.concatenate([(p[1] - 1.0) * p[2] / p[3] for g in FOUR for p in parts[g]], axis=None)
    assert df.loc[("unet", "kappa", "")].value == pytest.approx(np.median(kappa))
    r = {g: np.median(np.concatenate([p[1] for p in parts[g]])) for g in FOUR}
    assert df.loc[("unet", "R_median", "p*r*p")].value == pytest.approx(r["p*r*p"])
    spread = max(r.values()) / min(r.values())
    assert df.loc[("unet", "failure_spread", "")].value == pytest.approx(spread)
    row = df.loc[("unet", "kappa_ratio", "")]
    assert row.lo <= row.value <= row.hi and row.hi < 1.0  # 0.7 of the law, with its interval


def test_an_excess_that_does_not_scale_with_one_over_rho_is_not_the_pairing():
    # extrapolation: R = 5 at the four whatever the model's accuracy (no c / rho law)
    df = _table(_gathered({"unet": lambda c, smse, k: np.full_like(c, 5.0), "vit": _law}))
    assert df.loc[("unet", "kappa_ratio", "")].hi < 0.75  # far below the model-free c_neg
    assert df.loc[("vit", "kappa_ratio", "")].value == pytest.approx(1.0)
    assert df.loc[("*", "kappa_spread", "")].lo > 1.25


def test_unequal_failures_widen_the_failure_spread():
    df = _table(_gathered({"unet": lambda c, smse, k: (1.0 + c / smse) * (1.0 + 0.5 * (k == 1))}))
    spread = df.loc[("unet", "failure_spread", "")]
    assert spread.value == pytest.approx(1.5, rel=0.05) and spread.lo > 1.25


def test_too_few_clusters_give_no_interval():
    df = _table(_gathered({"unet": _law, "vit": _law}, batches=2))  # 4 clusters < 5
    assert df[["lo", "hi"]].isna().all().all()
    assert df["ci_note"].str.contains("min_clusters 5").all()
    assert df.loc[("unet", "kappa", "")].value == pytest.approx(df.loc[("*", "c_pair", "")].value)


def test_without_the_four_elements_no_rows():
    gathered = _gathered({"unet": _law})
    del gathered["NS", "unet", "d4_swapped"]["p*s*p"]
    assert fingerprint_table(gathered, BOOT).empty
    assert isinstance(fingerprint_table({}, BOOT), pd.DataFrame)


def _with_correct(gathered: dict, dataset: str, rule) -> dict:
    """``gathered`` moved to ``dataset`` with a d4 set beside its d4_swapped one: the correct
    action at the four D4 elements, c_g = 0 there (the solver commutes), R by ``rule``(k)."""
    out = {}
    for (_, model, _), by_element in gathered.items():
        out[dataset, model, "d4_swapped"] = by_element
        d4 = {}
        for k, g in enumerate(("e", *CORRECT)):
            d4[g] = [
                (s, np.full_like(R, rule(k)) * (k > 0) + (k == 0), smse, persist, 0 * c, c_neg)
                for s, R, smse, persist, c, c_neg in by_element["e" if k == 0 else FOUR[k - 1]]
            ]
        out[dataset, model, "d4"] = d4
    return out


def test_the_control_gets_the_correct_actions_statistics_and_no_other_dataset_does():
    # an anisotropic dataset (NSD): with the correct pairing c_g = 0 and the model fails by
    # extrapolation, R = 3 at r, r3, s, sr2 whatever its accuracy
    gathered = _with_correct(_gathered({"unet": _law, "vit": _law}), "NSD", lambda k: 3.0)
    df = _table(gathered)
    assert df.loc[("*", "c_correct", "")].value == 0.0  # the solver commutes
    c_pair = df.loc[("*", "c_pair", "")].value
    for model in ("unet", "vit"):
        parts = gathered["NSD", model, "d4"]
        rho = np.concatenate([p[2] / p[3] for g in CORRECT for p in parts[g]], axis=None)
        kappa = df.loc[(model, "kappa_correct", "")]
        assert kappa.value == pytest.approx(np.median(2.0 * rho))  # (R - 1) rho, by hand
        ratio = df.loc[(model, "kappa_ratio_correct", "")]
        assert ratio.value == pytest.approx(kappa.value / c_pair) and ratio.hi < 0.75
        assert ratio.lo <= ratio.value <= ratio.hi
        for g in CORRECT:
            assert df.loc[(model, "R_median", g)].value == pytest.approx(3.0)
        # the wrong pairing's statistics are those of the same data without the d4 set
        assert df.loc[(model, "kappa_ratio", "")].value == pytest.approx(1.0)
    # the same per-example data on NS (D4-invariant data): no correct-action rows at all
    plain = _with_correct(_gathered({"unet": _law, "vit": _law}), "NS", lambda k: 3.0)
    ns = fingerprint_table(plain, BOOT)
    assert set(ns.statistic) == {
        "c_pair", "beta2", "kappa", "kappa_ratio", "R_median", "failure_spread", "kappa_spread"
    }  # fmt: skip
    assert ns.equals(fingerprint_table(_gathered({"unet": _law, "vit": _law}), BOOT))
