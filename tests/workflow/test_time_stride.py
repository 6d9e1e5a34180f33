"""``analysis.time_stride`` in the workflow: a dry run of the tiny study with a stride passes
``--time-stride`` to every analysis job (equivariance, twirl, influence solve and bras, Lie
derivative, commutator, companion diagnostics) in both job layouts; the default passes 1."""

import re

import pytest
import yaml

from tests._workflow import copy_repo, snakemake

pytestmark = pytest.mark.workflow

#: the analysis commands: each rebuilds the analysis examples from the stores
ANALYSIS_COMMANDS = (
    "equivariance",
    "influence-solve",
    "influence-bras",
    "lie",
    "commutator",
    "companion run",
)


def _commands(work, cfg) -> list[str]:
    (work / "s.yaml").write_text(yaml.safe_dump(cfg))
    proc = snakemake(work, "--configfile", "s.yaml", "-n", "-p", "all")
    shell = re.findall(r"^Shell command: (.*)$", proc.stdout, re.M)
    return [m[1] for c in shell if (m := re.search(r"-m symaudit (.*)$", c))]


@pytest.mark.parametrize("jobs", ["per_run", "per_chunk"])
def test_the_stride_reaches_every_analysis_job(tmp_path, jobs):
    work = copy_repo(tmp_path / "repo")
    cfg = yaml.safe_load((work / "tests/workflow/tiny.yaml").read_text())
    # the tiny data's 9 frames hold transitions 0->1 and 4->5 at stride 4
    cfg["analysis"].update(time_steps=2, time_stride=4, jobs=jobs, lie=True)
    cfg["analysis"]["commutator"] = {"enabled": True}
    cfg["findings"] = {"enabled": True}  # the commutator's law table feeds the findings
    commands = _commands(work, cfg)
    found = {name: [c for c in commands if c.startswith(f"{name} ")] for name in ANALYSIS_COMMANDS}
    assert all(found.values()), {k: len(v) for k, v in found.items()}
    for name, planned in found.items():
        for command in planned:
            assert "--time-steps 2 --time-stride 4" in command, (name, command)
    if jobs == "per_run":  # the default stride is passed as 1
        cfg["analysis"].pop("time_stride")
        commands = _commands(work, cfg)
        analysis = [c for c in commands if c.startswith(tuple(f"{n} " for n in ANALYSIS_COMMANDS))]
        assert analysis and all("--time-stride 1" in c for c in analysis), analysis
