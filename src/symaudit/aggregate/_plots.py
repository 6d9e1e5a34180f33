"""The three plot types of the paper's symmetry figures, each drawing one
:class:`~._layout.FigureSpec` from its quantile table (columns: dataset, model, element, dx,
dy, q1, median, q3, the counts, and ``converged`` for influence).

* **D4** (Figs. 1, 2, 9, 10): one marker (median) with a Q1-Q3 range bar per element and
  model; models dodged around each element (reference: UNet at x - 0.125, ViT at x + 0.125).
* **shift lines** (Figs. 3-6, 11-14): median line with a Q1-Q3 band against the *signed* shift
  -N/2 .. N/2-1.  The reference plots ``circshift(0:N-1, N/2)`` at x = 1..N and labels x = 4,
  34, 64, ... as -60, -30, 0, ..., which puts the identity at "+1"; plotting the signed shift
  itself makes every tick label true (identity at 0).
* **shift box** (Figs. 7, 8, 15-20): a K x K heatmap of the median over (dx, dy), x = dx.

Axis ranges (``ranges=``): ``"paper"`` uses the reference's fixed ranges (docs/algorithms.md
§7) even if data fall outside; ``"data"`` autoscales; ``"union"`` (default) starts from the
paper's range and widens it just enough to show every Q1-Q3 bar, so figures of a small study
stay comparable to the paper without hiding anything.

The median's cluster-bootstrap interval (table columns ``median_lo``, ``median_hi``;
docs/algorithms.md §7.1) is drawn where a reader compares medians: a thick translucent bar behind
each D4 marker, a darker band inside the Q1-Q3 band of a shift line.  Where it is NaN (too few
clusters) nothing is drawn and the title says why; heatmaps show medians only.

Elements whose influence rests on a ket solve that did not converge (table column
``converged`` False) get a red cross over the median (D4, heatmaps) or a red mark on a rug
below the line (shift lines) and a legend entry.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import MaxNLocator

from symaudit import groups
from symaudit.names import MODEL_LABELS

from ._layout import PAPER_RANGES, FigureSpec

__all__ = ["plot_d4", "plot_shift_box", "plot_shift_line"]

_MARKERS = {"unet": "o", "vit": "s", "twirled-unet": "D", "twirled-vit": "^"}
_D4_LABELS = {
    "e": "e",
    "r": "r",
    "r2": "r$^2$",
    "r3": "r$^3$",
    "s": "s",
    "sr": "sr",
    "sr2": "sr$^2$",
    "sr3": "sr$^3$",
}
_YLABEL = {
    "equivariance": "relative SMSE, Q3 over examples\n(median, Q1–Q3 over seeds)",
    "influence": "standardised self-influence $\\tilde{\\Pi}^{g}_{tb,tb}$\n(median, Q1–Q3 pooled)",
}
_CBAR = {
    "equivariance": "relative SMSE, Q3 over examples\n(median over seeds)",
    "influence": "standardised self-influence $\\tilde{\\Pi}^{g}_{tb,tb}$\n(pooled median)",
}
_TITLE = {"equivariance": "Symmetry Loss", "influence": "Symmetry Influence"}
_NOT_CONVERGED = "solve not converged"
_CMAP = {"equivariance": "Reds", "influence": "binary"}  # Makie :amp ~ Reds; :binary as is


def model_label(model: str) -> str:
    return MODEL_LABELS.get(model, model)


def _palette(models: Sequence[str]) -> dict[str, tuple]:
    import seaborn as sns

    # Fixed slots per known model so UNet/ViT keep their colours whichever subset is plotted.
    known = list(MODEL_LABELS)
    colours = sns.color_palette("colorblind", len(known) + len(models))
    extra = iter(colours[len(known) :])
    return {m: colours[known.index(m)] if m in known else next(extra) for m in models}


def _models(df: pd.DataFrame) -> list[str]:
    order = list(MODEL_LABELS)
    found = list(dict.fromkeys(df["model"]))
    return sorted(found, key=lambda m: (order.index(m) if m in order else len(order), m))


def _style():
    import contextlib

    import seaborn as sns

    stack = contextlib.ExitStack()
    stack.enter_context(sns.axes_style("ticks"))
    stack.enter_context(sns.plotting_context("paper", font_scale=1.25))
    return stack


def _limits(values: np.ndarray, paper, mode: str) -> tuple[float, float, str]:
    """(lo, hi, scale) for one axis; see the module docstring for the three modes."""
    finite = values[np.isfinite(values)]
    scale = paper[2] if paper else "linear"
    if scale == "log" and (finite.size and finite.min() <= 0):
        scale = "linear"
    if finite.size == 0:
        return (paper[0], paper[1], scale) if paper else (0.0, 1.0, scale)
    lo, hi = float(finite.min()), float(finite.max())
    if scale == "log":
        llo, lhi = math.log10(lo), math.log10(hi)
        pad = max(0.05 * (lhi - llo), 0.02)
        dlo, dhi = 10 ** (llo - pad), 10 ** (lhi + pad)
    else:
        pad = 0.05 * (hi - lo) or 0.05 * max(abs(hi), 1e-3)
        dlo, dhi = lo - pad, hi + pad
    if mode == "data" or paper is None:
        return dlo, dhi, scale
    if mode == "paper":
        return paper[0], paper[1], scale
    if mode != "union":
        raise ValueError(f"ranges must be 'union', 'paper' or 'data', not {mode!r}")
    return min(paper[0], dlo), max(paper[1], dhi), scale


def _counts_line(df: pd.DataFrame, kind: str) -> str:
    """One line saying what the quantiles were taken over (from the table's count columns)."""

    def span(col: str, noun: str) -> str:
        lo, hi = int(df[col].min()), int(df[col].max())
        return f"{lo} {noun}" if lo == hi == 1 else f"{lo if lo == hi else f'{lo}–{hi}'} {noun}s"

    if kind == "equivariance":
        return f"{span('n_seeds', 'seed')} × {span('n_examples_per_seed_min', 'example')} per seed"
    return f"{span('n', 'pooled value')} ({span('n_batches', 'seed×batch run')})"


def _has_ci(rows: pd.DataFrame) -> bool:
    return "median_lo" in rows and bool(rows["median_lo"].notna().any())


def _ci_label(rows: pd.DataFrame) -> str:
    level = rows["ci_confidence"].dropna() if "ci_confidence" in rows else pd.Series(dtype=float)
    return f"median, {level.iloc[0]:.0%} CI" if len(level) else "median, bootstrap CI"


def _ci_line(rows: pd.DataFrame) -> str:
    """A title line when no row has an interval: the table's reason (``ci_note``)."""
    if "median_lo" not in rows or _has_ci(rows):
        return ""
    notes = [n for n in rows.get("ci_note", pd.Series(dtype=str)).dropna() if n]
    return "\n" + (notes[0].replace("no interval", "no CI") if notes else "no CI")


def _ci_values(rows: pd.DataFrame) -> list[str]:
    """The columns the axis range must show: quartiles and, where present, the interval."""
    return ["q1", "median", "q3"] + (["median_lo", "median_hi"] if "median_lo" in rows else [])


def _y_range(
    rows: pd.DataFrame, spec: FigureSpec, element_set: str, ranges: str
) -> tuple[float, float, str]:
    """(lo, hi, scale) of a quantile panel's y axis: its Q1-Q3 bars and intervals against the
    paper's range for ``element_set`` (:func:`_limits`)."""
    paper = PAPER_RANGES.get((spec.kind, element_set, spec.dataset))
    return _limits(rows[_ci_values(rows)].to_numpy(float), paper, ranges)


def _title(
    ax, rows: pd.DataFrame, spec: FigureSpec, *, after: str = "", within: str = "", ci: bool = True
) -> None:
    """``<quantity><after> (<within><dataset>)``, the counts line and (``ci``) the reason for a
    missing interval.  ", Q3" after the dataset: the relative error of a seed is the Q3 over
    its examples."""
    suffix = ", Q3" if spec.kind == "equivariance" else ""
    ci_line = _ci_line(rows) if ci else ""
    ax.set_title(
        f"{_TITLE[spec.kind]}{after} ({within}{spec.dataset}{suffix})\n"
        f"{_counts_line(rows, spec.kind)}{ci_line}",
        fontsize="medium",
    )


def _baseline(ax, kind: str):
    # 1 is "no symmetry breaking" for the relative error and the noise level for the
    # standardised influence (docs/algorithms.md §6.5): the reference point of every panel.
    return ax.axhline(
        1.0,
        color="0.45",
        lw=0.8,
        ls="--",
        zorder=0,
        label="unity (no breaking)" if kind == "equivariance" else "unity (noise)",
    )


def _legend(fig: Figure, ax, handles: list, ncols: int | None = None) -> None:
    if ncols is None:  # one row if it fits the width, else two
        width = sum(len(h.get_label()) + 6 for h in handles)
        ncols = len(handles) if width <= 70 else math.ceil(len(handles) / 2)
    fig.legend(handles=handles, loc="outside upper center", ncols=ncols, frameon=False)


def _subset(df: pd.DataFrame, spec: FigureSpec) -> pd.DataFrame:
    rows = df[df["dataset"] == spec.dataset]
    if spec.model is not None:
        rows = rows[rows["model"] == spec.model]
    if rows.empty:
        raise ValueError(f"{spec.stem}: table {spec.table} has no rows for it")
    return rows


def _not_converged(rows: pd.DataFrame) -> pd.Series:
    if "converged" not in rows:
        return pd.Series(False, index=rows.index)
    return ~rows["converged"].astype(bool)


def plot_d4(df: pd.DataFrame, spec: FigureSpec, ranges: str = "union") -> Figure:
    """D4 figure (Figs. 1, 2, 9, 10): every model dodged around each of the 8 elements."""
    rows = _subset(df, spec)
    models = _models(rows)
    colours = _palette(models)
    # Reference dodge: UNet at x - 0.125, ViT at x + 0.125; more models share ~0.7 of a slot.
    step = 0.25 if len(models) <= 2 else 0.7 / len(models)
    offsets = (np.arange(len(models)) - (len(models) - 1) / 2) * step
    with _style():
        fig = Figure(figsize=(6.4, 4.4), layout="constrained")
        ax = fig.add_subplot()
        handles = [_baseline(ax, spec.kind)]
        bad_any = False
        for m, off in zip(models, offsets, strict=True):
            r = rows[rows["model"] == m].set_index("element").reindex(groups.D4)
            x = np.arange(len(groups.D4)) + off
            yerr = np.vstack([r["median"] - r["q1"], r["q3"] - r["median"]])
            handles.append(
                ax.errorbar(
                    x,
                    r["median"],
                    yerr=yerr,
                    fmt=_MARKERS.get(m, "o"),
                    color=colours[m],
                    ms=6,
                    capsize=3,
                    lw=1.3,
                    label=model_label(m),
                )
            )
            if _has_ci(r):
                ax.vlines(x, r["median_lo"], r["median_hi"], color=colours[m], lw=7, alpha=0.35)
            bad = _not_converged(r.reset_index()).to_numpy()
            if bad.any():
                bad_any = True
                ax.plot(x[bad], r["median"].to_numpy()[bad], "x", color="red", ms=11, mew=2)
        if _has_ci(rows):
            handles.append(Line2D([], [], color="0.4", lw=7, alpha=0.35, label=_ci_label(rows)))
        if bad_any:
            handles.append(
                Line2D([], [], ls="", marker="x", color="red", ms=9, mew=2, label=_NOT_CONVERGED)
            )
        lo, hi, scale = _y_range(rows, spec, "d4", ranges)
        ax.set_yscale(scale)
        ax.set_ylim(lo, hi)
        ax.set_xticks(np.arange(len(groups.D4)), [_D4_LABELS[g] for g in groups.D4])
        ax.set_xlim(-0.6, len(groups.D4) - 0.4)
        ax.set_xlabel("D$_4$ group element $g$")
        ax.set_ylabel(_YLABEL[spec.kind])
        _title(ax, rows, spec)
        _legend(fig, ax, handles)
    return fig


def _signed(k: np.ndarray, n: int) -> np.ndarray:
    """Shift k in 0..N-1 as a signed shift in -N/2..N/2-1 (the reference's circshift order)."""
    return np.where(k >= n // 2, k - n, k)


def _rug(ax, x: np.ndarray, model: str, row: int) -> Line2D:
    """Mark the shifts ``x`` of ``model`` whose solve did not converge on a rug along the
    bottom, one row per model (crosses on a 128-point line would bury the curve they
    annotate); returns the legend handle."""
    style = dict(ls="", marker=_MARKERS.get(model, "o"), color="red", mfc="none", ms=4, mew=1.0)
    rug = ax.get_xaxis_transform()  # x in data, y in axes fraction
    ax.plot(x, np.full(len(x), 0.03 + 0.05 * row), transform=rug, clip_on=False, **style)
    return Line2D([], [], label=f"{model_label(model)}: {_NOT_CONVERGED}", **{**style, "ms": 7})


def plot_shift_line(
    df: pd.DataFrame, spec: FigureSpec, ranges: str = "union", resolution: int | None = None
) -> Figure:
    """Horizontal (``shift_x``) or vertical (``shift_y``) shift figure, all models overlaid.

    ``resolution`` (N) defaults to the largest shift in the table + 1, i.e. the full set.
    """
    rows = _subset(df, spec)
    axis = "dx" if spec.element_set == "shift_x" else "dy"
    n = resolution or int(rows[axis].max()) + 1
    models = _models(rows)
    colours = _palette(models)
    with _style():
        fig = Figure(figsize=(8.0, 4.4), layout="constrained")
        ax = fig.add_subplot()
        handles = [_baseline(ax, spec.kind)]
        bad_handles = []
        for i, m in enumerate(models):
            r = rows[rows["model"] == m].copy()
            r["signed"] = _signed(r[axis].to_numpy(), n)
            r = r.sort_values("signed")
            x = r["signed"].to_numpy()
            ax.fill_between(x, r["q1"], r["q3"], color=colours[m], alpha=0.25, lw=0)
            if _has_ci(r):
                lo_hi = (r["median_lo"], r["median_hi"])
                ax.fill_between(x, *lo_hi, color=colours[m], alpha=0.45, lw=0)
            ax.plot(
                x,
                r["median"],
                color=colours[m],
                lw=1.2,
                marker=_MARKERS.get(m, "o"),
                ms=3 if n > 40 else 5,
            )
            handles.append(
                Patch(
                    facecolor=(*colours[m][:3], 0.35),
                    edgecolor=colours[m],
                    label=f"{model_label(m)} median, Q1–Q3",
                )
            )
            bad = _not_converged(r).to_numpy()
            if bad.any():
                bad_handles.append(_rug(ax, x[bad], m, i))
        if _has_ci(rows):
            handles.append(Patch(facecolor="0.45", alpha=0.6, label=_ci_label(rows)))
        handles += bad_handles
        lo, hi, scale = _y_range(rows, spec, spec.element_set, ranges)
        if bad_handles and scale == "linear":  # reserve a strip at the bottom for the rug
            lo -= (0.05 + 0.05 * len(models)) * (hi - lo)
        ax.set_yscale(scale)
        ax.set_ylim(lo, hi)
        ax.set_xlim(-(n // 2) - 0.5, n - n // 2 - 0.5)
        ax.xaxis.set_major_locator(MaxNLocator(nbins=9, integer=True))
        direction = "horizontal" if axis == "dx" else "vertical"
        ax.set_xlabel(f"{direction} shift {axis} (cells, signed; identity at 0)")
        ax.set_ylabel(_YLABEL[spec.kind])
        _title(ax, rows, spec, after=f", {direction} shifts")
        _legend(fig, ax, handles)
    return fig


def plot_shift_box(df: pd.DataFrame, spec: FigureSpec, ranges: str = "union") -> Figure:
    """Shift-box heatmap (Figs. 7, 8, 15-20) of the median over (dx, dy) for one model."""
    import matplotlib as mpl

    rows = _subset(df, spec)
    k = int(max(rows["dx"].max(), rows["dy"].max())) + 1
    grid = np.full((k, k), np.nan)
    bad = np.zeros((k, k), dtype=bool)
    nc = _not_converged(rows).to_numpy()
    for (dx, dy, med), b in zip(
        rows[["dx", "dy", "median"]].itertuples(index=False), nc, strict=True
    ):
        grid[int(dy), int(dx)] = med
        bad[int(dy), int(dx)] = b
    vmin, vmax = _colour_range(
        grid, PAPER_RANGES.get((spec.kind, "shift_box", spec.dataset)), ranges
    )
    cmap = mpl.colormaps[_CMAP[spec.kind]].with_extremes(bad="0.85")
    with _style():
        fig = Figure(figsize=(5.6, 4.8), layout="constrained")
        ax = fig.add_subplot()
        im = ax.imshow(
            grid,
            origin="lower",
            cmap=cmap,
            vmin=vmin,
            vmax=vmax,
            extent=(-0.5, k - 0.5, -0.5, k - 0.5),
            interpolation="nearest",
        )
        cbar = fig.colorbar(im, ax=ax, shrink=0.9)
        cbar.set_label(_CBAR[spec.kind])
        if bad.any():
            dy, dx = np.nonzero(bad)
            # a marker, not hatching: it leaves the cell's colour readable
            ax.plot(dx, dy, "x", color="red", ms=max(4.0, 60 / k), mew=1.5)
            _legend(
                fig,
                ax,
                [
                    Line2D(
                        [], [], ls="", marker="x", color="red", ms=8, mew=1.5, label=_NOT_CONVERGED
                    )
                ],
            )
        ax.set_xlabel("horizontal shift dx (cells)")
        ax.set_ylabel("vertical shift dy (cells)")
        ax.xaxis.set_major_locator(MaxNLocator(nbins=10, integer=True))
        ax.yaxis.set_major_locator(MaxNLocator(nbins=10, integer=True))
        # no interval line: heatmaps show medians only
        _title(ax, rows, spec, within=f"{model_label(spec.model)}, ", ci=False)
    return fig


def _colour_range(grid: np.ndarray, paper, mode: str) -> tuple[float, float]:
    """Heatmap colour limits: like :func:`_limits` but without padding (colours need none)."""
    finite = grid[np.isfinite(grid)]
    if mode not in ("union", "paper", "data"):
        raise ValueError(f"ranges must be 'union', 'paper' or 'data', not {mode!r}")
    if paper is not None and (mode == "paper" or finite.size == 0):
        return paper[0], paper[1]
    if finite.size == 0:
        return 0.0, 1.0
    lo, hi = float(finite.min()), float(finite.max())
    if paper is not None and mode == "union":
        lo, hi = min(lo, paper[0]), max(hi, paper[1])
    if lo == hi:
        lo, hi = lo - 0.5, hi + 0.5
    return lo, hi
