"""Findings of case 5 (exact vs Galerkin influence; case 4, augmentation, reads the runs' files:
tests/validation/test_findings_augmentation.py): synthetic tables with known answers, true and
false.

twirl_d4.csv and influence_d4.csv: the tables of the other cases (case 4 no longer reads them).
influence_robustness_medians.csv: NS unet Galerkin = 1.1 x the λ = 1e-3 medians (gap 0.1, τ 1);
NS vit Galerkin reverses the ranking (τ -1); NSK unet: inside G (e, r2) 1, outside 0.5 at λ but 2
under Galerkin (the conclusion changes); NSK vit: outside 0.25 of inside under both.
"""

from __future__ import annotations

import pandas as pd
import pytest

from symaudit import cli, groups
from symaudit.aggregate._robustness import ORDERING_COLUMNS, ORDERING_TABLE
from symaudit.validation import _augmentation, _findings, _reference

TWIRL_COLS = [
    "percent_q1",
    "percent_median",
    "percent_q3",
    "pooled_percent",
    "loss_total",
    "loss_mean",
    "loss_equiv",
    "loss_twirled",
    "n_seeds",
    "n_examples",
]


def _twirl(dataset, model, percent):
    values = [
        percent - 1,
        percent,
        percent + 1,
        percent,
        1.0,
        1 - percent / 100,
        percent / 100,
        1 - percent / 100,
        2,
        36,
    ]
    return {"dataset": dataset, "model": model, **dict(zip(TWIRL_COLS, values, strict=True))}


def _inf(dataset, model, element, median):
    g = groups.parse(element)
    return {
        "dataset": dataset,
        "model": model,
        "element_set": "d4",
        "element": element,
        "dx": g.dx,
        "dy": g.dy,
        "rotate": g.rotate,
        "reflect": g.reflect,
        "q1": 0.9 * median,
        "median": median,
        "q3": 1.1 * median,
        "n": 36,
        "n_seeds": 2,
        "n_batches": 2,
        "n_unconverged": 0,
        "n_kets": 36,
        "converged": True,
    }


def _med(dataset, model, element_set, element, damping, median):
    return {
        "dataset": dataset,
        "model": model,
        "element_set": element_set,
        "element": element,
        "damping": damping,
        "median": median,
        "n": 36,
    }


@pytest.fixture
def tables(tmp_path):
    d = tmp_path / "tables"
    d.mkdir()
    pd.DataFrame(
        [
            _twirl("NS", "unet", 20.0),
            _twirl("NS", "unet-aug", 5.0),
            _twirl("NS", "vit", 10.0),
            _twirl("NS", "vit-aug", 15.0),
            _twirl("CE", "unet", 8.0),
        ]
    ).to_csv(d / "twirl_d4.csv", index=False)
    inf = []
    for g in groups.D4:
        inf.append(_inf("NS", "unet", g, 3.0 if g == "sr3" else 1.0))
        inf.append(_inf("NS", "unet-aug", g, 2.5 if g == "r" else 2.0))
        inf.append(_inf("NS", "vit", g, 1.0 + groups.D4.index(g)))
        if g != "r":
            inf.append(_inf("NS", "vit-aug", g, 1.0))
        inf.append(_inf("CE", "unet", g, 1.0))
    pd.DataFrame(inf).to_csv(d / "influence_d4.csv", index=False)
    med = []
    for i, g in enumerate(groups.D4):
        exact = 8.0 - i
        for damping, unet, vit in [
            ("0.01", exact, exact),
            ("0.001", exact, exact),
            ("galerkin", 1.1 * exact, float(i + 1)),
        ]:
            med.append(_med("NS", "unet", "d4", g, damping, unet))
            med.append(_med("NS", "vit", "d4", g, damping, vit))
            med.append(_med("NS", "twirled-unet", "d4", g, damping, 1.0))
        inside = g in ("e", "r2")
        for damping, outside_unet in [("0.001", 0.5), ("galerkin", 2.0)]:
            med.append(_med("NSK", "unet", "d4", g, damping, 1.0 if inside else outside_unet))
            med.append(_med("NSK", "vit", "d4", g, damping, 4.0 if inside else 1.0))
    pd.DataFrame(med).to_csv(d / "influence_robustness_medians.csv", index=False)
    return d


def _one(df, case):
    rows = df[df.case == case]
    assert len(rows) == 1, (case, list(df.case))
    return rows.iloc[0]


def test_spread():
    assert _augmentation.d4_spread([1, 1, 1, 1, 1, 1, 1, 3]) == pytest.approx(2.0 / 1.25, rel=1e-15)
    assert _augmentation.d4_spread([2.0] * 8) == 0.0
    assert pd.isna(_augmentation.d4_spread([1.0, float("nan")]))


def test_case5_known_answers(tables):
    rows = pd.DataFrame(_reference.case5_rows(tables, primary=1e-3))
    head = "5 exact vs the reference's approximation"
    unet = _one(rows, f"{head} | NS unet")
    assert unet.holds
    assert unet.measured == "tau 1; relative gap median 0.1, max 0.1 over 8 elements (λ 0.001)"
    vit = _one(rows, f"{head} | NS vit")
    assert not vit.holds and vit.measured.startswith("tau -1;")
    assert not rows.case.str.contains("twirled").any()
    changed = _one(rows, f"{head} | case 3 under Galerkin | unet d4")
    assert not changed.holds
    assert changed.measured.startswith("outside / inside 0.5 at λ 0.001, 2 under Galerkin")
    same = _one(rows, f"{head} | case 3 under Galerkin | vit d4")
    assert same.holds and "0.25 at λ 0.001, 0.25 under Galerkin" in same.measured


def test_case5_not_measured(tables, tmp_path):
    head = "5 exact vs the reference's approximation"
    row = _reference.case5_rows(tables, primary=None)
    assert [r["measured"] for r in row] == [
        "not measured: the primary λ (influence.damping.primary) not given"
    ]
    row = _reference.case5_rows(tables, primary=1e-5)
    assert row[0]["measured"] == "not measured: λ 1e-05 absent from the table"
    med = pd.read_csv(tables / "influence_robustness_medians.csv")
    med[med.dataset != "NSK"].to_csv(tables / "influence_robustness_medians.csv", index=False)
    rows = pd.DataFrame(_reference.case5_rows(tables, primary=1e-3))
    gone = _one(rows, f"{head} | case 3 under Galerkin")
    assert not gone.holds
    assert gone.measured == "not measured: no NSK rows in influence_robustness_medians.csv"
    empty = tmp_path / "empty"
    empty.mkdir()
    assert _reference.case5_rows(empty, 1e-3)[0]["measured"].startswith(
        "not measured: no influence_robustness_medians.csv"
    )
    assert _augmentation.case4_rows(empty)[0]["measured"] == (
        f"not measured: neither twirl.nc nor d4 influence stores under {tmp_path}"
    )


def test_registered_in_the_findings_table_and_cli(tables, tmp_path, capsys):
    df = _findings.build_findings(tables, stride=16, primary_damping=1e-3)
    cases = [c.split(" |")[0] for c in df.case]
    # case order: quality, 1, 2, 2r, 3 (not measured here), 4, 5, 6 (not measured here)
    assert list(dict.fromkeys(cases)) == [
        "quality gate",
        "1 exact control",
        "2 architecture-exact translations",
        "2r reciprocity on symmetric data",
        "3 symmetry broken by the physics",
        "4 augmentation",
        "5 exact vs the reference's approximation",
        "6 NS pairing artefact",
        "8 the law R ~ 1 + c/rho",
    ]
    # case 4 reads the runs' files beside the tables (tests/validation/test_findings_augmentation)
    assert _one(df, "4 augmentation").measured.startswith("not measured: neither twirl.nc")
    # case 5 has no derived answer: descriptive, never counted as known answers; but its
    # ordering at matched damping is exact (not measured here: no ordering table)
    ordering = df.case.str.contains("Π_G ≤ Π", regex=False)
    assert (df[df.case.str.match(r"^5 ") & ~ordering].verdict == "descriptive").all()
    assert list(df[ordering].kind) == ["exact"] and list(df[ordering].verdict) == ["inconclusive"]
    out = tmp_path / "findings.csv"
    argv = [
        "findings",
        "--tables",
        str(tables),
        "--out",
        str(out),
        "--stride",
        "16",
        "--primary-damping",
        "0.001",
        "--augmented",
        "unet-aug=unet",
    ]
    assert cli.main(argv) == 0
    written = pd.read_csv(out)
    assert _one(written, "5 exact vs the reference's approximation | NS unet").holds
    capsys.readouterr()
    assert cli.main([*argv[:-2], "--augmented", "unet-aug"]) != 0
    assert "--augmented 'unet-aug': expected VARIANT=BASE" in capsys.readouterr().err


def _ordering(d, rows):
    frame = pd.DataFrame(rows, columns=list(ORDERING_COLUMNS))
    frame.to_csv(d / f"{ORDERING_TABLE}.csv", index=False)


def test_case5_ordering_is_exact_and_the_gaps_descriptive(tables):
    """influence_galerkin_ordering.csv: NS unet seed0 every pair ordered (holds), NS vit seed0
    one of 48 above the bound (fails); the gap rows are descriptive; findings.csv keeps the
    other case 5 rows descriptive."""
    _ordering(
        tables,
        [
            ("NS", "unet", 0, 48, 48, 1.0, 0.2, 0.3, 0.5),
            ("NS", "vit", 0, 48, 47, 47 / 48, 3.0, 0.1, 0.4),
        ],
    )
    rows = pd.DataFrame(_reference.ordering_rows(tables))
    head = "5 exact vs the reference's approximation"
    ok = _one(rows, f"{head} | Π_G ≤ Π at the primary λ | NS unet seed0")
    assert ok.kind == "exact" and ok.verdict == "holds"
    assert ok.measured == "48/48 pairs ordered (fraction 1); max (Π_G − Π) / (‖g‖ ‖r‖ / λ) 0.2"
    bad = _one(rows, f"{head} | Π_G ≤ Π at the primary λ | NS vit seed0")
    assert bad.kind == "exact" and bad.verdict == "fails"
    gap = _one(rows, f"{head} | matched-damping gap | NS unet seed0")
    assert gap.kind == "descriptive" and gap.verdict == "descriptive"
    assert gap.measured == (
        "median relative gap 0.3 at the primary λ (subspace), 0.5 at ε = 1e-6 (subspace and "
        "damping) over 48 pairs"
    )
    df = _findings.build_findings(tables, primary_damping=1e-3, stride=16)
    case5 = df[df.case.str.startswith(head)]
    exact = case5[case5.kind == "exact"]
    assert set(exact.case.str.split(" | ", regex=False).str[1]) == {"Π_G ≤ Π at the primary λ"}
    assert list(exact.verdict) == ["holds", "fails"]


def test_case5_ordering_not_measured(tables, tmp_path):
    head = "5 exact vs the reference's approximation | Π_G ≤ Π at the primary λ"
    # Galerkin values but no ordering table: one not-measured exact row
    (row,) = _reference.ordering_rows(tables)
    assert row["case"] == head and row["verdict"] == "inconclusive"
    assert row["measured"] == "not measured: no influence_galerkin_ordering.csv"
    _ordering(tables, [])
    (row,) = _reference.ordering_rows(tables)
    assert "no self_influence_*" in row["measured"]
    # no Galerkin reference at all (case5_rows says so): no ordering rows
    empty = tmp_path / "empty"
    empty.mkdir()
    assert _reference.ordering_rows(empty) == []
    med = pd.read_csv(tables / "influence_robustness_medians.csv")
    med[med.damping.astype(str) != "galerkin"].to_csv(
        tables / "influence_robustness_medians.csv", index=False
    )
    assert _reference.ordering_rows(tables) == []
