"""The one home of what every case module shares: the rows of ``findings.csv``, reading the
study's tables, selecting their rows, formatting numbers, and the tolerances."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

#: relative tolerance of the exact checks (cases 1, 2 and 6: equalities that hold by algebra)
TOLERANCE = 1e-6
#: case 3: "error ~ 1 inside G" means the median over members of the element medians lies in
#: 1 +- INSIDE_TOL (a trained, not an exactly equivariant, model: the UNet alone is off by a few
#: percent at shifts that are not multiples of its stride, docs/validation.md case 2)
INSIDE_TOL = 0.1
#: case 6: a "failure" is an error median above LARGE (the error at least doubles; the paper's NS
#: failures are 1e2-1e4)
LARGE = 2.0


def row(case: str, expected: str, measured: str, holds: bool) -> dict:
    """One check: ``case, expected, measured, holds``."""
    return {"case": case, "expected": expected, "measured": measured, "holds": bool(holds)}


def missing(case: str, expected: str, why: str) -> dict:
    """A check whose input is absent: never dropped, reported as not measured (not holding)."""
    return row(case, expected, f"not measured: {why}", False)


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
