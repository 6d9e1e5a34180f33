"""symaudit.names: the schema's enums list its names, the library agrees, and it imports no
torch (the workflow's helpers import it)."""

import re
import subprocess
import sys
from pathlib import Path

import yaml

from symaudit import groups, names

ROOT = Path(__file__).resolve().parents[1]
SCHEMA = yaml.safe_load((ROOT / "workflow" / "schemas" / "config.schema.yaml").read_text())
PROPS = SCHEMA["properties"]


def test_schema_enums_are_the_modules_lists():
    datasets, architectures = list(names.DATASETS), list(names.ARCHITECTURES)
    assert datasets == ["CE", "NS", "NSK", "NSD"]
    assert PROPS["datasets"]["items"]["enum"] == datasets
    assert PROPS["models"]["oneOf"][1]["propertyNames"]["enum"] == datasets
    variant = PROPS["variants"]["additionalProperties"]["properties"]["model"]
    assert variant["enum"] == architectures
    assert PROPS["preset"]["enum"] == list(names.PRESETS)
    epochs = PROPS["train"]["properties"]["epochs"]["oneOf"][1]
    assert epochs["propertyNames"]["enum"] == datasets + architectures
    assert epochs["additionalProperties"]["oneOf"][1]["propertyNames"]["enum"] == (
        datasets + architectures
    )
    analysis = PROPS["analysis"]["properties"]
    assert analysis["element_sets"]["items"]["enum"] == list(names.ELEMENT_SETS)
    by_dataset = analysis["element_sets_by_dataset"]["properties"]
    assert list(by_dataset) == datasets
    assert all(p["items"]["enum"] == list(names.ELEMENT_SETS) for p in by_dataset.values())
    assert PROPS["study"]["pattern"] == f"^{names.WILDCARDS['study']}$"


def test_the_library_uses_the_same_names():
    from symaudit.aggregate import _layout
    from symaudit.conservation import TARGETS
    from symaudit.conservation._study import ARMS
    from symaudit.models import MODELS, PRESETS

    assert tuple(groups.ELEMENT_SETS) + tuple(groups.TRANSITION_SETS) == names.ELEMENT_SETS
    assert tuple(groups.TRANSITION_SETS) == names.TRANSITION_SETS
    assert tuple(PRESETS) == names.PRESETS
    assert set(names.ARCHITECTURES) <= set(MODELS)
    assert _layout.ELEMENT_SETS == names.ELEMENT_SETS
    assert set(names.VALIDATION_SETS) <= set(names.ELEMENT_SETS)
    assert names.PAPER_DATASETS + names.VALIDATION_DATASETS == names.DATASETS
    conservation = PROPS["conservation"]["properties"]
    assert conservation["targets"]["items"]["enum"] == list(TARGETS)
    assert conservation["arms"]["items"]["enum"] == list(ARMS)


def test_wildcards_match_the_names_and_nothing_else():
    w = {k: re.compile(rf"^(?:{v})$") for k, v in names.WILDCARDS.items()}
    assert all(w["dataset"].match(d) for d in names.DATASETS)
    assert not w["dataset"].match("CEX") and not w["dataset"].match("N")
    assert all(w["set"].match(s) for s in names.ELEMENT_SETS) and not w["set"].match("d4x")
    from symaudit.datasets import ALL_DATASETS

    assert all(w["family"].match(f) for fs in ALL_DATASETS.values() for f in fs)
    assert not w["family"].match("CX-RP")
    assert all(w["model"].match(m) for m in names.ARCHITECTURES)
    assert w["chunk"].match("003") and not w["chunk"].match("3")


def test_path_templates_fill_from_the_wildcards():
    fields = {"dataset": "CE", "model": "unet", "seed": 1, "set": "d4", "chunk": "000"}
    assert names.CHECKPOINT.format(**fields) == "models/CE/unet/seed1/final.pt"
    assert names.INFLUENCE.format(**fields) == "influence/CE/unet/seed1/d4_chunk000.nc"
    assert names.EQUIVARIANCE.format(**fields) == "equivariance/CE/unet/seed1/d4_chunk000.nc"
    assert names.SOLUTION.format(batch="01", **fields) == (
        "influence/CE/unet/seed1/batch01/solution"
    )
    for template in (names.STORE, names.CHECKPOINT, names.INFLUENCE, names.SOLUTION):
        assert set(re.findall(r"{(\w+)}", template)) <= set(names.WILDCARDS) | {"family"}


def test_stage_files_list_the_stage_code():
    train = [
        p.relative_to(Path(names.__file__).parent).as_posix() for p in names.stage_files("train")
    ]
    assert "training/_loop.py" in train and "runs.py" in train and "settings.py" in train
    assert "training/cli.py" not in train and "names.py" not in train
    assert "models/cli.py" not in train and "models/_unet.py" in train
    root = Path(names.__file__).parent
    core = [
        p.relative_to(root).as_posix() for pat in names.CORE_CODE for p in sorted(root.glob(pat))
    ]
    assert train[: len(core)] == core and "groups/_action.py" in core
    from symaudit.training.cli import fingerprint_code

    assert fingerprint_code() == sorted(names.stage_files("train"))


def test_names_and_settings_import_no_torch():
    code = (
        "import sys, symaudit.names, symaudit.settings; "
        "assert 'torch' not in sys.modules, 'torch imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


def test_run_files_are_the_ones_training_writes():
    """The run-directory templates name the files the library writes and reads."""
    from symaudit import runs
    from symaudit.training import _loop

    assert Path(names.CHECKPOINT).name == _loop.FINAL
    assert Path(names.SPLITS).name == runs.SPLITS_FILE
    assert Path(names.CHECKPOINT).parent == Path(names.SPLITS).parent == Path(names.RUN_DIR)
