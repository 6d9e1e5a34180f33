"""Runs per dataset and named variants: the plan trains exactly the mapping's runs, a variant
with its architecture, its name and its train keys, on the architecture's epochs."""

import json
import re

import pytest
import yaml

from tests._workflow import copy_repo, snakemake

pytestmark = pytest.mark.workflow


def test_models_per_dataset_and_augmented_variant(tmp_path):
    work = copy_repo(tmp_path / "repo")
    cfg = yaml.safe_load((work / "tests/workflow/tiny.yaml").read_text())
    cfg["models"] = {"CE": ["unet"], "NS": ["unet", "unet-aug"]}
    cfg["variants"] = {"unet-aug": {"model": "unet", "train": {"augment": {"d4": True}}}}
    cfg["train"]["epochs"] = {"unet": 3, "vit": 5}
    (work / "variants.yaml").write_text(yaml.safe_dump(cfg))
    proc = snakemake(work, "--configfile", "variants.yaml", "-n", "-p", "stage_train")
    trains = re.findall(r"-m symaudit train (.*?) > logs", proc.stdout)
    runs = sorted(
        (re.search(r"--dataset (\S+)", c)[1], re.search(r"--model (\S+) --name (\S+)", c).groups())
        for c in trains
    )
    assert runs == [
        ("CE", ("unet", "unet")),
        ("NS", ("unet", "unet")),
        ("NS", ("unet", "unet-aug")),
    ]
    for command in trains:
        settings = json.loads(re.search(r"--settings '(.*?)'", command)[1])
        assert settings["epochs"] == 3  # the variant takes its architecture's epochs
        assert settings["augment"]["d4"] is ("--name unet-aug" in command)
        assert settings["augment"]["shifts"] is False
        assert ("models/NS/unet-aug/seed0" in command) is ("--name unet-aug" in command)
