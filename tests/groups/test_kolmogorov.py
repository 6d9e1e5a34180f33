"""The symmetry subgroup G(N, k) of Kolmogorov-forced flow (validation case 3).

Oracles: the subgroup's order 4 N k (2 N k when 2k does not divide N, 2 N gcd(N, k) when k does
not divide N either); its members are EXACTLY the elements of D4 x translations that fix the
grid forcing field (exhaustive over all 8 N^2 elements); the derivation's headline members.
"""

from __future__ import annotations

import math

import pytest

from symaudit import groups
from symaudit.groups import kolmogorov as kol

K = kol.KOLMOGOROV_K


@pytest.mark.parametrize(
    ("n", "order"),
    [(16, 4 * 16 * K), (32, 4 * 32 * K), (20, 2 * 20 * K), (14, 2 * 14 * math.gcd(14, K))],
)
def test_subgroup_order(n, order):
    members = kol.subgroup(n)
    assert len(members) == len(set(members)) == order
    assert members[0] == "e"


def test_subgroup_is_exactly_the_stabiliser_of_the_forcing():
    """Exhaustive over D4 x translations on 16^2: member <=> maps the force to itself."""
    n = 16
    members = set(kol.subgroup(n))
    stabiliser = {
        kol.word(h, dx, dy)
        for h in groups.D4
        for dy in range(n)
        for dx in range(n)
        if kol.fixes_forcing(kol.word(h, dx, dy), n)
    }
    assert stabiliser == members
    # the derivation's headline facts: pure D4 members are e and r2 only; s and sr2 need the
    # half-period y-shift N/(2k) = 2; no axis-exchanging element is ever a member
    assert {g for g in groups.D4 if g in members} == {"e", "r2"}
    assert {"s*t(0,2)", "sr2*t(0,2)", "t(0,4)", "t(5,0)"} <= members
    assert not {"t(0,2)", "r2*t(0,2)", "s*t(0,4)"} & members
    assert not any(w.split("*")[0] in ("r", "r3", "sr", "sr3") for w in members)


def test_forcing_survives_dealiasing():
    with pytest.raises(ValueError, match=r"k=4 .*N=8"):
        kol.subgroup(8)


def test_membership_by_the_forcing_on_a_32_grid():
    # G(32, 4): e, r2, x-shifts, y-shifts by multiples of 8; s, sr2 only with dy = 4 + 8m
    inside = ["e", "r2", "t(5,0)", "t(0,8)", "s*t(0,4)", "sr2*t(3,12)"]
    outside = ["r", "r3", "s", "sr", "sr2", "sr3", "t(0,1)", "t(0,4)", "s*t(0,8)"]
    assert all(kol.fixes_forcing(g, 32) for g in inside)
    assert not any(kol.fixes_forcing(g, 32) for g in outside)
