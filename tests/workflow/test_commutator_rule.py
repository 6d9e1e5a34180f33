"""The law's rules in the workflow: ``analysis.commutator`` plans one model-free commutator job
per dataset group and seed (for groups with a listed set), one law table, and the findings wait
for it; off (the quick study's default) nothing of it is planned; the negation set is planned
like any set."""

import pytest
import yaml

from tests._workflow import copy_repo
from tests.workflow.test_kinematic_sets import _plan

pytestmark = pytest.mark.workflow


def test_commutator_jobs_are_planned_only_when_enabled(tmp_path):
    work = copy_repo(tmp_path / "repo")
    cfg = yaml.safe_load((work / "tests/workflow/tiny.yaml").read_text())
    cfg["analysis"]["element_sets_by_dataset"] = {"CE": ["shift_x"], "NS": ["d4", "negation"]}
    plan, proc = _plan(work, cfg)
    assert proc.returncode == 0, proc.stderr
    assert "commutator" not in plan and "commutator_law" not in plan
    cfg["analysis"]["commutator"] = {"enabled": True}
    cfg["findings"] = {"enabled": True}
    plan, proc = _plan(work, cfg)
    assert proc.returncode == 0, proc.stderr
    seeds = len(cfg["seeds"])
    assert plan["commutator"] == seeds  # NS only: CE analyses no set of the commutator's
    assert plan["commutator_law"] == 1 and plan["findings"] == 1
    assert not (work / "results").exists()
