"""The wrong vector pairing ``p*g*p`` on compressible Euler (validation case 6 on CE): the one
action (by channel kind and role from the store's metadata) pairs the MOMENTUM components with
the wrong axes exactly as it does NS's velocity, and leaves density and energy (scalars) as g
moves them.  Exact group algebra on CE transitions, bit for bit: p*g*p = g at e, r2, sr, sr3,
p*g*p = g o neg at r, r3, s, sr2 (neg negates the momentum only), for every CE family's
channels, numpy and torch alike.

Oracles: the hand-written component exchange below and the correct action g (independent of the
``swap`` code path); equalities are exact (the action only permutes, flips and negates)."""

import numpy as np
import pytest
import torch

from symaudit import groups
from symaudit.datasets import DATASETS, channels_for
from symaudit.testing import exchange_vector_components

CE_FAMILIES = DATASETS["CE"]
COMMUTING = ("e", "r2", "sr", "sr3")
NON_COMMUTING = ("r", "r3", "s", "sr2")


def _transition(channels, n=8, seed=0):
    rng = np.random.default_rng(seed)
    shape = (3, len(channels), n, n)
    return rng.standard_normal(shape), rng.standard_normal(shape)


_exchange = exchange_vector_components  # the oracle P (symaudit.testing)


def test_ce_channels_carry_one_momentum_vector_and_two_scalars():
    for family in CE_FAMILIES:
        channels = channels_for(family)
        roles = [ch["role"] for ch in channels]
        assert roles == ["density", "momentum", "momentum", "energy"], family
        vectors = [(ch["vector"], ch["axis"]) for ch in channels if ch["kind"] == "vector"]
        assert vectors == [("momentum", "x"), ("momentum", "y")], family


@pytest.mark.parametrize("family", CE_FAMILIES)
def test_swapped_pairing_on_ce_transitions_is_g_or_g_after_neg(family):
    channels = channels_for(family)
    x, y = _transition(channels, seed=len(family))
    for g in groups.D4:
        swapped = groups.act_transition(f"p*{g}*p", x, y, channels)
        if g in COMMUTING:
            want = groups.act_transition(g, x, y, channels)
        else:
            negated = groups.act_transition("neg", x, y, channels)
            want = groups.act_transition(g, *negated, channels)
        for got, expected in zip(swapped, want, strict=True):
            np.testing.assert_array_equal(got, expected, err_msg=f"{family} {g}")
        # P o g o P with P written by hand: the same fields
        hand = [
            _exchange(groups.act(g, _exchange(f, channels), channels), channels) for f in (x, y)
        ]
        for got, expected in zip(swapped, hand, strict=True):
            np.testing.assert_array_equal(got, expected, err_msg=f"{family} {g} (hand P)")


@pytest.mark.parametrize("g", groups.D4)
def test_swapped_pairing_moves_the_scalars_as_g_and_the_momentum_wrongly(g):
    channels = channels_for("CE-RP")
    x, _ = _transition(channels, seed=3)
    right = groups.act(g, x, channels)
    wrong = groups.act(f"p*{g}*p", x, channels)
    np.testing.assert_array_equal(wrong[:, [0, 3]], right[:, [0, 3]])  # density, energy
    sign = 1 if g in COMMUTING else -1
    np.testing.assert_array_equal(wrong[:, [1, 2]], sign * right[:, [1, 2]])  # momentum
    assert groups.commutes_with_exchange(g) == (g in COMMUTING)


def test_torch_path_agrees_bit_for_bit():
    channels = channels_for("CE-CRP")
    x, y = _transition(channels, seed=5)
    tx, ty = torch.from_numpy(x), torch.from_numpy(y)
    for g in groups.elements("d4_swapped", 8):
        a = groups.act_transition(g, x, y, channels)
        b = groups.act_transition(g, tx, ty, channels)
        for u, v in zip(a, b, strict=True):
            np.testing.assert_array_equal(v.numpy(), u, err_msg=g)
