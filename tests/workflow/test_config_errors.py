"""Bad configuration is refused before anything runs, with a message naming the culprit."""

import pytest
import yaml

from tests._workflow import copy_repo, snakemake

pytestmark = pytest.mark.workflow


def _set(key, value):
    """An edit of the tiny study: ``key`` (dotted) set to ``value``."""

    def edit(cfg):
        *parents, last = key.split(".")
        node = cfg
        for p in parents:
            node = node.setdefault(p, {})
        node[last] = value

    return edit


# (edit of the tiny study, the one line the dry run must print: it names the key)
CASES = [
    # schema (symaudit.config): the key, and the file that set it
    (_set("train.epoch", 3), "bad.yaml: train.epoch: unknown key; known: augment"),  # a typo
    (_set("data.resolution", "big"), "bad.yaml: data.resolution: 'big' is not of type"),
    (
        _set("variants", {"unet-aug": {"model": "resnet"}}),
        "bad.yaml: variants.unet-aug.model: 'resnet' is not one of",
    ),
    (_set("train.lr", "LR"), "bad.yaml: train.lr: '5e-4' is a string, not a number: YAML 1.1"),
    # the study plan's cross-field rules (symaudit.study)
    (_set("models", ["unet", "resnet"]), "bad.yaml: models: unknown model 'resnet'"),
    (
        _set("models", {"CE": ["unet"], "NS": ["unet", "unet-ag"]}),
        "models.NS: unknown model 'unet-ag'; known: unet, vit, twirled-unet, twirled-vit",
    ),
    (
        _set("models", {"CE": ["unet"]}),
        "models: the mapping must name exactly the datasets ['CE', 'NS']; missing: NS",
    ),
    (_set("data.resolution", 40), "data.resolution 40: the UNet (unet) needs a multiple of 16"),
    (_set("train.time_steps", 12), "train.time_steps 12: longer than the data"),
    (_set("analysis.time_steps", 9), "analysis.time_steps 9: longer than the data"),
    (_set("train.split", {"train": 0.9, "val": 0.2}), "train.split: train 0.9 + val 0.2"),
    (_set("train.max_trajectories", 1000), "train.max_trajectories 1000: more than the"),
    (_set("analysis.shift_box_K", 17), "analysis.shift_box_K: shift_box K=17 must lie in 1..N=16"),
    (
        _set("influence.damping", {"mode": "relative", "values": [1e-2, 1e-3], "primary": 1e-4}),
        "influence.damping.primary 0.0001 is not one of influence.damping.values",
    ),
    (
        lambda c: c["influence"].update(
            method="galerkin", damping={"mode": "absolute", "values": [1, 2], "primary": 1}
        ),
        "influence.damping.values: a damping path needs a Krylov method",
    ),
    (
        lambda c: (
            c["train"].update(epochs=4, checkpoint_every=3),
            c["companion"].update(epochs=[2]),
        ),
        "companion.epochs: CE unet keeps no checkpoint of epoch 2",
    ),
]


def _refused(proc, culprit):
    """Exit code 2, and stderr is ONE line (no traceback, no schema dump) naming the culprit."""
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2, (proc.returncode, proc.stderr[-2000:])
    assert len(lines) == 1 and culprit in lines[0], proc.stderr[-2000:]
    assert "Traceback" not in proc.stdout + proc.stderr


@pytest.mark.parametrize(("edit", "culprit"), CASES)
def test_config_mistake_is_one_line_naming_the_key(tmp_path, edit, culprit):
    work = copy_repo(tmp_path / "repo")
    cfg = yaml.safe_load((work / "tests/workflow/tiny.yaml").read_text())
    edit(cfg)
    # `lr: 5e-4` as a user writes it (PyYAML reads it as a string)
    (work / "bad.yaml").write_text(yaml.safe_dump(cfg).replace("lr: LR", "lr: 5e-4"))
    proc = snakemake(work, "--configfile", "bad.yaml", "-n", "all", check=False)
    _refused(proc, culprit)
    assert not (work / "results").exists()


def test_broken_yaml_of_a_base_names_file_and_line(tmp_path):
    """A config file Snakemake reads itself (--configfile) is refused by Snakemake before the
    workflow runs; the files it extends are read by the workflow, which names file and line."""
    work = copy_repo(tmp_path / "repo")
    (work / "base.yaml").write_text("study: b\ndata:\n  resolution: [16, 32\n")
    (work / "top.yaml").write_text("extends: base.yaml\nstudy: top\n")
    proc = snakemake(work, "--configfile", "top.yaml", "-n", "all", check=False)
    _refused(proc, "base.yaml:4: not valid YAML (while parsing a flow sequence at line 3")


def test_unknown_slurm_gpu_option_is_named(tmp_path, monkeypatch):
    """The Slurm profile's GPU switch (docs/slurm.md) takes gpus or gres; a typo stops the run."""
    work = copy_repo(tmp_path / "repo")
    monkeypatch.setenv("SYMAUDIT_SLURM_GPU_OPTION", "gre")
    proc = snakemake(work, "--configfile", "tests/workflow/tiny.yaml", "-n", "all", check=False)
    assert proc.returncode != 0
    assert "SYMAUDIT_SLURM_GPU_OPTION='gre': expected gpus" in proc.stderr + proc.stdout
