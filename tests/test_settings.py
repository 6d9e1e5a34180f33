"""symaudit.settings: the library's defaults are read from the schema (one file holds each
default, shipped in the package), filled as Snakemake fills them, and every command reads its
``--settings`` the same way (unknown keys, bad JSON: one UserError line naming the key)."""

import json
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import yaml

from symaudit import settings
from symaudit.errors import UserError

ROOT = Path(__file__).resolve().parents[1]
SCHEMA = ROOT / "workflow" / "schemas" / "config.schema.yaml"


def test_the_package_schema_is_the_workflows():
    """symaudit/config.schema.yaml (what settings reads, installed or not) is the file the
    workflow validates against: a link, not a copy that could drift."""
    shipped = ROOT / "src" / "symaudit" / settings.SCHEMA_FILE
    assert shipped.is_symlink() and shipped.resolve() == SCHEMA.resolve()
    assert settings.schema() == yaml.safe_load(SCHEMA.read_text())


def test_a_built_wheel_ships_the_schema_and_reads_its_defaults(tmp_path):
    """An installed symaudit (a wheel, no checkout beside it) has the schema's defaults."""
    source = tmp_path / "source"
    for name in ("pyproject.toml", "README.md", "src", "workflow/schemas"):
        target = source / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if (ROOT / name).is_dir():
            ignore = shutil.ignore_patterns("__pycache__", "*.egg-info")
            shutil.copytree(ROOT / name, target, symlinks=True, ignore=ignore)
        else:
            shutil.copy2(ROOT / name, target)
    build = f"from setuptools import build_meta as b; print(b.build_wheel({str(tmp_path)!r}))"
    out = subprocess.run(
        [sys.executable, "-c", build], cwd=source, capture_output=True, text=True, check=True
    )
    wheel = tmp_path / out.stdout.strip().splitlines()[-1]
    site = tmp_path / "site"
    with zipfile.ZipFile(wheel) as zf:
        assert zf.read(f"symaudit/{settings.SCHEMA_FILE}") == SCHEMA.read_bytes()
        zf.extractall(site)
    code = "import json, symaudit.settings as s; print(json.dumps(s.DEFAULTS))"
    env = {"PYTHONPATH": str(site), "PATH": ""}
    got = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert got.returncode == 0, got.stderr
    assert json.loads(got.stdout) == json.loads(json.dumps(settings.DEFAULTS))


def test_the_defaults_are_the_schemas_defaults():
    """A config naming only the required keys, filled by Snakemake's validate (what the
    workflow's commands receive), equals the library's defaults section by section: the
    library fills a missing key as Snakemake does."""
    from snakemake.utils import validate

    config = {"study": "s", "data": {}, "datasets": ["CE"], "models": ["unet"], "preset": "tiny"}
    config["seeds"] = [0]
    validate(config, str(SCHEMA))
    for section, defaults in settings.DEFAULTS.items():
        no_default = {k for k, v in defaults.items() if v is None and k not in config[section]}
        assert no_default <= {"damping"}, (section, no_default)
        assert {k: v for k, v in defaults.items() if k not in no_default} == config[section], (
            section
        )
    # ... and the library knows exactly the schema's keys of every section
    properties = yaml.safe_load(SCHEMA.read_text())["properties"]
    for section, defaults in settings.DEFAULTS.items():
        assert set(defaults) == set(properties[section]["properties"]), section
        for key, value in defaults.items():
            if isinstance(value, dict) and value:
                assert set(value) == set(properties[section]["properties"][key]["properties"])


def test_the_stages_defaults_are_the_modules():
    from symaudit.companion.cli import resolve_settings as companion
    from symaudit.conservation import DEFAULT_FLOOR
    from symaudit.conservation._study import DEFAULTS as CONSERVATION
    from symaudit.influence._solve import SolveOptions
    from symaudit.influence._stage import resolve_settings as influence
    from symaudit.training import DEFAULTS as TRAIN
    from symaudit.training import resolve_settings as train

    assert TRAIN == settings.TRAIN and TRAIN["epochs"] == 4 and TRAIN["checkpoint_every"] == 1
    assert train({}) == {**settings.TRAIN, "in_memory_max_gb": 16.0}
    resolved = influence(None)
    assert resolved["damping"] == {"mode": "relative", "value": 1e-3}
    assert resolved == {
        **{k: v for k, v in settings.INFLUENCE.items() if k != "keep_solutions"},
        "damping": {"mode": "relative", "value": 1e-3},
    }
    assert influence('{"method": "galerkin"}')["damping"] == {"mode": "absolute", "value": 1e-6}
    options = SolveOptions(damping=1e-3)
    for key in ("rtol", "method", "preconditioner_rank", "max_iterations", "galerkin_energy"):
        assert getattr(options, key) == settings.INFLUENCE[key], key
    assert options.max_iterations == 1000
    assert companion(None) == settings.COMPANION
    assert CONSERVATION == {
        k: v for k, v in settings.CONSERVATION.items() if k not in ("enabled", "standalone")
    }
    assert DEFAULT_FLOOR == settings.CONSERVATION["floor"]
    from symaudit.data.generate import CLUSTER_DEFAULTS, cluster_client

    assert CLUSTER_DEFAULTS == settings.DATA["cluster"]
    with pytest.raises(UserError, match="unknown data setting 'cluster.nodes'"):
        with cluster_client({"nodes": 2}):
            pass


def test_read_settings_fills_defaults_and_merges_fixed_mappings():
    s = settings.read_settings('{"epochs": 3, "augment": {"d4": true}}', "train")
    assert s["epochs"] == 3 and s["augment"] == {"d4": True, "shifts": False, "orbit": False}
    assert s["split"] == {"train": 0.65, "val": 0.05} and s["lr"] == 5e-4
    given = {"damping": {"mode": "absolute", "values": [1e-2, 1e-3], "primary": 1e-3}}
    s = settings.read_settings(json.dumps(given), "influence", drop=("keep_solutions",))
    assert s["damping"] == given["damping"] and "keep_solutions" not in s
    assert settings.read_settings(None, "companion") == settings.COMPANION
    assert settings.read_settings("  ", "companion") == settings.COMPANION
    # a mutable default is never shared with the caller
    settings.read_settings(None, "companion")["epochs"].append(7)
    assert settings.COMPANION["epochs"] == []


def test_read_settings_reads_json_and_yaml_files(tmp_path):
    (tmp_path / "a.json").write_text('{"distance_edges": 18}')
    (tmp_path / "a.yaml").write_text("distance_overlap: 2\n")
    assert settings.read_settings(str(tmp_path / "a.json"), "companion")["distance_edges"] == 18
    assert settings.read_settings(str(tmp_path / "a.yaml"), "companion")["distance_overlap"] == 2


@pytest.mark.parametrize(
    ("text", "section", "message"),
    [
        ('{"learning_rate": 1}', "train", "unknown train setting 'learning_rate'; known: epochs"),
        ('{"augment": {"rotate": true}}', "train", "unknown train setting 'augment.rotate'"),
        ('{"augment": true}', "train", "train setting 'augment': expected a mapping, got True"),
        (
            '{"rtl": 1e-4}',
            "influence",
            "unknown influence setting 'rtl'; known: damping, galerkin_reference, rtol",
        ),
        ('{"epoch": [2]}', "companion", "unknown companion setting 'epoch'"),
        ('{"stepz": 3}', "conservation", "unknown conservation setting 'stepz'"),
        ('{"rtol": 1e-4,}', "influence", "--settings: invalid JSON (Expecting property name"),
        ("[1, 2]", "influence", "--settings: expected a JSON object, got list"),
    ],
)
def test_read_settings_errors_are_one_line_user_errors(text, section, message):
    with pytest.raises(UserError) as info:
        settings.read_settings(text, section)
    assert str(info.value).startswith(message) and "\n" not in str(info.value)


def test_every_stage_command_reports_a_bad_key_the_same_way(capsys):
    """The commands print the UserError as one line and exit 2 (symaudit.cli)."""
    from symaudit.cli import main

    for argv, line in [
        (["conservation", "--out-dir", "x", "--settings", '{"stepz": 3}'], "'stepz'"),
        (
            ["companion", "tables", "--run", "CE", "unet", "0", "a.nc", "r", "d.nc",
             "--stores", "s.zarr", "--settings", '{"bins": 3}', "--tables-dir", "t",
             "--figures-dir", "f"],
            "'bins'",
        ),
    ]:  # fmt: skip
        assert main(argv) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and "unknown" in err[0] and line in err[0], err


def test_influence_cross_key_rules_are_one_check():
    """The workflow (common.smk) and the influence commands refuse the same sections with the
    same line."""
    from symaudit.influence._stage import resolve_settings

    path = {"mode": "relative", "values": [1e-2, 1e-3], "primary": 1e-4}
    galerkin = {"method": "galerkin", "damping": {"values": [1, 2], "primary": 1}}
    for section, message in [
        ({"damping": path}, "influence.damping.primary 0.0001 is not one of"),
        (galerkin, "influence.damping.values: a damping path needs a Krylov method"),
    ]:
        for check in (settings.check_influence, resolve_settings):
            with pytest.raises(UserError, match=message):
                check(section)
    settings.check_influence({"damping": {**path, "primary": 1e-3}})  # a good path passes
