"""Does the element ranking survive a change of λ?  The damping-path robustness table/figures.

Input: the influence stores of a study run with a damping path (``influence.damping.values``):
``pi_path_std`` (damping, element, batch, bra_transition, bra_class, ket_transition,
ket_class) and, with ``influence.galerkin_reference``, ``pi_galerkin_std`` (element, batch,
...).  For every (dataset, model, element set) and every λ, the median of the standardised
self-influence Π̃^g[t,b,t,b] is pooled over seeds × batches × examples (NaN — unconverged
kets — left out), one value per element.  The ranking of the elements by that median is
compared between neighbouring λ and between each λ and the Galerkin values by Kendall's τ-b.

Outputs: ``influence_robustness.csv`` (one row per comparison: ``tau``, ``n_elements``,
``stable`` = τ ≥ :data:`STABLE_TAU`) and ``influence_robustness_medians.csv`` (the medians, one
row per (dataset, model, element set, element, λ | galerkin), with the cluster-bootstrap
interval ``median_lo``/``median_hi`` of :mod:`._bootstrap`), and one figure per
(dataset, model, element set).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from symaudit import outputs
from symaudit.aggregate._bootstrap import Bootstrap, note, pooled_intervals
from symaudit.aggregate._stores import StoreFile, discover, parse_files
from symaudit.aggregate._tables import element_order

__all__ = [
    "ORDERING_COLUMNS",
    "ORDERING_TABLE",
    "ROBUSTNESS_TABLE",
    "STABLE_TAU",
    "galerkin_ordering",
    "kendall_tau",
    "robustness_figures",
    "robustness_medians",
    "robustness_status",
    "robustness_table",
]

ROBUSTNESS_TABLE = "influence_robustness"
#: per run: the exact ordering Π_G(x, x) ≤ Π(x, x) at the primary λ and the matched and
#: mismatched Galerkin gaps (:func:`galerkin_ordering`)
ORDERING_TABLE = "influence_galerkin_ordering"
#: below this τ a ranking is reported as not stable under the change of λ
STABLE_TAU = 0.7
GALERKIN = "galerkin"


def kendall_tau(a, b) -> float:
    """Kendall's τ-b of two equally long 1-D samples (ties in either corrected; NaN pairs
    dropped); NaN when fewer than two pairs remain or one side is constant."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    ok = np.isfinite(a) & np.isfinite(b)
    a, b = a[ok], b[ok]
    if a.size < 2:
        return float("nan")
    da = np.sign(a[:, None] - a[None, :])
    db = np.sign(b[:, None] - b[None, :])
    iu = np.triu_indices(a.size, 1)
    da, db = da[iu], db[iu]
    n_a, n_b = np.count_nonzero(da), np.count_nonzero(db)  # pairs not tied in a / in b
    if n_a == 0 or n_b == 0:
        return float("nan")
    return float(np.sum(da * db) / np.sqrt(float(n_a) * float(n_b)))


def _self_influence(pi: xr.DataArray) -> np.ndarray:
    """(..., element, batch, t, b, t, b) -> (..., element, batch, values) of Π[g, t, b, t, b]."""
    nt, nb = pi.sizes["bra_transition"], pi.sizes["bra_class"]
    t, b = np.meshgrid(np.arange(nt), np.arange(nb), indexing="ij")
    v = pi.values[..., t, b, t, b]  # (..., element, batch, nt, nb)
    return v.reshape(*v.shape[:-2], -1)


_MEDIAN_COLUMNS = (
    "dataset",
    "model",
    "element_set",
    "element",
    "damping",
    "median",
    "median_lo",
    "median_hi",
    "n",
    "n_clusters",
    "ci_confidence",
    "ci_note",
)


def _median_row(parts: list[np.ndarray], boot: Bootstrap, key: str) -> dict:
    """The pooled median of per-seed (batch, value) arrays, its interval and counts."""
    b = max(p.shape[0] for p in parts)
    m = max(p.shape[1] for p in parts)
    values = np.full((len(parts), b, 1, m), np.nan)
    for i, p in enumerate(parts):
        values[i, : p.shape[0], 0, : p.shape[1]] = p
    v = values[np.isfinite(values)]
    lohi, n = pooled_intervals(values, [0.5], boot, key)
    n_seeds = np.isfinite(values).any((1, 2, 3)).sum()
    return {
        "median": float(np.median(v)) if v.size else float("nan"),
        "median_lo": lohi[0, 0, 0],
        "median_hi": lohi[1, 0, 0],
        "n": int(v.size),
        "n_clusters": int(n[0]),
        "ci_confidence": boot.confidence,
        "ci_note": note(n, np.array([n_seeds]), boot)[0],
    }


def robustness_medians(
    study_dir: str | os.PathLike,
    inputs: list[str | os.PathLike] | None = None,
    bootstrap: Bootstrap | None = None,
) -> pd.DataFrame:
    """Per (dataset, model, element_set, element, damping): the pooled median standardised
    self-influence (``damping`` = the configured value, or ``"galerkin"``), its interval
    (``bootstrap``; default settings if None) and ``n`` values, from exactly the influence
    stores ``inputs`` (default: every one under ``study_dir``)."""
    boot = bootstrap or Bootstrap()
    kinds = ("influence",)
    files = discover(study_dir, kinds) if inputs is None else parse_files(study_dir, inputs, kinds)
    groups: dict[tuple, list] = {}
    for f in files:
        groups.setdefault((f.dataset, f.model, f.element_set), []).append(f)
    rows = []
    for (dataset, model, element_set), members in sorted(groups.items()):
        pooled: dict[tuple[str, str], list[np.ndarray]] = {}
        for f in members:
            with xr.open_dataset(f.path) as opened:
                ds = outputs.upgrade_dims(opened)  # an older file's bra_time, ket_time
                if "pi_path_std" not in ds:
                    continue
                elements = [str(e) for e in ds["element"].values]
                path = _self_influence(ds["pi_path_std"])  # (damping, element, batch, values)
                for i, lam in enumerate(ds["damping"].values):
                    for j, g in enumerate(elements):
                        pooled.setdefault((repr(float(lam)), g), []).append(path[i, j])
                if "pi_galerkin_std" in ds:
                    gal = _self_influence(ds["pi_galerkin_std"])
                    for j, g in enumerate(elements):
                        pooled.setdefault((GALERKIN, g), []).append(gal[j])
        for (lam, g), parts in pooled.items():
            key = f"robustness/{dataset}/{model}/{element_set}/{lam}/{g}"
            rows.append(
                {
                    "dataset": dataset,
                    "model": model,
                    "element_set": element_set,
                    "element": g,
                    "damping": lam,
                    **_median_row(parts, boot, key),
                }
            )
    frame = pd.DataFrame(rows, columns=list(_MEDIAN_COLUMNS))
    if frame.empty:
        return frame
    frame["_order"] = frame["element"].map(element_order)
    frame = frame.sort_values(["dataset", "model", "element_set", "damping", "_order"])
    return frame.drop(columns="_order").reset_index(drop=True)


#: the columns of ORDERING_TABLE, one row per run (:func:`galerkin_ordering`)
ORDERING_COLUMNS = (
    "dataset",
    "model",
    "seed",
    "n_pairs",
    "n_ordered",
    "fraction_ordered",
    "max_excess",
    "gap_matched_median",
    "gap_mismatched_median",
)


def galerkin_ordering(
    study_dir: str | os.PathLike, inputs: list[str | os.PathLike] | None = None
) -> pd.DataFrame:
    """Per run (dataset, model, seed), from the raw self-influences of the influence stores
    written with ``influence.galerkin_reference`` (``self_influence_*``; docs/algorithms.md
    §6.4): over every self-influence pair (x, x) of the analysis batches (finite values; the
    kets are the same in every chunk, so one file per run is read), ``n_ordered`` pairs with
    Π_G(x, x) ≤ Π(x, x) + ‖g‖ ‖r‖ / λ at the primary λ (exact: all of them),
    ``max_excess`` = max (Π_G − Π) / (‖g‖ ‖r‖ / λ) (≤ 1 when ordered), and the medians of
    |Π_G − Π| / |Π| with Galerkin at the primary λ (``gap_matched_median``: the subspace
    alone) and at the reference's ε (``gap_mismatched_median``: subspace and damping)."""
    kinds = ("influence",)
    files = discover(study_dir, kinds) if inputs is None else parse_files(study_dir, inputs, kinds)
    first: dict[tuple, StoreFile] = {}
    for f in sorted(files, key=lambda f: (f.element_set, f.chunk, str(f.path))):
        first.setdefault((f.dataset, f.model, f.seed), f)
    rows = []
    for (dataset, model, seed), f in sorted(first.items()):
        with xr.open_dataset(f.path) as ds:
            if "self_influence_raw" not in ds:
                continue
            exact, bound, gal, eps = (
                ds[f"self_influence{name}"].values.astype(np.float64).ravel()
                for name in ("_raw", "_bound", "_galerkin_raw", "_galerkin_eps_raw")
            )
        ok = np.isfinite(exact) & np.isfinite(bound) & np.isfinite(gal)
        exact, bound, gal, eps = exact[ok], bound[ok], gal[ok], eps[ok]
        n = int(ok.sum())
        ordered = int(np.count_nonzero(gal <= exact + bound))
        with np.errstate(divide="ignore", invalid="ignore"):
            excess = (gal - exact) / bound
            matched = np.abs(gal - exact) / np.abs(exact)
            mismatched = np.abs(eps - exact) / np.abs(exact)
        rows.append(
            {
                "dataset": dataset,
                "model": model,
                "seed": seed,
                "n_pairs": n,
                "n_ordered": ordered,
                "fraction_ordered": ordered / n if n else np.nan,
                "max_excess": float(np.nanmax(excess)) if np.isfinite(excess).any() else np.nan,
                "gap_matched_median": float(np.nanmedian(matched)) if n else np.nan,
                "gap_mismatched_median": float(np.nanmedian(mismatched)) if n else np.nan,
            }
        )
    return pd.DataFrame(rows, columns=list(ORDERING_COLUMNS))


def _ordered_dampings(values) -> list[str]:
    """Path values from the largest λ to the smallest, then ``galerkin``."""
    lams = sorted((v for v in set(values) if v != GALERKIN), key=float, reverse=True)
    return lams + ([GALERKIN] if GALERKIN in set(values) else [])


def robustness_table(medians: pd.DataFrame) -> pd.DataFrame:
    """Kendall τ-b of the element ranking between neighbouring λ and of every λ vs Galerkin."""
    rows = []
    for (dataset, model, element_set), group in medians.groupby(
        ["dataset", "model", "element_set"], sort=True
    ):
        wide = group.pivot(index="element", columns="damping", values="median")
        order = _ordered_dampings(wide.columns)
        lams = [d for d in order if d != GALERKIN]
        pairs = list(zip(lams[:-1], lams[1:], strict=True))
        if GALERKIN in order:
            pairs += [(d, GALERKIN) for d in lams]
        for a, b in pairs:
            tau = kendall_tau(wide[a].to_numpy(), wide[b].to_numpy())
            rows.append(
                {
                    "dataset": dataset,
                    "model": model,
                    "element_set": element_set,
                    "damping_a": a,
                    "damping_b": b,
                    "tau": tau,
                    "n_elements": int((wide[a].notna() & wide[b].notna()).sum()),
                    "stable": bool(tau >= STABLE_TAU),
                }
            )
    return pd.DataFrame(
        rows,
        columns=[
            "dataset",
            "model",
            "element_set",
            "damping_a",
            "damping_b",
            "tau",
            "n_elements",
            "stable",
        ],
    )


def robustness_status(table: pd.DataFrame) -> dict:
    """``{"robustness_status": {stable_tau, min_tau, unstable: [...]}}`` for the report's
    config (plain data): one entry per comparison with τ < :data:`STABLE_TAU`."""
    bad = table[~table["stable"].astype(bool)]
    unstable = [
        {
            "dataset": r.dataset,
            "model": r.model,
            "element_set": r.element_set,
            "label": f"{r.dataset} {r.model} {r.element_set}, λ {r.damping_a} vs {r.damping_b}",
            "tau": round(float(r.tau), 3) if np.isfinite(r.tau) else None,
        }
        for r in bad.itertuples()
    ]
    taus = table["tau"].to_numpy(dtype=float)
    return {
        "robustness_status": {
            "stable_tau": STABLE_TAU,
            "min_tau": float(np.nanmin(taus)) if np.isfinite(taus).any() else None,
            "unstable": unstable,
        }
    }


def _interval_bars(ax, group: pd.DataFrame, element: str, dampings, xs, color) -> None:
    """Each median's bootstrap interval as a translucent bar (none where it is NaN)."""
    if "median_lo" not in group:
        return
    rows = group[group["element"] == element].set_index("damping").reindex(dampings)
    ok = rows["median_lo"].notna().to_numpy()
    if ok.any():
        lo, hi = rows["median_lo"].to_numpy()[ok], rows["median_hi"].to_numpy()[ok]
        ax.vlines(np.asarray(xs)[ok], lo, hi, color=color, lw=3, alpha=0.3)


def robustness_figures(
    medians: pd.DataFrame, table: pd.DataFrame, out_dir, *, primary: str | None = None
) -> list[Path]:
    """One PNG per (dataset, model, element set): median standardised self-influence of every
    element against λ (log axis, largest λ left), the Galerkin value beside the path, each with
    its bootstrap interval as a translucent bar where it has one; the title says NOT STABLE
    (red) when any τ < :data:`STABLE_TAU`."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for (dataset, model, element_set), group in medians.groupby(
        ["dataset", "model", "element_set"], sort=True
    ):
        wide = group.pivot(index="element", columns="damping", values="median")
        wide = wide.loc[sorted(wide.index, key=element_order)]
        order = _ordered_dampings(wide.columns)
        lams = [d for d in order if d != GALERKIN]
        xs = np.arange(len(lams))
        taus = table[
            (table.dataset == dataset) & (table.model == model) & (table.element_set == element_set)
        ]
        worst = float(taus["tau"].min()) if len(taus) else float("nan")
        fig, ax = plt.subplots(figsize=(6.4, 4.0))
        cmap = plt.get_cmap("tab10" if len(wide) <= 10 else "viridis")
        for i, (g, row) in enumerate(wide.iterrows()):
            color = cmap(i % 10) if len(wide) <= 10 else cmap(i / max(len(wide) - 1, 1))
            ax.plot(
                xs,
                row[lams].to_numpy(),
                "-o",
                ms=3,
                lw=1,
                color=color,
                label=g if len(wide) <= 10 else None,
            )
            if GALERKIN in order:
                ax.plot([len(lams) + 0.5], [row[GALERKIN]], "s", ms=4, color=color)
            at = np.append(xs, len(lams) + 0.5) if GALERKIN in order else xs
            _interval_bars(ax, group, g, lams + [GALERKIN] * (GALERKIN in order), at, color)
        ticks = [f"{float(v):g}" + (" (primary)" if v == primary else "") for v in lams]
        if GALERKIN in order:
            ticks.append("Galerkin")
            xs = np.append(xs, len(lams) + 0.5)
        ax.set_xticks(xs, ticks, fontsize=8)
        ax.set_xlabel("damping λ (path, largest first) | reference Galerkin")
        ax.set_ylabel("median standardised self-influence")
        ax.axhline(1.0, color="0.6", lw=0.8, ls="--")
        stable = not (worst < STABLE_TAU)
        title = f"{dataset} {model} {element_set}: min Kendall τ = {worst:.2f}"
        ax.set_title(
            title + ("" if stable else " — ranking NOT stable"),
            color="black" if stable else "red",
            fontsize=10,
        )
        if len(wide) <= 10:
            ax.legend(fontsize=7, ncol=2, frameon=False)
        fig.tight_layout()
        path = out / f"robustness_{element_set}_{model}_{dataset}.png"
        fig.savefig(path, dpi=120)
        plt.close(fig)
        written.append(path)
    return written
