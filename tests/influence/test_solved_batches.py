"""A bras job reads its solutions one analysis batch at a time (:class:`SolvedBatches`): the
metadata of every batch up front with the vectors memory-mapped, each batch's vectors when its
turn comes, equal to what ``influence-solve`` wrote."""

from __future__ import annotations

import torch

from symaudit.influence import solve_kets
from symaudit.influence._chunk import SolvedBatches, read_solutions


def test_solutions_are_read_batch_by_batch_and_unchanged(problem, tmp_path):
    net, x, y = problem["net"], problem["x"], problem["y"]
    path = {"mode": "relative", "values": [1e-2, 1e-3], "primary": 1e-3}
    written = []
    for batch, sl in enumerate((slice(0, 3), slice(3, 6))):
        sols = solve_kets(net, x, x[sl], y[sl], damping=path, rtol=1e-8, meta={"batch": batch})
        folder = tmp_path / f"batch{batch:02d}"
        folder.mkdir()
        for i, sol in enumerate(sols):
            sol.meta["damping_primary"] = sols[1].damping
            sol.save(folder / f"solution_{i:02d}.pt")
        written.append(sols)
    batches, primary = read_solutions([tmp_path / "batch00", tmp_path / "batch01"])
    assert isinstance(batches, SolvedBatches) and primary == 1
    for i, sols in enumerate(written):
        assert [s.damping for s in batches[i]] == [s.damping for s in sols]
        loaded = batches.load(i)
        for got, want in zip(loaded, sols, strict=True):
            assert torch.equal(got.vectors, want.vectors)
            assert torch.equal(got.residual_norms, want.residual_norms)
    # the batch read last is kept (a per-run job's chunks read it once), the one before is not
    assert batches.load(1) is batches.load(1)
    assert batches.load(0) is not loaded and torch.equal(
        batches.load(0)[0].vectors, written[0][0].vectors
    )
