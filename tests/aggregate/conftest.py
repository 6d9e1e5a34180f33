"""The aggregation tests' shared synthetic study (``symaudit.aggregate.write_synthetic_study``):
every element set in several chunks, one unconverged ket solve, and its tables."""

from __future__ import annotations

import pytest

from symaudit import aggregate as agg

from ._synthetic import BATCHES, SEEDS, UNCONVERGED, K, N, T


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    """A small synthetic study with every element set (several chunks each) and its tables."""
    root = tmp_path_factory.mktemp("study")
    agg.write_synthetic_study(
        root,
        seeds=SEEDS,
        batches=BATCHES,
        time_steps=T,
        resolution=N,
        box=K,
        chunk_size=4,
        unconverged=[UNCONVERGED],
    )
    written = agg.aggregate(root, root / "tables")
    return root, written


@pytest.fixture(scope="module")
def tables(study):
    root, _ = study
    return {p.stem: agg.read_table(p) for p in (root / "tables").glob("*.csv")}
