"""Case 4: augmentation, from the study's tables.

``twirl_d4.csv`` (the D4 twirl decomposition, ``symaudit aggregate --twirl``: column
``pooled_percent`` = 100 sum L_equiv / sum L over seeds x batches x examples, and the per-example
``percent_median``) and ``influence_d4.csv`` (per-element median standardised self-influence,
column ``median``).  Every augmented model ``X-aug`` (default: every model whose name ends in
``-aug``, paired with ``X``) is compared with ``X`` on the same dataset.  Expected (Lin et al.,
twirling paper): the augmented model's equivariance share of the loss is lower, and the spread
of its per-element median influence across D4 is narrower.  Spread = (max - min) / mean of the
eight per-element medians (a twirled model: 0).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from symaudit import groups

from ._rows import medians, missing, num, read_table, row

CASE4 = "4 augmentation"
#: the default naming of augmented variants: ``unet-aug`` is the augmented ``unet``
AUGMENTED_SUFFIX = "-aug"


def _augmented_pairs(models, augmented: Mapping[str, str] | None) -> dict[str, str]:
    if augmented is not None:
        return dict(augmented)
    return {
        m: m.removesuffix(AUGMENTED_SUFFIX)
        for m in sorted(models)
        if m.endswith(AUGMENTED_SUFFIX) and m != AUGMENTED_SUFFIX
    }


def d4_spread(medians) -> float:
    """(max - min) / mean of the per-element medians (NaN unless all are finite, mean > 0)."""
    v = np.asarray(medians, dtype=np.float64)
    if v.size == 0 or not np.isfinite(v).all() or v.mean() <= 0:
        return float("nan")
    return float((v.max() - v.min()) / v.mean())


def _twirl_row(label: str, twirl: pd.DataFrame | None, dataset: str, aug: str, base: str):
    expected = f"{aug}'s equivariance share of the loss below {base}'s (pooled over examples)"
    if twirl is None:
        return missing(label, expected, "no twirl_d4.csv")
    found = {r.model: r for r in twirl[twirl.dataset == dataset].itertuples(index=False)}
    absent = [m for m in (aug, base) if m not in found]
    if absent:
        return missing(label, expected, f"{', '.join(absent)} absent from twirl_d4.csv")
    a, b = found[aug], found[base]
    return row(
        label,
        expected,
        f"pooled {num(a.pooled_percent)} % vs {num(b.pooled_percent)} % (per-example median "
        f"{num(a.percent_median)} % vs {num(b.percent_median)} %)",
        bool(np.isfinite(a.pooled_percent) and a.pooled_percent < b.pooled_percent),
    )


def _spread_row(label: str, inf: pd.DataFrame | None, dataset: str, aug: str, base: str):
    expected = (
        f"{aug}'s spread of per-element median influence across D4, (max - min) / mean, "
        f"below {base}'s"
    )
    if inf is None:
        return missing(label, expected, "no influence_d4.csv")
    spreads = {}
    for model in (aug, base):
        values = medians(inf, dataset=dataset, model=model)
        lacking = [g for g in groups.D4 if g not in values]
        if lacking:
            why = "absent" if len(lacking) == len(groups.D4) else f"lacks {', '.join(lacking)}"
            return missing(label, expected, f"{model} {why} in influence_d4.csv")
        spreads[model] = d4_spread([values[g] for g in groups.D4])
    return row(
        label,
        expected,
        f"spread {num(spreads[aug])} vs {num(spreads[base])}",
        bool(np.isfinite(spreads[aug]) and spreads[aug] < spreads[base]),
    )


def case4_rows(tables: Path, augmented: Mapping[str, str] | None = None) -> list[dict]:
    """Case 4 rows: per dataset and augmented model, its equivariance share and influence
    spread beside its base model's (``augmented``: name -> base; default by suffix)."""
    twirl, inf = read_table(tables, "twirl_d4.csv"), read_table(tables, "influence_d4.csv")
    present = [t for t in (twirl, inf) if t is not None]
    if not present:
        return [
            missing(
                CASE4,
                "augmentation lowers the equivariance share and narrows the influence spread",
                "neither twirl_d4.csv nor influence_d4.csv",
            )
        ]
    models = set().union(*(set(t.model) for t in present))
    pairs = _augmented_pairs(models, augmented)
    pairs = {a: b for a, b in pairs.items() if a in models}
    if not pairs:
        return [
            missing(
                CASE4,
                "an augmented model beside its base",
                "no *-aug model in the twirl or influence tables",
            )
        ]
    datasets = sorted(set().union(*(set(t.dataset) for t in present)))
    rows = []
    for aug, base in pairs.items():
        for dataset in datasets:
            if not any(((t.dataset == dataset) & (t.model == aug)).any() for t in present):
                continue  # the variant is not trained on this dataset
            label = f"{CASE4} | {dataset} {aug} vs {base}"
            rows.append(_twirl_row(f"{label} | equivariance share", twirl, dataset, aug, base))
            rows.append(_spread_row(f"{label} | influence spread", inf, dataset, aug, base))
    return rows
