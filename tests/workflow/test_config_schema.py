"""The config schema describes every key, and the shipped configs validate against it."""

from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = ROOT / "workflow" / "schemas" / "config.schema.yaml"


def _keys(node, path=()):
    for name, sub in (node.get("properties") or {}).items():
        yield (*path, name), sub
        yield from _keys(sub, (*path, name))
        for branch in sub.get("oneOf", []) + sub.get("anyOf", []):
            yield from _keys(branch, (*path, name))


def test_every_key_has_a_description():
    schema = yaml.safe_load(SCHEMA.read_text())
    keys = list(_keys(schema))
    assert len(keys) > 50
    missing = [".".join(path) for path, sub in keys if not str(sub.get("description", "")).strip()]
    assert not missing, f"config keys without a description in {SCHEMA.name}: {missing}"


CONFIGS = [
    "config/config.yaml",
    "config/paper.yaml",
    "config/validation.yaml",  # overlays of config.yaml (`extends`), resolved first
    "config/augmentation.yaml",
    "config/anisotropy.yaml",
    "config/conservation.yaml",
    "config/rehearsal.yaml",
    "tests/workflow/tiny.yaml",
]


@pytest.mark.parametrize("config", CONFIGS)
def test_shipped_configs_validate(config):
    from snakemake.utils import validate

    from symaudit.config import resolve

    data = resolve([ROOT / config], None, ROOT / "config").config
    validate(data, str(SCHEMA))


def test_config_readme_names_every_top_level_key():
    text = (ROOT / "config" / "README.md").read_text()
    for key in yaml.safe_load(SCHEMA.read_text())["properties"]:
        assert f"`{key}`" in text or f"`{key}:`" in text, key
