"""The conda environments for HPC users (envs/*.yaml) agree with pyproject.toml."""

import tomllib
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[1]
CONDA_TO_PYPI = {"pytorch": "torch", "netcdf4": "netCDF4", "distributed": "dask"}
# run the workflow, not the rules: they live in the environment that launches Snakemake
RUNNER_ONLY = {"snakemake", "snakemake-executor-plugin-slurm", "jsonschema"}


def _pyproject(python: str = "3.11"):
    """The dependencies that apply under ``python`` (markers evaluated), by lower-case name."""
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    out = {}
    for dep in map(Requirement, deps):
        if dep.marker is None or dep.marker.evaluate({"python_version": python}):
            assert dep.name.lower() not in out, f"{dep.name}: two requirements apply"
            out[dep.name.lower()] = dep
    return out


@pytest.mark.parametrize("python", ["3.11", "3.12", "3.13"])
def test_pyproject_allows_python(python):
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert SpecifierSet(project["requires-python"]).contains(python + ".0")
    assert "zarr" in _pyproject(python) and "torch" in _pyproject(python)


def _envs():
    out = {}
    for path in sorted((ROOT / "envs").glob("*.yaml")):
        spec = yaml.safe_load(path.read_text())
        assert spec["channels"] == ["conda-forge", "nodefaults"], path.name
        pins = {}
        for dep in spec["dependencies"]:
            name, _, version = str(dep).partition("=")
            pins[name] = version
        out[path.name] = pins
    return out


@pytest.mark.parametrize("env", sorted(p.name for p in (ROOT / "envs").glob("*.yaml")))
def test_env_pins_satisfy_pyproject(env):
    project = _pyproject(_envs()[env]["python"])
    for conda_name, version in _envs()[env].items():
        assert version, f"{env}: {conda_name} is not pinned"
        if conda_name == "python":
            assert Version(version) >= Version("3.11")
            continue
        name = CONDA_TO_PYPI.get(conda_name, conda_name).lower()
        assert name in project, f"{env}: {conda_name} is not a dependency in pyproject.toml"
        spec = project[name].specifier
        # a conda pin like 2.4 means 2.4.*: its lowest release must satisfy pyproject
        assert spec.contains(Version(version), prereleases=True), (env, conda_name, version, spec)


def test_every_dependency_is_in_some_env():
    covered = {CONDA_TO_PYPI.get(n, n).lower() for pins in _envs().values() for n in pins}
    missing = set(_pyproject()) - covered - RUNNER_ONLY
    assert not missing, f"pyproject dependencies in no envs/*.yaml: {sorted(missing)}"


def test_rules_reference_existing_envs():
    for smk in (ROOT / "workflow" / "rules").glob("*.smk"):
        for line in smk.read_text().splitlines():
            if line.strip().startswith('"../../envs/'):
                assert (smk.parent / line.strip().strip('",')).resolve().exists(), line


def _rule_blocks():
    """(file, rule name, rule text) for every rule in workflow/rules/*.smk."""
    import re

    for smk in sorted((ROOT / "workflow" / "rules").glob("*.smk")):
        text = smk.read_text()
        starts = [(m.start(), m.group(1)) for m in re.finditer(r"^\s*rule (\w+):", text, re.M)]
        ends = [start for start, _ in starts[1:]] + [len(text)] if starts else []
        for (start, name), end in zip(starts, ends, strict=True):
            yield smk.name, name, text[start:end]


def test_rules_running_snakemake_have_it_in_their_env():
    """Under --sdm conda a rule's shell runs in its conda env: a rule that runs Snakemake itself
    (the report) either has no env (it then runs with the Snakemake that runs the workflow) or
    an env that lists snakemake."""
    runners = [(f, n, b) for f, n, b in _rule_blocks() if "-m snakemake" in b]
    assert sorted(n for _, n, _ in runners) == ["conservation_report", "report_html"]
    for smk, name, block in runners:
        for line in block.splitlines():
            if line.strip().startswith('"../../envs/'):
                env = line.strip().strip('",').removeprefix("../../envs/")
                assert "snakemake" in _envs()[env], f"{smk}: rule {name} runs snakemake in {env}"
