"""symaudit.study: the plan of a study (runs, their train sections, element sets, chunks, files)
and the cross-field rules of its config, each mistake one line naming the key."""

from pathlib import Path

import pytest

from symaudit import config
from symaudit._study_checks import GRID_MULTIPLE, KOLMOGOROV_GRID_MULTIPLE
from symaudit.errors import UserError
from symaudit.study import Study

ROOT = Path(__file__).resolve().parents[1]


def _config(path="tests/workflow/tiny.yaml", **overrides):
    """A shipped config resolved and filled in (as the workflow does), ``overrides`` merged
    (``--config``)."""
    resolved = config.resolve([ROOT / path], overrides, ROOT / "config")
    return config.check_schema(resolved)


def test_grid_multiples_are_the_models_own():
    from symaudit.data._kolmogorov import KOLMOGOROV_K
    from symaudit.models import UNet
    from symaudit.models._vit import PATCH

    assert GRID_MULTIPLE == {"unet": UNet.stride, "vit": PATCH}
    assert KOLMOGOROV_GRID_MULTIPLE == 2 * KOLMOGOROV_K


def test_paper_runs_take_the_papers_epochs_and_the_direct_map():
    study = Study.from_config(_config("config/paper.yaml", pdegym_dir="/x"))
    runs = {(r.dataset, r.model, r.seed): r.train for r in study.runs}
    assert len(runs) == 12
    for (dataset, _, seed), train in runs.items():
        assert train["epochs"] == {"CE": 150, "NS": 100}[dataset]
        assert train["predict"] == "state"
        assert seed in (10, 35, 42)


def test_validation_runs_variants_and_pairs():
    study = Study.from_config(_config("config/validation.yaml"))
    epochs = {(r.dataset, r.model): r.train["epochs"] for r in study.runs}
    assert epochs == {
        ("CE", "vit"): 16,
        ("CE", "twirled-unet"): 2,
        ("NS", "unet"): 6,
        ("NS", "vit"): 30,
        ("NS", "twirled-unet"): 2,
        ("NS", "unet-aug"): 6,  # a variant takes its architecture's epochs
        ("NS", "vit-aug"): 30,
        ("NSK", "unet"): 12,
    }
    arch = {r.model: r.architecture for r in study.runs}
    assert arch["unet-aug"] == "unet" and arch["vit-aug"] == "vit"
    aug = {r.model: r.train["augment"] for r in study.runs}
    assert aug["unet-aug"] == {"d4": True, "shifts": True, "orbit": False}
    assert aug["unet"] == {"d4": False, "shifts": False, "orbit": False}
    assert study.augmented_pairs() == [("unet-aug", "unet"), ("vit-aug", "vit")]
    assert study.sets("NSK") == ["d4", "kolmogorov"]
    assert study.sets("CE") == ["d4", "shift_x", "shift_y", "shift_box"]
    assert study.companion_epochs("NS", "unet") == [1]


def test_chunks_cover_each_set_in_order():
    study = Study.from_config(_config("config/config.yaml"))  # 32^2, chunk_size 40, K = 4
    assert [len(c) for c in study.chunks("d4")] == [8]
    assert [len(c) for c in study.chunks("shift_x")] == [32]
    assert study.chunks("shift_box")[0][:3] == ["t(0,0)", "t(1,0)", "t(2,0)"]
    assert sum(study.chunks("shift_box"), []) == study.elements("shift_box")
    assert len(study.elements("shift_box")) == 16
    assert study.chunk_ids("shift_x") == ["000"]
    assert study.analysis_batches() == ["00"]


def _edit(cfg, dotted, value):
    *parents, last = dotted.split(".")
    node = cfg
    for p in parents:
        node = node.setdefault(p, {})
    node[last] = value


# (edits on the tiny study, the start of the one-line message)
CROSS_FIELD = [
    ({"data.resolution": 40}, "data.resolution 40: the UNet (unet) needs a multiple of 16"),
    (
        {"data.resolution": 18, "models": ["vit"]},
        "data.resolution 18: the ViT (vit) needs a multiple of 4",
    ),
    ({"train.time_steps": 12}, "train.time_steps 12: longer than the data (data.time_steps = 9"),
    ({"analysis.time_steps": 9}, "analysis.time_steps 9: longer than the data"),
    ({"train.split": {"train": 0.9, "val": 0.2}}, "train.split: train 0.9 + val 0.2 = 1.1 excee"),
    ({"analysis.shift_box_K": 20}, "analysis.shift_box_K: shift_box K=20 must lie in 1..N=16"),
    (
        {"data.resolution": 20, "models": ["vit"], "analysis.element_sets": ["d4", "kolmogorov"]},
        "analysis.element_sets: kolmogorov needs data.resolution divisible by 8",
    ),
    ({"train.epochs": {"unet": 3}}, "train.epochs names no value for dataset CE / model vit"),
    ({"models": ["unet", "resnet"]}, "models: unknown model 'resnet'"),
    (
        {"models": {"CE": ["unet"]}},
        "models: the mapping must name exactly the datasets ['CE', 'NS']; missing: NS",
    ),
    ({"variants": {"vit": {"model": "unet"}}}, "variants.vit: the name of an architecture"),
    (
        {"influence.damping": {"mode": "relative", "values": [1e-2, 1e-3], "primary": 1e-4}},
        "influence.damping.primary 0.0001 is not one of influence.damping.values",
    ),
    (
        {"train.epochs": 4, "train.checkpoint_every": 3, "companion.epochs": [2]},
        "companion.epochs: CE unet keeps no checkpoint of epoch 2",
    ),
]


@pytest.mark.parametrize(("edits", "message"), CROSS_FIELD)
def test_cross_field_mistakes_are_one_line_naming_the_key(edits, message):
    cfg = _config()
    for dotted, value in edits.items():
        _edit(cfg, dotted, value)
    with pytest.raises(UserError) as err:
        Study.from_config(cfg)
    assert str(err.value).startswith(message) and "\n" not in str(err.value), str(err.value)


def test_shipped_studies_pass_every_rule():
    for path in ("config/config.yaml", "config/validation.yaml", "config/conservation.yaml"):
        Study.from_config(_config(path))
    Study.from_config(_config("config/paper.yaml", pdegym_dir="/x"))


def test_summary_names_runs_epochs_predict_and_damping():
    line = Study.from_config(_config("config/paper.yaml", pdegym_dir="/x")).summary()
    assert line == (
        "study paper: datasets CE, NS; seeds 10, 35, 42; epochs CE unet 150, vit 150; "
        "NS unet 100, vit 100; predict state; damping relative path 0.01, 0.001 (primary), "
        "0.0001 + Galerkin reference; 128^2 grid, preset paper"
    )
