"""The findings rule: planned (and required by the report) exactly when findings.enabled."""

import pytest

from tests._workflow import copy_repo, snakemake

pytestmark = pytest.mark.workflow


def _planned(work, *configfiles) -> dict[str, int]:
    """Job counts by rule of a dry run of ``all``."""
    proc = snakemake(work, "--configfile", *configfiles, "-n", "--quiet", "rules", "all")
    counts = {}
    for line in (proc.stdout + proc.stderr).splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[1].isdigit():
            counts[parts[0]] = int(parts[1])
    return counts


def test_findings_rule_follows_the_config(tmp_path):
    work = copy_repo(tmp_path / "repo")
    plan = _planned(work, "tests/workflow/tiny.yaml")
    assert plan["report_html"] == 1 and "findings" not in plan
    (work / "on.yaml").write_text("findings:\n  enabled: true\n")
    assert _planned(work, "tests/workflow/tiny.yaml", "on.yaml")["findings"] == 1
    # the validation study builds it, with the twirled UNet of case 1 among its models
    assert _planned(work, "config/validation.yaml")["findings"] == 1
    assert "twirled-unet" in snakemake(work, "--configfile", "config/validation.yaml", "-n").stdout
