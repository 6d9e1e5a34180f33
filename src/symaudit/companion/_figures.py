"""The companion figures, one per table, drawn from the tables alone (one panel per dataset ×
model; the reference's axes: lanl/PDEHats ``scripts/Plot/HatMatrix/heatmap.jl``,
``diag.jl``, ``horizon.jl``, ``rkhs.jl``, ``mass.jl``, ``energy.jl``, with the class-transfer
axes labelled by what they hold)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

__all__ = ["FIGURES", "make_figures"]

#: figure stem -> the table it draws (training curves reuse the model-quality figure)
FIGURES: dict[str, str] = {
    "companion_two_time_map": "two_time_map",
    "companion_class_transfer": "class_transfer",
    "companion_time_lag": "time_lag",
    "companion_influence_distance": "influence_distance",
    "companion_conservation_two_time_map": "conservation_two_time_map",
    "companion_rollout": "rollout_error",
    "companion_influence_dynamics": "influence_dynamics",
    "companion_gn_spectrum": "gn_spectrum",
}


def _panels(frame: pd.DataFrame, plt, extra_rows: list | None = None, width=3.4, height=3.0):
    keys = list(dict.fromkeys(zip(frame["dataset"], frame["model"], strict=True)))
    rows = extra_rows or [None]
    fig, axes = plt.subplots(
        len(rows),
        max(len(keys), 1),
        figsize=(width * max(len(keys), 1), height * len(rows)),
        squeeze=False,
        constrained_layout=True,
    )
    return fig, axes, keys, rows


def _heatmaps(frame: pd.DataFrame, plt, by: str | None = None):
    rows = list(dict.fromkeys(frame[by])) if by else None
    fig, axes, keys, rows = _panels(frame, plt, rows)
    for r, row in enumerate(rows):
        for c, (dataset, model) in enumerate(keys):
            ax = axes[r, c]
            part = frame[(frame["dataset"] == dataset) & (frame["model"] == model)]
            if by:
                part = part[part[by] == row]
            if part.empty:
                ax.set_axis_off()
                continue
            grid = part.pivot(index="bra_time", columns="ket_time", values="median")
            im = ax.imshow(grid.to_numpy(), origin="lower", cmap="binary", aspect="auto")
            fig.colorbar(im, ax=ax, label="median Π̃")
            ax.set_xlabel("perturbation (ket) time t₁")
            ax.set_ylabel("response (bra) time t₂")
            ax.set_title(f"{dataset} {model}" + (f": {row}" if by else ""))
    return fig


def _by_model(frame: pd.DataFrame, axes):
    """For each (dataset, model) of ``frame`` in first-seen order (the panel columns of
    :func:`_panels`): its column index, its top-row axis, titled "dataset model", and its rows."""
    keys = dict.fromkeys(zip(frame["dataset"], frame["model"], strict=True))
    for c, (dataset, model) in enumerate(keys):
        ax = axes[0, c]
        ax.set_title(f"{dataset} {model}")
        yield c, ax, frame[(frame["dataset"] == dataset) & (frame["model"] == model)]


def _quartile_errorbar(ax, rows: pd.DataFrame, x: str, **style) -> None:
    """The median of ``rows`` against their column ``x``, with Q1–Q3 bars."""
    yerr = np.vstack([rows["median"] - rows["q1"], rows["q3"] - rows["median"]])
    ax.errorbar(rows[x], rows["median"], yerr=yerr, capsize=2, **style)


def _class_transfer(frame: pd.DataFrame, plt):
    fig, axes, _, _ = _panels(frame, plt)
    for _, ax, part in _by_model(frame, axes):
        classes = list(dict.fromkeys(part["response_class"]))
        grid = part.pivot(index="response_class", columns="perturbing_class", values="median")
        grid = grid.loc[classes, classes].to_numpy()
        im = ax.imshow(grid, origin="upper", cmap="binary")
        fig.colorbar(im, ax=ax, label="median Π̃ (equal times)")
        ax.set_xticks(range(len(classes)), classes, rotation=30)
        ax.set_yticks(range(len(classes)), classes)
        ax.set_xlabel("perturbing (ket) class b₁")
        ax.set_ylabel("response (bra) class b₂")
    return fig


def _by_kind(frame: pd.DataFrame, plt, x: str, series, decorate, xlabel: str, ylabel: str):
    """One panel per (dataset, model) with a median line and Q1–Q3 bars against column ``x``
    for each ``(kind, marker, label)`` of ``series`` (rows with that ``kind``);
    ``decorate(ax, rows)`` then adds what the figure needs beside them."""
    fig, axes, _, _ = _panels(frame, plt)
    for _, ax, part in _by_model(frame, axes):
        for kind, marker, label in series:
            sub = part[part["kind"] == kind].sort_values(x)
            _quartile_errorbar(ax, sub, x, marker=marker, label=label)
        decorate(ax, part)
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        ax.legend(fontsize=8)
    return fig


def _time_lag(frame: pd.DataFrame, plt):
    return _by_kind(
        frame,
        plt,
        "lag",
        [("intra", "o", "intra-class"), ("inter", "^", "inter-class")],
        lambda ax, _: ax.axhline(1.0, color="0.5", ls="--", lw=1),
        "lag t₂ − t₁ (response − perturbation time)",
        "Π̃ (median, Q1–Q3)",
    )


def _distance(frame: pd.DataFrame, plt):
    fig, axes, _, _ = _panels(frame, plt)
    for _, ax, part in _by_model(frame, axes):
        _quartile_errorbar(ax, part[part["n"] > 0], "distance", marker="o")
        ax.set_xscale("log")
        ax.set_xlabel("input difference (SMSE)")
        ax.set_ylabel("cross-influence Π̃ (median, Q1–Q3)")
    return fig


def _rollout(frame: pd.DataFrame, correlation: pd.DataFrame, plt):
    fig, axes, _, _ = _panels(frame, plt, extra_rows=["error", "r"])
    for c, ax, sub in _by_model(frame, axes):
        _quartile_errorbar(ax, sub, "horizon", marker="o")
        inside = sub[~sub["beyond_training"].astype(bool)]["horizon"]
        if len(inside) and len(inside) < len(sub):
            ax.axvline(inside.max() + 0.5, color="0.3", ls="--", lw=1, label="training horizon")
            ax.legend(fontsize=8)
        ax.set_yscale("log")
        ax.set_xlabel("rollout horizon dt (steps)")
        ax.set_ylabel("cumulative SMSE (median, Q1–Q3)")
        key = (correlation["dataset"] == sub["dataset"].iloc[0]) & (
            correlation["model"] == sub["model"].iloc[0]
        )
        bx = axes[1, c]
        bx.plot(correlation[key]["horizon"], correlation[key]["pearson_r"], marker="o")
        bx.axhline(0.0, color="0.5", lw=1)
        bx.set_ylim(-1.05, 1.05)
        bx.set_xlabel("rollout horizon dt (steps)")
        bx.set_ylabel("Pearson r (cross-time influence, error)")
    return fig


def _dynamics(frame: pd.DataFrame, plt):
    def log_y(ax, part):  # log y as the reference, when every value allows it
        if (part["q1"] > 0).all():
            ax.set_yscale("log")

    return _by_kind(
        frame,
        plt,
        "epoch",
        [("diagonal", "o", "diagonal"), ("off_diagonal", "^", "off_diagonal")],
        log_y,
        "epoch",
        "mean raw Π per batch (median, Q1–Q3)",
    )


def _spectrum(frame: pd.DataFrame, plt):
    fig, axes, _, _ = _panels(frame, plt)
    for _, ax, part in _by_model(frame, axes):
        part = part[part["n"] > 0].sort_values("epoch")
        stats = [
            {
                "label": str(r.epoch),
                "whislo": r.min,
                "q1": r.q1,
                "med": r.median,
                "q3": r.q3,
                "whishi": r.max,
            }
            for r in part.itertuples()
        ]
        ax.bxp(stats, showfliers=False)
        ax.plot(
            range(1, len(part) + 1),
            part["lambda_max_median"],
            "r_",
            ms=14,
            label="λ_max of the full metric (median)",
        )
        if (part["min"] > 0).all():
            ax.set_yscale("log")
        ax.set_xlabel("epoch")
        ax.set_ylabel("eigenvalues of Qᵀ(JᵀJ/D)Q")
        ax.legend(fontsize=8)
    return fig


def make_figures(tables_dir: str | os.PathLike, out_dir: str | os.PathLike) -> list[Path]:
    """Draw every companion figure from the tables in ``tables_dir`` (an empty table — the
    conservation maps without CE — gives a figure saying so); writes ``<stem>.png``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from symaudit._io import write_atomic

    draw = {
        "companion_two_time_map": lambda f: _heatmaps(f, plt),
        "companion_class_transfer": lambda f: _class_transfer(f, plt),
        "companion_time_lag": lambda f: _time_lag(f, plt),
        "companion_influence_distance": lambda f: _distance(f, plt),
        "companion_conservation_two_time_map": lambda f: _heatmaps(f, plt, by="observable"),
        "companion_influence_dynamics": lambda f: _dynamics(f, plt),
        "companion_gn_spectrum": lambda f: _spectrum(f, plt),
        "companion_rollout": lambda f: _rollout(
            f, pd.read_csv(Path(tables_dir) / "rollout_correlation.csv"), plt
        ),
    }
    written = []
    for stem, table in FIGURES.items():
        frame = pd.read_csv(Path(tables_dir) / f"{table}.csv")
        if frame.empty:
            fig = plt.figure(figsize=(4, 1.5))
            fig.text(0.5, 0.5, f"{table}: no rows", ha="center", va="center")
        else:
            fig = draw[stem](frame)
        path = Path(out_dir) / f"{stem}.png"
        written.append(write_atomic(path, lambda p, fig=fig: fig.savefig(p, format="png", dpi=120)))
        plt.close(fig)
    return written
