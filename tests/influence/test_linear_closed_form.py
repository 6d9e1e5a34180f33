"""Exact influence rows: on a linear periodic convolution (the conservation study's ``linear``)
Π has a closed form per wave-vector (:mod:`symaudit.conservation._influence`,
docs/algorithms.md §6.7).  The workflow's matrix-free path (the settings, :func:`solve_kets` and
:func:`bra_influence` of ``influence-solve`` / ``influence-bras``) run to rtol 1e-12 in float64,
the closed form and a dense oracle (explicit Jacobian, dense solve) must agree on a 2-channel
8 x 8 model with channel mixing, bras the rotated examples as in the workflow."""

from __future__ import annotations

import pytest
import torch

from symaudit import groups
from symaudit.conservation import (
    linear_influence,
    linear_lambda_max,
    linear_smse_gradients,
)
from symaudit.influence import SolveOptions, bra_influence, per_example_gradients, solve_kets
from symaudit.influence._stage import resolve_settings
from symaudit.models import LinearConv

from ._oracles import NS_CHANNELS, REL, dense_influence, dense_metric, loop_gradients

pytestmark = pytest.mark.usefixtures("one_thread")

N, C, B = 8, 2, 6
ELEMENT = "r"  # bras: the examples rotated by 90 degrees, as the workflow's D4 bras
EXACT = 1e-8  # workflow (rtol 1e-12) vs closed form, max |ΔΠ| / max |Π|
ROUND_OFF = 1e-12  # dense oracle vs closed form


@pytest.fixture(scope="module")
def linear():
    gen = torch.Generator().manual_seed(3)
    model = LinearConv(C, N).to(torch.float64)
    model.reset_parameters(gen)
    x, noise = torch.randn(2, B, C, N, N, generator=gen, dtype=torch.float64)
    y = torch.roll(x, 1, dims=-1) + 0.3 * noise
    bx, by = groups.act(ELEMENT, x, NS_CHANNELS), groups.act(ELEMENT, y, NS_CHANNELS)
    M, _ = dense_metric(model, x)
    return {"model": model, "x": x, "y": y, "bx": bx, "by": by, "M": M}


def test_closed_form_gradients_and_lambda_max_are_exact(linear):
    model, x, y, M = linear["model"], linear["x"], linear["y"], linear["M"]
    closed = linear_smse_gradients(model.kernel.detach(), x, y).reshape(B, -1)
    for ref in (loop_gradients(model, x, y), per_example_gradients(model, x, y)):
        assert float((closed - ref).abs().max() / ref.abs().max()) < ROUND_OFF
    exact = float(torch.linalg.eigvalsh(M)[-1])
    assert abs(linear_lambda_max(x) - exact) / exact < ROUND_OFF


@pytest.mark.parametrize("normalization", ["per_output", "per_example", "none"])
def test_closed_form_matches_dense_oracle(linear, normalization):
    model, x, bx, by = linear["model"], linear["x"], linear["bx"], linear["by"]
    M, _ = dense_metric(model, x, normalization)
    lam = 1e-3 * float(torch.linalg.eigvalsh(M)[-1])
    G, Gb = loop_gradients(model, x, linear["y"]), loop_gradients(model, bx, by)
    dense = dense_influence(M, Gb, G, lam)
    closed = linear_influence(x, Gb, G, lam, normalization=normalization)
    assert float((closed - dense).abs().max() / dense.abs().max()) < ROUND_OFF
    # the kernel-shaped layout gives the same numbers as flat rows
    shaped = linear_influence(
        x, Gb.reshape(B, C, C, N, N), G.reshape(B, C, C, N, N), lam, normalization=normalization
    )
    assert torch.equal(shaped, closed)


def test_workflow_influence_matches_closed_form_and_dense_oracle(linear):
    model, x, y, bx, by = (linear[k] for k in ("model", "x", "y", "bx", "by"))
    settings = resolve_settings({"damping": REL, "rtol": 1e-12, "max_iterations": 2000})
    options = SolveOptions.from_settings(settings, galerkin_defer=True)  # as influence-solve
    solution = solve_kets(model, x, x, y, options)
    assert solution.converged
    workflow = bra_influence(model, solution, bx, by, channels=NS_CHANNELS)  # as influence-bras

    lam = solution.damping  # the λ the solve used (relative: v · a Lanczos λ_max estimate)
    assert abs(solution.lambda_max / linear_lambda_max(x) - 1) < 1e-6
    kernel = model.kernel.detach()
    closed = linear_influence(
        x, linear_smse_gradients(kernel, bx, by), linear_smse_gradients(kernel, x, y), lam
    )
    dense = dense_influence(
        linear["M"], loop_gradients(model, bx, by), loop_gradients(model, x, y), lam
    )
    scale = float(closed.abs().max())
    assert float((workflow - closed).abs().max()) / scale < EXACT
    assert float((dense - closed).abs().max()) / scale < ROUND_OFF
    assert float((workflow - dense).abs().max()) / scale < EXACT

    # non-trivial values: Π between DIFFERENT examples is of the order of the largest entry,
    # and Π is neither ~0, nor ~the identity, nor constant
    off = closed[~torch.eye(B, dtype=torch.bool)]
    assert float(off.abs().max()) > 0.1 * scale
    assert float((closed - torch.eye(B)).norm()) > 0.5 * float(closed.norm())
    assert float(off.std()) > 0.1 * float(off.abs().mean())
