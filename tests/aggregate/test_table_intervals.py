"""The quantile tables' bootstrap columns on the synthetic study (conftest.py): lo/hi beside
every quantile, lo <= value <= hi where defined, NaN with the reason below the minimum number
of clusters, and the numbers those of ``_bootstrap`` on the raw per-job files."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from symaudit import aggregate as agg
from symaudit import groups
from symaudit.aggregate._bootstrap import Bootstrap, pooled_intervals

from ._synthetic import BATCHES, SEEDS

QUANTILE_COLUMNS = ("q1", "median", "q3")


def test_every_quantile_has_lo_and_hi_beside_it(tables):
    assert len(tables) == 12
    for stem, df in tables.items():
        columns = list(df.columns)
        for q in QUANTILE_COLUMNS:
            i = columns.index(q)
            assert columns[i + 1 : i + 3] == [f"{q}_lo", f"{q}_hi"], stem
        assert {"n_clusters", "ci_note"} <= set(columns), stem


def test_intervals_hold_their_value_where_defined_and_say_why_not(tables):
    clusters = len(SEEDS) * BATCHES  # 6 >= min_clusters 5: summary tables have intervals
    for stem, df in tables.items():
        defined = df["median_lo"].notna()
        if stem.endswith("_per_seed"):  # one seed's 2 batches: 3 distinct resamples, too few
            assert not defined.any(), stem
            assert (df["n_clusters"] == BATCHES).all()
            want = "no interval: 2 (seed, batch) clusters < min_clusters 5 (3 distinct resamples)"
            assert (df["ci_note"] == want).all(), stem
            continue
        assert defined.all() and (df["n_clusters"] == clusters).all(), stem
        few = "3 seeds: training variability from 10 distinct resamples of the seeds (may cover"
        assert df["ci_note"].str.startswith(few).all(), stem
        for q in QUANTILE_COLUMNS:
            assert (df[f"{q}_lo"] <= df[q]).all() and (df[q] <= df[f"{q}_hi"]).all(), (stem, q)
        assert (df["median_hi"] > df["median_lo"]).sum() > len(df) // 2, stem  # not all zero


def test_influence_interval_is_the_bootstrap_of_the_raw_diagonal(study, tables):
    root, _ = study
    parts = []
    for seed in SEEDS:
        d = root / "influence" / "CE" / "unet" / f"seed{seed}"
        pi = xr.concat(
            [xr.load_dataset(f)["pi_std"] for f in sorted(d.glob("d4_chunk*.nc"))], "element"
        )
        nt, nb = pi.sizes["bra_transition"], pi.sizes["bra_class"]
        t, b = np.meshgrid(np.arange(nt), np.arange(nb), indexing="ij")
        diag = pi.transpose("batch", "element", ...).values[:, :, t, b, t, b]
        parts.append(diag.reshape(BATCHES, pi.sizes["element"], -1))
    lohi, n = pooled_intervals(
        np.stack(parts), (0.25, 0.5, 0.75), Bootstrap(), "influence/d4/CE/unet"
    )
    df = tables["influence_d4"]
    rows = df[(df.dataset == "CE") & (df.model == "unet")].set_index("element")
    rows = rows.loc[[str(e) for e in pi["element"].values]]
    for i, q in enumerate(QUANTILE_COLUMNS):
        np.testing.assert_allclose(rows[f"{q}_lo"], lohi[0, i], rtol=1e-12)
        np.testing.assert_allclose(rows[f"{q}_hi"], lohi[1, i], rtol=1e-12)
    assert (rows["n_clusters"] == n).all()


def test_netcdf_tables_carry_the_intervals_and_settings(study):
    root, _ = study
    with xr.open_dataset(root / "tables" / "equivariance_d4.nc") as ds:
        assert {"q1_lo", "median_hi", "q3_hi", "n_clusters", "ci_note"} <= set(ds.data_vars)
        assert ds.attrs["ci_confidence"] == 0.95 and ds.attrs["ci_min_clusters"] == 5
        assert (ds["median_lo"] <= ds["median"]).all()
    with xr.open_dataset(root / "tables" / "equivariance_d4_per_seed.nc") as ds:
        assert ds["median_lo"].isnull().all()
        assert str(ds["ci_note"].values.flat[0]).startswith("no interval: 2 (seed, batch)")


def test_min_clusters_and_confidence_are_the_settings(study, tmp_path):
    root, _ = study
    strict = Bootstrap(min_clusters=7)
    agg.aggregate(root, tmp_path / "a", ["d4"], ["influence"], bootstrap=strict)
    df = agg.read_table(tmp_path / "a" / "influence_d4.csv")
    assert df["median_lo"].isna().all()
    assert (
        df["ci_note"].str.contains("6 (seed, batch) clusters < min_clusters 7", regex=False)
    ).all()
    wide, narrow = Bootstrap(confidence=0.99), Bootstrap(confidence=0.5)
    agg.aggregate(root, tmp_path / "w", ["d4"], ["influence"], bootstrap=wide)
    agg.aggregate(root, tmp_path / "n", ["d4"], ["influence"], bootstrap=narrow)
    w = agg.read_table(tmp_path / "w" / "influence_d4.csv")
    n = agg.read_table(tmp_path / "n" / "influence_d4.csv")
    assert ((w["median_hi"] - w["median_lo"]) >= (n["median_hi"] - n["median_lo"])).all()
    assert w["median"].equals(n["median"])  # the statistic itself never depends on them


@pytest.mark.parametrize("old_naming", [False, True])
def test_robustness_medians_carry_the_interval_of_each_pooled_median(tmp_path, old_naming):
    """Damping-path stores (3 seeds x 2 batches, two λ, one chunk): each median is numpy's
    over the pooled diagonal, its interval the bootstrap's on the same (seed, batch) arrays;
    the same from stores written before the rename (dims bra_time, ket_time)."""
    from symaudit.aggregate._robustness import robustness_medians

    rng = np.random.default_rng(8)
    lams, nt, nb = [1e-2, 1e-3], 2, 3
    sizes = dict(seeds=SEEDS, batches=BATCHES, time_steps=nt, element_sets=("d4",))
    agg.write_synthetic_study(
        tmp_path, datasets=("CE",), models=("unet",), chunk_size=8, kinds=("influence",), **sizes
    )
    diag = {}
    for seed in SEEDS:  # the influence stage's damping path beside pi_std
        path = tmp_path / "influence" / "CE" / "unet" / f"seed{seed}" / "d4_chunk000.nc"
        ds = xr.load_dataset(path)
        pi = rng.normal(size=(2, *ds["pi_std"].shape))
        ds["pi_path_std"] = (("damping", *ds["pi_std"].dims), pi)
        if old_naming:
            ds = ds.rename(bra_transition="bra_time", ket_transition="ket_time")
        ds.assign_coords(damping=lams).to_netcdf(path)
        t, b = np.meshgrid(np.arange(nt), np.arange(nb), indexing="ij")
        diag[seed] = pi[..., t, b, t, b].reshape(2, 8, BATCHES, -1)  # (λ, element, batch, m)
    table = robustness_medians(tmp_path).set_index(["damping", "element"])
    for i, lam in enumerate(lams):
        for j, g in enumerate(groups.D4):
            row = table.loc[(repr(lam), g)]
            values = np.stack([diag[s][i, j] for s in SEEDS])[:, :, None, :]
            assert row["median"] == np.median(values)
            key = f"robustness/CE/unet/d4/{lam!r}/{g}"
            lohi, _ = pooled_intervals(values, [0.5], Bootstrap(), key)
            assert (row["median_lo"], row["median_hi"]) == (lohi[0, 0, 0], lohi[1, 0, 0])
            assert row["median_lo"] <= row["median"] <= row["median_hi"]
            assert (row["n"], row["n_clusters"]) == (36, 6)
            assert row["ci_note"].startswith("3 seeds: training variability from 10 distinct")


def test_robustness_figure_draws_each_defined_interval(tmp_path, monkeypatch):
    from matplotlib.collections import LineCollection

    from symaudit.aggregate import _robustness

    medians = pd.DataFrame(
        {
            "dataset": "CE",
            "model": "unet",
            "element_set": "d4",
            "element": ["e", "e", "r", "r"],
            "damping": ["0.01", "galerkin", "0.01", "galerkin"],
            "median": [2.0, 1.5, 1.0, 0.5],
            "median_lo": [1.8, 1.2, np.nan, 0.4],
            "median_hi": [2.3, 1.7, np.nan, 0.9],
        }
    )
    drawn, real = [], _robustness._interval_bars

    def spy(ax, *args):  # the bars each element adds to the axes
        before = len(ax.collections)
        real(ax, *args)
        drawn.append([c for c in ax.collections[before:] if isinstance(c, LineCollection)])

    monkeypatch.setattr(_robustness, "_interval_bars", spy)
    _robustness.robustness_figures(medians, _robustness.robustness_table(medians), tmp_path)
    segments = [[np.asarray(c.get_segments())[:, :, 1].tolist() for c in d] for d in drawn]
    assert segments == [[[[1.8, 2.3], [1.2, 1.7]]], [[[0.4, 0.9]]]]  # r at 0.01: NaN, no bar
