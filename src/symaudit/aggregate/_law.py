"""The law table ``tables/commutator_law.csv``: the measured relative error R_g against the law
R_hat_g = 1 + c_g / SMSE(f(x), y), example by example (docs/validation.md "The law";
:mod:`symaudit.data.commutator`).

Inputs: the model-free commutator files (:data:`symaudit.outputs.COMMUTATOR`, one per dataset
group and seed), the equivariance files of the runs (relative errors and SMSEs) and each run's
``splits.json`` (its test trajectories must be the commutator file's ``trajectory``: the join
is refused, with the reason in ``note``, where they differ).  One row per (dataset, model,
element set, element) whose c_g was computed, pooled over seeds x analysis batches x examples:

* ``c_median``, ``c_max``: c_g / persistence SMSE (the commutator in units of predicting no
  change; 0 to round-off where the solver commutes with g); ``commutes``: ``c_max`` <=
  :data:`COMMUTES_TOL`;
* ``rho_median``: SMSE(f(x), y) / persistence; ``beta2_median``: c_g / SMSE(f(x), y), the
  law's excess R_hat - 1;
* ``R_median``, ``Rhat_median``: medians of the measured and the predicted ratio;
* ``ratio_median`` (``_lo``/``_hi``): median of R / R_hat over examples, the judged statistic;
* ``excess_median`` (``_lo``/``_hi``): median of (R - 1) / (R_hat - 1) (NaN where R_hat - 1 <=
  1e-9: nothing to explain);
* ``slope``, ``intercept`` (``_lo``/``_hi``): least squares R = intercept + slope R_hat over the
  examples (the law: 0 and 1);
* ``max_rel_diff_neg``: max over examples of |c_g - c_neg| / c_neg when the file has ``neg``
  (case 6: on velocity-only data p*g*p = g o neg at r, r3, s, sr2, so their c_g is c_neg);
* ``n_examples``, ``n_seeds``, ``n_clusters``, ``ci_note``, ``note``.

Intervals: the cluster bootstrap of the quantile tables (:mod:`._bootstrap`: seeds, then whole
analysis batches), percentile, NaN below ``min_clusters``.  Numpy, pandas and xarray only.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from symaudit import outputs

from ._bootstrap import Bootstrap, note, percentile_interval, pooled_intervals, replicate_weights

__all__ = ["COMMUTES_TOL", "LAW_COLUMNS", "LAW_TABLE", "law_table", "write_law"]

LAW_TABLE = "commutator_law"
#: c_g / persistence at or below this: the solver commutes with g (float64 round-off is ~1e-30)
COMMUTES_TOL = 1e-12
_STATS = ("ratio_median", "excess_median", "slope", "intercept")
LAW_COLUMNS = (
    "dataset", "model", "element_set", "element", "c_median", "c_max", "commutes",
    "rho_median", "beta2_median", "R_median", "Rhat_median",
    *(f"{s}{x}" for s in _STATS for x in ("", "_lo", "_hi")),
    "max_rel_diff_neg", "n_examples", "n_seeds", "n_clusters", "ci_note", "note",
)  # fmt: skip


def _splits(path: Path) -> dict:
    """``{family: [test trajectory, ...]}`` of a run's splits.json."""
    payload = json.loads(Path(path).read_text())
    return {k: list(v["test"]) for k, v in payload["splits"].items()}


def _load_commutators(paths: Sequence) -> dict:
    found = {}
    for p in paths:
        with outputs.read(p, "commutator") as out:
            ds = out.dataset.load()
        found[out.identity.dataset, out.identity.seed] = ds
    return found


def _mismatch(comm, eq, test: dict) -> str:
    """Why the run's examples are not the commutator file's ("" when they are)."""
    if list(comm["batch"].values) != list(eq["batch"].values):
        return "analysis batches differ"
    if comm.sizes["transition"] != eq.sizes["transition"]:
        return "time steps differ"
    if comm.attrs.get("time_stride", 1) != eq.attrs.get("time_stride", 1):  # absent: 1
        return "time strides differ (other frames)"
    if list(comm["class"].values) != list(eq["class"].values):
        return "classes differ"
    for i, k in enumerate(comm["batch"].values):
        for j, family in enumerate(comm["class"].values):
            tests = test.get(str(family), [])
            if int(k) >= len(tests) or tests[int(k)] != int(comm["trajectory"][i, j]):
                return f"test trajectory of {family} batch {int(k)} differs (another split)"
    return ""


def _gather(commutator_files, equivariance_files, runs):
    """(dataset, model, set) -> {element: [(seed, R (B, m), smse (B, m), persist (B, m),
    c (B, m), c_neg or None)]}, and the notes of refused joins."""
    comms = _load_commutators(commutator_files)
    gathered: dict = defaultdict(lambda: defaultdict(list))
    notes: dict = {}
    for p in equivariance_files:
        who = outputs.identify(p)
        if who.kind != "equivariance" or (who.dataset, who.seed) not in comms:
            continue
        comm = comms[who.dataset, who.seed]
        sets = json.loads(comm.attrs["element_sets"])
        if who.element_set not in sets:
            continue
        key = (who.dataset, who.model, who.element_set)
        with outputs.read(p, "equivariance") as out:
            eq = out.dataset.load()
        splits = runs.get((who.dataset, who.model, who.seed))
        why = "no splits.json" if splits is None else _mismatch(comm, eq, _splits(splits))
        if why:
            notes[key] = f"seed {who.seed}: {why}"
            continue

        def flat(a):  # (batch, transition, class) -> (batch, m)
            a = np.asarray(a, dtype=np.float64)
            return a.reshape(a.shape[0], -1)

        elements = [str(g) for g in comm["element"].values]
        c_neg = flat(comm["commutator"].sel(element="neg")) if "neg" in elements else None
        for g in eq["element"].values:
            g = str(g)
            if g not in elements:
                continue
            gathered[key][g].append(
                (
                    who.seed,
                    flat(eq["relative_error"].sel(element=g)),
                    flat(eq["smse"]),
                    flat(comm["persistence_smse"]),
                    flat(comm["commutator"].sel(element=g)),
                    c_neg,
                )
            )
    return gathered, notes


def _stack(parts, index: int) -> np.ndarray:
    """(S, B, 1, m) of one quantity over the seeds (batches padded with NaN)."""
    b = max(p[index].shape[0] for p in parts)
    m = max(p[index].shape[1] for p in parts)
    out = np.full((len(parts), b, 1, m), np.nan)
    for s, p in enumerate(parts):
        v = p[index]
        out[s, : v.shape[0], 0, : v.shape[1]] = v
    return out


def _fit(x: np.ndarray, y: np.ndarray, weights: np.ndarray):
    """Weighted least squares y = a + b x per replicate: x, y (K, m) per cluster, weights
    (R, K) -> (a, b) each (R,)."""
    ok = np.isfinite(x) & np.isfinite(y)
    xs, ys = np.where(ok, x, 0.0), np.where(ok, y, 0.0)
    sums = np.stack([ok.sum(1), xs.sum(1), ys.sum(1), (xs * xs).sum(1), (xs * ys).sum(1)])
    n, sx, sy, sxx, sxy = (weights @ sums.T.astype(np.float64)).T  # each (R,)
    with np.errstate(invalid="ignore", divide="ignore"):
        b = (n * sxy - sx * sy) / (n * sxx - sx * sx)
        a = (sy - b * sx) / n
    return a, b


def _row(parts, boot: Bootstrap, key: str) -> dict:
    R, model, persist, c = (_stack(parts, i) for i in (1, 2, 3, 4))  # noqa: N806
    with np.errstate(invalid="ignore", divide="ignore"):
        rhat = 1.0 + c / model
        ratio = R / rhat
        excess = np.where(rhat - 1.0 > 1e-9, (R - 1.0) / (rhat - 1.0), np.nan)
        c_rel = c / persist
    row: dict = {}
    for name, values in (("ratio_median", ratio), ("excess_median", excess)):
        finite = values[np.isfinite(values)]
        row[name] = float(np.median(finite)) if finite.size else np.nan
        lohi, _ = pooled_intervals(values, [0.5], boot, f"{key}/{name}")
        row[f"{name}_lo"], row[f"{name}_hi"] = float(lohi[0, 0, 0]), float(lohi[1, 0, 0])
    s, b = R.shape[:2]
    x, y = rhat.reshape(s * b, -1), R.reshape(s * b, -1)
    a_pt, b_pt = _fit(x, y, np.ones((1, s * b)))
    a_rep, b_rep = _fit(x, y, replicate_weights(boot, f"{key}/fit", s, b))
    n_clusters = int(np.isfinite(ratio).any(-1).sum())
    for name, point, reps in (("slope", b_pt[0], b_rep), ("intercept", a_pt[0], a_rep)):
        lohi = percentile_interval(reps, boot)
        keep = n_clusters >= boot.min_clusters
        row[name] = float(point)
        row[f"{name}_lo"] = float(lohi[0]) if keep else np.nan
        row[f"{name}_hi"] = float(lohi[1]) if keep else np.nan
    negs = [p[5] for p in parts]
    if all(v is not None for v in negs):
        cn = _stack([(None, v) for v in negs], 1)
        with np.errstate(invalid="ignore", divide="ignore"):
            diff = np.abs(c - cn) / np.abs(cn)
        row["max_rel_diff_neg"] = float(np.nanmax(diff)) if np.isfinite(diff).any() else np.nan
    else:
        row["max_rel_diff_neg"] = np.nan

    def med(v):
        v = v[np.isfinite(v)]
        return float(np.median(v)) if v.size else np.nan

    row |= {
        "c_median": med(c_rel),
        "c_max": float(np.nanmax(c_rel)) if np.isfinite(c_rel).any() else np.nan,
        "rho_median": med(model / persist),
        "beta2_median": med(c / model),
        "R_median": med(R),
        "Rhat_median": med(rhat),
        "n_examples": int(np.isfinite(ratio).sum()),
        "n_seeds": len(parts),
        "n_clusters": n_clusters,
        "ci_note": str(note(np.array([n_clusters]), np.array([len(parts)]), boot)[0]),
    }
    row["commutes"] = bool(row["c_max"] <= COMMUTES_TOL)
    return row


def law_table(
    commutator_files: Sequence, equivariance_files: Sequence, runs: dict, boot: Bootstrap
) -> pd.DataFrame:
    """The law table (:data:`LAW_COLUMNS`); ``runs`` = {(dataset, model, seed): splits.json}."""
    return _table(*_gather(commutator_files, equivariance_files, runs), boot)


def _table(gathered: dict, notes: dict, boot: Bootstrap) -> pd.DataFrame:
    rows = []
    for (dataset, model, element_set), by_element in sorted(gathered.items()):
        for element, parts in by_element.items():
            parts = sorted(parts, key=lambda p: p[0])
            key = f"law/{dataset}/{model}/{element_set}/{element}"
            rows.append(
                {
                    "dataset": dataset,
                    "model": model,
                    "element_set": element_set,
                    "element": element,
                    **_row(parts, boot, key),
                    "note": notes.get((dataset, model, element_set), ""),
                }
            )
    for (dataset, model, element_set), why in sorted(notes.items()):
        if (dataset, model, element_set) not in gathered:
            rows.append(
                {"dataset": dataset, "model": model, "element_set": element_set, "note": why}
            )
    return pd.DataFrame(rows, columns=list(LAW_COLUMNS))


def write_law(
    commutator_files, equivariance_files, runs, out: Path, boot: Bootstrap, fingerprints=None
) -> Path:
    """Write :func:`law_table` to ``out`` (CSV, atomically), and, given ``fingerprints`` (a
    path), case 6's pairing fingerprints from the same per-example data
    (:mod:`._fingerprints`)."""
    from ._io import write_atomic

    gathered, notes = _gather(commutator_files, equivariance_files, runs)
    table = _table(gathered, notes, boot)
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    if fingerprints is not None:
        from ._fingerprints import write_fingerprints

        write_fingerprints(gathered, Path(fingerprints), boot)
    return write_atomic(Path(out), lambda p: table.to_csv(p, index=False))
