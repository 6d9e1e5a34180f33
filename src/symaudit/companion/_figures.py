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
    """The figure, one column of axes per dataset × model of ``frame`` (``extra_rows``: one row
    each, else one row), and per column ``(axes column, the column's rows of frame, title)``."""
    keys = list(dict.fromkeys(zip(frame["dataset"], frame["model"], strict=True)))
    rows = extra_rows or [None]
    fig, axes = plt.subplots(
        len(rows),
        max(len(keys), 1),
        figsize=(width * max(len(keys), 1), height * len(rows)),
        squeeze=False,
        constrained_layout=True,
    )
    columns = [
        (axes[:, c], frame[(frame["dataset"] == dataset) & (frame["model"] == model)], title)
        for c, (dataset, model) in enumerate(keys)
        for title in [f"{dataset} {model}"]
    ]
    return fig, columns, rows


def _quartile_bars(ax, sub: pd.DataFrame, x: str, **style) -> None:
    """The median of ``sub`` against its column ``x``, with Q1–Q3 error bars."""
    yerr = np.vstack([sub["median"] - sub["q1"], sub["q3"] - sub["median"]])
    ax.errorbar(sub[x], sub["median"], yerr=yerr, capsize=2, **style)


def _by_kind(ax, part: pd.DataFrame, x: str, kinds) -> None:
    """One :func:`_quartile_bars` line per ``(kind, marker, label)``, sorted by ``x``."""
    for kind, marker, label in kinds:
        sub = part[part["kind"] == kind].sort_values(x)
        _quartile_bars(ax, sub, x, marker=marker, label=label)


def _heatmaps(frame: pd.DataFrame, plt, by: str | None = None):
    fig, columns, rows = _panels(frame, plt, list(dict.fromkeys(frame[by])) if by else None)
    for r, row in enumerate(rows):
        for axes, part, title in columns:
            ax = axes[r]
            if by:
                part = part[part[by] == row]
            if part.empty:
                ax.set_axis_off()
                continue
            grid = part.pivot(index="bra_time", columns="ket_time", values="median")
            im = ax.imshow(grid.to_numpy(), origin="lower", cmap="binary", aspect="auto")
            fig.colorbar(im, ax=ax, label="median Π̃")
            ax.set(
                xlabel="perturbation (ket) time t₁",
                ylabel="response (bra) time t₂",
                title=title + (f": {row}" if by else ""),
            )
    return fig


def _class_transfer(frame: pd.DataFrame, plt):
    fig, columns, _ = _panels(frame, plt)
    for (ax, *_), part, title in columns:
        classes = list(dict.fromkeys(part["response_class"]))
        grid = part.pivot(index="response_class", columns="perturbing_class", values="median")
        grid = grid.loc[classes, classes].to_numpy()
        im = ax.imshow(grid, origin="upper", cmap="binary")
        fig.colorbar(im, ax=ax, label="median Π̃ (equal times)")
        ax.set_xticks(range(len(classes)), classes, rotation=30)
        ax.set_yticks(range(len(classes)), classes)
        ax.set(xlabel="perturbing (ket) class b₁", ylabel="response (bra) class b₂", title=title)
    return fig


def _time_lag(frame: pd.DataFrame, plt):
    fig, columns, _ = _panels(frame, plt)
    for (ax, *_), part, title in columns:
        _by_kind(ax, part, "lag", [("intra", "o", "intra-class"), ("inter", "^", "inter-class")])
        ax.axhline(1.0, color="0.5", ls="--", lw=1)
        ax.set(
            xlabel="lag t₂ − t₁ (response − perturbation time)",
            ylabel="Π̃ (median, Q1–Q3)",
            title=title,
        )
        ax.legend(fontsize=8)
    return fig


def _distance(frame: pd.DataFrame, plt):
    fig, columns, _ = _panels(frame, plt)
    for (ax, *_), part, title in columns:
        _quartile_bars(ax, part[part["n"] > 0], "distance", marker="o")
        ax.set_xscale("log")
        ax.set(
            xlabel="input difference (SMSE)",
            ylabel="cross-influence Π̃ (median, Q1–Q3)",
            title=title,
        )
    return fig


def _rollout(frame: pd.DataFrame, correlation: pd.DataFrame, plt):
    fig, columns, _ = _panels(frame, plt, extra_rows=["error", "r"])
    for (ax, bx), sub, title in columns:
        _quartile_bars(ax, sub, "horizon", marker="o")
        inside = sub[~sub["beyond_training"].astype(bool)]["horizon"]
        if len(inside) and len(inside) < len(sub):
            ax.axvline(inside.max() + 0.5, color="0.3", ls="--", lw=1, label="training horizon")
            ax.legend(fontsize=8)
        ax.set_yscale("log")
        ax.set(
            xlabel="rollout horizon dt (steps)",
            ylabel="cumulative SMSE (median, Q1–Q3)",
            title=title,
        )
        dataset, model = sub["dataset"].iloc[0], sub["model"].iloc[0]
        cor = correlation[(correlation["dataset"] == dataset) & (correlation["model"] == model)]
        bx.plot(cor["horizon"], cor["pearson_r"], marker="o")
        bx.axhline(0.0, color="0.5", lw=1)
        bx.set_ylim(-1.05, 1.05)
        bx.set(
            xlabel="rollout horizon dt (steps)",
            ylabel="Pearson r (cross-time influence, error)",
        )
    return fig


def _dynamics(frame: pd.DataFrame, plt):
    fig, columns, _ = _panels(frame, plt)
    for (ax, *_), part, title in columns:
        kinds = [("diagonal", "o", "diagonal"), ("off_diagonal", "^", "off_diagonal")]
        _by_kind(ax, part, "epoch", kinds)
        if (part["q1"] > 0).all():  # log y as the reference, when every value allows it
            ax.set_yscale("log")
        ax.set(xlabel="epoch", ylabel="mean raw Π per batch (median, Q1–Q3)", title=title)
        ax.legend(fontsize=8)
    return fig


def _spectrum(frame: pd.DataFrame, plt):
    fig, columns, _ = _panels(frame, plt)
    for (ax, *_), part, title in columns:
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
        ax.set(xlabel="epoch", ylabel="eigenvalues of Qᵀ(JᵀJ/D)Q", title=title)
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
