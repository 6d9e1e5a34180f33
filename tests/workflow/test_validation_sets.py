"""Validation cases 3 and 6 in the workflow (dry run): the NSK group trains on its one store, and
``analysis.element_sets_by_dataset`` gives each group its own element sets (kolmogorov for NSK,
d4_swapped for NS) and no other group's."""

import re

import pytest

from tests._workflow import copy_repo, snakemake

from .test_workflow import planned_jobs

pytestmark = pytest.mark.workflow

OVERRIDE = """\
datasets: [NS, NSK]
models: [unet]
analysis:
  element_sets: [d4]
  element_sets_by_dataset: { NS: [d4, d4_swapped], NSK: [d4, kolmogorov] }
findings:
  enabled: true
"""


def test_nsk_and_per_dataset_element_sets(tmp_path):
    work = copy_repo(tmp_path / "repo")
    (work / "cases36.yaml").write_text(OVERRIDE)
    proc = snakemake(work, "--configfile", "tests/workflow/tiny.yaml", "cases36.yaml", "-n")
    jobs = planned_jobs(proc)
    # 3 NS families + NS-Kolmogorov; one UNet per group; per run: d4 + its own set, one chunk
    # each (tiny: chunk_size 32 >= 20 kolmogorov elements)
    assert jobs["simulate_family"] == 4 and jobs["train_model"] == 2
    # analysis.jobs per_run (the default): one job per run and stage, a rule per dataset group
    for rule in ("equivariance_NS", "equivariance_NSK", "influence_bras_NS", "influence_bras_NSK"):
        assert jobs[rule] == 1, jobs
    nc = set(re.findall(r"results/tiny/(?:equivariance|influence)/\S+?\.nc", proc.stdout))
    for kind in ("equivariance", "influence"):
        assert f"results/tiny/{kind}/NSK/unet/seed0/kolmogorov_chunk000.nc" in nc
        assert f"results/tiny/{kind}/NS/unet/seed0/d4_swapped_chunk000.nc" in nc
        assert not any(f"{kind}/NSK/unet/seed0/d4_swapped" in p for p in nc)
        assert not any(f"{kind}/NS/unet/seed0/kolmogorov" in p for p in nc)
    # the NSK run's one store (the NS runs list their three first)
    assert "input: results/tiny/data/NS-Kolmogorov.zarr, src/symaudit/" in proc.stdout
    assert "results/tiny/tables/equivariance_kolmogorov.csv" in proc.stdout
    assert "results/tiny/tables/influence_d4_swapped.csv" in proc.stdout
    # no paper figure for the validation group and sets
    assert not re.search(r"figures/fig\d+_\S*(NSK|kolmogorov|d4_swapped)", proc.stdout)
