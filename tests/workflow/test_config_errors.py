"""Bad configuration is refused before anything runs, with a message naming the culprit."""

import pytest
import yaml

from tests._workflow import copy_repo, snakemake

pytestmark = pytest.mark.workflow


@pytest.mark.parametrize(
    ("edit", "culprit"),
    [
        (lambda c: c["train"].update(epoch=3), "epoch"),  # a typo of `epochs`
        (lambda c: c.update(models=["unet", "resnet"]), "models: unknown model 'resnet'"),
        (
            lambda c: c.update(models={"CE": ["unet"], "NS": ["unet", "unet-ag"]}),
            "models.NS: unknown model 'unet-ag'; known: unet, vit, twirled-unet, twirled-vit",
        ),
        (
            lambda c: c.update(models={"CE": ["unet"]}),
            "models: the mapping must name exactly the datasets ['CE', 'NS']; missing: NS",
        ),
        (lambda c: c.update(variants={"unet-aug": {"model": "resnet"}}), "resnet"),
        (lambda c: c["data"].update(resolution="big"), "big"),
        (
            lambda c: c["influence"].update(
                damping={"mode": "relative", "values": [1e-2, 1e-3], "primary": 1e-4}
            ),
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
    ],
)
def test_config_typo_is_named(tmp_path, edit, culprit):
    work = copy_repo(tmp_path / "repo")
    cfg = yaml.safe_load((work / "tests/workflow/tiny.yaml").read_text())
    edit(cfg)
    (work / "bad.yaml").write_text(yaml.safe_dump(cfg))
    proc = snakemake(work, "--configfile", "bad.yaml", "-n", "all", check=False)
    assert proc.returncode != 0
    assert culprit in proc.stderr + proc.stdout
    assert not (work / "results").exists()


def test_unknown_slurm_gpu_option_is_named(tmp_path, monkeypatch):
    """The Slurm profile's GPU switch (docs/slurm.md) takes gpus or gres; a typo stops the run."""
    work = copy_repo(tmp_path / "repo")
    monkeypatch.setenv("SYMAUDIT_SLURM_GPU_OPTION", "gre")
    proc = snakemake(work, "--configfile", "tests/workflow/tiny.yaml", "-n", "all", check=False)
    assert proc.returncode != 0
    assert "SYMAUDIT_SLURM_GPU_OPTION='gre': expected gpus" in proc.stderr + proc.stdout
