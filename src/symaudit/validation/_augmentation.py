"""Case 4: augmentation, paired by seed, from the study's per-run files.

Every augmented model ``X-aug`` (default: every model whose name ends in ``-aug``, paired with
``X``; ``augmented`` maps name -> base explicitly) is compared with its base on the same dataset,
seed by seed: both runs of a seed share the split and so the analysis examples (a variant keeps
its seed's splits; ``train.max_trajectories`` cuts only the train list).  Per seed s:

* ``L_equiv``: the absolute equivariance part of the loss in the D4 twirl decomposition
  L = L_mean + L_equiv (L_mean the loss of the twirled model), the mean over the seed's
  analysis examples of ``example_equiv`` in its ``twirl.nc`` (``symaudit equivariance
  --twirl-out``; the table ``twirl_d4.csv`` pools the seeds, so the runs' own files are read);
* the influence spread: (max - min) / mean of the eight per-element medians of the seed's
  standardised self-influence Π̃^g(x, x) (:func:`d4_spread`; a twirled model: 0), from the
  run's ``d4`` influence stores;
* the total loss L (accuracy on the test examples).

The statistic of a pair is the median over the common seeds of the paired log ratio
log(aug_s / base_s); its interval is the cluster bootstrap over seeds (clusters = seeds,
:func:`symaudit.aggregate._bootstrap.replicate_weights` with one batch per seed, percentile
interval), NaN below ``min_clusters`` seeds.  Rows (``_rows``):

* equivariance loss, **derived**: the median log ratio < 0 (judged by its interval).  Premise:
  the base's training set is not D4-symmetric (few trajectories, ``train.max_trajectories``),
  the augmented objective is (its expectation over the random element is the D4 average of
  the empirical risk, whose minimiser over a D4-closed model class is equivariant); on data
  that are already symmetric in distribution augmentation leaves the population risk
  unchanged and nothing is derived, which is why the full-data pairs of
  ``config/validation.yaml`` (one seed) are descriptive;
* influence spread narrower (median log ratio < 0), **descriptive** (no derivation);
* total loss, **descriptive**: whether augmentation cost accuracy.

A pair with one common seed gets descriptive rows that say so (the paired test is
``config/augmentation.yaml``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from symaudit import groups, outputs
from symaudit.aggregate._bootstrap import (
    Bootstrap,
    distinct_resamples,
    percentile_interval,
    replicate_weights,
    weighted_quantiles,
)
from symaudit.aggregate._stores import close_all, discover, open_influence
from symaudit.aggregate._twirl import twirl_paths

from ._rows import NAN, missing, num, row, verdict

CASE4 = "4 augmentation"
#: the default naming of augmented variants: ``unet-aug`` is the augmented ``unet``
AUGMENTED_SUFFIX = "-aug"
#: where the paired test lives (named by the one-seed rows)
STUDY = "config/augmentation.yaml"
RUN_KEYS = ["dataset", "model", "seed"]


def _augmented_pairs(models, augmented: Mapping[str, str] | None) -> dict[str, str]:
    if augmented is not None:
        return dict(augmented)
    return {
        m: m.removesuffix(AUGMENTED_SUFFIX)
        for m in sorted(models)
        if m.endswith(AUGMENTED_SUFFIX) and m != AUGMENTED_SUFFIX
    }


def d4_spread(medians) -> float:
    """(max - min) / mean of the per-element medians (NaN unless all are finite, mean > 0)."""
    v = np.asarray(medians, dtype=np.float64)
    if v.size == 0 or not np.isfinite(v).all() or v.mean() <= 0:
        return float("nan")
    return float((v.max() - v.min()) / v.mean())


def twirl_losses(study: Path) -> pd.DataFrame:
    """Per run (dataset, model, seed): ``loss_total`` and ``loss_equiv``, the means over the
    run's analysis examples of L and L_equiv in its ``twirl.nc`` (for one seed the
    ``loss_total``/``loss_equiv`` of ``twirl_d4.csv``)."""
    rows = []
    for path in twirl_paths(study):
        with outputs.read(path, "twirl") as out:
            ds, run = out.dataset, out.identity
            rows.append(
                {
                    "dataset": run.dataset,
                    "model": run.model,
                    "seed": int(run.seed),
                    "loss_total": float(ds["example_total"].values.mean()),
                    "loss_equiv": float(ds["example_equiv"].values.mean()),
                }
            )
    return pd.DataFrame(rows, columns=[*RUN_KEYS, "loss_total", "loss_equiv"])


def influence_spreads(study: Path) -> pd.DataFrame:
    """Per run (dataset, model, seed): ``spread``, :func:`d4_spread` of the per-element medians
    of the run's standardised self-influence over its analysis examples (its ``d4`` influence
    stores, read as the tables read them; NaN when an element is missing)."""
    found = [f for f in discover(study, ["influence"]) if f.element_set == "d4"]
    rows = []
    for dataset, model in sorted({(f.dataset, f.model) for f in found}):
        opened: list = []
        try:
            group = [f for f in found if (f.dataset, f.model) == (dataset, model)]
            diag = open_influence(group, opened)["diag"].load()
        finally:
            close_all(opened)
        medians = diag.quantile(0.5, dim=["batch", "transition", "class"], skipna=True)
        for seed in medians["seed"].values:
            per = medians.sel(seed=seed)
            elements = [str(e) for e in per["element"].values]
            values = [float(per.sel(element=g)) if g in elements else NAN for g in groups.D4]
            rows.append(
                {"dataset": dataset, "model": model, "seed": int(seed), "spread": d4_spread(values)}
            )
    return pd.DataFrame(rows, columns=[*RUN_KEYS, "spread"])


def paired_log_ratio(aug, base, boot: Bootstrap, key: str) -> tuple[float, float, float, str]:
    """(median over seeds of log(aug_s / base_s), lo, hi, why the interval is NaN or "").

    The interval: the cluster bootstrap over seeds (each seed one cluster of one value; the
    replicates of :func:`~symaudit.aggregate._bootstrap.replicate_weights` for ``key``), the
    percentile interval of the replicates' type-7 medians; NaN below ``boot.min_clusters``
    seeds."""
    r = np.log(np.asarray(aug, dtype=np.float64) / np.asarray(base, dtype=np.float64))
    k = r.size
    stat = float(np.median(r))
    if k < boot.min_clusters:
        why = (
            f"no interval: {k} seed{'s' if k != 1 else ''} < min_clusters {boot.min_clusters} "
            f"({distinct_resamples(k)} distinct resamples)"
        )
        return stat, NAN, NAN, why
    if not np.isfinite(r).all():
        return stat, NAN, NAN, "no interval: a non-finite log ratio"
    order = np.argsort(r, kind="stable")
    weights = replicate_weights(boot, key, k, 1)[:, order]
    reps = weighted_quantiles(r[order], weights, [0.5])[0]
    lo, hi = percentile_interval(reps, boot)
    return stat, float(lo), float(hi), ""


def _per_seed(seeds, aug, base, digits: int = 4) -> str:
    triples = zip(seeds, aug, base, strict=True)
    return ", ".join(f"seed {s} {num(a, digits)}/{num(b, digits)}" for s, a, b in triples)


def _paired_row(label, what, expected, kind, values, aug, base, boot, key) -> dict:
    """One row of a pair: ``values`` (seed, ``aug``, ``base`` columns) over the common seeds."""
    seeds = list(values["seed"])
    if len(seeds) == 0:
        return missing(label, expected, f"no seed with {what} of both {aug} and {base}", kind)
    a, b = values["aug"].to_numpy(float), values["base"].to_numpy(float)
    if len(seeds) == 1:
        ratio = a[0] / b[0]
        return row(
            label,
            f"{expected} (one seed: descriptive; the paired test is {STUDY})",
            f"one seed (seed {seeds[0]}): {what} {num(a[0], 5)} vs {num(b[0], 5)}, "
            f"ratio {num(ratio, 4)}",
            bool(ratio < 1),
            "descriptive",
        )
    stat, lo, hi, why = paired_log_ratio(a, b, boot, key)
    interval = f"[{num(lo, 4)}, {num(hi, 4)}]" + (f" ({why})" if why else "")
    measured = (
        f"median log ratio {num(stat, 4)} {interval} (ratio {num(math.exp(stat), 4)}) over "
        f"{len(seeds)} seeds; {what} aug/base: {_per_seed(seeds, a, b)}"
    )
    judged = verdict(kind, stat < 0, lo, hi, below=0.0) if kind == "derived" else None
    return row(label, expected, measured, bool(stat < 0), kind, lo, hi, judged)


def _join(per_run: pd.DataFrame, column: str, dataset: str, aug: str, base: str) -> pd.DataFrame:
    """seed, aug, base: ``column`` of the two models at their common seeds (finite values)."""
    sub = per_run[per_run.dataset == dataset]
    a = sub[sub.model == aug].set_index("seed")[column].rename("aug")
    b = sub[sub.model == base].set_index("seed")[column].rename("base")
    both = pd.concat([a, b], axis=1, join="inner").dropna().sort_index()
    return both.reset_index()


def pair_rows(
    label: str, losses: pd.DataFrame, spreads: pd.DataFrame, dataset, aug, base, boot
) -> list[dict]:
    """The three rows of one (dataset, augmented model, base) pair."""
    key = f"findings/4/{dataset}/{aug}/{base}"
    premise = (
        f"{base}'s training set is not D4-symmetric, {aug}'s augmented objective is (its "
        "minimiser over a D4-closed model class is equivariant)"
    )
    equiv = (
        f"{aug}'s L_equiv (D4 twirl, L = L_mean + L_equiv, mean over a seed's analysis examples) "
        f"below {base}'s: median over seeds of log(L_equiv {aug} / {base}) < 0, paired by seed "
        f"(premise: {premise})"
    )
    spread = (
        f"{aug}'s spread of the per-element median influence across D4, (max - min) / mean, "
        f"narrower than {base}'s: median over seeds of the log ratio < 0"
    )
    total = (
        f"reported: the total test loss L of {aug} against {base} (accuracy), median over seeds "
        "of the log ratio"
    )
    return [
        _paired_row(
            f"{label} | equivariance loss",
            "L_equiv",
            equiv,
            "derived",
            _join(losses, "loss_equiv", dataset, aug, base),
            aug,
            base,
            boot,
            f"{key}/equiv",
        ),
        _paired_row(
            f"{label} | influence spread",
            "spread",
            spread,
            "descriptive",
            _join(spreads, "spread", dataset, aug, base),
            aug,
            base,
            boot,
            f"{key}/spread",
        ),
        _paired_row(
            f"{label} | total loss",
            "L",
            total,
            "descriptive",
            _join(losses, "loss_total", dataset, aug, base),
            aug,
            base,
            boot,
            f"{key}/total",
        ),
    ]


def case4_rows(
    tables: Path,
    augmented: Mapping[str, str] | None = None,
    bootstrap: Bootstrap | None = None,
    study_dir: Path | None = None,
) -> list[dict]:
    """Case 4 rows: per dataset and augmented model, paired by seed with its base
    (``augmented``: name -> base; default by suffix), from the runs' files under
    ``study_dir`` (default: the parent of ``tables``, i.e. ``results/{study}``)."""
    boot = bootstrap or Bootstrap()
    study = Path(study_dir) if study_dir is not None else Path(tables).parent
    losses, spreads = twirl_losses(study), influence_spreads(study)
    present = [t for t in (losses, spreads) if not t.empty]
    # a study without runs or augmented models has no case 4: its not-measured row is
    # descriptive (no known answer is missing); a pair's own rows keep their kind
    if not present:
        return [
            missing(
                CASE4,
                "augmentation lowers the equivariance loss and narrows the influence spread",
                f"neither twirl.nc nor d4 influence stores under {study}",
                "descriptive",
            )
        ]
    models = set().union(*(set(t.model) for t in present))
    pairs = _augmented_pairs(models, augmented)
    pairs = {a: b for a, b in pairs.items() if a in models}
    if not pairs:
        return [
            missing(
                CASE4,
                "an augmented model beside its base",
                "no *-aug model among the runs' twirl and influence files",
                "descriptive",
            )
        ]
    datasets = sorted(set().union(*(set(t.dataset) for t in present)))
    rows = []
    for aug, base in pairs.items():
        for dataset in datasets:
            if not any(((t.dataset == dataset) & (t.model == aug)).any() for t in present):
                continue  # the variant is not trained on this dataset
            label = f"{CASE4} | {dataset} {aug} vs {base}"
            rows += pair_rows(label, losses, spreads, dataset, aug, base, boot)
    return rows
