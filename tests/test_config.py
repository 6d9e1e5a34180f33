"""symaudit.config: a config file is one study (``extends`` overlays, ``--config`` last), checked
against the workflow's schema with its defaults filled in, every mistake one line naming the
file and the key."""

from pathlib import Path

import pytest
import yaml

from symaudit import config
from symaudit.errors import UserError

ROOT = Path(__file__).resolve().parents[1]
CONFIG_DIR = ROOT / "config"
SHIPPED = [
    "config/config.yaml",
    "config/validation.yaml",
    "config/augmentation.yaml",
    "config/conservation.yaml",
    "config/paper.yaml",
    "tests/workflow/tiny.yaml",
]


def _write(path: Path, data) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(data if isinstance(data, str) else yaml.safe_dump(data, sort_keys=False))
    return path


def test_merge_is_snakemakes_mappings_recursively_other_values_whole():
    from snakemake.utils import update_config

    base = {"train": {"epochs": {"unet": 2, "vit": {"CE": 7}}, "lr": 1}, "seeds": [0, 1]}
    over = {"train": {"epochs": {"vit": {"NS": 3}}, "lr": 2}, "seeds": [5], "x": {"y": 1}}
    expected = yaml.safe_load(yaml.safe_dump(base))
    update_config(expected, over)  # the oracle: how Snakemake merges --configfile files
    assert config.merge(base, over) == expected
    assert base["train"]["lr"] == 1  # inputs untouched


def test_overlay_is_its_base_with_the_file_on_top_then_overrides(tmp_path):
    _write(tmp_path / "base.yaml", {"study": "b", "train": {"lr": 1, "epochs": 2}, "seeds": [0]})
    top = _write(tmp_path / "sub/top.yaml", {"extends": "../base.yaml", "train": {"lr": 3}})
    resolved = config.resolve([top], {"seeds": [7]}, CONFIG_DIR)
    assert resolved.config == {"study": "b", "train": {"lr": 3, "epochs": 2}, "seeds": [7]}
    assert [Path(w).name if w != "--config" else w for w, _ in resolved.layers] == [
        "base.yaml",
        "top.yaml",
        "--config",
    ]
    assert resolved.origin(["train", "lr"]).endswith("top.yaml")
    assert resolved.origin(["train", "epochs"]).endswith("base.yaml")
    assert resolved.origin(["seeds"]) == "--config"


def test_a_name_not_beside_the_file_is_the_workflows_config_folder(tmp_path):
    top = _write(tmp_path / "mine.yaml", {"extends": "config.yaml", "study": "mine"})
    quick = yaml.safe_load((CONFIG_DIR / "config.yaml").read_text())
    resolved = config.resolve([top], None, CONFIG_DIR)
    assert resolved.config == {**quick, "study": "mine"}


def test_no_configfile_is_the_quick_study():
    quick = yaml.safe_load((CONFIG_DIR / "config.yaml").read_text())
    assert config.resolve([], None, CONFIG_DIR).config == quick


@pytest.mark.parametrize(
    ("files", "overrides", "message"),
    [
        ({"a.yaml": {"extends": "nope.yaml"}}, None, "a.yaml: extends: 'nope.yaml' not found"),
        ({"a.yaml": {"extends": 3}}, None, "a.yaml: extends: expected the path of a config"),
        (
            {"a.yaml": {"extends": "b.yaml"}, "b.yaml": {"extends": "a.yaml"}},
            None,
            "extends: the files extend each other in a loop",
        ),
        ({"a.yaml": "study: x\ndata:\n  resolution: [1, 2\n"}, None, "a.yaml:4: not valid YAML"),
        ({"a.yaml": "- study\n"}, None, "a.yaml: a config file is a mapping of keys"),
        ({"a.yaml": {"study": "x"}}, {"extends": "b.yaml"}, "--config extends=...: only a"),
    ],
)
def test_resolution_mistakes_are_one_line(tmp_path, monkeypatch, files, overrides, message):
    monkeypatch.chdir(tmp_path)
    for name, data in files.items():
        _write(tmp_path / name, data)
    with pytest.raises(UserError) as err:
        config.resolve([tmp_path / "a.yaml"], overrides, CONFIG_DIR)
    assert message in str(err.value) and "\n" not in str(err.value)


@pytest.mark.parametrize("shipped", SHIPPED)
def test_defaults_are_filled_exactly_as_snakemakes_validate(shipped):
    """The oracle: snakemake.utils.validate on the same resolved dict (what the workflow did)."""
    from snakemake.utils import validate

    resolved = config.resolve([ROOT / shipped], {"pdegym_dir": "/x"}, CONFIG_DIR)
    expected = yaml.safe_load(yaml.safe_dump(resolved.config))
    validate(expected, str(config.SCHEMA))
    assert config.check_schema(resolved) == expected
    assert config.EXTENDS not in expected


def _tiny(**edits):
    cfg = config.resolve([ROOT / "tests/workflow/tiny.yaml"], None, CONFIG_DIR).config
    for dotted, value in edits.items():
        *parents, last = dotted.split(".")
        node = cfg
        for p in parents:
            node = node[p]
        if value is None:
            del node[last]
        else:
            node[last] = value
    return cfg


@pytest.mark.parametrize(
    ("edits", "message"),
    [
        ({"train.lr": "5e-4"}, "train.lr: '5e-4' is a string, not a number: YAML 1.1"),
        ({"train.lr": "5e-4"}, "write 5.0e-4"),
        ({"train.epoch": 3}, "train.epoch: unknown key; known: augment, batch_size"),
        ({"data.resolution": "big"}, "data.resolution: 'big' is not of type 'integer'"),
        ({"datasets": None}, "datasets: required, not set"),
        ({"datasets": ["CE", "XX"]}, "datasets.1: 'XX' is not one of"),
        ({"variants": {"unet-aug": {"model": "resnet"}}}, "variants.unet-aug.model: 'resnet'"),
        ({"train.epochs": {"unet": 0}}, "train.epochs"),
    ],
)
def test_schema_mistakes_are_one_line_naming_the_key(tmp_path, edits, message):
    resolved = config.Resolved(_tiny(**edits), [(tmp_path / "bad.yaml", {})])
    with pytest.raises(UserError) as err:
        config.check_schema(resolved)
    line = str(err.value)
    assert message in line and "\n" not in line and len(line) < 400, line
