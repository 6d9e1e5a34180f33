"""A solve's memory bounded by design: ``influence.block_size`` kets per block-CG solve and a
damping path's solutions handed to a ``sink`` (written) one λ at a time.  Both are checked
against the dense oracle (M + λI)⁻¹ G and against the one-block, all-in-memory solve."""

from __future__ import annotations

import torch

from symaudit.influence import SolveOptions, solve_kets
from symaudit.influence._stage import resolve_settings
from symaudit.settings import INFLUENCE

from ._oracles import rel_err

PATH = {"mode": "relative", "values": [1e-2, 1e-3, 1e-4], "primary": 1e-3}


def _dense(problem, lam):
    M, G = problem["M"], problem["G"]
    return torch.linalg.solve(M + lam * torch.eye(M.shape[0], dtype=M.dtype), G.T).T


def test_block_size_is_a_setting_and_each_block_meets_the_tolerance(problem):
    assert INFLUENCE["block_size"] == 48  # the schema's default: every embedded batch one block
    assert SolveOptions.from_settings(resolve_settings({"block_size": 2})).block_size == 2
    net, x, y = problem["net"], problem["x"], problem["y"]
    lam = 1e-3 * problem["lambda_max"]
    sols = {b: solve_kets(net, x, x, y, damping=lam, rtol=1e-10, block_size=b) for b in (2, 6)}
    assert sorted({r.block for r in sols[2].records}) == [0, 1, 2]  # 6 kets in blocks of 2
    assert {r.block for r in sols[6].records} == {0}
    oracle = _dense(problem, lam)
    for sol in sols.values():
        assert sol.converged
        assert rel_err(sol.vectors, oracle) < 1e-8


def test_a_sink_receives_each_lambda_once_and_the_path_keeps_no_vectors(problem):
    net, x, y = problem["net"], problem["x"], problem["y"]
    kept = solve_kets(net, x, x, y, damping=PATH, rtol=1e-10)
    written: dict[int, torch.Tensor] = {}
    order: list[int] = []

    def sink(i, sol):
        order.append(i)
        written[i] = sol.vectors.clone()
        assert sol.meta["damping_path"] == kept[i].meta["damping_path"]  # complete when written

    streamed = solve_kets(net, x, x, y, damping=PATH, rtol=1e-10, sink=sink)
    assert order == [0, 1, 2]  # the largest λ first
    assert all(sol.vectors is None for sol in streamed)
    for i, sol in enumerate(kept):
        assert torch.equal(written[i], sol.vectors)  # the same solve, bit for bit
        assert streamed[i].damping == sol.damping and streamed[i].converged
        assert rel_err(sol.vectors, _dense(problem, sol.damping)) < 1e-8
