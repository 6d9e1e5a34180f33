"""The cost command's job counts equal what Snakemake plans: a dry run of the rehearsal (every
rule of the paper study, plus the look-alike files and the companion stage) and of the CI's tiny
study, compared rule by rule with ``Plan.jobs()``."""

import pytest

from symaudit.cost import Plan, load_config
from tests._workflow import ROOT, copy_repo, snakemake

from ..workflow.test_workflow import planned_jobs

pytestmark = pytest.mark.workflow

#: every rule of the paper study's dry run (config/paper.yaml, `all`)
PAPER_RULES = {
    "ingest_family",
    "study_config",
    "train_model",
    "influence_solve",
    "influence_bras",
    "equivariance_errors",
    "twirl_decomposition",
    "model_quality",
    "aggregate_tables",
    "influence_robustness",
    "figures",
    "report_html",
}


@pytest.mark.parametrize(
    "files",
    [
        ["config/rehearsal.yaml"],
        ["config/config.yaml", "tests/workflow/tiny.yaml"],
        ["config/validation.yaml"],
        ["tests/workflow/by_model.yaml"],
    ],
    ids=["rehearsal", "tiny", "validation", "by_model"],
)
def test_plan_counts_the_jobs_of_a_dry_run(tmp_path, files):
    work = copy_repo(tmp_path / "repo")
    planned = planned_jobs(snakemake(work, "--configfile", files[-1], "-n", "all"))
    planned.pop("all")
    assert Plan(load_config([ROOT / f for f in files])).jobs() == planned
    if files == ["config/rehearsal.yaml"]:
        assert PAPER_RULES <= set(planned)
        assert planned["pdegym_lookalike"] == 12  # 6 families x 2 chunk files
    if files == ["tests/workflow/by_model.yaml"]:  # the ViT's runs: their own rules
        assert planned["influence_bras_NS_vit"] == planned["equivariance_CE_vit"] == 1
