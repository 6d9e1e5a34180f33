"""Case 6's pairing fingerprints (symaudit.aggregate._fingerprints) on hand-made per-example
data: a model that obeys the law exactly has (R - 1) rho = c / persistence example by example,
so kappa = c_pair, kappa_ratio = 1 and kappa_spread = 1 with degenerate intervals, whatever its
accuracy; equal failures give failure_spread 1; a model whose excess does not scale with 1/rho
(an extrapolation error, as a data anisotropy would give) moves kappa_ratio off 1; too few
clusters give NaN intervals; the CLI path writes the table beside the law table."""

import numpy as np
import pandas as pd
import pytest

from symaudit.aggregate._bootstrap import Bootstrap
from symaudit.aggregate._fingerprints import FINGERPRINT_COLUMNS, FOUR, fingerprint_table

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
