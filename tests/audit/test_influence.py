"""Influence for foreign models (``--influence``): complex parameters as real pairs in the
Gauss-Newton metric (against a dense solve), a model equivariant for every θ has Π^g = Π^e for
all of D4 (its loss gradients at g.x and x coincide), TorchScript refused in one line."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from torch.func import jacrev

from symaudit.audit import audit
from symaudit.errors import UserError
from symaudit.influence import influence_matrix
from symaudit.influence._operator import ParameterSpace
from symaudit.losses import smse

from ._models import Diffusion
from .test_formats import _netcdf


def test_complex_parameters_as_real_pairs_match_a_dense_solve():
    pytest.importorskip("neuralop")
    from neuralop.models import FNO

    torch.manual_seed(0)
    model = FNO(n_modes=(4, 4), hidden_channels=4, in_channels=2, out_channels=2,
                positional_embedding=None, n_layers=1)  # fmt: skip
    space = ParameterSpace(model)
    n_complex = sum(p.numel() for p in model.parameters() if p.is_complex())
    assert n_complex > 0
    assert space.size == sum(p.numel() for p in model.parameters()) + n_complex
    assert space.theta.dtype == torch.float32
    x, y = torch.randn(4, 2, 8, 8), torch.randn(4, 2, 8, 8)
    assert torch.equal(space.call(space.theta, x), model(x))
    result = influence_matrix(
        model, x, x, y, x, y, damping={"mode": "relative", "value": 1e-3}, rtol=1e-6,
        chunk_size=1,
    )  # fmt: skip
    # dense: M = J^T J / D over the real coordinates (Re w, Im w), one linear solve
    jac = jacrev(lambda th: space.call(th, x).reshape(-1))(space.theta).double()
    grads = jacrev(lambda th: smse(space.call(th, x), y, reduction="per_example"))(space.theta)
    grads = grads.double()
    lam = result.records[0].damping
    metric = jac.T @ jac / jac.shape[0] + lam * torch.eye(space.size, dtype=torch.float64)
    dense = grads @ torch.linalg.solve(metric, grads.T)
    assert ((dense - result.values).norm() / dense.norm()).item() < 1e-4


def test_equivariant_for_every_theta_gives_equal_influence(tmp_path):
    path, _ = _netcdf(tmp_path / "a.nc")
    out = tmp_path / "out"
    spec = "python:tests.audit._models:diffusion64"
    audit(spec, path, out, sets=["d4"], influence=True, trajectories=[0])
    table = pd.read_csv(out / "tables" / "influence_d4.csv").set_index("element")
    assert list(table.index) == ["e", "r", "r2", "r3", "s", "sr", "sr2", "sr3"]
    assert table["converged"].all() and (table["n"] == 2).all()
    for col in ("min", "median", "max"):
        assert np.allclose(table[col], table.loc["e", col], rtol=1e-8, atol=0), table[col]
    assert "Influence" in (out / "report.html").read_text()


def test_torchscript_refused_for_influence(tmp_path):
    path, _ = _netcdf(tmp_path / "a.nc")
    torch.jit.script(Diffusion()).save(str(tmp_path / "d.pt"))
    with pytest.raises(UserError, match="TorchScript"):
        audit(f"torchscript:{tmp_path / 'd.pt'}", path, tmp_path / "o", influence=True)
