"""The twirl-decomposition table against numpy on synthetic per-run files."""

import numpy as np
import pytest
import xarray as xr

from symaudit.aggregate._bootstrap import Bootstrap, ratio_intervals
from symaudit.aggregate._twirl import twirl_table


@pytest.mark.parametrize("example_dim", ["transition", "time"])  # time: written before the rename
def test_twirl_table_matches_numpy(tmp_path, example_dim):
    rng = np.random.default_rng(3)
    pooled = {"total": [], "equiv": []}
    by_run = {"total": [], "equiv": []}
    for seed in (0, 1):
        run = tmp_path / f"equivariance/CE/unet/seed{seed}"
        run.mkdir(parents=True)
        mean = rng.uniform(1, 2, (2, 4, 3))
        equiv = rng.uniform(0, 1, (2, 4, 3))
        dims = ("batch", example_dim, "class")
        example = {"total": mean + equiv, "mean": mean, "equiv": equiv, "twirled_loss": mean}
        example["plain"] = example["total"]
        per_class = {k: (("batch", "class"), v.mean(axis=1)) for k, v in example.items()}
        per_class["percent"] = (("batch", "class"), 100 * equiv.mean(1) / example["total"].mean(1))
        xr.Dataset(
            {**per_class, **{f"example_{k}": (dims, v) for k, v in example.items()}},
            attrs={"dataset": "CE", "model": "unet", "seed": seed},
        ).to_netcdf(run / "twirl.nc")
        pooled["total"].append((mean + equiv).ravel())
        pooled["equiv"].append(equiv.ravel())
        by_run["total"].append((mean + equiv).reshape(2, -1))
        by_run["equiv"].append(equiv.reshape(2, -1))
    table = twirl_table(tmp_path)
    total, equiv = np.concatenate(pooled["total"]), np.concatenate(pooled["equiv"])
    percent = 100 * equiv / total
    row = table.iloc[0]
    assert (row["dataset"], row["model"], row["n_seeds"], row["n_examples"]) == (
        "CE",
        "unet",
        2,
        48,
    )
    assert row["percent_median"] == pytest.approx(np.quantile(percent, 0.5), rel=1e-14)
    assert row["percent_q1"] == pytest.approx(np.quantile(percent, 0.25), rel=1e-14)
    assert row["pooled_percent"] == pytest.approx(100 * equiv.sum() / total.sum(), rel=1e-14)
    assert row["loss_twirled"] <= row["loss_total"]
    # 2 seeds x 2 batches: 4 clusters, below the default minimum of 5
    assert np.isnan(row["pooled_percent_lo"]) and np.isnan(row["percent_median_hi"])
    assert row["ci_note"] == (
        "no interval: 4 (seed, batch) clusters < min_clusters 5 (35 distinct resamples)"
    )
    boot = Bootstrap(min_clusters=4)
    row = twirl_table(tmp_path, bootstrap=boot).iloc[0]
    num, den = 100 * np.stack(by_run["equiv"]), np.stack(by_run["total"])
    lohi, n = ratio_intervals(num, den, boot, "twirl_d4/CE/unet/pooled")
    assert (row["pooled_percent_lo"], row["pooled_percent_hi"]) == tuple(lohi)
    assert row["pooled_percent_lo"] < row["pooled_percent"] < row["pooled_percent_hi"]
    assert row["percent_median_lo"] <= row["percent_median"] <= row["percent_median_hi"]
    assert (n, row["n_clusters"]) == (4, 4)
    assert row["ci_note"].startswith("2 seeds: training variability from 3 distinct resamples")


def test_twirl_table_without_inputs_names_the_directory(tmp_path):
    with pytest.raises(FileNotFoundError, match="no twirl.nc under"):
        twirl_table(tmp_path)
