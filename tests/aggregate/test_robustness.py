"""Kendall τ-b of the robustness table against scipy, and the table from synthetic medians."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.stats import kendalltau

from symaudit.aggregate._robustness import kendall_tau, robustness_table


def _medians_table(medians, elements, n):
    """CE unet d4 influence medians, ``{damping: [median per element]}``, as the robustness
    rule reads them (one row per damping and element)."""
    rows = [
        dict(dataset="CE", model="unet", element_set="d4", element=g, damping=lam, median=v, n=n)
        for lam, values in medians.items()
        for g, v in zip(elements, values, strict=True)
    ]
    return pd.DataFrame(rows)


@pytest.mark.parametrize("n,seed", [(3, 0), (8, 1), (40, 2), (300, 3)])
def test_kendall_tau_equals_scipy(n, seed):
    gen = np.random.default_rng(seed)
    a = gen.normal(size=n)
    b = a + gen.normal(size=n)
    a[: n // 3] = np.round(a[: n // 3])  # ties on both sides: τ-b
    b = np.round(2 * b) / 2
    assert kendall_tau(a, b) == pytest.approx(kendalltau(a, b).statistic, abs=1e-13)
    assert np.isnan(kendall_tau(np.ones(n), b))


def test_robustness_table_pairs_and_flags():
    elements = ["e", "r", "r2", "r3"]
    medians = {
        "0.01": [2.0, 1.0, 0.5, 0.2],
        "0.001": [2.1, 0.9, 0.6, 0.1],
        "0.0001": [0.1, 0.9, 0.6, 2.1],
        "galerkin": [1.5, 1.0, 0.4, 0.3],
    }
    table = robustness_table(_medians_table(medians, elements, n=10))
    pairs = list(zip(table["damping_a"], table["damping_b"], strict=True))
    assert pairs == [
        ("0.01", "0.001"),
        ("0.001", "0.0001"),
        ("0.01", "galerkin"),
        ("0.001", "galerkin"),
        ("0.0001", "galerkin"),
    ]
    for row in table.itertuples():
        want = kendalltau(medians[row.damping_a], medians[row.damping_b]).statistic
        assert row.tau == pytest.approx(want, abs=1e-13)
        assert row.stable == (want >= 0.7)
    assert table["stable"].tolist() == [True, False, True, True, False]


def test_unstable_ranking_raises_the_report_banner():
    """The status the robustness rule writes, rendered into the report's description and into
    the influence captions of the affected (dataset, element set) only."""
    from jinja2 import Environment

    from symaudit.aggregate._captions import figure_caption, workflow_description
    from symaudit.aggregate._layout import figure_specs
    from symaudit.aggregate._robustness import robustness_status

    medians = {"0.01": [3, 2, 1], "0.001": [1, 2, 3]}
    status = robustness_status(robustness_table(_medians_table(medians, ["e", "r", "r2"], n=1)))
    (bad,) = status["robustness_status"]["unstable"]
    assert bad["tau"] == -1.0 and bad["label"] == "CE unet d4, λ 0.01 vs 0.001"

    class Snakemake:
        config = {
            "study": "s",
            "datasets": ["CE", "NS"],
            "models": ["unet"],
            "seeds": [0],
            **status,
        }
        wildcards = {}

    def render(text):
        env = Environment(trim_blocks=True, lstrip_blocks=True)
        return env.from_string(text).render(snakemake=Snakemake)

    assert "Not robust to the damping: 1 element ranking(s) of this study" in render(
        workflow_description()
    )
    specs = {
        (s.kind, s.element_set, s.dataset): s
        for s in figure_specs(("CE", "NS"), ("unet",), ("d4",), ("influence",))
    }
    assert "CE unet d4, λ 0.01 vs 0.001 (τ = -1.0)" in render(
        figure_caption(specs[("influence", "d4", "CE")])
    )
    assert "Not robust" not in render(figure_caption(specs[("influence", "d4", "NS")]))
    Snakemake.config = {k: v for k, v in Snakemake.config.items() if k != "robustness_status"}
    assert "Not robust" not in render(workflow_description())
