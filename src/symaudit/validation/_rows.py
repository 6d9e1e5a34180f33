"""The one home of what every case module shares: the rows of ``findings.csv`` (their kind,
interval and verdict), reading the study's tables, selecting their rows, formatting numbers,
and the tolerances.

Every row has a **kind** (docs/validation.md, "Kinds and verdicts"):

* ``exact`` -- an equality that holds by algebra (to round-off): judged by the point value
  against a tolerance; its interval, if any, is irrelevant;
* ``derived`` -- a statement derived for the population (e.g. reciprocity on symmetric data):
  judged by its interval ``lo``..``hi``: ``holds``/``fails`` when the interval lies on one side
  of the threshold, ``inconclusive`` when it straddles it or is NaN (too few clusters);
* ``descriptive`` -- a typical outcome or a reported number, no known answer: verdict
  ``descriptive``, never counted as a known answer (its ``holds`` column still records the
  stated condition at the point value).
"""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd

#: relative tolerance of the exact checks (cases 1, 2 and 6: equalities that hold by algebra)
#: computed in float32
TOLERANCE = 1e-6
#: relative tolerance of the exact FORWARD and INFLUENCE rows (cases 1 and 2: R = 1, Π^g = Π^e,
#: the UNet's period) by the precision their forward passes or bras ran in (config
#: ``analysis.dtype``, the tables' column ``analysis_dtype``; a table without it: float32).
#: Both sides of an exact influence equality are dotted with the SAME solved kets, so the
#: solve's error cancels and only the bras' round-off is left.  float32: :data:`TOLERANCE`
#: (~8 eps32; the worst measured deviations, 9e-7 for R and 1.05-2.4e-6 for Π's period on a
#: second machine, lie on it).  float64: 1e-12 (~4500 eps64, not 8: R's ratio of SMSEs
#: amplifies the round-off of f, whose prediction error is much smaller than the fields, and Π
#: sums many cancelling terms); measured in float64 at most 2.2e-15 for R and 1.8e-15 for Π
#: (docs/validation.md cases 1 and 2), so 1e-12 keeps a factor >= 450, and it lies 1e5 below
#: float32 round-off: a forward pass or bra that silently ran in float32 fails it
FORWARD_TOLERANCE = {"float32": TOLERANCE, "float64": 1e-12}
#: the precision of a table that does not record one (tables written before analysis.dtype)
DEFAULT_PRECISION = "float32"
#: case 3: "error ~ 1 inside G" means the median over members of the element medians lies in
#: 1 +- INSIDE_TOL (a trained, not an exactly equivariant, model: the UNet alone is off by a few
#: percent at shifts that are not multiples of its stride, docs/validation.md case 2)
INSIDE_TOL = 0.1
#: case 6: a "failure" is an error median above LARGE (the error at least doubles; the paper's NS
#: failures are 1e2-1e4)
LARGE = 2.0
#: derived equalities (reciprocity): "= 1" holds when the interval lies within 1 +- EQUAL_TOL,
#: fails when it lies wholly outside (equivalence, docs/validation.md "Kinds and verdicts")
EQUAL_TOL = 0.05

#: the kinds of a row; only exact and derived rows are known answers
KINDS = ("exact", "derived", "descriptive")
KNOWN = ("exact", "derived")
#: the verdicts (``descriptive`` only for descriptive rows)
VERDICTS = ("holds", "fails", "inconclusive", "descriptive")
NAN = float("nan")


def precision(r) -> str:
    """The precision of a table row's forward passes: its ``analysis_dtype`` column
    (:data:`FORWARD_TOLERANCE`'s keys), else :data:`DEFAULT_PRECISION` (a table without the
    column, or an unknown value: judged at the looser float32 tolerance)."""
    value = getattr(r, "analysis_dtype", None)
    return value if isinstance(value, str) and value in FORWARD_TOLERANCE else DEFAULT_PRECISION


def exact_tolerance(r, tol: float = TOLERANCE) -> tuple[float, str]:
    """(tolerance, precision) of an exact row computed from table row ``r`` (an equivariance
    or influence table's): ``tol`` (default :data:`TOLERANCE`) when ``r``'s forward passes or
    bras ran in float32, else :data:`FORWARD_TOLERANCE` of their precision (:func:`precision`).
    The one home of the rule."""
    p = precision(r)
    return (tol if p == "float32" else FORWARD_TOLERANCE[p]), p


def _finite(*xs) -> bool:
    return all(x is not None and math.isfinite(float(x)) for x in xs)


def verdict(
    kind: str,
    holds: bool,
    lo: float = NAN,
    hi: float = NAN,
    *,
    above: float | None = None,
    below: float | None = None,
    equal: float | None = None,
    band: float = EQUAL_TOL,
) -> str:
    """The verdict of a row of ``kind`` (see the module docstring).

    ``holds`` is the point comparison (decides exact rows).  A derived row states one of
    ``statistic > above``, ``statistic < below`` or ``statistic = equal`` and is judged by its
    interval: one-sided, ``holds`` when the interval lies beyond the threshold, ``fails`` when
    it lies on the other side, ``inconclusive`` when it straddles it.  An equality is an
    equivalence statement, "= ``equal`` within +- ``band``": ``holds`` when the interval lies
    inside the band, ``fails`` when it lies wholly outside, ``inconclusive`` when it straddles
    an edge of the band (a deviation smaller than the band is not a failure: a type-7 median of
    a sample closed under an involution is already cosh(gap / 2) >= 1, not exactly 1).  A NaN
    interval makes a derived row ``inconclusive``.
    """
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    if kind == "descriptive":
        return "descriptive"
    if kind == "exact":
        return "holds" if holds else "fails"
    if (above is None) + (below is None) + (equal is None) != 2:
        raise ValueError("a derived row states exactly one of above=, below=, equal=")
    if not _finite(lo, hi):
        return "inconclusive"
    lo, hi = float(lo), float(hi)
    if above is not None:
        return "holds" if lo > above else "fails" if hi <= above else "inconclusive"
    if below is not None:
        return "holds" if hi < below else "fails" if lo >= below else "inconclusive"
    if lo > equal + band or hi < equal - band:
        return "fails"
    return "holds" if equal - band <= lo and hi <= equal + band else "inconclusive"


def row(
    case: str,
    expected: str,
    measured: str,
    holds: bool,
    kind: str = "exact",
    lo: float = NAN,
    hi: float = NAN,
    judged: str | None = None,
) -> dict:
    """One check: ``case, kind, expected, measured, lo, hi, verdict, holds``.  ``judged`` is
    the verdict (:func:`verdict`); default: the point comparison for exact rows,
    ``descriptive`` for descriptive ones (a derived row must pass its verdict)."""
    if judged is None:
        if kind == "derived":
            raise ValueError("a derived row needs its verdict (symaudit.validation._rows.verdict)")
        judged = verdict(kind, holds)
    if judged not in VERDICTS or (judged == "descriptive") != (kind == "descriptive"):
        raise ValueError(f"verdict {judged!r} does not fit kind {kind!r}")
    return {
        "case": case,
        "kind": kind,
        "expected": expected,
        "measured": measured,
        "lo": float(lo),
        "hi": float(hi),
        "verdict": judged,
        "holds": bool(holds),
    }


def missing(case: str, expected: str, why: str, kind: str = "exact") -> dict:
    """A check whose input is absent: never dropped, reported as not measured (not holding;
    verdict ``inconclusive``, or ``descriptive`` for a descriptive row)."""
    judged = "descriptive" if kind == "descriptive" else "inconclusive"
    return row(case, expected, f"not measured: {why}", False, kind, judged=judged)


def as_descriptive(rows: list[dict]) -> list[dict]:
    """``rows`` reclassified as descriptive (a case family with no known answer yet: its
    conditions are typical outcomes, not derived statements; docs/validation.md)."""
    return [{**r, "kind": "descriptive", "verdict": "descriptive"} for r in rows]


def tally(df: pd.DataFrame) -> pd.DataFrame:
    """Rows per kind and verdict (kinds in :data:`KINDS` order, verdicts as columns), plus
    ``known answers``: exact and derived together (descriptive rows are no known answers)."""
    counts = pd.crosstab(df["kind"], df["verdict"]).reindex(
        index=list(KINDS), columns=list(VERDICTS), fill_value=0
    )
    counts.loc["known answers"] = counts.loc[list(KNOWN)].sum()
    counts["rows"] = counts.sum(axis=1)
    return counts.astype(int)


def family_tally(df: pd.DataFrame) -> pd.DataFrame:
    """:func:`tally`'s known-answer counts per case family (the label before the first
    ``" |"``), in the table's order: columns ``holds, fails, inconclusive, known, descriptive``
    (multiplicity: one family's many rows do not hide another's)."""
    family = df["case"].str.split(" |", n=1, regex=False).str[0]
    known = df["kind"].isin(KNOWN)
    out = pd.DataFrame(
        {
            v: (known & (df["verdict"] == v)).groupby(family, sort=False).sum()
            for v in ("holds", "fails", "inconclusive")
        }
    )
    out["known"] = known.groupby(family, sort=False).sum()
    out["descriptive"] = (~known).groupby(family, sort=False).sum()
    return out.astype(int)


def tally_line(df: pd.DataFrame) -> str:
    """One line: the known answers' verdicts, then the descriptive rows."""
    t = tally(df)
    parts = [
        f"{kind} {t.loc[kind, 'holds']}/{t.loc[kind, 'rows']} hold "
        f"({t.loc[kind, 'fails']} fail, {t.loc[kind, 'inconclusive']} inconclusive)"
        for kind in KNOWN
    ]
    return f"known answers: {'; '.join(parts)}; descriptive (no known answer): " + str(
        t.loc["descriptive", "rows"]
    )


def read_table(tables: Path, name: str) -> pd.DataFrame | None:
    """A study table (``tables/name``), element/dataset/model as strings; None when absent."""
    path = tables / name
    if not path.is_file():
        return None
    return pd.read_csv(path, dtype={"element": str, "dataset": str, "model": str})


def num(x: float, digits: int = 9) -> str:
    """A number as the findings print it (``digits`` significant digits, ``g`` format)."""
    return f"{float(x):.{digits}g}"


def select(df: pd.DataFrame, **where) -> pd.DataFrame:
    """The rows of ``df`` whose columns equal the given values (``dataset="NS"``, ...)."""
    keep = pd.Series(True, index=df.index)
    for column, value in where.items():
        keep &= df[column] == value
    return df[keep]


def by_element(df: pd.DataFrame | None, **where) -> dict:
    """element -> the table's row (a named tuple) for the rows :func:`select` picks; {} when the
    table is absent."""
    if df is None:
        return {}
    return {str(r.element): r for r in select(df, **where).itertuples(index=False)}


def medians(df: pd.DataFrame | None, **where) -> dict[str, float]:
    """element -> the ``median`` column, in the table's row order (see :func:`by_element`)."""
    return {g: float(r.median) for g, r in by_element(df, **where).items()}
