"""The influence tests' shared problem: a fp64 tiny net, a 6-example batch and its dense oracle."""

from __future__ import annotations

import pytest
import torch

from ._oracles import _data, _net, dense_metric, loop_gradients


@pytest.fixture(scope="module")
def problem():
    """A fp64 tiny net, a 6-example batch, and its dense oracle (M, λ_max, ket gradients)."""
    net = _net()
    x, y = _data()
    M, J = dense_metric(net, x)
    return {
        "net": net,
        "x": x,
        "y": y,
        "M": M,
        "J": J,
        "lambda_max": float(torch.linalg.eigvalsh(M)[-1]),
        "G": loop_gradients(net, x, y),
    }
