"""The pairing fingerprints ``tables/pairing_fingerprints.csv`` (validation case 6): what a
published figure would show if its vector action paired the components with the wrong axes,
measured on the ``d4_swapped`` set with the generating solver's commutator beside it
(docs/validation.md, case 6 "Fingerprints").

At the four elements FOUR = p*g*p, g in r, r3, s, sr2, the wrong pairing is g o neg, so c_g =
c_neg example by example (the exact row c(p*g*p) = c(neg)), and the law R ~ 1 + c_g / SMSE(f)
gives, per example, (R - 1) rho = c_neg / persistence with rho = SMSE(f) / persistence: a
model-free number (R rho = that + rho).  Rows (``statistic``):

* ``c_pair`` (model ``*``): median over examples (pooled over FOUR) of c_g / persistence;
* per model: ``beta2`` (median c_g / SMSE(f) over FOUR: the law's excess, which decides whether
  the row is judged; no interval), ``kappa`` (median of (R - 1) rho over FOUR), ``kappa_ratio``
  (kappa / c_pair), ``R_median`` per element of FOUR (``element``), ``failure_spread`` (max / min
  over FOUR of the median R: "equal-sized failures");
* ``kappa_spread`` (model ``*``): max / min over the models of kappa ("the same for every
  model");
* only for a dataset whose DATA are not D4-invariant (:data:`symaudit.datasets.DATA_SUBGROUP`,
  case 6's control NSD), the same statistics of the CORRECT action at the four D4 elements
  themselves (:data:`CORRECT`, the ``d4`` set): ``c_correct`` (model ``*``: median c_g /
  persistence, 0 to round-off where the solver commutes), per model ``kappa_correct`` (median
  (R - 1) rho over :data:`CORRECT`), ``kappa_ratio_correct`` (kappa_correct / c_pair) and
  ``R_median`` per element of :data:`CORRECT` (``element`` r, r3, s, sr2).  Other datasets get
  none of these rows (their tables are unchanged).

Intervals: ONE set of cluster-bootstrap replicates per dataset (seeds, then whole analysis
batches, :mod:`._bootstrap`), shared by every model and element of it, so a ratio across models
or elements is resampled jointly (all runs of a dataset share the analysis examples: the law
table's join checks each run's splits).  Percentile interval, NaN below ``min_clusters``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from symaudit import groups
from symaudit.datasets import DATA_SUBGROUP

from ._bootstrap import (
    Bootstrap,
    _membership,
    _type7_weighted,
    note,
    percentile_interval,
    replicate_weights,
)

__all__ = ["CORRECT", "FINGERPRINT_COLUMNS", "FINGERPRINT_TABLE", "FOUR", "fingerprint_table"]

FINGERPRINT_TABLE = "pairing_fingerprints"
#: the wrong pairing's elements where it is g o neg (P anticommutes with g's matrix)
FOUR = tuple(f"p*{g}*p" for g in groups.D4 if not groups.commutes_with_exchange(g))
#: the same four D4 elements under the correct action (the d4 set)
CORRECT = tuple(g for g in groups.D4 if not groups.commutes_with_exchange(g))
FINGERPRINT_COLUMNS = (
    "dataset", "model", "statistic", "element", "value", "lo", "hi", "n_clusters", "ci_note",
    "note",
)  # fmt: skip


def _medians(values: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Type-7 medians (R,) of the clustered ``values`` (C, k) under cluster weights (R, C)."""
    v, counts = _membership(values.ravel(), values.shape[1])
    return _type7_weighted(v, counts, weights, [0.5])[:, 0]


def _arrays(parts) -> dict | None:
    """(C, m) per quantity of one (model, element) over its seeds' clusters (seed-major)."""
    parts = sorted(parts, key=lambda p: p[0])
    if len({p[1].shape for p in parts}) != 1:
        return None  # seeds with different analysis batches: no (seed, batch) grid
    with np.errstate(invalid="ignore", divide="ignore"):
        out = {
            "seeds": tuple(p[0] for p in parts),
            "R": np.concatenate([p[1] for p in parts]),
            "rho": np.concatenate([p[2] / p[3] for p in parts]),
            "c": np.concatenate([p[4] / p[3] for p in parts]),
            "beta2": np.concatenate([p[4] / p[2] for p in parts]),
        }
    out["kappa"] = (out["R"] - 1.0) * out["rho"]
    return out


def _pooled(per_element: list[dict], name: str) -> np.ndarray:
    """(C, 4m): one quantity of the four elements side by side per cluster."""
    return np.concatenate([a[name] for a in per_element], axis=1)


def _row(dataset, model, statistic, point, reps, boot, n_clusters, element="", why=""):
    lohi = percentile_interval(reps, boot) if reps is not None else np.array([np.nan, np.nan])
    if n_clusters < boot.min_clusters:
        lohi = np.array([np.nan, np.nan])
    return {
        "dataset": dataset,
        "model": model,
        "statistic": statistic,
        "element": element,
        "value": float(point),
        "lo": float(lohi[0]),
        "hi": float(lohi[1]),
        "n_clusters": int(n_clusters),
        "ci_note": "",
        "note": why,
    }


def _four(models: dict, elements: tuple[str, ...]) -> dict:
    """{model: [arrays per element of ``elements``]} of the models that have all of them."""
    arrays = {
        m: [_arrays(by_element[g]) for g in elements]
        for m, by_element in sorted(models.items())
        if all(g in by_element for g in elements)
    }
    return {m: a for m, a in arrays.items() if all(x is not None for x in a)}


def _dataset_rows(dataset: str, models: dict, boot: Bootstrap, correct=None) -> list[dict]:
    """Rows of one dataset; ``models`` = {model: {element: parts}} of its d4_swapped set;
    ``correct`` the same of its d4 set, for a dataset of :data:`DATA_SUBGROUP` (else None)."""
    arrays = _four(models, FOUR)
    if not arrays:
        return []
    seeds = {a[0]["seeds"] for a in arrays.values()}
    shapes = {a[0]["R"].shape for a in arrays.values()}
    if len(seeds) != 1 or len(shapes) != 1:
        why = "the models' seeds or analysis batches differ: no joint resampling"
        return [{"dataset": dataset, "model": m, "statistic": "kappa", "note": why} for m in arrays]
    n_seeds = len(next(iter(seeds)))
    clusters = next(iter(shapes))[0]
    weights = replicate_weights(boot, f"fingerprint/{dataset}", n_seeds, clusters // n_seeds)
    ones = np.ones((1, clusters))
    ci = str(note(np.array([clusters]), np.array([n_seeds]), boot)[0])

    def both(values):  # (point, replicates) of the median of clustered values
        return _medians(values, ones)[0], _medians(values, weights)

    first = next(iter(arrays.values()))
    c_pt, c_rep = both(_pooled(first, "c"))
    n_c = int(np.isfinite(_pooled(first, "c")).any(-1).sum())
    rows = [_row(dataset, "*", "c_pair", c_pt, c_rep, boot, n_c)]
    kappas = {}
    for model, per_element in arrays.items():
        kappa = _pooled(per_element, "kappa")
        n = int(np.isfinite(kappa).any(-1).sum())
        k_pt, k_rep = both(kappa)
        kappas[model] = (k_pt, k_rep, n)
        b = _pooled(per_element, "beta2")
        beta2 = float(np.median(b[np.isfinite(b)])) if np.isfinite(b).any() else np.nan
        rows.append(_row(dataset, model, "beta2", beta2, None, boot, n))
        rows.append(_row(dataset, model, "kappa", k_pt, k_rep, boot, n))
        with np.errstate(invalid="ignore", divide="ignore"):
            rows.append(_row(dataset, model, "kappa_ratio", k_pt / c_pt, k_rep / c_rep, boot, n))
        medians = {g: both(a["R"]) for g, a in zip(FOUR, per_element, strict=True)}
        for g, (pt, rep) in medians.items():
            rows.append(_row(dataset, model, "R_median", pt, rep, boot, n, element=g))
        pts = np.array([medians[g][0] for g in FOUR])
        reps = np.stack([medians[g][1] for g in FOUR])
        with np.errstate(invalid="ignore", divide="ignore"):
            spread_pt = pts.max() / pts.min()
            spread_rep = reps.max(0) / reps.min(0)
        rows.append(_row(dataset, model, "failure_spread", spread_pt, spread_rep, boot, n))
    if correct is not None:
        shape = first[0]["R"].shape
        rows += _correct_rows(dataset, _four(correct, CORRECT), shape, both, boot, (c_pt, c_rep))
    if len(kappas) >= 2:
        pts = np.array([k[0] for k in kappas.values()])
        reps = np.stack([k[1] for k in kappas.values()])
        n = min(k[2] for k in kappas.values())
        with np.errstate(invalid="ignore", divide="ignore"):
            rows.append(
                _row(
                    dataset, "*", "kappa_spread", pts.max() / pts.min(),
                    reps.max(0) / reps.min(0), boot, n, why=f"{len(kappas)} models",
                )
            )  # fmt: skip
    for r in rows:
        r["ci_note"] = ci
    return rows


def _correct_rows(dataset: str, arrays: dict, shape: tuple, both, boot: Bootstrap, c_pair):
    """The correct action's statistics at :data:`CORRECT` (module docstring), resampled with
    the swapped set's replicates (``both``; ``c_pair`` = its (point, replicates)): the same
    examples, the same clusters.  A model whose d4 examples are not laid out as the swapped
    set's (another shape) gets none."""
    arrays = {m: a for m, a in arrays.items() if all(x["R"].shape == shape for x in a)}
    if not arrays:
        return []
    c = _pooled(next(iter(arrays.values())), "c")
    n_c = int(np.isfinite(c).any(-1).sum())
    rows = [_row(dataset, "*", "c_correct", *both(c), boot, n_c)]
    for model, per_element in arrays.items():
        kappa = _pooled(per_element, "kappa")
        n = int(np.isfinite(kappa).any(-1).sum())
        k_pt, k_rep = both(kappa)
        rows.append(_row(dataset, model, "kappa_correct", k_pt, k_rep, boot, n))
        with np.errstate(invalid="ignore", divide="ignore"):
            ratio = (k_pt / c_pair[0], k_rep / c_pair[1])
        rows.append(_row(dataset, model, "kappa_ratio_correct", *ratio, boot, n))
        for g, a in zip(CORRECT, per_element, strict=True):
            rows.append(_row(dataset, model, "R_median", *both(a["R"]), boot, n, element=g))
    return rows


def fingerprint_table(gathered: dict, boot: Bootstrap) -> pd.DataFrame:
    """The fingerprint table (:data:`FINGERPRINT_COLUMNS`) from the law table's gathered
    per-example data (:func:`symaudit.aggregate._law._gather`)."""
    by_dataset: dict = {}
    correct: dict = {}
    for (dataset, model, element_set), by_element in gathered.items():
        if element_set == "d4_swapped":
            by_dataset.setdefault(dataset, {})[model] = by_element
        elif element_set == "d4" and dataset in DATA_SUBGROUP:
            correct.setdefault(dataset, {})[model] = by_element
    rows = []
    for dataset in sorted(by_dataset):
        rows += _dataset_rows(dataset, by_dataset[dataset], boot, correct.get(dataset))
    return pd.DataFrame(rows, columns=list(FINGERPRINT_COLUMNS))


def write_fingerprints(gathered: dict, out: Path, boot: Bootstrap) -> Path:
    """Write :func:`fingerprint_table` to ``out`` (CSV, atomically)."""
    from ._io import write_atomic

    table = fingerprint_table(gathered, boot)
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    return write_atomic(Path(out), lambda p: table.to_csv(p, index=False))
