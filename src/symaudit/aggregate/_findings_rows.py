"""The rows of ``findings.csv`` and the tables they are read from: one home for the three
findings modules (``_findings``, ``_findings_symmetry``, ``_findings_training``)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd


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
