"""Model quality: did each emulator learn the dynamics, i.e. beat persistence (s_{t+1} = s_t)?

Everything an audit measures (equivariance error ratios, influence) describes a TRAINED map; on
a network that predicts worse than "nothing changes" those numbers are noise.  This module
turns each run's ``metrics.csv`` (written by training, with the persistence SMSE of the same
validation transitions) and its analysis-batch SMSEs (written by the equivariance stage) into

* ``tables/model_quality.csv`` — one row per (dataset, model, seed), :data:`COLUMNS`;
* ``figures/model_quality.png`` — validation SMSE / persistence against epoch (persistence is
  the line at 1, the gate a second line);
* ``tables/quality_status.yaml`` — ``quality_status: {max_persistence_ratio, n_runs, runs,
  flagged}``, read by the report as an extra config file so that the report's banner and the
  caption of every table and figure say when a run behind it failed the gate.

A run PASSES when its final validation SMSE is at most ``max_persistence_ratio`` × the
persistence SMSE (config ``quality.max_persistence_ratio``, default 1).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ._io import write_atomic

__all__ = [
    "COLUMNS",
    "RunFiles",
    "model_quality_table",
    "plot_model_quality",
    "quality_status",
    "write_quality",
]

#: columns of ``model_quality.csv``
COLUMNS = (
    "dataset",
    "model",
    "seed",
    "epochs",
    "steps",
    "wall_time_s",
    "train_smse",
    "val_smse",
    "val_persistence_smse",
    "ratio",
    "analysis_smse",
    "analysis_persistence_smse",
    "analysis_ratio",
    "passes",
)


@dataclass(frozen=True)
class RunFiles:
    """The files of one trained run that the quality table reads."""

    dataset: str
    model: str
    seed: int
    metrics: Path  # the run's metrics.csv
    equivariance: Path | None = None  # one equivariance .nc of the run (analysis SMSEs)

    @property
    def label(self) -> str:
        return f"{self.dataset} {self.model} seed {self.seed}"


def _read_metrics(path: Path) -> pd.DataFrame:
    if not Path(path).exists():
        raise FileNotFoundError(f"metrics file {path} does not exist (train the run first)")
    frame = pd.read_csv(path)
    missing = {"epoch", "train_smse", "val_smse", "val_persistence_smse"} - set(frame.columns)
    if missing or frame.empty:
        raise ValueError(
            f"metrics file {path}: no persistence baseline (missing columns {sorted(missing)} "
            "or no epoch); retrain the run with this version of symaudit"
        )
    return frame


def _analysis_smse(path: Path | None) -> tuple[float, float]:
    """Mean model SMSE and persistence SMSE over a run's analysis batches."""
    if path is None:
        return np.nan, np.nan
    import xarray as xr

    with xr.open_dataset(path) as ds:
        if "persistence_smse" not in ds:
            raise ValueError(f"equivariance file {path}: no 'persistence_smse' variable")
        return float(ds["smse"].mean()), float(ds["persistence_smse"].mean())


def _row(run: RunFiles, max_ratio: float) -> dict:
    frame = _read_metrics(run.metrics)
    last = frame.iloc[-1]
    val, base = float(last["val_smse"]), float(last["val_persistence_smse"])
    ratio = val / base if base > 0 else np.nan
    model_smse, persistence = _analysis_smse(run.equivariance)
    steps = float(last["steps"]) if "steps" in frame else np.nan
    return {
        "dataset": run.dataset,
        "model": run.model,
        "seed": int(run.seed),
        "epochs": int(last["epoch"]),
        "steps": steps,
        "wall_time_s": float(frame["wall_time_s"].sum()),
        "train_smse": float(last["train_smse"]),
        "val_smse": val,
        "val_persistence_smse": base,
        "ratio": ratio,
        "analysis_smse": model_smse,
        "analysis_persistence_smse": persistence,
        "analysis_ratio": model_smse / persistence if persistence > 0 else np.nan,
        # NaN (a diverged or empty validation) fails the gate
        "passes": bool(ratio <= max_ratio),
    }


def model_quality_table(runs: Sequence[RunFiles], max_ratio: float = 1.0) -> pd.DataFrame:
    """One row per run (:data:`COLUMNS`), sorted by dataset, model, seed."""
    if not runs:
        raise ValueError("model quality: no runs given")
    frame = pd.DataFrame([_row(r, max_ratio) for r in runs], columns=list(COLUMNS))
    return frame.sort_values(["dataset", "model", "seed"], kind="stable").reset_index(drop=True)


def quality_status(table: pd.DataFrame, max_ratio: float) -> dict:
    """The report's view of the table: every run, and the ones that failed the gate."""
    runs = []
    for row in table.itertuples(index=False):
        runs.append(
            {
                "dataset": row.dataset,
                "model": row.model,
                "seed": int(row.seed),
                "label": f"{row.dataset} {row.model} seed {row.seed}",
                "epochs": int(row.epochs),
                "val_smse": f"{row.val_smse:.3g}",
                "persistence": f"{row.val_persistence_smse:.3g}",
                "ratio": f"{row.ratio:.4g}",
                "passes": bool(row.passes),
            }
        )
    return {
        "quality_status": {
            "max_persistence_ratio": float(max_ratio),
            "n_runs": len(runs),
            "runs": runs,
            "flagged": [dict(r) for r in runs if not r["passes"]],  # copies: no YAML aliases
        }
    }


def plot_model_quality(metrics: dict[RunFiles, pd.DataFrame], max_ratio: float):
    """Validation SMSE / persistence against epoch: one panel per dataset, one line per model
    (median over seeds, Q1–Q3 band), persistence as the line at 1, the gate as a second line."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import seaborn as sns
    from matplotlib.ticker import MaxNLocator

    frame = pd.concat(
        [
            pd.DataFrame(
                {
                    "dataset": run.dataset,
                    "model": run.model,
                    "seed": run.seed,
                    "epoch": m["epoch"],
                    "val SMSE / persistence": m["val_smse"] / m["val_persistence_smse"],
                }
            )
            for run, m in metrics.items()
        ],
        ignore_index=True,
    )
    datasets = sorted(frame["dataset"].unique())
    fig, axes = plt.subplots(
        1,
        len(datasets),
        figsize=(4.8 * len(datasets), 3.6),
        squeeze=False,
        constrained_layout=True,
    )
    for ax, dataset in zip(axes[0], datasets, strict=True):
        part = frame[frame["dataset"] == dataset]
        sns.lineplot(
            data=part,
            x="epoch",
            y="val SMSE / persistence",
            hue="model",
            marker="o",
            estimator="median",
            errorbar=("pi", 50),
            ax=ax,
        )
        ax.axhline(1.0, color="0.2", ls="--", lw=1.2, label="persistence")
        if max_ratio != 1.0:
            ax.axhline(max_ratio, color="tab:red", ls=":", lw=1.2, label="quality gate")
        ax.set_yscale("log")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_title(f"{dataset}: validation SMSE relative to persistence")
        ax.legend(fontsize=8)
    return fig


def write_quality(
    runs: Sequence[RunFiles],
    max_ratio: float,
    table_path: str | os.PathLike,
    figure_path: str | os.PathLike,
    status_path: str | os.PathLike,
) -> pd.DataFrame:
    """Write the table, the figure and the report's status file; returns the table."""
    import yaml

    table = model_quality_table(runs, max_ratio)
    write_atomic(table_path, lambda p: table.to_csv(p, index=False, float_format="%.6g"))
    fig = plot_model_quality({r: _read_metrics(r.metrics) for r in runs}, max_ratio)
    write_atomic(figure_path, lambda p: fig.savefig(p, dpi=120))
    import matplotlib.pyplot as plt

    plt.close(fig)
    status = quality_status(table, max_ratio)
    write_atomic(status_path, lambda p: p.write_text(yaml.safe_dump(status, sort_keys=False)))
    return table
