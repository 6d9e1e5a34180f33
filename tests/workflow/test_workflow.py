"""The tiny study end to end with real Snakemake, and what reruns after a change."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
import torch
import xarray as xr
import yaml

from symaudit import groups
from symaudit.datasets import DATASETS
from symaudit.store import open_store
from tests._workflow import ROOT, TINY, copy_repo, snakemake

pytestmark = pytest.mark.workflow
CFG = yaml.safe_load((ROOT / "tests/workflow/tiny.yaml").read_text())


def planned_jobs(proc) -> dict[str, int]:
    """The 'Job stats' table of a dry run: rule -> count."""
    counts, in_table = {}, False
    for line in proc.stdout.splitlines():
        if line.startswith("job ") and "count" in line:
            in_table = True
            continue
        if in_table:
            m = re.match(r"^(\S+)\s+(\d+)$", line.strip())
            if m and m.group(1) != "total":
                counts[m.group(1)] = int(m.group(2))
            elif line.strip().startswith("total"):
                break
    return counts


def test_data_stage_stores(tiny_study):
    data = tiny_study / "results/tiny/data"
    for dataset in CFG["datasets"]:
        for family in DATASETS[dataset]:
            store = open_store(data / f"{family}.zarr")
            n, t = CFG["data"]["trajectories"], CFG["data"]["time_steps"]
            res = CFG["data"]["resolution"]
            assert store.shape == (n, t, len(store.channels), res, res)
            assert store.attrs["family"] == family
            assert store.attrs["equivariance_self_test"]["passed"] is True
            assert len(store.attrs["provenance"]["trajectory_seeds"]) == n
            fields = store.read()
            np.testing.assert_allclose(
                store.attrs["stats"]["mean"], fields.mean(axis=(0, 1, 3, 4)), rtol=1e-4, atol=1e-6
            )
            with xr.open_zarr(data / f"{family}.zarr") as ds:  # xarray-native, coordinates
                assert ds["fields"].dims == ("trajectory", "time", "channel", "y", "x")
                assert list(ds["channel"].values) == [c["name"] for c in store.channels]
                np.testing.assert_allclose(ds["time"].values, store.attrs["time"])
                np.testing.assert_allclose(ds["x"].values, (np.arange(res) + 0.5) / res)
                assert ds["trajectory_seed"].dims == ("trajectory",)


def test_nothing_to_do_after_a_complete_run(tiny_study):
    proc = snakemake(tiny_study, *TINY, "--cores", "1", "-n", "all")
    assert planned_jobs(proc) == {}, proc.stdout[-2000:]


def test_training_outputs(tiny_study):
    from symaudit.models import load_checkpoint

    for dataset in CFG["datasets"]:
        for model in CFG["models"]:
            run = tiny_study / f"results/tiny/models/{dataset}/{model}/seed0"
            metrics = pd.read_csv(run / "metrics.csv")
            assert len(metrics) == CFG["train"]["epochs"]
            assert metrics["train_smse"].iloc[-1] < metrics["train_smse"].iloc[0]
            net, meta = load_checkpoint(run / "final.pt")  # weights_only=True inside
            assert isinstance(net, torch.nn.Module) and meta["run"]["seed"] == 0
            assert (run / "training_curve.png").stat().st_size > 1000


def test_influence_converged_and_shaped(tiny_study):
    rtol = CFG["influence"]["rtol"]
    for path in sorted((tiny_study / "results/tiny/influence").rglob("*_chunk*.nc")):
        ds = xr.open_dataset(path)
        assert (ds["ket_true_relres"] <= rtol).all(), path
        assert bool(ds["ket_converged"].all()), path
        assert ds["pi_std"].dims[0] == "element"
        assert np.isfinite(ds["pi_std"]).all()


def test_solve_logs_show_progress_with_residuals(tiny_study):
    """Every influence_solve log has the solver's timestamped progress lines, and the final
    residual it logs is the one the solution records (records.csv)."""
    logs = sorted((tiny_study / "logs/tiny/influence").glob("*_solve.log"))
    assert logs
    stamp = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z symaudit influence-solve: info: "
    for log in logs:
        text = log.read_text()
        assert re.search(
            stamp + r"block CG iteration 1: relative residual max \d\.\d{3}e[-+]\d\d,"
            r" median \d\.\d{3}e[-+]\d\d; \d+/\d+ columns above rtol",
            text,
        ), text
        done = re.findall(stamp + r"block CG done: .*true relative residual max (\S+),", text)
        assert done, text
        name = log.name.removesuffix("_solve.log")  # CE_unet_seed0_batch00
        dataset, model, seed, batch = name.split("_")
        records = pd.read_csv(
            tiny_study
            / f"results/tiny/influence/{dataset}/{model}/{seed}/{batch}/solution"
            / "records.csv"
        )
        logged = sorted(float(x) for x in done)
        per_block = sorted(records.groupby(["damping", "block"])["relres_true"].max())
        np.testing.assert_allclose(logged, per_block, rtol=1e-3)


def test_equivariance_identity_is_one(tiny_study):
    for path in (tiny_study / "results/tiny/equivariance").rglob("d4_chunk000.nc"):
        ds = xr.open_dataset(path)
        np.testing.assert_array_equal(ds["relative_error"].sel(element="e"), 1.0)
    n = CFG["data"]["resolution"]
    names = groups.elements("shift_x", n)
    found = xr.open_mfdataset(
        sorted((tiny_study / "results/tiny/equivariance/CE/unet/seed0").glob("shift_x_chunk*.nc")),
        combine="nested",
        concat_dim="element",
        data_vars="all",
    )
    assert list(found["element"].values) == names


def test_report_and_figures(tiny_study):
    report = tiny_study / "results/tiny/report.html"
    assert report.stat().st_size > 10_000
    figures = sorted((tiny_study / "results/tiny/figures").glob("fig*.png"))
    assert figures, "no figures"
    tables = sorted((tiny_study / "results/tiny/tables").glob("*.csv"))
    assert tables, "no tables"


@pytest.fixture()
def study_copy(tiny_study, tmp_path):
    """A second copy of the repo that shares the finished tiny study's results (for dry runs
    after edits); Snakemake's metadata travels with .snakemake/."""
    import shutil

    work = copy_repo(tmp_path / "repo")
    shutil.copytree(tiny_study / "results", work / "results", symlinks=True)
    shutil.copytree(tiny_study / ".snakemake", work / ".snakemake", symlinks=True)
    return work


INFLUENCE_AND_AFTER = {
    "influence_solve",
    "influence_bras_CE",  # analysis.jobs per_run: one bras job per run, a rule per dataset
    "influence_bras_NS",
    "aggregate_tables",
    "figures",
    "companion_run",
    "companion_tables",
    "report_html",
    "all",
}


def _rules_planned(work, *extra):
    return set(planned_jobs(snakemake(work, *TINY, "--cores", "1", "-n", *extra, "all")))


def test_editing_influence_code_reruns_only_influence(study_copy):
    assert _rules_planned(study_copy) == set()
    target = study_copy / "src/symaudit/influence/__init__.py"
    target.write_text(target.read_text() + "\n# an edit\n")
    planned = _rules_planned(study_copy)
    assert planned == INFLUENCE_AND_AFTER


def test_changing_influence_config_reruns_only_influence(study_copy):
    cfg = yaml.safe_load((study_copy / "tests/workflow/tiny.yaml").read_text())
    cfg["influence"]["rtol"] = 2e-4
    (study_copy / "tests/workflow/tiny.yaml").write_text(yaml.safe_dump(cfg))
    planned = _rules_planned(study_copy)
    # the saved resolved config changes too
    assert planned == INFLUENCE_AND_AFTER | {"study_config", "cost_table"}


def test_forcerun_aggregation_reruns_only_aggregation(study_copy):
    proc = snakemake(
        study_copy, *TINY, "--cores", "1", "-n", "stage_figures", "--forcerun", "aggregate_tables"
    )
    assert set(planned_jobs(proc)) == {"aggregate_tables", "figures", "stage_figures"}
    assert "aggregate_tables" in planned_jobs(proc)
