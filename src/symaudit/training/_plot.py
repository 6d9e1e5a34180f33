"""The training curve figure (train/val SMSE vs epoch, log y, persistence as a line)."""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from pathlib import Path

from symaudit._io import write_atomic

__all__ = ["plot_training_curve"]


def plot_training_curve(rows: Sequence[dict], path: str | os.PathLike, title: str) -> Path:
    # matplotlib alone: seaborn's lineplot drew the same pixels (the PNG is byte-identical:
    # tests/training/test_training.py), but importing seaborn, pandas and scipy.stats cost
    # ~1 s of every training job's CPU
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path = Path(path)
    fig, ax = plt.subplots(figsize=(5, 3.5), constrained_layout=True)
    curves = {}
    for split in ("train", "val"):
        points = [(r["epoch"], r[f"{split}_smse"]) for r in rows]
        points = [(e, v) for e, v in points if v is not None and not math.isnan(v)]
        if points:  # an empty split (no validation transitions) gets no line, no legend entry
            curves[split] = points
    for i, (split, points) in enumerate(curves.items()):
        epochs, values = zip(*points, strict=True)
        ax.plot(epochs, values, color=f"C{i}", marker="o", mec="w", mew=0.75, label=split)
    ax.set_xlabel("epoch")
    ax.set_ylabel("SMSE")
    baseline = [r.get("val_persistence_smse") for r in rows]
    baseline = [b for b in baseline if b not in (None, "")]
    if baseline:
        # the validation SMSE of predicting no change, s_{t+1} = s_t
        ax.axhline(float(baseline[-1]), color="0.3", ls="--", lw=1, label="persistence (val)")
        ax.legend()
    elif curves:
        ax.legend(title="split")
    ax.set_yscale("log")
    ax.set_title(title)
    try:
        write_atomic(path, lambda tmp: fig.savefig(tmp, dpi=120))
    finally:
        plt.close(fig)
    return path
