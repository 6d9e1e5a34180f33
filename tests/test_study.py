"""symaudit.study: the plan of a study (runs, their train sections, element sets, chunks, files)
and the cross-field rules of its config, each mistake one line naming the key."""

from pathlib import Path

import pytest

from symaudit import config, datasets
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
    from symaudit.groups.kolmogorov import KOLMOGOROV_K
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
    assert study.sets("CE") == [
        "d4", "shift_x", "shift_y", "shift_box", "d4_swapped", "boost", "scale", "negation"
    ]  # fmt: skip
    assert study.companion_epochs("NS", "unet") == [1]
    # the law's commutator: one model-free job per dataset group and seed, the shift sets left
    # out; none in the quick study (analysis.commutator off)
    assert study.commutator_sets("NS") == ["d4", "d4_swapped", "boost", "negation"]
    assert study.commutator_sets("NSK") == ["d4", "kolmogorov"]
    assert study.commutator_sets("CE") == ["d4", "d4_swapped", "boost", "scale", "negation"]
    assert study.commutator_files() == [
        f"results/validation/commutator/{d}/seed0/commutator.nc" for d in ("CE", "NS", "NSK")
    ]
    args = study.commutator_arguments("NS", 0)
    assert args.startswith("--split-train 0.65 --split-val 0.05 --set d4 e r")
    assert args.endswith("--set negation e neg")
    quick = Study.from_config(_config("config/config.yaml"))
    assert quick.commutator_files() == [] and quick.commutator_sets("NS") == []


def test_augmentation_study_pairs_the_few_trajectory_variants():
    """config/augmentation.yaml: unet-few-aug is paired with unet-few (not with the
    architecture, which the study does not train), both on the same first K train
    trajectories and the same epochs (optimiser steps), five seeds, D4 only."""
    study = Study.from_config(_config("config/augmentation.yaml"))
    assert study.augmented_pairs() == [("unet-few-aug", "unet-few")]
    assert sorted({r.seed for r in study.runs}) == [0, 1, 2, 3, 4]
    train = {r.model: r.train for r in study.runs}
    assert train["unet-few"]["epochs"] == train["unet-few-aug"]["epochs"]
    k = train["unet-few"]["max_trajectories"]
    assert k is not None and train["unet-few-aug"]["max_trajectories"] == k
    assert train["unet-few-aug"]["augment"] == {"d4": True, "shifts": True, "orbit": False}
    assert not train["unet-few"]["augment"]["d4"] and study.sets("NS") == ["d4"]


def test_element_sets_by_model_narrows_a_models_runs():
    """analysis.element_sets_by_model keeps a model's runs to the listed sets of its group (in
    the group's order); the other models keep the group's; each group of runs with the same
    sets is one per-run rule (named by the dataset, then dataset_model)."""
    narrowed = {"analysis": {"element_sets_by_model": {"vit": ["shift_x", "d4"]}}}
    study = Study.from_config(_config(**narrowed))  # tiny: CE and NS, unet and vit
    assert study.sets("NS") == study.sets("NS", "unet") == ["d4", "shift_x", "shift_y", "shift_box"]
    assert study.sets("NS", "vit") == ["d4", "shift_x"]  # the group's order, not the list's
    assert study.set_groups() == [
        ("CE", "CE", ["unet"]), ("CE", "CE_vit", ["vit"]),
        ("NS", "NS", ["unet"]), ("NS", "NS_vit", ["vit"]),
    ]  # fmt: skip
    assert not any("vit" in f and "shift_y" in f for f in study.influence_files())
    assert len(study.influence_files()) == 2 * (4 + 2)  # unet: 4 sets, vit: 2 (one chunk each)
    tasks = study.task_arguments("NS", ["a.nc", "b.nc"], "vit")
    assert tasks.startswith("--task d4 000 a.nc e r") and "--task shift_x 000 b.nc" in tasks
    assert study.model_pattern(["twirled-unet"]) == "twirled\\-unet"
    plain = Study.from_config(_config())
    assert plain.set_groups() == [("CE", "CE", ["unet", "vit"]), ("NS", "NS", ["unet", "vit"])]


def test_every_store_is_written_before_any_training():
    """A store job needs data.cluster.workers cores: its priority is above every training
    job's (else it waits until both cores are free), the stores of the longest runs first."""
    study = Study.from_config(_config("config/validation.yaml"))
    train = {(r.dataset, r.model): study.train_priority(r.dataset, r.model) for r in study.runs}
    data = {f: study.data_priority(f) for d in study.datasets for f in datasets.ALL_DATASETS[d]}
    assert min(data.values()) > max(train.values())
    # a group's stores by its longest run: NS's and CE's twirled UNet (2 x 96 s) before NSK's
    # 12 UNet epochs (12 x 13 s)
    assert data["NS-Gauss"] == data["CE-RP"] > data["NS-Kolmogorov"]
    assert data["NS-Gauss"] - max(train.values()) == train[("NS", "twirled-unet")] == 192


def test_train_values_per_model_or_dataset():
    """train.epochs and train.dtype: one value, or keyed by model (then its architecture, so a
    variant takes its architecture's) or dataset; a run the mapping does not name is one line."""
    study = Study.from_config(_config("config/validation.yaml"))
    dtypes = {(r.dataset, r.model): r.train["dtype"] for r in study.runs}
    assert dtypes[("NS", "unet-aug")] == dtypes[("CE", "vit")] == "float64"  # by architecture
    assert dtypes[("NS", "twirled-unet")] == dtypes[("CE", "twirled-unet")] == "float32"
    assert study.run_train("NSK", "unet")["epochs"] == 12
    by_dataset = Study.from_config(_config(train={"dtype": {"NS": "float64", "CE": "float32"}}))
    assert {r.train["dtype"] for r in by_dataset.runs if r.dataset == "NS"} == {"float64"}
    assert {r.train["dtype"] for r in by_dataset.runs if r.dataset == "CE"} == {"float32"}
    message = r"^train.dtype names no value for dataset CE / model unet$"
    with pytest.raises(UserError, match=message):
        Study.from_config(_config(train={"dtype": {"vit": "float64"}}))


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
    (
        {"analysis.time_steps": 3, "analysis.time_stride": 4},
        "analysis.time_stride 4 with analysis.time_steps 3: the last transition's target is "
        "frame 9, beyond the data (data.time_steps = 9 frames, 0 .. 8)",
    ),
    ({"train.split": {"train": 0.9, "val": 0.2}}, "train.split: train 0.9 + val 0.2 = 1.1 excee"),
    ({"analysis.shift_box_K": 20}, "analysis.shift_box_K: shift_box K=20 must lie in 1..N=16"),
    ({"analysis.influence_batches": 2}, "analysis.influence_batches 2: more than analysis.batc"),
    (
        {"data.resolution": 20, "models": ["vit"], "analysis.element_sets": ["d4", "kolmogorov"]},
        "analysis.element_sets: kolmogorov needs data.resolution divisible by 8",
    ),
    (
        {"analysis.element_sets": ["d4", "boost", "scale"]},
        "analysis.element_sets: element set 'scale' for dataset 'NS': mass scaling is exact",
    ),
    (
        {"analysis.element_sets_by_dataset": {"CE": ["scale"], "NS": ["boost", "scale"]}},
        "analysis.element_sets_by_dataset.NS: element set 'scale' for dataset 'NS'",
    ),
    ({"train.epochs": {"unet": 3}}, "train.epochs names no value for dataset CE / model vit"),
    (
        {"analysis.element_sets_by_model": {"resnet": ["d4"]}},
        "analysis.element_sets_by_model.resnet: 'resnet' is no model of this study",
    ),
    (
        {"analysis.element_sets_by_model": {"vit": ["d4", "boost"]}},
        "analysis.element_sets_by_model.vit: element set 'boost' is analysed by none of its",
    ),
    (
        {"analysis.element_sets_by_model": {"vit": ["shift_x"]}},
        "analysis.element_sets_by_model.vit: must keep 'd4', the first element set of CE",
    ),
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
    shipped = ("config.yaml", "validation.yaml", "augmentation.yaml", "conservation.yaml")
    for path in (f"config/{name}" for name in shipped):
        Study.from_config(_config(path))
    Study.from_config(_config("config/paper.yaml", pdegym_dir="/x"))


def test_summary_names_runs_epochs_predict_and_damping():
    line = Study.from_config(_config("config/paper.yaml", pdegym_dir="/x")).summary()
    assert line == (
        "study paper: datasets CE, NS; seeds 10, 35, 42; epochs CE unet 150, vit 150; "
        "NS unet 100, vit 100; predict state; damping relative path 0.01, 0.001 (primary), "
        "0.0001 + Galerkin reference; 128^2 grid, preset paper"
    )


def test_variant_runs_take_their_architectures_epochs_and_their_own_train_keys(tmp_path):
    cfg = _config()
    cfg["models"] = {"CE": ["unet"], "NS": ["unet", "unet-aug"]}
    cfg["variants"] = {"unet-aug": {"model": "unet", "train": {"augment": {"d4": True}}}}
    cfg["train"]["epochs"] = {"unet": 3, "vit": 5}
    study = Study.from_config(cfg)
    assert study.run_keys() == [("CE", "unet", 0), ("NS", "unet", 0), ("NS", "unet-aug", 0)]
    for run in study.runs:
        assert run.architecture == "unet"
        assert run.train["epochs"] == 3  # the variant takes its architecture's epochs
        assert run.train["augment"] == {
            "d4": run.model == "unet-aug",
            "shifts": False,
            "orbit": False,
        }
        assert run.train["lr"] == cfg["train"]["lr"]  # the rest is the study's
    assert study.augmented_pairs() == [("unet-aug", "unet")]
    assert study.run_dir("NS", "unet-aug", 0) == "results/tiny/models/NS/unet-aug/seed0"


def test_files_of_each_stage():
    study = Study.from_config(_config())  # tiny: 2 datasets x 2 models, 1 seed, 16^2, K = 2
    assert study.stores()[:3] == [
        f"results/tiny/data/{f}.zarr" for f in ("CE-RP", "CE-CRP", "CE-RPUI")
    ]
    assert len(study.stores()) == 6
    # every run x (d4: 1 chunk of 8, shift_x/shift_y: 1 chunk of 16, shift_box: 1 chunk of 4)
    assert len(study.influence_files()) == 4 * 4
    assert study.influence_files()[0] == "results/tiny/influence/CE/unet/seed0/d4_chunk000.nc"
    assert len(study.equivariance_files()) == 4 * 4 + 4  # + each run's twirl.nc
    assert study.quality_equivariance_files()[3] == (
        "results/tiny/equivariance/NS/vit/seed0/d4_chunk000.nc"
    )
    assert study.run_arguments(["m1", "m2", "m3", "m4"], ["e1", "e2", "e3", "e4"]) == (
        "--run CE unet 0 m1 e1 --run CE vit 0 m2 e2 --run NS unet 0 m3 e3 --run NS vit 0 m4 e4"
    )
    with pytest.raises(ValueError):
        study.run_arguments(["m1"])  # one file per run


def test_load_resolves_checks_and_names_the_file(tmp_path, monkeypatch):
    monkeypatch.chdir(ROOT)
    (tmp_path / "bad.yaml").write_text(
        "extends: config.yaml\nstudy: bad\ndata:\n  resolution: 40\n"
    )
    with pytest.raises(UserError) as err:
        Study.load([tmp_path / "bad.yaml"], None, ROOT)
    assert str(err.value).endswith(
        "bad.yaml: data.resolution 40: the UNet (unet) needs a multiple of 16 (its four stride-2 "
        "levels)"
    )
    study = Study.load([ROOT / "config/validation.yaml"], None, ROOT)
    assert study.sources == ["config/config.yaml", "config/validation.yaml"]  # from the root
    assert study.summary().endswith("config/validation.yaml]")


def test_config_and_study_import_no_torch():
    """The workflow's set-up imports them at parse time, before any job."""
    import subprocess
    import sys

    code = (
        "import sys, symaudit.config, symaudit.study; "
        "assert 'torch' not in sys.modules, 'torch imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


def test_influence_takes_the_first_influence_batches_and_the_forward_stages_all():
    cfg = _config()
    _edit(cfg, "analysis.batches", 3)
    study = Study.from_config(cfg)
    assert study.analysis_batches() == study.influence_batches() == ["00", "01", "02"]
    _edit(cfg, "analysis.influence_batches", 1)
    study = Study.from_config(cfg)
    assert study.analysis_batches() == ["00", "01", "02"]
    assert study.influence_batches() == ["00"]
