"""The training curve figure (train/val SMSE vs epoch, log y, persistence as a line)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from symaudit._io import write_atomic

__all__ = ["plot_training_curve"]


def plot_training_curve(rows: Sequence[dict], path: str | os.PathLike, title: str) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import pandas as pd
    import seaborn as sns

    path = Path(path)
    frame = pd.DataFrame(
        [{"epoch": r["epoch"], "split": "train", "SMSE": r["train_smse"]} for r in rows]
        + [{"epoch": r["epoch"], "split": "val", "SMSE": r["val_smse"]} for r in rows]
    ).dropna()
    fig, ax = plt.subplots(figsize=(5, 3.5), constrained_layout=True)
    sns.lineplot(data=frame, x="epoch", y="SMSE", hue="split", marker="o", ax=ax)
    baseline = [r.get("val_persistence_smse") for r in rows]
    baseline = [b for b in baseline if b not in (None, "")]
    if baseline:
        # the validation SMSE of predicting no change, s_{t+1} = s_t
        ax.axhline(float(baseline[-1]), color="0.3", ls="--", lw=1, label="persistence (val)")
        ax.legend()
    ax.set_yscale("log")
    ax.set_title(title)
    try:
        write_atomic(path, lambda tmp: fig.savefig(tmp, dpi=120))
    finally:
        plt.close(fig)
    return path
