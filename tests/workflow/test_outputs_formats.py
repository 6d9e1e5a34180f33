"""Every per-job file the tiny study writes matches its format as declared ONCE in
symaudit.outputs: declared variables with their declared dims, every required variable, every
attribute its writer records, the transition dims' coordinates (0 .. T-1, their long_name and
units), and the identity its attributes give is the job's path."""

from __future__ import annotations

from pathlib import Path

import pytest

from symaudit import names, outputs

pytestmark = pytest.mark.workflow


def check_study_files(results: Path) -> dict[str, int]:
    """Check every per-job file under ``results`` (= results/{study}); returns the number of
    files per format.  Also used by hand on a study built elsewhere."""
    counts = {}
    for fmt in outputs.FORMATS.values():
        template = getattr(names, fmt.template)
        found = sorted(results.glob(template.format(dataset="*", model="*", seed="*", set="*",
                                                    chunk="*")))  # fmt: skip
        counts[fmt.name] = len(found)
        for path in found:
            with outputs.read(path, fmt.name) as out:  # declared dims, required variables
                missing = [a for a in fmt.attrs if a not in out.dataset.attrs]
                assert not missing, (path, missing)
                for dim, attrs in outputs.TRANSITION_DIMS.items():  # indices, named as such
                    if dim in out.dataset.dims:
                        coord = out.dataset[dim]
                        assert coord.attrs == attrs, (path, dim, coord.attrs)
                        assert coord.values.tolist() == list(range(coord.size)), (path, dim)
                who = out.identity
            fields = dict(dataset=who.dataset, model=who.model, seed=who.seed)
            if who.element_set is not None:
                fields.update(set=who.element_set, chunk=f"{who.chunk:03d}")
            assert results / template.format(**fields) == path, (path, who)
    return counts


def test_tiny_study_files_match_their_declared_formats(tiny_study):
    counts = check_study_files(tiny_study / "results/tiny")
    # 2 datasets x 2 models x 1 seed; 4 element sets of one chunk each; no Lie derivatives and
    # no solver commutator (analysis.lie and analysis.commutator are off in the tiny study)
    assert counts == {
        "influence": 16,
        "equivariance": 16,
        "twirl": 4,
        "diagnostics": 4,
        "lie": 0,
        "commutator": 0,
    }
