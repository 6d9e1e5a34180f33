"""Case 4, augmentation paired by seed, on synthetic per-run files (``twirl.nc`` and ``d4``
influence stores under ``results/{study}``, the tables directory beside them):

* L_equiv lower with augmentation at every one of 5 seeds -> holds, its interval the shared
  seed bootstrap's (and [c, c] when every seed has the same ratio c, by hand);
* mixed signs -> inconclusive; fewer seeds than min_clusters -> inconclusive, saying why;
* one seed -> descriptive rows naming the paired study;
* the per-seed values equal a numpy computation (and, for one seed, twirl_d4.csv's).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from symaudit import cli
from symaudit.aggregate._bootstrap import (
    Bootstrap,
    percentile_interval,
    replicate_weights,
    weighted_quantiles,
)
from symaudit.aggregate._synthetic import write_synthetic_study
from symaudit.aggregate._twirl import twirl_table
from symaudit.validation import _augmentation, _findings

HEAD = "4 augmentation | NS unet-few-aug vs unet-few"


def _twirl(study, model, seed, total, equiv, shape=(5, 4, 3)):
    """A run's twirl.nc whose every example has loss ``total`` and L_equiv ``equiv``."""
    run = study / f"equivariance/NS/{model}/seed{seed}"
    run.mkdir(parents=True, exist_ok=True)
    dims = ("batch", "transition", "class")
    ex = {"total": total, "mean": total - equiv, "equiv": equiv, "twirled_loss": total - equiv}
    ex["plain"] = total
    full = {k: np.full(shape, v, dtype=np.float64) for k, v in ex.items()}
    per_class = {k: (("batch", "class"), v.mean(axis=1)) for k, v in full.items()}
    per_class["percent"] = (("batch", "class"), 100 * full["equiv"].mean(1) / full["total"].mean(1))
    xr.Dataset(
        {**per_class, **{f"example_{k}": (dims, v) for k, v in full.items()}},
        attrs={"dataset": "NS", "model": model, "seed": seed},
    ).to_netcdf(run / "twirl.nc")


def _study(tmp_path, equiv_aug, equiv_base, total_aug=None, total_base=None):
    """results/{study} with per-seed L_equiv (and L) of unet-few-aug and unet-few."""
    study = tmp_path / "study"
    (study / "tables").mkdir(parents=True)
    for seed, (a, b) in enumerate(zip(equiv_aug, equiv_base, strict=True)):
        ta = 1.0 if total_aug is None else total_aug[seed]
        tb = 1.0 if total_base is None else total_base[seed]
        _twirl(study, "unet-few-aug", seed, ta, a)
        _twirl(study, "unet-few", seed, tb, b)
    return study


def _row(rows, what):
    found = [r for r in rows if r["case"] == f"{HEAD} | {what}"]
    assert len(found) == 1, [r["case"] for r in rows]
    return found[0]


def _shared(log_ratios, key):
    """The interval of the median log ratio from the shared bootstrap, called directly."""
    boot = Bootstrap()
    r = np.sort(np.asarray(log_ratios, dtype=np.float64))
    order = np.argsort(np.asarray(log_ratios), kind="stable")
    w = replicate_weights(boot, key, len(r), 1)[:, order]
    return percentile_interval(weighted_quantiles(r, w, [0.5])[0], boot)


def test_lower_at_every_seed_holds_with_the_seed_bootstrap_interval(tmp_path):
    aug, base = [0.01, 0.02, 0.015, 0.03, 0.012], [0.05, 0.04, 0.06, 0.045, 0.05]
    study = _study(tmp_path, aug, base, total_aug=[1.1] * 5, total_base=[1.0] * 5)
    rows = _augmentation.case4_rows(study / "tables")
    row = _row(rows, "equivariance loss")
    log_ratios = np.log(np.array(aug) / np.array(base))
    lo, hi = _shared(log_ratios, "findings/4/NS/unet-few-aug/unet-few/equiv")
    assert row["kind"] == "derived" and row["verdict"] == "holds" and row["holds"]
    assert (row["lo"], row["hi"]) == (pytest.approx(lo, rel=1e-12), pytest.approx(hi, rel=1e-12))
    assert row["hi"] < 0  # every replicate median lies among the (negative) log ratios
    assert log_ratios.min() - 1e-12 <= row["lo"] <= row["hi"] <= log_ratios.max() + 1e-12
    assert row["measured"].startswith(f"median log ratio {np.median(log_ratios):.4g} [")
    assert "over 5 seeds" in row["measured"] and "premise" in row["expected"]
    # the total loss: descriptive, the same ratio 1.1 at every seed -> the interval [c, c] by hand
    total = _row(rows, "total loss")
    assert total["kind"] == total["verdict"] == "descriptive" and not total["holds"]
    c = math.log(1.1)
    assert total["lo"] == pytest.approx(c, rel=1e-12) and total["hi"] == pytest.approx(c, rel=1e-12)
    # no influence stores: the spread row is not measured (descriptive)
    spread = _row(rows, "influence spread")
    assert spread["measured"].startswith("not measured: no seed with spread")


def test_mixed_signs_are_inconclusive(tmp_path):
    # log ratios -1, -0.5, 0.2, 0.5, 1: median 0.2, replicates on both sides of 0
    ratios = np.exp([-1.0, -0.5, 0.2, 0.5, 1.0])
    study = _study(tmp_path, list(0.02 * ratios), [0.02] * 5)
    row = _row(_augmentation.case4_rows(study / "tables"), "equivariance loss")
    assert row["verdict"] == "inconclusive" and row["lo"] < 0 < row["hi"]
    assert not row["holds"]  # the point value is above 0


def test_fewer_seeds_than_min_clusters_is_inconclusive_saying_why(tmp_path):
    study = _study(tmp_path, [0.01, 0.01, 0.01], [0.05, 0.04, 0.06])
    row = _row(_augmentation.case4_rows(study / "tables"), "equivariance loss")
    assert row["kind"] == "derived" and row["verdict"] == "inconclusive" and row["holds"]
    assert math.isnan(row["lo"]) and math.isnan(row["hi"])
    assert "(no interval: 3 seeds < min_clusters 5 (10 distinct resamples))" in row["measured"]
    # a lower min_clusters gives the 3-seed interval
    rows = _augmentation.case4_rows(study / "tables", bootstrap=Bootstrap(min_clusters=3))
    assert _row(rows, "equivariance loss")["verdict"] == "holds"


def test_one_seed_is_descriptive_and_matches_the_twirl_table(tmp_path):
    study = _study(tmp_path, [0.01], [0.05])
    rows = _augmentation.case4_rows(study / "tables")
    assert [r["kind"] for r in rows] == ["descriptive"] * 3
    row = _row(rows, "equivariance loss")
    assert row["measured"] == "one seed (seed 0): L_equiv 0.01 vs 0.05, ratio 0.2"
    assert "one seed: descriptive; the paired test is config/augmentation.yaml" in row["expected"]
    table = twirl_table(study).set_index("model")
    losses = _augmentation.twirl_losses(study).set_index("model")
    for model in ("unet-few", "unet-few-aug"):
        assert losses.loss_equiv[model] == table.loss_equiv[model]
        assert losses.loss_total[model] == table.loss_total[model]


def test_influence_spread_per_seed_and_the_findings_table(tmp_path):
    """The spread per seed from the d4 influence stores equals numpy's, the row pairs them, and
    build_findings / the CLI (``--bootstrap``) carry the rows."""
    study = _study(tmp_path, [0.01] * 5, [0.05] * 5)
    write_synthetic_study(
        study,
        datasets=("NS",),
        models=("unet-few", "unet-few-aug"),
        seeds=range(5),
        element_sets=("d4",),
        kinds=("influence",),
        chunk_size=8,
    )
    spreads = _augmentation.influence_spreads(study)
    assert len(spreads) == 10
    for path in sorted(study.glob("influence/NS/*/seed*/d4_chunk000.nc")):
        with xr.open_dataset(path) as ds:
            pi = ds["pi_std"].values  # element, batch, t, b, t, b
            model, seed = ds.attrs["model"], int(ds.attrs["seed"])
        t, b = np.meshgrid(np.arange(pi.shape[2]), np.arange(pi.shape[3]), indexing="ij")
        medians = np.median(pi[:, :, t, b, t, b].reshape(8, -1), axis=1)
        got = spreads[(spreads.model == model) & (spreads.seed == seed)].spread.item()
        assert got == pytest.approx(_augmentation.d4_spread(medians), rel=1e-12)
    rows = _augmentation.case4_rows(study / "tables")
    spread = _row(rows, "influence spread")
    assert spread["kind"] == "descriptive" and "over 5 seeds" in spread["measured"]
    df = _findings.build_findings(study / "tables")
    assert _row(df.to_dict("records"), "equivariance loss")["verdict"] == "holds"
    out = tmp_path / "findings.csv"
    argv = ["findings", "--tables", str(study / "tables"), "--out", str(out)]
    assert cli.main([*argv, "--bootstrap", '{"min_clusters": 6}']) == 0
    row = _row(pd.read_csv(out).to_dict("records"), "equivariance loss")
    assert row["verdict"] == "inconclusive" and "5 seeds < min_clusters 6" in row["measured"]
