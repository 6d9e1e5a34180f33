"""The Slurm profile's memory requests come from measurements: every rule whose memory line was
measured (bench/rule_memory.py -> bench/rule_memory.json: peak RSS of the rehearsal's jobs at
two analysis sizes, extrapolated to the paper's 48 kets) asks, at its first attempt, for at
least that projection plus the stated 25 % headroom.  The settings the lines were measured
with are the paper study's (config/paper.yaml), so the projection applies to it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from symaudit.cost import load_profile
from symaudit.cost._profile import rule_resources

ROOT = Path(__file__).resolve().parents[2]
MEASURED = json.loads((ROOT / "bench" / "rule_memory.json").read_text())
HEADROOM = 1.25
#: rules that hold the same per-batch state as a measured one (a per-run bras job runs the
#: per-chunk jobs' work one after the other; a companion run solves an identity batch)
SAME_AS = {
    "influence_bras_CE": "influence_bras",
    "influence_bras_NS": "influence_bras",
    "influence_bras_NSK": "influence_bras",
    "influence_bras_CE_twirled_unet": "influence_bras",
    "influence_bras_NS_twirled_unet": "influence_bras",
    "companion_run": "influence_solve",
    "equivariance_CE": "twirl_decomposition",
    "equivariance_NS": "twirl_decomposition",
    "equivariance_NSK": "twirl_decomposition",
    "equivariance_CE_twirled_unet": "twirl_decomposition",
    "equivariance_NS_twirled_unet": "twirl_decomposition",
}


def _projection(rule: str) -> float:
    return max(r["paper_mb"] for r in MEASURED["rows"] if r["rule"] == SAME_AS.get(rule, rule))


@pytest.mark.parametrize(
    "rule", sorted({r["rule"] for r in MEASURED["rows"]} | set(SAME_AS)), ids=str
)
def test_profile_memory_covers_the_measured_line(rule):
    _, _, memory = rule_resources(load_profile(ROOT / "workflow/profiles/slurm"), rule)
    assert memory >= HEADROOM * _projection(rule), (rule, memory, _projection(rule))


def test_the_lines_were_measured_with_the_paper_settings():
    paper = yaml.safe_load((ROOT / "config/paper.yaml").read_text())["influence"]
    rehearsal = yaml.safe_load((ROOT / "config/rehearsal.yaml").read_text())["influence"]
    for key in ("operator_mode", "vmap_chunk", "damping", "galerkin_reference"):
        assert paper[key] == rehearsal[key], key
    # kets per block-CG solve: the schema's default in both (a smaller block is a memory lever)
    assert "block_size" not in paper and "block_size" not in rehearsal
    assert MEASURED["study"] == "rehearsal" and all(r["paper_kets"] == 48 for r in MEASURED["rows"])
