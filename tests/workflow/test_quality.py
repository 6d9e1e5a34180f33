"""The model-quality gate on the real tiny study: it is deliberately under-trained (direct map,
2 epochs), so every run must be flagged in ``model_quality.csv``, in the report's banner and in
the captions of the figures computed from it."""

from __future__ import annotations

import html

import pandas as pd
import pytest

from tests._workflow import ROOT

from .test_workflow import CFG

pytestmark = pytest.mark.workflow


def test_quality_table_matches_each_runs_metrics(tiny_study):
    table = pd.read_csv(tiny_study / "results/tiny/tables/model_quality.csv")
    gate = CFG["quality"]["max_persistence_ratio"]
    assert len(table) == len(CFG["datasets"]) * len(CFG["models"]) * len(CFG["seeds"])
    for row in table.itertuples(index=False):
        run = tiny_study / f"results/tiny/models/{row.dataset}/{row.model}/seed{row.seed}"
        metrics = pd.read_csv(run / "metrics.csv")
        last = metrics.iloc[-1]
        assert row.epochs == CFG["train"]["epochs"] == last["epoch"]
        assert row.ratio == pytest.approx(last["val_smse"] / last["val_persistence_smse"], 1e-5)
        assert last["val_ratio"] == pytest.approx(row.ratio, rel=1e-5)
        assert bool(row.passes) == (row.ratio <= gate)
    # the premise of this test: the tiny study is under-trained
    assert not table["passes"].any(), table


def test_report_banner_and_captions_name_the_failed_runs(tiny_study):
    page = html.unescape((tiny_study / "results/tiny/report.html").read_text(errors="replace"))
    n_runs = len(CFG["datasets"]) * len(CFG["models"]) * len(CFG["seeds"])
    assert f"Premise failed: {n_runs} of {n_runs} run(s) of this study did not learn" in page
    # figure captions name the runs of their own dataset only (2 models x 1 seed)
    assert "2 of 2 run(s) behind this output did not learn the dynamics" in page
    assert "model_quality.png" in page and "model_quality.csv" in page
    assert (ROOT / "workflow/report/model_quality.rst").exists()
