"""The train rule runs what the study plan says: one job per run of symaudit.study.Study, a
variant trained as its architecture under its own name and run directory, with the run's train
section as --settings (the plan's logic itself: tests/test_study.py)."""

import json
import re

import pytest
import yaml

from symaudit.study import Study
from tests._workflow import ROOT, copy_repo, snakemake

pytestmark = pytest.mark.workflow


def test_train_jobs_are_the_plans_runs(tmp_path):
    work = copy_repo(tmp_path / "repo")
    cfg = yaml.safe_load((work / "tests/workflow/tiny.yaml").read_text())
    cfg["models"] = {"CE": ["unet"], "NS": ["unet", "unet-aug"]}
    cfg["variants"] = {"unet-aug": {"model": "unet", "train": {"augment": {"d4": True}}}}
    cfg["train"]["epochs"] = {"unet": 3, "vit": 5}
    (work / "variants.yaml").write_text(yaml.safe_dump(cfg))
    proc = snakemake(work, "--configfile", "variants.yaml", "-n", "-p", "stage_train")
    planned = {}
    for command in re.findall(r"-m symaudit train (.*?) > logs", proc.stdout):
        dataset = re.search(r"--dataset (\S+)", command)[1]
        architecture, name = re.search(r"--model (\S+) --name (\S+)", command).groups()
        seed = int(re.search(r"--seed (\d+)", command)[1])
        settings = json.loads(re.search(r"--settings '(.*?)'", command)[1])
        out = re.search(r"--out (\S+)", command)[1]
        planned[(dataset, name, seed)] = (architecture, settings, out)
    study = Study.load([work / "variants.yaml"], None, ROOT)
    assert planned == {
        run.key: (run.architecture, run.train, study.run_dir(*run.key)) for run in study.runs
    }
    assert sorted(planned) == [("CE", "unet", 0), ("NS", "unet", 0), ("NS", "unet-aug", 0)]
