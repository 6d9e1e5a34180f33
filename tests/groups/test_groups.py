"""Exact group algebra: D4 Cayley table, inverses, translations, and the action on fields of
every channel kind (numpy and torch through the one implementation)."""

import itertools

import numpy as np
import pytest
import torch

from symaudit import groups
from symaudit.datasets import CHANNELS, channels_for

MIXED = [  # every kind: scalar, a vector (x, y), a pseudoscalar, a second vector stored y-first
    {"name": "rho", "kind": "scalar"},
    {"name": "u_x", "kind": "vector", "vector": "u", "axis": "x"},
    {"name": "u_y", "kind": "vector", "vector": "u", "axis": "y"},
    {"name": "omega", "kind": "pseudoscalar"},
    {"name": "b_y", "kind": "vector", "vector": "b", "axis": "y"},
    {"name": "b_x", "kind": "vector", "vector": "b", "axis": "x"},
]


@pytest.fixture(scope="module")
def field():
    return np.random.default_rng(0).standard_normal((3, len(MIXED), 8, 8))


def test_cayley_table_closed_and_matches_actions(field):
    table = {(a, b): groups.compose(a, b) for a in groups.D4 for b in groups.D4}
    assert set(table.values()) == set(groups.D4)
    for a in groups.D4:  # a Latin square: each row and column is a permutation
        assert sorted(table[a, b] for b in groups.D4) == sorted(groups.D4)
        assert sorted(table[b, a] for b in groups.D4) == sorted(groups.D4)
    for (a, b), ab in table.items():
        lhs = groups.act(a, groups.act(b, field, MIXED), MIXED)
        assert np.array_equal(lhs, groups.act(ab, field, MIXED)), (a, b)
        assert np.array_equal(groups.matrix(a) @ groups.matrix(b), groups.matrix(ab))


def test_known_products():
    assert groups.compose("r", "r") == "r2"
    assert groups.compose("r3", "r") == "e"
    assert groups.compose("s", "r") == "sr"  # s o r: r first, then s
    assert groups.compose("r", "s") == "sr3"  # r s = s r^-1
    assert groups.compose("s", "s") == "e"
    assert all(groups.compose(g, g) == "e" for g in ("s", "sr", "sr2", "sr3", "r2"))


def test_inverse_undoes(field):
    for g in groups.D4 + ("t(3,-2)", "t(0,5)"):
        back = groups.act(groups.inverse(g), groups.act(g, field, MIXED), MIXED)
        assert np.array_equal(back, field), g
        assert groups.parse(groups.compose(groups.inverse(g), g)).name in ("e", "t(0,0)")


def test_shifts_compose_additively(field):
    for a, b in itertools.product([(1, 0), (0, 3), (-2, 5)], repeat=2):
        ta, tb = f"t({a[0]},{a[1]})", f"t({b[0]},{b[1]})"
        assert groups.compose(ta, tb) == f"t({a[0] + b[0]},{a[1] + b[1]})"
        two = groups.act(ta, groups.act(tb, field, MIXED), MIXED)
        assert np.array_equal(two, groups.act(groups.compose(ta, tb), field, MIXED))
    # periodic: a full turn is the identity; vectors do not change under shifts
    assert np.array_equal(groups.act("t(8,8)", field, MIXED), field)
    assert np.array_equal(groups.act("t(1,2)", field, MIXED), np.roll(field, (2, 1), (-2, -1)))


def test_contract_conventions(field):
    rot = lambda a, k=-1: np.rot90(a, k, axes=(-2, -1))  # noqa: E731
    y = groups.act("r", field, MIXED)
    assert np.array_equal(y[:, 0], rot(field[:, 0]))  # scalar under r = rot90(., k=-1)
    assert np.array_equal(y[:, 1], -rot(field[:, 2]))  # (w_x, w_y) -> (-rot w_y, rot w_x)
    assert np.array_equal(y[:, 2], rot(field[:, 1]))
    assert np.array_equal(y[:, 3], rot(field[:, 3]))  # rotation: det +1
    s = groups.act("s", field, MIXED)
    flip = lambda a: np.flip(a, -1)  # noqa: E731
    assert np.array_equal(s[:, 0], flip(field[:, 0]))
    assert np.array_equal(s[:, 1], -flip(field[:, 1]))  # x component negated
    assert np.array_equal(s[:, 2], flip(field[:, 2]))
    assert np.array_equal(s[:, 3], -flip(field[:, 3]))  # pseudoscalar: det -1
    assert np.array_equal(s[:, 4], flip(field[:, 4])) and np.array_equal(
        s[:, 5], -flip(field[:, 5])
    )


def test_rotation_of_a_physical_vector_field():
    """r maps the uniform field pointing +x at every point to one pointing +y."""
    n = 6
    w = np.zeros((2, n, n))
    w[0] = 1.0
    out = groups.act("r", w, CHANNELS["incompressible_ns"])
    assert np.array_equal(out[0], np.zeros((n, n))) and np.array_equal(out[1], np.ones((n, n)))


def test_vorticity_is_a_pseudoscalar():
    """curl of the transformed velocity = the transformed curl, for every D4 element."""
    n = 16
    rng = np.random.default_rng(1)
    uv = rng.standard_normal((2, n, n))
    ch = CHANNELS["incompressible_ns"]

    def curl(w):  # central differences, periodic, x = last axis
        dvdx = (np.roll(w[1], -1, -1) - np.roll(w[1], 1, -1)) / 2
        dudy = (np.roll(w[0], -1, -2) - np.roll(w[0], 1, -2)) / 2
        return (dvdx - dudy)[None]

    for g in groups.D4:
        lhs = curl(groups.act(g, uv, ch))
        rhs = groups.act(g, curl(uv), [{"kind": "pseudoscalar"}])
        np.testing.assert_allclose(lhs, rhs, atol=1e-12, err_msg=g)


def test_torch_and_numpy_agree_and_autograd_flows(field):
    t = torch.tensor(field, requires_grad=True)
    for g in groups.D4 + ("t(2,3)",):
        out = groups.act(g, t, MIXED)
        assert np.array_equal(out.detach().numpy(), groups.act(g, field, MIXED)), g
    out.sum().backward()
    assert t.grad is not None


def test_element_sets():
    assert groups.elements("d4", 8) == list(groups.D4)
    assert groups.elements("shift_x", 4) == ["t(0,0)", "t(1,0)", "t(2,0)", "t(3,0)"]
    assert groups.elements("shift_y", 2) == ["t(0,0)", "t(0,1)"]
    box = groups.elements("shift_box", 32, K=3)
    assert len(box) == 9 and box[0] == "t(0,0)" and "t(2,1)" in box
    with pytest.raises(ValueError, match="unknown element set"):
        groups.elements("shift_z", 8)
    with pytest.raises(ValueError, match="needs K"):
        groups.elements("shift_box", 8)


def test_bad_input_names_the_culprit():
    with pytest.raises(ValueError, match="unknown group element 'q'"):
        groups.parse("q")
    with pytest.raises(ValueError, match="5 channels"):
        groups.act("r", np.zeros((5, 4, 4)), channels_for("CE"))
    with pytest.raises(ValueError, match="square"):
        groups.act("r", np.zeros((4, 4, 6)), channels_for("CE"))
    with pytest.raises(ValueError, match="unknown kind"):
        groups.act("r", np.zeros((1, 4, 4)), [{"kind": "spinor"}])
    with pytest.raises(ValueError, match="a tensor component needs 'tensor'"):
        groups.act("r", np.zeros((1, 4, 4)), [{"kind": "tensor"}])
