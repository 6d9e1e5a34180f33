"""The actions of validation cases 3 and 6 (symaudit.groups): products h*t(dx,dy), the
``kolmogorov`` element set against the derived subgroup, and the wrong velocity pairing p*g*p.

Oracles: the Kolmogorov subgroup enumeration and the forcing test of symaudit.groups.kolmogorov,
and hand-written exchanges of the vector channels (index swaps), independent of the code under
test; equalities are exact (the action only permutes, flips, rolls and negates).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from symaudit import groups
from symaudit.aggregate import element_order
from symaudit.datasets import CHANNELS
from symaudit.equivariance import is_identity
from symaudit.groups import kolmogorov as kol
from symaudit.testing import exchange_vector_components

NS = CHANNELS["incompressible_ns"]  # (velocity_x, velocity_y)
CE = CHANNELS["compressible_euler"]  # (density, momentum_x, momentum_y, energy)
COMMUTING = ("e", "r2", "sr", "sr3")


def _field(channels, n=8, seed=0):
    return np.random.default_rng(seed).standard_normal((3, len(channels), n, n))


_exchange = exchange_vector_components  # the oracle P (symaudit.testing)


@pytest.mark.parametrize("n", [16, 32])
def test_kolmogorov_set_membership_is_the_derived_subgroup(n):
    names = groups.elements("kolmogorov", n)
    members = set(kol.subgroup(n))
    inside = [g for g in names if g in members]
    outside = [g for g in names if g not in members]
    # the defining property agrees with the enumeration, element by element
    assert [kol.fixes_forcing(g, n) for g in names] == [g in members for g in names]
    # inside first (the documented sample), then outside; both non-trivial
    assert names[: len(inside)] == inside and names[0] == "e"
    assert inside == kol.subgroup_sample(n) and outside == kol.outside_sample(n)
    half, period = n // 8, n // 4
    assert {"r2", f"t(0,{period})", f"s*t(0,{half})", f"sr2*t(0,{half})"} <= set(inside)
    assert {"r", "r3", "s", "sr", "sr2", "sr3", "t(0,1)", f"r2*t(0,{half})"} <= set(outside)
    assert len(names) == len(set(names)) == 20


def test_products_shift_first_then_d4():
    x = _field(NS, n=16)
    for h in groups.D4:
        for dx, dy in [(3, 0), (0, 2), (5, 7)]:
            word = f"{h}*t({dx},{dy})" if h != "e" else f"t({dx},{dy})"
            expected = groups.act(h, np.roll(x, (dy, dx), axis=(-2, -1)), NS)
            assert np.array_equal(groups.act(word, x, NS), expected)
            assert groups.parse(word).name == word
    # numpy and torch alike
    xt = torch.from_numpy(x)
    assert np.array_equal(groups.act("sr2*t(1,4)", xt, NS).numpy(), groups.act("sr2*t(1,4)", x, NS))


@pytest.mark.parametrize("channels", [NS, CE], ids=["NS", "CE"])
def test_swapped_pairing_is_the_action_conjugated_by_the_exchange(channels):
    x = _field(channels)
    for g in groups.D4:
        swapped = groups.act(f"p*{g}*p", x, channels)
        oracle = _exchange(groups.act(g, _exchange(x, channels), channels), channels)
        assert np.array_equal(swapped, oracle), g
        # exactly the correct action where M commutes with P, visibly not elsewhere
        same = np.array_equal(swapped, groups.act(g, x, channels))
        assert same is (g in COMMUTING), g
        assert groups.commutes_with_exchange(g) is (g in COMMUTING)
    # where M does not commute with P, P M P = -M: the wrong pairing is the true action
    # composed with negating every vector (v -> -v), scalars untouched
    sign = np.array([-1.0 if ch["kind"] == "vector" else 1.0 for ch in channels])[:, None, None]
    for g in ("r", "r3", "s", "sr2"):
        negated = sign * groups.act(g, x, channels)
        assert np.array_equal(groups.act(f"p*{g}*p", x, channels), negated), g
    # scalars never change under the pairing; translations commute with P
    assert np.array_equal(groups.act("p*t(2,3)*p", x, channels), groups.act("t(2,3)", x, channels))
    assert np.array_equal(
        groups.act("p*s*t(1,2)*p", x, channels),
        _exchange(groups.act("s*t(1,2)", _exchange(x, channels), channels), channels),
    )


def test_swapped_pairing_by_hand_for_s():
    # s: x -> -x.  Correct: u_x' = -u_x(-x, y), u_y' = u_y(-x, y).  Wrong pairing: the sign
    # lands on the y component instead.
    x = _field(NS)
    flipped = x[..., ::-1]
    out = groups.act("p*s*p", x, NS)
    assert np.array_equal(out[:, 0], flipped[:, 0]) and np.array_equal(out[:, 1], -flipped[:, 1])


def test_names_inverses_and_identity():
    assert groups.parse("p*r*p") == groups.Element(rotate=1, swap=True)
    assert groups.inverse("p*r*p") == "p*r3*p"
    x = _field(NS)
    for g in groups.D4:
        back = groups.act(groups.inverse(f"p*{g}*p"), groups.act(f"p*{g}*p", x, NS), NS)
        assert np.array_equal(back, x), g
    assert is_identity("p*e*p", (8, 8)) and not is_identity("p*r2*p", (8, 8))
    assert is_identity("t(8,0)", (8, 8)) and not is_identity("s*t(8,0)", (8, 8))
    for bad in ["t(1,0)*s", "s*r", "p*p*r*p*p", "s*t(0,0)"]:
        with pytest.raises(ValueError, match="group element"):
            groups.parse(bad)
    with pytest.raises(ValueError, match="not supported"):
        groups.compose("s*t(0,4)", "r")
    with pytest.raises(ValueError, match="not supported"):
        groups.inverse("s*t(0,4)")


def test_element_order_keeps_old_order_and_places_new_names():
    names = ["p*r*p", "s*t(0,4)", "t(1,0)", "r2*t(3,8)", "sr3", "t(0,1)", "e", "p*e*p"]
    assert sorted(names, key=element_order) == [
        "e",
        "sr3",
        "t(1,0)",
        "t(0,1)",
        "r2*t(3,8)",
        "s*t(0,4)",
        "p*e*p",
        "p*r*p",
    ]


def test_influence_grid_of_a_one_class_group():
    # NSK has one class store: the (E, C T, C T) bra x ket values regroup with C = 1, and the
    # example order n = t + T * class of the three-class groups is unchanged
    from symaudit.outputs import to_grid

    e, t = 2, 3
    one = to_grid(np.arange(e * t * t).reshape(e, t, t), t, 1)
    assert one.shape == (e, t, 1, t, 1)
    assert one[1, 2, 0, 0, 0] == (1 * t + 2) * t + 0
    three = to_grid(np.arange(e * 9 * t * t).reshape(e, 3 * t, 3 * t), t, 3)
    assert three.shape == (e, t, 3, t, 3)
    # element 1, bra (time 2, class 1), ket (time 0, class 2): row 1*3t + t*1 + 2, column 2t
    assert three[1, 2, 1, 0, 2] == (1 * 3 * t + t + 2) * 3 * t + 2 * t
