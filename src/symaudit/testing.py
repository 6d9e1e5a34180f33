"""Test helpers shipped with the package (used by the test suite and by the workflow's sanity
check of the ``twirled`` control model)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch

from symaudit import groups

__all__ = ["assert_equivariant", "equivariance_deviation", "exchange_vector_components"]


def equivariance_deviation(model, element: str, inputs: torch.Tensor, channels) -> float:
    """max |f(g x) - g f(x)| over ``inputs`` of layout ``(batch, channel, y, x)``.

    The model runs in eval mode (restored after) and without gradients, in its own dtype and on
    its own device (``inputs`` are cast): dropout or a float32/float64 mismatch would otherwise
    show up as a spurious deviation.
    """
    from symaudit.equivariance import evaluating, placement

    device, dtype = placement(model, inputs)
    x = inputs.to(device=device, dtype=dtype)
    with evaluating(model):
        lhs = model(groups.act(element, x, channels))
        rhs = groups.act(element, model(x), channels)
    return float((lhs - rhs).abs().max())


def assert_equivariant(
    model,
    elements: Sequence[str],
    inputs: torch.Tensor,
    channels: Sequence[Mapping],
    atol: float = 1e-5,
) -> dict[str, float]:
    """Assert f(g x) = g f(x) to ``atol`` (max abs) for every element; return the deviations.

    Raises ``AssertionError`` naming every element that fails and its deviation.
    """
    deviations = {g: equivariance_deviation(model, g, inputs, channels) for g in elements}
    failed = {g: d for g, d in deviations.items() if not d <= atol}
    if failed:
        detail = ", ".join(f"{g}: {d:.3g}" for g, d in failed.items())
        raise AssertionError(f"not equivariant to atol={atol:g}: {detail}")
    return deviations


def exchange_vector_components(fields, channels):
    """The exchange P by hand, an oracle independent of the ``p*g*p`` code path: every vector
    channel's value read from its partner along the other axis (the x and y components of each
    vector swapped); layout ``(..., channel, y, x)``, numpy or torch."""
    index = list(range(len(channels)))
    for c, ch in enumerate(channels):
        if ch["kind"] == "vector":
            other = "y" if ch["axis"] == "x" else "x"
            index[c] = next(
                j
                for j, d in enumerate(channels)
                if d.get("vector") == ch["vector"] and d["axis"] == other
            )
    return fields[..., index, :, :]
