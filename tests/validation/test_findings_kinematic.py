"""Case 7 of the findings (docs/validation.md): boosts, scaling and the Lie derivative, computed
by the findings step itself in float64; every row holds, and only ``--kinematic`` runs it."""

from __future__ import annotations

import pandas as pd

from symaudit import cli
from symaudit.validation import _findings
from symaudit.validation._kinematic import CASE7, case7_rows


def test_case7_rows_hold():
    df = pd.DataFrame(case7_rows())
    assert df.holds.all(), df[~df.holds].to_string()
    assert df.case.str.startswith(CASE7).all()
    labels = set(df.case.str.split(" [|] ").str[1])
    assert {"CE-RP", "NS-BB", "NS-Kolmogorov", "CE-RP persistence", "Lie derivative"} <= labels
    broken = df[df.case == f"{CASE7} | NS-Kolmogorov | solver outside G"]
    assert len(broken) == 1 and "y-boosts" in broken.expected.iloc[0]
    scale = df[df.case.str.contains("persistence")]
    assert scale.measured.str.contains("normalised 1..1").all()


def test_only_with_kinematic(tmp_path, monkeypatch):
    monkeypatch.setattr(
        "symaudit.validation._findings.case7_rows",
        lambda: [{"case": f"{CASE7} | x", "expected": "e", "measured": "m", "holds": True}],
    )
    df = _findings.build_findings(tmp_path, stride=16)
    assert not df.case.str.startswith("7 ").any()
    out = tmp_path / "f.csv"
    assert cli.main(["findings", "--tables", str(tmp_path), "--out", str(out), "--kinematic"]) == 0
    assert (pd.read_csv(out).case == f"{CASE7} | x").sum() == 1
