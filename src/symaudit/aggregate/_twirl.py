"""The D4 twirl decomposition table: how much of each model's loss is due to broken symmetry.

Input: one ``twirl.nc`` per run (:data:`symaudit.names.TWIRL`, format
:data:`symaudit.outputs.TWIRL`: the run from its attributes), per-example values
``example_{total,mean,equiv,twirled_loss}`` of dims (batch, transition, class).  Output: per
(dataset, model), quantiles (numpy type 7) of the per-example percent 100 L_equiv / L pooled over
seeds x batches x examples, and the pooled losses with percent = 100 sum L_equiv / sum L; beside
each quantile and the pooled percent its cluster-bootstrap interval (``_lo``, ``_hi``; seeds, then
whole analysis batches, :mod:`._bootstrap`), ``n_clusters`` and ``ci_note``.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from symaudit import names, outputs

from ._bootstrap import Bootstrap, note, pooled_intervals, ratio_intervals

__all__ = ["TWIRL_TABLE", "twirl_table"]

TWIRL_TABLE = "twirl_d4"


_PARTS = ("total", "mean", "equiv", "twirled_loss")


def _clustered(group: pd.DataFrame, part: str) -> np.ndarray:
    """One group's per-run (batch, example) arrays as (seed, batch, example), NaN-padded."""
    runs = group[f"{part}_by_batch"].to_list()
    b = max(r.shape[0] for r in runs)
    m = max(r.shape[1] for r in runs)
    out = np.full((len(runs), b, m), np.nan)
    for i, r in enumerate(runs):
        out[i, : r.shape[0], : r.shape[1]] = r
    return out


def _intervals(group: pd.DataFrame, boot: Bootstrap, key: str) -> dict:
    """lo/hi of the percent quantiles and of the pooled percent, n_clusters, ci_note."""
    total, equiv = _clustered(group, "total"), _clustered(group, "equiv")
    percent = 100.0 * equiv / total
    lohi, n = pooled_intervals(percent[:, :, None, :], (0.25, 0.5, 0.75), boot, key)
    pooled, _ = ratio_intervals(100.0 * equiv, total, boot, f"{key}/pooled")
    out = {}
    for i, name in enumerate(("q1", "median", "q3")):
        out[f"percent_{name}_lo"], out[f"percent_{name}_hi"] = lohi[0, i, 0], lohi[1, i, 0]
    out["pooled_percent_lo"], out["pooled_percent_hi"] = pooled
    n_seeds = np.isfinite(percent).any((1, 2)).sum()
    out["n_clusters"] = int(n[0])
    out["ci_confidence"] = boot.confidence
    out["ci_note"] = note(n, np.array([n_seeds]), boot)[0]
    return out


_COLUMNS = (
    "dataset",
    "model",
    *(f"percent_{q}{e}" for q in ("q1", "median", "q3") for e in ("", "_lo", "_hi")),
    *(f"pooled_percent{e}" for e in ("", "_lo", "_hi")),
    *(f"loss_{k}" for k in ("total", "mean", "equiv", "twirled")),
    "n_seeds",
    "n_examples",
    "n_clusters",
    "ci_confidence",
    "ci_note",
)


def twirl_paths(study_dir) -> list[Path]:
    """Every run's ``twirl.nc`` under ``study_dir`` (= ``results/{study}``), sorted."""
    return sorted(Path(study_dir).glob(names.TWIRL.format(dataset="*", model="*", seed="*")))


def twirl_table(
    study_dir: str | os.PathLike,
    inputs: list[str | os.PathLike] | None = None,
    bootstrap: Bootstrap | None = None,
) -> pd.DataFrame:
    """The table from the ``twirl.nc`` files among ``inputs`` (default: all under
    ``study_dir``); intervals with ``bootstrap`` (default settings if None)."""
    boot = bootstrap or Bootstrap()
    if inputs is None:
        paths = twirl_paths(study_dir)
    else:
        paths = sorted(Path(p) for p in inputs if Path(p).name == Path(names.TWIRL).name)
    rows = []
    for path in paths:
        with outputs.read(path, "twirl") as out:
            ds, run = out.dataset, out.identity
            rows.append(
                {
                    "dataset": run.dataset,
                    "model": run.model,
                    "seed": run.seed,
                    **{k: ds[f"example_{k}"].values.ravel() for k in _PARTS},
                    **{f"{k}_by_batch": _by_batch(ds[f"example_{k}"]) for k in ("total", "equiv")},
                }
            )
    if not rows:
        raise FileNotFoundError(f"no twirl.nc under {study_dir}/equivariance")
    out = []
    frame = pd.DataFrame(rows)
    for (dataset, model), group in frame.groupby(["dataset", "model"], sort=True):
        parts = {k: np.concatenate(group[k].to_list()) for k in _PARTS}
        percent = 100.0 * parts["equiv"] / parts["total"]
        q1, median, q3 = np.quantile(percent, [0.25, 0.5, 0.75])
        out.append(
            {
                "dataset": dataset,
                "model": model,
                "percent_q1": q1,
                "percent_median": median,
                "percent_q3": q3,
                "pooled_percent": 100.0 * parts["equiv"].sum() / parts["total"].sum(),
                "loss_total": parts["total"].mean(),
                "loss_mean": parts["mean"].mean(),
                "loss_equiv": parts["equiv"].mean(),
                "loss_twirled": parts["twirled_loss"].mean(),
                "n_seeds": group["seed"].nunique(),
                "n_examples": percent.size,
                **_intervals(group, boot, f"twirl_d4/{dataset}/{model}"),
            }
        )
    return pd.DataFrame(out)[list(_COLUMNS)]


def _by_batch(da) -> np.ndarray:
    """Per-example values, an xarray DataArray (batch, transition, class), as (batch, example)."""
    v = da.transpose("batch", ...).values
    return v.reshape(v.shape[0], -1)
