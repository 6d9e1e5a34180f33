"""The companion tables of a study, from each run's identity-element influence, its analysis
inputs and its training metrics.

Tables (one row per dataset × model × coordinate; q1/median/q3 numpy type 7, NaN skipped; the
maps' columns ``bra_time`` and ``ket_time`` keep their names: they hold the influence files'
``bra_transition`` t₂ and ``ket_transition`` t₁ indices, and ``time_lag``'s ``lag`` their
difference, in transition indices: transition t's input is frame t · S, S =
``analysis.time_stride`` (the influence files' attribute ``time_stride``), so one index is S
frames; the rollout horizons dt are model steps = frames):

* ``two_time_map``: dataset, model, bra_time, ket_time, n, q1, median, q3 — Π̃[t₂, b, t₁, b]
  over seeds × batches × classes b;
* ``class_transfer``: dataset, model, response_class, perturbing_class, n, q1, median, q3 —
  Π̃[t, b₂, t, b₁] over seeds × batches × times t (response = bra class b₂, perturbing = ket
  class b₁);
* ``time_lag``: dataset, model, kind (intra | inter), lag (= bra_time − ket_time), n, q1,
  median, q3 — all Π̃ entries with that lag, pooled over seeds × batches;
* ``influence_distance``: dataset, model, bin (index b of the centre edge), distance (centre
  e_b), lower, upper (e_{b ∓ overlap}), n (samples
  with a pair in the bin), q1, median, q3 — per (seed, batch) the mean Π̃ of the pairs whose
  SMSE input distance lies in [lower, upper], then quantiles over the (seed, batch) samples;
* ``conservation_two_time_map`` (CE only): dataset, model, observable (mass | energy),
  bra_time, ket_time, n, q1, median, q3 — the two-time map with the mass / energy drift bras;
* ``training_curves``: dataset, model, epoch, n, q1, median, q3 — validation SMSE over seeds;
* ``rollout_error``: dataset, model, horizon dt, beyond_training (dt above the training
  horizon, train.time_steps − 1 transitions), n, q1, median, q3 — cumulative SMSE of dt
  autoregressive steps from the true state at every analysis transition's input frame
  t₀ = t · S, t < T, of the analysis trajectories (as far as the stores reach), pooled over
  seeds × batches × classes × t₀ (lanl/PDEHats ``scripts/Benchmark/plot_rollout.jl``);
* ``rollout_correlation``: dataset, model, horizon dt = 1..W frames, W = (T − 1) · S + 1 the
  analysis window's last frame (T at S = 1), n (points), pearson_r — over the points (seed,
  batch, class), Pearson's r between the cross-time ratio of the raw influence
  Σ_{t≠t'} Π[t,b,t',b] / Σ_t Π[t,b,t,b] and the median over t₀ (t₀ + dt ≤ W) of the rollout
  error (``pcs.jl``);
* ``influence_dynamics``: dataset, model, epoch, kind (diagonal | off_diagonal), n, q1,
  median, q3 — per (seed, batch) the mean of the raw Π's diagonal Π[t,b,t,b] and of its
  off-diagonal entries, quantiles over the (seed, batch) samples, at each configured epoch
  (``companion.epochs``) and the run's last (``dynamics.jl``);
* ``gn_spectrum``: dataset, model, epoch, n, min, q1, median, q3, max — the eigenvalues of
  the Gauss–Newton metric Jᵀ J / D restricted to the span of each batch's per-example
  gradients, pooled over seeds × batches (``eig.jl``); ratio_median: median over (seed,
  batch) of the largest over the smallest; lambda_max_median: median of the full metric's
  largest eigenvalue (Lanczos).

``n`` counts the non-NaN values each row's quantiles came from (samples for the distance
bins, seeds for the training curves).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from symaudit.outputs import transition_frames

from . import _stats
from ._readers import (
    OBSERVABLES,
    CompanionRun,
    read_diagnostics,
    read_identity_influence,
)
from ._run import analysis_trajectories

# CompanionRun and the readers live in ._readers; listed here as the package and the CLI import
# them from this module
__all__ = [
    "TABLES",
    "CompanionRun",
    "companion_tables",
    "read_diagnostics",
    "read_identity_influence",
    "write_tables",
]

#: table name -> its columns, in order
TABLES: dict[str, tuple[str, ...]] = {
    "two_time_map": ("dataset", "model", "bra_time", "ket_time", "n", "q1", "median", "q3"),
    "class_transfer": (
        "dataset",
        "model",
        "response_class",
        "perturbing_class",
        "n",
        "q1",
        "median",
        "q3",
    ),
    "time_lag": ("dataset", "model", "kind", "lag", "n", "q1", "median", "q3"),
    "influence_distance": (
        "dataset",
        "model",
        "bin",
        "distance",
        "lower",
        "upper",
        "n",
        "q1",
        "median",
        "q3",
    ),
    "conservation_two_time_map": (
        "dataset",
        "model",
        "observable",
        "bra_time",
        "ket_time",
        "n",
        "q1",
        "median",
        "q3",
    ),
    "training_curves": ("dataset", "model", "epoch", "n", "q1", "median", "q3"),
    "rollout_error": (
        "dataset",
        "model",
        "horizon",
        "beyond_training",
        "n",
        "q1",
        "median",
        "q3",
    ),
    "rollout_correlation": ("dataset", "model", "horizon", "n", "pearson_r"),
    "influence_dynamics": ("dataset", "model", "epoch", "kind", "n", "q1", "median", "q3"),
    "gn_spectrum": (
        "dataset",
        "model",
        "epoch",
        "n",
        "min",
        "q1",
        "median",
        "q3",
        "max",
        "ratio_median",
        "lambda_max_median",
    ),
}


def _inputs(run: CompanionRun, batch: int, time_steps: int, time_stride: int = 1) -> np.ndarray:
    """Analysis inputs (3 · T, channel, y, x), example n = t + T · class: input frame t · S
    (:func:`symaudit.outputs.transition_frames`)."""
    frames = transition_frames(time_steps, time_stride)
    x = analysis_trajectories(run.run_dir, run.stores, batch, int(frames[-1]) + 2)[:, frames]
    return x.reshape(-1, *x.shape[2:])


def _frame(rows: list[dict], name: str) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=list(TABLES[name]))


def _q(q) -> dict:
    return {"q1": q[0], "median": q[1], "q3": q[2]}


def _map_rows(base: dict, pi: np.ndarray) -> list[dict]:
    q = _stats.two_time_map(pi)
    intra = np.stack([pi[:, :, b, :, b] for b in range(pi.shape[2])], axis=1)
    n = np.isfinite(intra).sum(axis=(0, 1))
    return [
        {**base, "bra_time": t2, "ket_time": t1, "n": int(n[t2, t1]), **_q(q[:, t2, t1])}
        for t2 in range(q.shape[1])
        for t1 in range(q.shape[2])
    ]


def _dynamics_rows(base: dict, loaded: Sequence[dict], diags: Sequence[dict]) -> list[dict]:
    by_epoch: dict[int, list[np.ndarray]] = {}
    for item, diag in zip(loaded, diags, strict=True):
        by_epoch.setdefault(diag["last_epoch"], []).append(item["raw"])
        for epoch, raw in diag["earlier"].items():
            by_epoch.setdefault(epoch, []).append(raw)
    rows = []
    for epoch in sorted(by_epoch):
        means = _stats.diagonal_means(np.concatenate(by_epoch[epoch]))
        for kind, values in zip(("diagonal", "off_diagonal"), means, strict=True):
            rows.append(
                {
                    **base,
                    "epoch": epoch,
                    "kind": kind,
                    "n": int(np.isfinite(values).sum()),
                    **_q(_stats.quantiles(values)),
                }
            )
    return rows


def _spectrum_rows(base: dict, diags: Sequence[dict]) -> list[dict]:
    by_epoch: dict[int, list] = {}
    for diag in diags:
        for i, epoch in enumerate(diag["epochs"]):
            by_epoch.setdefault(epoch, []).append((diag["eigenvalue"][i], diag["lambda_max"][i]))
    rows = []
    for epoch in sorted(by_epoch):
        eig = np.concatenate([e for e, _ in by_epoch[epoch]])  # (seed · batch, mode)
        top = np.concatenate([t for _, t in by_epoch[epoch]])
        pooled = eig[np.isfinite(eig)]
        with np.errstate(all="ignore"):
            ratio = np.nanmax(eig, axis=1) / np.nanmin(eig, axis=1)
        q = _stats.quantiles(pooled)
        rows.append(
            {
                **base,
                "epoch": epoch,
                "n": int(pooled.size),
                "min": float(pooled.min()) if pooled.size else np.nan,
                **_q(q),
                "max": float(pooled.max()) if pooled.size else np.nan,
                "ratio_median": float(_stats.quantiles(ratio)[1]),
                "lambda_max_median": float(_stats.quantiles(top)[1]),
            }
        )
    return rows


def _training_rows(dataset: str, model: str, runs: Sequence[CompanionRun]) -> list[dict]:
    curves = []
    for run in runs:
        path = Path(run.run_dir) / "metrics.csv"
        if not path.exists():
            raise FileNotFoundError(f"metrics file {path} does not exist (train the run first)")
        frame = pd.read_csv(path)
        if not {"epoch", "val_smse"} <= set(frame.columns):
            raise ValueError(f"metrics file {path}: no epoch / val_smse column")
        curves.append(frame.set_index("epoch")["val_smse"].rename(run.seed))
    wide = pd.concat(curves, axis=1)  # (epoch, seed); an epoch a seed lacks is NaN
    q = _stats.quantiles(wide.to_numpy(), axis=1)
    n = np.isfinite(wide.to_numpy()).sum(axis=1)
    return [
        {"dataset": dataset, "model": model, "epoch": int(e), "n": int(n[i]), **_q(q[:, i])}
        for i, e in enumerate(wide.index)
    ]


def _rollout_rows(base: dict, loaded: Sequence[dict], diags: Sequence[dict]):
    from ._rollout import cross_time_ratio, pearson

    errors, ratios, within = [], [], []
    train = diags[0]["train_transitions"]
    for item, diag in zip(loaded, diags, strict=True):
        err = diag["rollout"]  # (batch, class, start, dt)
        errors.append(err)
        t = item["time_steps"]
        starts = transition_frames(t, item["time_stride"])  # the influence's input frames
        if err.shape[2] < t or not np.array_equal(diag["starts"][:t], starts):
            raise ValueError(
                f"rollouts of {base}: fewer than {t} starts or not from the influence's input "
                f"frames {starts.tolist()} (time_stride {diag['time_stride']}, influence "
                f"{item['time_stride']})"
            )
        w = int(starts[-1]) + 1  # the analysis window's last frame: T at stride 1
        if err.shape[3] < w:
            raise ValueError(f"rollouts of {base}: fewer than {w} horizons")
        # median over t₀ with t₀ + dt ≤ W, dt = 1..W frames (the analysis window's own horizon)
        inside = starts[:, None] + np.arange(1, w + 1)[None, :] <= w  # (t₀, dt)
        with np.errstate(all="ignore"):
            med = np.nanmedian(np.where(inside, err[:, :, :t, :w], np.nan), axis=2)
        within.append(med.reshape(-1, w))  # (batch · class, dt)
        ratios.append(cross_time_ratio(item["raw"]).reshape(-1))  # (batch · class)
    pooled = np.concatenate([e.transpose(3, 0, 1, 2).reshape(e.shape[3], -1) for e in errors], 1)
    q = _stats.quantiles(pooled, axis=1)
    n = np.isfinite(pooled).sum(axis=1)
    rollout = [
        {
            **base,
            "horizon": dt + 1,
            "beyond_training": bool(dt + 1 > train),
            "n": int(n[dt]),
            **_q(q[:, dt]),
        }
        for dt in range(pooled.shape[0])
        if n[dt] > 0
    ]
    x, y = np.concatenate(ratios), np.concatenate(within)
    correlation = [
        {
            **base,
            "horizon": dt + 1,
            "n": int((np.isfinite(x) & np.isfinite(y[:, dt])).sum()),
            "pearson_r": pearson(x, y[:, dt]),
        }
        for dt in range(y.shape[1])
    ]
    return rollout, correlation


def _class_rows(base: dict, pi: np.ndarray, classes: Sequence[str]) -> list[dict]:
    q = _stats.class_transfer(pi)
    equal = np.stack([pi[:, t, :, t, :] for t in range(pi.shape[1])], axis=1)
    n = np.isfinite(equal).sum(axis=(0, 1))
    return [
        {
            **base,
            "response_class": classes[b2],
            "perturbing_class": classes[b1],
            "n": int(n[b2, b1]),
            **_q(q[:, b2, b1]),
        }
        for b2 in range(len(classes))
        for b1 in range(len(classes))
    ]


def _lag_rows(base: dict, pi: np.ndarray) -> list[dict]:
    lag_of = np.arange(pi.shape[1])[:, None] - np.arange(pi.shape[3])[None, :]
    same = np.eye(pi.shape[2], dtype=bool)
    rows = []
    for kind, (lags, q) in _stats.time_lag(pi).items():
        mask_b = same if kind == "intra" else ~same
        for i, lag in enumerate(lags):
            mask = (lag_of == lag)[:, None, :, None] & mask_b[None, :, None, :]
            rows.append(
                {
                    **base,
                    "kind": kind,
                    "lag": int(lag),
                    "n": int(np.isfinite(pi[:, mask]).sum()),
                    **_q(q[:, i]),
                }
            )
    return rows


def _distance_rows(
    base: dict,
    members: Sequence[CompanionRun],
    loaded: Sequence[dict],
    pi: np.ndarray,
    edges: int,
    overlap: int,
) -> list[dict]:
    distances = np.concatenate(
        [
            np.stack(
                [
                    _stats.input_distances(
                        _inputs(run, b, item["time_steps"], item["time_stride"]),
                        item["time_steps"],
                    )
                    for b in item["batches"]
                ]
            )
            for run, item in zip(members, loaded, strict=True)
        ]
    )
    bins = _stats.log_edges(distances, edges)
    centres, lower, upper, counts, q = _stats.distance_bins(distances, pi, bins, overlap)
    return [
        {
            **base,
            "bin": overlap + i,
            "distance": centres[i],
            "lower": lower[i],
            "upper": upper[i],
            "n": int(counts[i]),
            **_q(q[:, i]),
        }
        for i in range(len(centres))
    ]


def _load_group(members: Sequence[CompanionRun]) -> list[dict]:
    """The identity influence of each run of one (dataset, model); every seed must share the
    classes and times (the number of transitions and their stride)."""
    loaded = [read_identity_influence(r.influence) for r in members]
    classes = loaded[0]["classes"]
    times = (loaded[0]["time_steps"], loaded[0]["time_stride"])
    for run, item in zip(members, loaded, strict=True):
        if item["classes"] != classes or (item["time_steps"], item["time_stride"]) != times:
            raise ValueError(
                f"influence file {run.influence}: classes {item['classes']} / "
                f"{item['time_steps']} times at time_stride {item['time_stride']} differ from "
                f"the other seeds' {classes} / {times[0]} at {times[1]}"
            )
    return loaded


def companion_tables(
    runs: Sequence[CompanionRun], distance_edges: int = 20, distance_overlap: int = 1
) -> dict[str, pd.DataFrame]:
    """Every companion table (see the module docstring) of ``runs``, grouped by (dataset,
    model) in first-seen order; samples are (seed, analysis batch)."""
    rows: dict[str, list[dict]] = {name: [] for name in TABLES}
    groups: dict[tuple[str, str], list[CompanionRun]] = {}
    for run in runs:
        groups.setdefault((run.dataset, run.model), []).append(run)
    for (dataset, model), members in groups.items():
        base = {"dataset": dataset, "model": model}
        loaded = _load_group(members)
        pi = np.concatenate([item["smse"] for item in loaded])  # (seed · batch, ...)
        rows["two_time_map"] += _map_rows(base, pi)
        rows["class_transfer"] += _class_rows(base, pi, loaded[0]["classes"])
        rows["time_lag"] += _lag_rows(base, pi)
        rows["influence_distance"] += _distance_rows(
            base, members, loaded, pi, distance_edges, distance_overlap
        )
        for obs in OBSERVABLES:
            if all(obs in item for item in loaded):
                obs_pi = np.concatenate([item[obs] for item in loaded])
                rows["conservation_two_time_map"] += _map_rows({**base, "observable": obs}, obs_pi)
        rows["training_curves"] += _training_rows(dataset, model, members)
        if all(r.diagnostics is not None for r in members):
            diags = [
                read_diagnostics(r.diagnostics, item["batches"])
                for r, item in zip(members, loaded, strict=True)
            ]
            rollout, correlation = _rollout_rows(base, loaded, diags)
            rows["rollout_error"] += rollout
            rows["rollout_correlation"] += correlation
            rows["influence_dynamics"] += _dynamics_rows(base, loaded, diags)
            rows["gn_spectrum"] += _spectrum_rows(base, diags)
    return {name: _frame(found, name) for name, found in rows.items()}


def write_tables(tables: dict[str, pd.DataFrame], out_dir: str | os.PathLike) -> list[Path]:
    """Write ``<out_dir>/<name>.csv`` atomically for every table; returns the paths."""
    from symaudit._io import write_atomic

    out = Path(out_dir)
    return [
        write_atomic(out / f"{name}.csv", lambda p, f=frame: f.to_csv(p, index=False))
        for name, frame in tables.items()
    ]
