"""Two runs of one study, verdict by verdict (``symaudit findings-compare A B``).

A verdict that flips with the machine is noise.  Two ``findings.csv`` of the same study that
differ only in what a machine changes (torch's thread count, another CPU) should give every
known answer (exact and derived rows) the same verdict.  Rows are matched by their ``case``
label (unique within a findings table).  Each matched known answer is classed as

* ``same`` -- the same verdict in both runs (``inconclusive`` in both included);
* ``softened`` -- decided (holds or fails) in one run, ``inconclusive`` in the other: the
  intervals overlap the threshold differently, no contradiction;
* ``contradicts`` -- ``holds`` in one run and ``fails`` in the other.

Rows present in only one table are listed as ``only_a`` / ``only_b``.  Descriptive rows are no
known answers and are not compared.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from ._rows import KNOWN

#: the classes of a pair of verdicts, in report order
AGREEMENT = ("same", "softened", "contradicts", "only_a", "only_b")
DECIDED = ("holds", "fails")


def _agreement(a, b) -> str:
    if pd.isna(a):
        return "only_b"
    if pd.isna(b):
        return "only_a"
    if a == b:
        return "same"
    if a in DECIDED and b in DECIDED:
        return "contradicts"
    return "softened"


def compare_verdicts(a: pd.DataFrame, b: pd.DataFrame) -> pd.DataFrame:
    """The known answers of two findings tables side by side: columns ``case, kind,
    verdict_a, verdict_b, agreement`` (:data:`AGREEMENT`), in ``a``'s row order then ``b``'s
    extra rows."""
    for name, df in (("a", a), ("b", b)):
        if df["case"].duplicated().any():
            dup = df.loc[df["case"].duplicated(), "case"].iloc[0]
            raise ValueError(f"findings {name}: case {dup!r} appears twice")
    keep = ["case", "kind", "verdict"]
    known_a = a.loc[a["kind"].isin(KNOWN), keep]
    known_b = b.loc[b["kind"].isin(KNOWN), keep]
    both = known_a.merge(known_b, on="case", how="outer", suffixes=("_a", "_b"), sort=False)
    both["kind"] = both["kind_a"].fillna(both["kind_b"])
    both["agreement"] = [
        _agreement(x, y) for x, y in zip(both["verdict_a"], both["verdict_b"], strict=True)
    ]
    return both[["case", "kind", "verdict_a", "verdict_b", "agreement"]]


def agreement_tally(compared: pd.DataFrame) -> pd.DataFrame:
    """Rows per (kind, agreement) of :func:`compare_verdicts`, every class of
    :data:`AGREEMENT` a column (zeros included)."""
    counts = compared.groupby(["kind", "agreement"]).size().unstack(fill_value=0)
    return counts.reindex(columns=list(AGREEMENT), fill_value=0)


def read_findings(path: Path) -> pd.DataFrame:
    """A ``findings.csv`` (one-line error naming the file when it is not one)."""
    df = pd.read_csv(path)
    lacking = [c for c in ("case", "kind", "verdict") if c not in df.columns]
    if lacking:
        raise ValueError(f"{path}: not a findings table (no column {', '.join(lacking)})")
    return df
