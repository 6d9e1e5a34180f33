"""The D4 twirl decomposition table: how much of each model's loss is due to broken symmetry.

Input: one ``twirl.nc`` per run (:data:`symaudit.names.TWIRL`, format
:data:`symaudit.outputs.TWIRL`: the run from its attributes), per-example values
``example_{total,mean,equiv,twirled_loss}`` of dims (batch, time, class).  Output: per (dataset,
model), quantiles (numpy type 7) of the per-example percent 100 L_equiv / L pooled over seeds x
batches x examples, and the pooled losses with percent = 100 sum L_equiv / sum L.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from symaudit import names, outputs

__all__ = ["TWIRL_TABLE", "twirl_table"]

TWIRL_TABLE = "twirl_d4"


def twirl_table(
    study_dir: str | os.PathLike, inputs: list[str | os.PathLike] | None = None
) -> pd.DataFrame:
    """The table from the ``twirl.nc`` files among ``inputs`` (default: all under
    ``study_dir``)."""
    if inputs is None:
        paths = sorted(Path(study_dir).glob(names.TWIRL.format(dataset="*", model="*", seed="*")))
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
                    **{
                        k: ds[f"example_{k}"].values.ravel()
                        for k in ("total", "mean", "equiv", "twirled_loss")
                    },
                }
            )
    if not rows:
        raise FileNotFoundError(f"no twirl.nc under {study_dir}/equivariance")
    out = []
    frame = pd.DataFrame(rows)
    for (dataset, model), group in frame.groupby(["dataset", "model"], sort=True):
        parts = {
            k: np.concatenate(group[k].to_list())
            for k in ("total", "mean", "equiv", "twirled_loss")
        }
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
            }
        )
    return pd.DataFrame(out)
