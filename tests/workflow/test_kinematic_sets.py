"""Boost and scale sets and the Lie derivatives in the workflow (docs/algorithms.md §4.1, §9):
planned per dataset group like any set, ``analysis.lie`` adds one lie job per run and one
table job, and ``scale`` for a group other than CE is refused before anything runs."""

import pytest
import yaml

from tests._workflow import copy_repo, snakemake

pytestmark = pytest.mark.workflow


def _plan(work, cfg) -> dict[str, int]:
    (work / "k.yaml").write_text(yaml.safe_dump(cfg))
    proc = snakemake(work, "--configfile", "k.yaml", "-n", "--quiet", "rules", "all", check=False)
    counts = {}
    for line in (proc.stdout + proc.stderr).splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[1].isdigit():
            counts[parts[0]] = int(parts[1])
    return counts, proc


def test_boost_scale_and_lie_are_planned_and_scale_is_ce_only(tmp_path):
    work = copy_repo(tmp_path / "repo")
    cfg = yaml.safe_load((work / "tests/workflow/tiny.yaml").read_text())
    cfg["analysis"]["element_sets_by_dataset"] = {"CE": ["d4", "boost", "scale"], "NS": ["boost"]}
    cfg["analysis"]["lie"] = True
    cfg["analysis"]["jobs"] = "per_chunk"  # one job per chunk: the counts below are chunks
    plan, _ = _plan(work, cfg)
    # 2 models x (CE: d4, boost, scale; NS: boost), one chunk each
    assert plan["equivariance_errors"] == 8 and plan["influence_bras"] == 8
    assert plan["lie_derivative"] == 4 and plan["lie_tables"] == 1
    cfg["analysis"]["jobs"] = "per_run"  # the default: one job per run and stage
    plan, _ = _plan(work, cfg)
    assert plan["equivariance_CE"] == plan["influence_bras_CE"] == 2
    assert plan["equivariance_NS"] == plan["influence_bras_NS"] == 2
    cfg["analysis"]["element_sets_by_dataset"]["NS"] = ["boost", "scale"]
    _, proc = _plan(work, cfg)
    assert proc.returncode != 0
    assert "element set 'scale' for dataset 'NS'" in proc.stdout + proc.stderr
    assert not (work / "results").exists()
