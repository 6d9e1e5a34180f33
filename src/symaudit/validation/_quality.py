"""The quality gate's rows: every run passes val SMSE <= bound x persistence
(``model_quality.csv``, column ``ratio``; the bound from ``quality_status.yaml`` unless given)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ._rows import missing, num, read_table, row

CASE = "quality gate"


def _quality_bound(tables: Path, bound: float | None) -> float:
    if bound is not None:
        return float(bound)
    status = tables / "quality_status.yaml"
    if status.is_file():
        import yaml

        doc = yaml.safe_load(status.read_text()) or {}
        value = (doc.get("quality_status") or {}).get("max_persistence_ratio")
        if value is not None:
            return float(value)
    return 1.0


def quality_rows(tables: Path, bound: float | None = None) -> list[dict]:
    """One row per run of ``model_quality.csv``: its ratio against the bound."""
    bound = _quality_bound(tables, bound)
    expected = f"val SMSE <= {bound:g} x persistence"
    df = read_table(tables, "model_quality.csv")
    if df is None or df.empty:
        return [missing(CASE, expected, "model_quality.csv absent or empty")]
    return [
        row(
            f"{CASE} | {r.dataset} {r.model} seed {r.seed}",
            expected,
            f"val SMSE = {num(r.ratio)} x persistence",
            bool(np.isfinite(r.ratio) and r.ratio <= bound),
        )
        for r in df.itertuples(index=False)
    ]
