"""Two runs' findings compared verdict by verdict: every class of agreement on a hand-made
pair of tables, the tally, descriptive rows left out, and the CLI's exit status."""

from __future__ import annotations

import pandas as pd
import pytest

from symaudit.cli import main
from symaudit.validation._compare import agreement_tally, compare_verdicts


def _table(rows):
    return pd.DataFrame(rows, columns=["case", "kind", "verdict"])


A = _table(
    [
        ("c1", "exact", "holds"),
        ("c2", "derived", "inconclusive"),
        ("c3", "derived", "holds"),
        ("c4", "derived", "holds"),
        ("c5", "derived", "fails"),
        ("c6", "descriptive", "descriptive"),
        ("c7", "exact", "holds"),
    ]
)
B = _table(
    [
        ("c1", "exact", "holds"),
        ("c2", "derived", "inconclusive"),
        ("c3", "derived", "inconclusive"),
        ("c4", "derived", "fails"),
        ("c5", "derived", "inconclusive"),
        ("c6", "descriptive", "descriptive"),
        ("c8", "derived", "holds"),
    ]
)


def test_every_class_of_agreement():
    got = compare_verdicts(A, B).set_index("case")["agreement"].to_dict()
    assert got == {
        "c1": "same",
        "c2": "same",  # inconclusive in both
        "c3": "softened",
        "c4": "contradicts",
        "c5": "softened",
        "c7": "only_a",
        "c8": "only_b",
    }  # c6 is descriptive: no known answer, not compared


def test_tally_per_kind():
    t = agreement_tally(compare_verdicts(A, B))
    assert t.loc["exact"].to_dict() == {
        "same": 1,
        "softened": 0,
        "contradicts": 0,
        "only_a": 1,
        "only_b": 0,
    }
    assert t.loc["derived"].to_dict() == {
        "same": 1,
        "softened": 2,
        "contradicts": 1,
        "only_a": 0,
        "only_b": 1,
    }


def test_duplicate_case_is_refused():
    with pytest.raises(ValueError, match="case 'c1' appears twice"):
        compare_verdicts(pd.concat([A, A.iloc[:1]]), B)


def test_cli_exit_status(tmp_path, capsys):
    a, b, out = tmp_path / "a.csv", tmp_path / "b.csv", tmp_path / "cmp.csv"
    A.to_csv(a, index=False)
    B.to_csv(b, index=False)
    assert main(["findings-compare", str(a), str(b), "--out", str(out)]) == 1
    text = capsys.readouterr().out
    assert "contradicts: c4 (derived): holds vs fails" in text
    assert len(pd.read_csv(out)) == 7
    A.to_csv(b, index=False)
    assert main(["findings-compare", str(a), str(b)]) == 0
