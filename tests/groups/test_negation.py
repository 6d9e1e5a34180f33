"""The velocity negation ``neg``: its action by role, its algebra (an involution commuting with
D4 x translations) and the identity p*g*p = g o neg on velocity data at r, r3, s, sr2."""

import numpy as np
import pytest
import torch

from symaudit import groups
from symaudit.datasets import channels_for

NS = channels_for("NS-Gauss")
CE = channels_for("CE-RP")


def _fields(channels, n=8, seed=0):
    return np.random.default_rng(seed).standard_normal((3, len(channels), n, n))


def _neg(x, channels):
    return groups.act_transition("neg", x, None, channels)[0]


def test_neg_parses_names_and_inverts():
    g = groups.parse_transition("neg")
    assert isinstance(g, groups.Negate) and g.name == "neg" == groups.NEGATE
    assert groups.inverse("neg") == "neg"
    assert groups.compose("neg", "neg") == "e"
    assert groups.elements("negation", 16) == ["e", "neg"]
    with pytest.raises(ValueError, match="act_transition"):
        groups.act("neg", _fields(NS), NS)


def test_neg_negates_velocity_and_momentum_only():
    x = _fields(NS)
    np.testing.assert_array_equal(_neg(x, NS), -x)
    y = _fields(CE)
    out = _neg(y, CE)
    np.testing.assert_array_equal(out[:, [0, 3]], y[:, [0, 3]])  # density, energy kept
    np.testing.assert_array_equal(out[:, [1, 2]], -y[:, [1, 2]])  # momentum negated
    moved_in, moved_out = groups.act_transition("neg", y, 2 * y, CE)
    np.testing.assert_array_equal(moved_out, 2 * moved_in)  # input and target alike


@pytest.mark.parametrize("channels", [NS, CE], ids=["NS", "CE"])
def test_neg_is_an_involution_commuting_with_d4_and_shifts(channels):
    x = _fields(channels, seed=1)
    np.testing.assert_array_equal(_neg(_neg(x, channels), channels), x)
    for g in [*groups.D4, "t(3,0)", "t(0,5)", "s*t(0,2)"]:
        a = groups.act(g, _neg(x, channels), channels)
        b = _neg(groups.act(g, x, channels), channels)
        np.testing.assert_array_equal(a, b, err_msg=g)
    t = torch.from_numpy(x)  # the torch path: the same values
    np.testing.assert_array_equal(_neg(t, channels).numpy(), _neg(x, channels))


def test_wrong_pairing_is_g_after_neg_exactly_where_m_anticommutes_with_p():
    x = _fields(NS, seed=2)
    for g in groups.D4:
        swapped = groups.act(f"p*{g}*p", x, NS)
        if groups.commutes_with_exchange(g):
            np.testing.assert_array_equal(swapped, groups.act(g, x, NS), err_msg=g)
        else:
            np.testing.assert_array_equal(swapped, groups.act(g, _neg(x, NS), NS), err_msg=g)
