"""Findings of the validation study about training: augmentation (case 4) and the exact influence
vs the reference's Galerkin approximation (case 5).  Registered in :mod:`._findings` (``CASES``).

Inputs, all from a study's ``tables/`` directory (nothing recomputed from per-job stores):

* case 4: ``twirl_d4.csv`` (the D4 twirl decomposition, ``symaudit aggregate --twirl``: column
  ``pooled_percent`` = 100 sum L_equiv / sum L over seeds x batches x examples, and the
  per-example ``percent_median``) and ``influence_d4.csv`` (per-element median standardised
  self-influence, column ``median``).  Every augmented model ``X-aug`` (default: every model
  whose name ends in ``-aug``, paired with ``X``) is compared with ``X`` on the same dataset.
  Expected (Lin et al., twirling paper): the augmented model's equivariance share of the loss
  is lower, and the spread of its per-element median influence across D4 is narrower.  Spread =
  (max - min) / mean of the eight per-element medians (a twirled model: 0).
* case 5: ``influence_robustness_medians.csv`` (per dataset, model, element set, element and
  damping: the pooled median standardised self-influence; ``damping`` = the λ as written by
  ``repr(float)`` or ``galerkin``).  For every trained model (``twirled-*`` models, whose D4
  medians tie by construction, are left out) on the D4 set: the relative gap
  |Π_galerkin - Π_λ| / |Π_λ| of each element's median at the primary λ (median and max over the
  elements) and Kendall's τ-b of the two element rankings; holds when τ >= ``STABLE_TAU`` (the
  ranking the audit reports is the reference's).  Then case 3's conclusion (influence suppressed
  outside the Kolmogorov subgroup G(N, k), docs/validation.md) on every element set measured for
  the Kolmogorov dataset ``NSK``: the median over the elements outside G of the per-element
  medians divided by the same over the elements inside G, at the primary λ and under Galerkin;
  holds when both ratios are on the same side of 1 (the conclusion does not change).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from symaudit import groups

from ._findings import _missing, _num, _read, _row
from ._robustness import GALERKIN, STABLE_TAU, kendall_tau

__all__ = [
    "AUGMENTED_SUFFIX",
    "CASES",
    "KOLMOGOROV_DATASET",
    "case4_rows",
    "case5_rows",
    "d4_spread",
    "in_kolmogorov_subgroup",
]

CASE4 = "4 augmentation"
CASE5 = "5 exact vs the reference's approximation"
#: the default naming of augmented variants: ``unet-aug`` is the augmented ``unet``
AUGMENTED_SUFFIX = "-aug"
#: the dataset group of case 3 (Kolmogorov-forced NS)
KOLMOGOROV_DATASET = "NSK"
#: the grid of a study whose resolution is not passed (the quick and validation studies')
DEFAULT_RESOLUTION = 32


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
        return _missing(label, expected, "no twirl_d4.csv")
    found = {r.model: r for r in twirl[twirl.dataset == dataset].itertuples(index=False)}
    absent = [m for m in (aug, base) if m not in found]
    if absent:
        return _missing(label, expected, f"{', '.join(absent)} absent from twirl_d4.csv")
    a, b = found[aug], found[base]
    return _row(
        label,
        expected,
        f"pooled {_num(a.pooled_percent)} % vs {_num(b.pooled_percent)} % (per-example median "
        f"{_num(a.percent_median)} % vs {_num(b.percent_median)} %)",
        bool(np.isfinite(a.pooled_percent) and a.pooled_percent < b.pooled_percent),
    )


def _spread_row(label: str, inf: pd.DataFrame | None, dataset: str, aug: str, base: str):
    expected = (
        f"{aug}'s spread of per-element median influence across D4, (max - min) / mean, "
        f"below {base}'s"
    )
    if inf is None:
        return _missing(label, expected, "no influence_d4.csv")
    spreads = {}
    for model in (aug, base):
        sub = inf[(inf.dataset == dataset) & (inf.model == model)].set_index("element")
        missing = [g for g in groups.D4 if g not in sub.index]
        if missing:
            why = "absent" if len(missing) == len(groups.D4) else f"lacks {', '.join(missing)}"
            return _missing(label, expected, f"{model} {why} in influence_d4.csv")
        spreads[model] = d4_spread(sub.loc[list(groups.D4), "median"])
    return _row(
        label,
        expected,
        f"spread {_num(spreads[aug])} vs {_num(spreads[base])}",
        bool(np.isfinite(spreads[aug]) and spreads[aug] < spreads[base]),
    )


def case4_rows(tables: Path, augmented: Mapping[str, str] | None = None) -> list[dict]:
    """Case 4 rows: per dataset and augmented model, its equivariance share and influence
    spread beside its base model's (``augmented``: name -> base; default by suffix)."""
    twirl, inf = _read(tables, "twirl_d4.csv"), _read(tables, "influence_d4.csv")
    present = [t for t in (twirl, inf) if t is not None]
    if not present:
        return [
            _missing(
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
            _missing(
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


# --- case 5 ---------------------------------------------------------------------------------


def in_kolmogorov_subgroup(element: str, resolution: int = DEFAULT_RESOLUTION) -> bool:
    """Whether a word (``"r2"``, ``"t(0,8)"``, ``"s*t(3,4)"``) lies in G(N, k) of the
    Kolmogorov family (``symaudit.groups.kolmogorov``: the defining test, the forcing field
    mapped to itself)."""
    from symaudit.groups.kolmogorov import fixes_forcing

    return fixes_forcing(element, int(resolution))


def _medians(df: pd.DataFrame, dataset: str, model: str, element_set: str, damping: str):
    sub = df[
        (df.dataset == dataset)
        & (df.model == model)
        & (df.element_set == element_set)
        & (df.damping == damping)
    ]
    return sub.set_index("element")["median"]


def _primary_key(dampings, primary: float) -> str | None:
    for d in dampings:
        if d != GALERKIN and np.isclose(float(d), primary, rtol=1e-9, atol=0.0):
            return d
    return None


def _gap_row(label, med, dataset, model, lam):
    expected = (
        f"Kendall tau of the D4 ranking, primary λ vs Galerkin, >= {STABLE_TAU:g} "
        "(relative gap of the medians reported)"
    )
    exact = _medians(med, dataset, model, "d4", lam)
    gal = _medians(med, dataset, model, "d4", GALERKIN)
    common = [g for g in groups.D4 if g in exact.index and g in gal.index]
    if len(common) < 2:
        return _missing(label, expected, "fewer than two D4 elements with both values")
    a, b = exact[common].to_numpy(float), gal[common].to_numpy(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        gap = np.abs(b - a) / np.abs(a)
    tau = kendall_tau(a, b)
    return _row(
        label,
        expected,
        f"tau {_num(tau)}; relative gap median {_num(np.nanmedian(gap))}, max "
        f"{_num(np.nanmax(gap))} over {len(common)} elements (λ {lam})",
        bool(np.isfinite(tau) and tau >= STABLE_TAU),
    )


def _suppression(values: pd.Series, resolution: int):
    inside = [g for g in values.index if in_kolmogorov_subgroup(g, resolution)]
    outside = [g for g in values.index if g not in inside]
    if not inside or not outside:
        return None, inside, outside
    ratio = float(np.nanmedian(values[outside]) / np.nanmedian(values[inside]))
    return ratio, inside, outside


def _case3_rows(med: pd.DataFrame, lam: str | None, resolution: int) -> list[dict]:
    label = f"{CASE5} | case 3 under Galerkin"
    expected = (
        "case 3's conclusion unchanged: median influence outside G(N, k) over inside is on "
        "the same side of 1 at the primary λ and under Galerkin"
    )
    nsk = med[med.dataset == KOLMOGOROV_DATASET]
    if nsk.empty:
        why = f"no {KOLMOGOROV_DATASET} rows in influence_robustness_medians.csv"
        return [_missing(label, expected, why)]
    if lam is None:
        return [_missing(label, expected, "the primary λ is not among the table's dampings")]
    rows = []
    for (model, element_set), _ in nsk.groupby(["model", "element_set"], sort=True):
        what = f"{label} | {model} {element_set}"
        exact = _medians(nsk, KOLMOGOROV_DATASET, model, element_set, lam)
        gal = _medians(nsk, KOLMOGOROV_DATASET, model, element_set, GALERKIN)
        if gal.empty or exact.empty:
            rows.append(_missing(what, expected, "no Galerkin or primary-λ values"))
            continue
        r_exact, inside, outside = _suppression(exact, resolution)
        r_gal, _, _ = _suppression(gal, resolution)
        if r_exact is None or r_gal is None:
            why = f"{len(inside)} element(s) inside G and {len(outside)} outside: need both"
            rows.append(_missing(what, expected, why))
            continue
        holds = bool(
            np.isfinite(r_exact) and np.isfinite(r_gal) and (r_exact < 1.0) == (r_gal < 1.0)
        )
        rows.append(
            _row(
                what,
                expected,
                f"outside / inside {_num(r_exact)} at λ {lam}, {_num(r_gal)} under Galerkin "
                f"({len(outside)} outside, {len(inside)} inside; suppressed: "
                f"{r_exact < 1.0} / {r_gal < 1.0})",
                holds,
            )
        )
    return rows


def case5_rows(
    tables: Path, primary: float | None = None, resolution: int | None = None
) -> list[dict]:
    """Case 5 rows: primary λ vs Galerkin per trained model on D4, then case 3's conclusion."""
    expected = "relative gap and Kendall tau between converged and Galerkin influence"
    med = _read(tables, "influence_robustness_medians.csv")
    if med is None or med.empty:
        return [
            _missing(
                CASE5,
                expected,
                "no influence_robustness_medians.csv (a study with a "
                "damping path and influence.galerkin_reference)",
            )
        ]
    med = med.astype({"damping": str})
    if primary is None:
        return [_missing(CASE5, expected, "the primary λ (influence.damping.primary) not given")]
    lam = _primary_key(med.damping.unique(), float(primary))
    if lam is None or GALERKIN not in set(med.damping):
        why = (
            f"λ {primary:g} absent from the table"
            if lam is None
            else "no Galerkin values (influence.galerkin_reference)"
        )
        return [_missing(CASE5, expected, why)]
    rows = []
    d4 = med[(med.element_set == "d4") & (med.dataset != KOLMOGOROV_DATASET)]
    for (dataset, model), _ in d4.groupby(["dataset", "model"], sort=True):
        if model.startswith("twirled-"):
            continue  # D4 medians tie by construction: no ranking to compare
        rows.append(_gap_row(f"{CASE5} | {dataset} {model}", d4, dataset, model, lam))
    if not rows:
        rows.append(_missing(CASE5, expected, "no trained (non-twirled) model on the D4 set"))
    rows += _case3_rows(med, lam, DEFAULT_RESOLUTION if resolution is None else resolution)
    return rows


#: case label -> builder(tables, settings): the settings are build_findings' keyword options
CASES = {
    CASE4: lambda tables, settings: case4_rows(tables, settings.get("augmented")),
    CASE5: lambda tables, settings: case5_rows(
        tables, settings.get("primary_damping"), settings.get("resolution")
    ),
}
