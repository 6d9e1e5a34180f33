"""Kinds and verdicts of the findings: every verdict path of every kind on hand-made intervals,
reciprocity on synthetic data with a known answer (symmetric: holds; asymmetric: fails; too
few clusters: inconclusive), the UNet's period rows, and the tally by kind."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from symaudit import groups
from symaudit.aggregate._bootstrap import Bootstrap, pooled_intervals
from symaudit.validation import _exact, _findings, _reciprocity, _rows

from .test_findings import _eq

NAN = math.nan


@pytest.mark.parametrize(
    ("lo", "hi", "claim", "expected"),
    [
        (1.2, 1.5, {"above": 1.1}, "holds"),
        (0.9, 1.05, {"above": 1.1}, "fails"),
        (1.0, 1.3, {"above": 1.1}, "inconclusive"),  # straddles the threshold
        (0.1, 0.4, {"below": 0.5}, "holds"),
        (0.6, 0.9, {"below": 0.5}, "fails"),
        (0.4, 0.6, {"below": 0.5}, "inconclusive"),
        (0.98, 1.03, {"equal": 1.0}, "holds"),  # inside 1 +- 0.05
        (1.01, 1.04, {"equal": 1.0}, "holds"),  # excludes 1, but within the band
        (0.7, 0.9, {"equal": 1.0}, "fails"),  # wholly outside the band
        (1.06, 1.3, {"equal": 1.0}, "fails"),
        (0.9, 0.97, {"equal": 1.0}, "inconclusive"),  # straddles the band's edge 0.95
        (0.9, 1.2, {"equal": 1.0}, "inconclusive"),  # wider than the band
        (NAN, NAN, {"above": 1.1}, "inconclusive"),  # too few clusters
        (NAN, 1.2, {"equal": 1.0}, "inconclusive"),
    ],
)
def test_derived_verdicts(lo, hi, claim, expected):
    # the point comparison never decides a derived row
    for holds in (True, False):
        assert _rows.verdict("derived", holds, lo, hi, **claim) == expected


def test_exact_and_descriptive_verdicts():
    # exact: the point value against the tolerance decides; the interval is irrelevant
    assert _rows.verdict("exact", True, 0.5, 2.0) == "holds"
    assert _rows.verdict("exact", False, 0.999, 1.001) == "fails"
    assert _rows.verdict("exact", True) == "holds"  # NaN interval
    # descriptive: no pass/fail, whatever the numbers
    for holds in (True, False):
        assert _rows.verdict("descriptive", holds, 1.2, 1.5, above=1.1) == "descriptive"
    with pytest.raises(ValueError, match="kind"):
        _rows.verdict("known", True)
    with pytest.raises(ValueError, match="exactly one"):
        _rows.verdict("derived", True, 1.0, 2.0)
    # rows: a derived row must be judged; a verdict must fit its kind
    with pytest.raises(ValueError, match="derived row needs"):
        _rows.row("c", "e", "m", True, "derived")
    with pytest.raises(ValueError, match="does not fit"):
        _rows.row("c", "e", "m", True, "exact", judged="descriptive")
    r = _rows.row("c", "e", "m", False, "exact", 0.9, 1.1)
    assert (r["kind"], r["verdict"], r["lo"], r["hi"]) == ("exact", "fails", 0.9, 1.1)
    assert _rows.missing("c", "e", "why", "descriptive")["verdict"] == "descriptive"
    assert _rows.missing("c", "e", "why", "derived")["verdict"] == "inconclusive"


def test_tally_counts_only_exact_and_derived_as_known_answers():
    verdicts = {
        "exact": ["holds", "holds", "fails"],
        "derived": ["holds", "inconclusive", "fails", "fails"],
        "descriptive": ["descriptive"] * 5,
    }
    df = pd.DataFrame([{"kind": k, "verdict": v} for k, vs in verdicts.items() for v in vs])
    t = _rows.tally(df)
    assert t.loc["exact", ["holds", "fails", "inconclusive", "rows"]].tolist() == [2, 1, 0, 3]
    assert t.loc["derived", ["holds", "fails", "inconclusive", "rows"]].tolist() == [1, 2, 1, 4]
    assert t.loc["known answers", ["holds", "fails", "inconclusive", "rows"]].tolist() == [
        3,
        3,
        1,
        7,
    ]
    assert t.loc["known answers", "descriptive"] == 0 and t.loc["descriptive", "rows"] == 5
    line = _rows.tally_line(df)
    assert line == (
        "known answers: exact 2/3 hold (1 fail, 0 inconclusive); derived 1/4 hold "
        "(2 fail, 1 inconclusive); descriptive (no known answer): 5"
    )


def test_inverse_pairs():
    inv, pairs = _reciprocity.inverse_pairs(list(groups.D4), 8)
    assert inv == ["r2", "s", "sr", "sr2", "sr3"] and pairs == [("r", "r3")]
    inv, pairs = _reciprocity.inverse_pairs(groups.elements("shift_x", 8), 8)
    assert inv == ["t(4,0)"]
    assert pairs == [("t(1,0)", "t(7,0)"), ("t(2,0)", "t(6,0)"), ("t(3,0)", "t(5,0)")]
    inside = [
        g for g in groups.elements("kolmogorov", 32) if g in set(groups.kolmogorov.subgroup(32))
    ]
    inv, pairs = _reciprocity.inverse_pairs(inside, 32)
    assert {"r2", "r2*t(3,8)"} <= set(inv) and "s*t(0,4)" not in inv  # (s t(0,4))^2 = t(0,8)


BOOT = Bootstrap(resamples=1000)


def _per_seed_table(log_r: dict[str, np.ndarray]) -> pd.DataFrame:
    """The per-seed table ``symaudit aggregate`` writes for one seed: quantiles of R over the
    examples and their cluster-bootstrap intervals; ``log_r[g]`` (batches, examples)."""
    rows = []
    for g, v in log_r.items():
        values = np.exp(v)[None, :, None, :]  # (seed, batch, element, example)
        lohi, n = pooled_intervals(values, (0.25, 0.5, 0.75), BOOT, f"NS/vit/{g}")
        q = np.quantile(values.ravel(), [0.25, 0.5, 0.75])
        row = {"seed": 0, "dataset": "NS", "model": "vit", "element_set": "d4", "element": g}
        for i, name in enumerate(("q1", "median", "q3")):
            row.update({name: q[i], f"{name}_lo": lohi[0, i, 0], f"{name}_hi": lohi[1, i, 0]})
        rows.append({**row, "n_clusters": int(n[0])})
    return pd.DataFrame(rows)


def _synthetic(symmetric: bool, batches: int = 20, examples: int = 100) -> dict:
    """log R per (batch, example) for D4.  Symmetric data: every batch holds each example x
    and g x (a test set closed under g), so log R_g(g x) = -log R_g(x) for an involution and
    log R_g^-1(g x) = -log R_g(x): the statement holds in every bootstrap replicate.
    Asymmetric data: the involutions' log R centred at 0.3, and r3's not mirrored."""
    rng = np.random.default_rng(7)

    def draw(mu):
        return mu + 0.2 * rng.standard_normal((batches, examples // 2))

    log_r = {"e": np.zeros((batches, examples))}
    for g in ("r2", "s", "sr", "sr2", "sr3"):
        half = draw(0.0)
        log_r[g] = np.concatenate([half, -half], 1) + (0.0 if symmetric else 0.3)
    half = draw(0.2)
    log_r["r"] = np.concatenate([half, half], 1)
    log_r["r3"] = np.concatenate([-half, -half], 1) if symmetric else log_r["r"]
    return log_r


def _verdicts(tables) -> dict[str, str]:
    df = pd.DataFrame(_reciprocity.symmetric_rows(tables))
    assert (df.kind == "derived").all()
    return {c.split(" | ")[-1]: v for c, v in zip(df.case, df.verdict, strict=True)}


def test_reciprocity_holds_on_symmetric_data_and_fails_on_asymmetric(tmp_path):
    _per_seed_table(_synthetic(True)).to_csv(tmp_path / "equivariance_d4_per_seed.csv")
    got = _verdicts(tmp_path)
    names = [f"median R at {g}" for g in ("r2", "s", "sr", "sr2", "sr3")]
    assert set(got) == {*names, "Q3 R at r x Q1 R at r3"}
    assert set(got.values()) == {"holds"}, got
    _per_seed_table(_synthetic(False)).to_csv(tmp_path / "equivariance_d4_per_seed.csv")
    assert set(_verdicts(tmp_path).values()) == {"fails"}
    # too few clusters (2 batches < min_clusters 5): NaN interval, inconclusive whatever the point
    few = _per_seed_table(_synthetic(True, batches=2))
    assert few.median_lo.isna().all()
    few.to_csv(tmp_path / "equivariance_d4_per_seed.csv")
    assert set(_verdicts(tmp_path).values()) == {"inconclusive"}


def test_reciprocity_skips_broken_data_and_joins_the_table(tmp_path):
    table = _per_seed_table(_synthetic(True))
    broken = table.assign(dataset="NSK")  # Kolmogorov data: only G's members, in case 3
    pd.concat([table, broken]).to_csv(tmp_path / "equivariance_d4_per_seed.csv")
    df = _findings.build_findings(tmp_path, stride=16)
    recip = df[df.case.str.startswith(_reciprocity.CASE_R)]
    assert len(recip) == 6 and not recip.case.str.contains("NSK").any()
    assert (recip.verdict == "holds").all() and recip.lo.notna().all()
    assert (recip.lo <= recip.hi).all()


def _shift_tables(d, off: float):
    """A 32-grid shift_x study of the UNet: t(k) and t(k + 16) share their quantiles (one pair
    off by ``off`` relative), the stride multiple is exact."""
    eq, per = [], []
    for k in range(32):
        g = f"t({k},0)"
        base = 1.0 if k % 16 == 0 else 1.0 + 0.01 * (k % 16)
        value = base * (1 + off) if k == 19 else base
        eq.append(_eq("NS", "unet", "shift_x", g, value, value, value))
        q = {"q1": 0.9 * value, "median": value, "q3": 1.1 * value, "min": value, "max": value}
        per.append({"seed": 0, "dataset": "NS", "model": "unet", "element": g, **q})
    pd.DataFrame(eq).to_csv(d / "equivariance_shift_x.csv", index=False)
    pd.DataFrame(per).to_csv(d / "equivariance_shift_x_per_seed.csv", index=False)


def test_period_rows_are_exact(tmp_path):
    _shift_tables(tmp_path, 0.0)
    df = pd.DataFrame(_exact.case2_rows(tmp_path, stride=16))
    period = df[df.case.str.contains("| period ", regex=False)]
    assert len(period) == 15 and (period.kind == "exact").all()
    assert (period.verdict == "holds").all()
    assert "t(3,0) = t(19,0)" in " ".join(period.case)
    _shift_tables(tmp_path, 1e-5)  # t(19,0) differs from t(3,0) by 1e-5 > 1e-6
    df = pd.DataFrame(_exact.case2_rows(tmp_path, stride=16))
    period = df[df.case.str.contains("| period ", regex=False)]
    bad = period[period.verdict == "fails"]
    assert bad.case.str.endswith("period t(3,0) = t(19,0)").tolist() == [True]


def _influence_shift_table(d, off: float, precision: str | None):
    """influence_shift_x.csv of the UNet: Pi at t(19,0) off t(3,0)'s by ``off`` relative."""
    rows = []
    for k in range(32):
        value = (1.0 + 0.01 * (k % 16)) * ((1 + off) if k == 19 else 1.0)
        row = {"dataset": "NS", "model": "unet", "element_set": "shift_x", "element": f"t({k},0)",
               "q1": 0.5 * value, "median": value, "q3": 2 * value, "converged": True}  # fmt: skip
        if precision is not None:
            row["analysis_dtype"] = precision
        rows.append(row)
    pd.DataFrame(rows).to_csv(d / "influence_shift_x.csv", index=False)


@pytest.mark.parametrize(
    "precision, off, fails",
    [
        (None, 5e-7, False),  # a table without the record: float32 bras, 1e-6
        ("float32", 5e-7, False),
        ("float64", 5e-7, True),  # float64 bras: 1e-12
        ("float64", 1e-14, False),
        ("float32", 2e-6, True),
    ],
)
def test_period_rows_judge_pi_at_the_bras_precision(tmp_path, precision, off, fails):
    _shift_tables(tmp_path, 0.0)
    _influence_shift_table(tmp_path, off, precision)
    df = pd.DataFrame(_exact.case2_rows(tmp_path, stride=16))
    period = df[df.case.str.contains("| period ", regex=False)]
    assert len(period) == 15
    bad = period[period.verdict == "fails"]
    assert bad.case.str.endswith("t(3,0) = t(19,0)").tolist() == ([True] if fails else [])
    tol = "1e-12 (float64 bras)" if precision == "float64" else "1e-06 (float32 bras)"
    assert period.expected.str.contains(f"Pi's within {tol}", regex=False).all()


def test_family_tally():
    df = pd.DataFrame(
        {
            "case": ["1 a | x", "1 a | y", "2r b | x", "3 c | x", "3 c | y"],
            "kind": ["exact", "exact", "derived", "descriptive", "derived"],
            "verdict": ["holds", "fails", "inconclusive", "descriptive", "holds"],
        }
    )
    t = _rows.family_tally(df)
    assert t.index.tolist() == ["1 a", "2r b", "3 c"]
    assert t.loc["1 a"].tolist() == [1, 1, 0, 2, 0]
    assert t.loc["2r b"].tolist() == [0, 0, 1, 1, 0]
    assert t.loc["3 c"].tolist() == [1, 0, 0, 1, 1]


def test_case3_reciprocity_only_for_members_of_g(tmp_path):
    """Kolmogorov data are symmetric under G only: reciprocity rows for G's involutions (r2,
    r2*t(3,8), sr2*t(0,4) at N = 32), none for the non-members (s, sr2, ... are involutions too)."""
    from symaudit.validation import _physics

    from .test_findings import _inf

    names = groups.elements("kolmogorov", 32)
    members = [g for g in names if groups.kolmogorov.fixes_forcing(g, 32)]
    eq = [_eq("NSK", "unet", "kolmogorov", g, 1.0 if g in members else 3.0, 0.5, 9) for g in names]
    inf = [_inf("NSK", "unet", "kolmogorov", g, 2.0 if g in members else 0.5) for g in names]
    pd.DataFrame(eq).to_csv(tmp_path / "equivariance_kolmogorov.csv", index=False)
    pd.DataFrame(inf).to_csv(tmp_path / "influence_kolmogorov.csv", index=False)
    per = _per_seed_table({g: np.zeros((6, 4)) for g in names}).assign(dataset="NSK", model="unet")
    per.to_csv(tmp_path / "equivariance_kolmogorov_per_seed.csv", index=False)
    df = pd.DataFrame(_physics.case3_rows(tmp_path))
    derived = df[df.kind == "derived"]
    got = [c.split(" | ")[-1] for c in derived.case]
    assert got == ["median R at r2", "median R at r2*t(3,8)", "median R at sr2*t(0,4)"]
    assert (derived.verdict == "holds").all()  # R = 1 everywhere: the interval is [1, 1]
    assert (df[df.kind == "descriptive"].verdict == "descriptive").all()
