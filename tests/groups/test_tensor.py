"""The rank-2 channel kind ``tensor``: T'(X) = M T(M^-1 X) M^T, for every D4 element.

Oracles, independent of the code under test: a hand-computed table of M T M^T on the four
components (xx, xy, yx, yy) per element, and the spatial part as a point map of cell centres
X -> M X; then two physical facts that tie the tensor action to the vector action (the outer
product u u^T and the velocity gradient of a transformed vector field).  Equalities are exact.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from symaudit import groups

TENSOR = [  # a scalar, a vector and one tensor, its components in row-major order
    {"name": "p", "kind": "scalar"},
    {"name": "u_x", "kind": "vector", "vector": "u", "axis": "x"},
    {"name": "u_y", "kind": "vector", "vector": "u", "axis": "y"},
    {"name": "sigma_xx", "kind": "tensor", "tensor": "sigma", "axis": "xx"},
    {"name": "sigma_xy", "kind": "tensor", "tensor": "sigma", "axis": "xy"},
    {"name": "sigma_yx", "kind": "tensor", "tensor": "sigma", "axis": "yx"},
    {"name": "sigma_yy", "kind": "tensor", "tensor": "sigma", "axis": "yy"},
]
ROW_MAJOR = ("xx", "xy", "yx", "yy")

#: M T M^T by hand: element -> (the component each of xx, xy, yx, yy is read from, its sign).
#: r: M = [[0,-1],[1,0]] gives T'_xx = T_yy, T'_xy = -T_yx, T'_yx = -T_xy, T'_yy = T_xx; r3 = -r
#: and r2 = -I act alike on a rank-2 tensor (two factors of M); s = diag(-1, 1) and sr2 =
#: diag(1, -1) negate the off-diagonal; sr = [[0,1],[1,0]] and sr3 = -sr exchange xx <-> yy and
#: xy <-> yx without a sign.
HAND = {
    "e": (("xx", "xy", "yx", "yy"), (1, 1, 1, 1)),
    "r": (("yy", "yx", "xy", "xx"), (1, -1, -1, 1)),
    "r2": (("xx", "xy", "yx", "yy"), (1, 1, 1, 1)),
    "r3": (("yy", "yx", "xy", "xx"), (1, -1, -1, 1)),
    "s": (("xx", "xy", "yx", "yy"), (1, -1, -1, 1)),
    "sr": (("yy", "yx", "xy", "xx"), (1, 1, 1, 1)),
    "sr2": (("xx", "xy", "yx", "yy"), (1, -1, -1, 1)),
    "sr3": (("yy", "yx", "xy", "xx"), (1, 1, 1, 1)),
}
#: the matrices by hand (x, y) -> M (x, y)
MATRIX = {
    "e": [[1, 0], [0, 1]],
    "r": [[0, -1], [1, 0]],
    "r2": [[-1, 0], [0, -1]],
    "r3": [[0, 1], [-1, 0]],
    "s": [[-1, 0], [0, 1]],
    "sr": [[0, 1], [1, 0]],
    "sr2": [[1, 0], [0, -1]],
    "sr3": [[0, -1], [-1, 0]],
}


def _moved(a: np.ndarray, g: str) -> np.ndarray:
    """f'(X) = f(M^-1 X) as a point map: the value at cell centre X lands at M X (the centres
    c_j = j - (n - 1)/2 are symmetric about the grid's centre, x the last axis)."""
    n = a.shape[-1]
    c = np.arange(n) - (n - 1) / 2
    index = {float(v): i for i, v in enumerate(c)}
    m = np.array(MATRIX[g])
    out = np.empty_like(a)
    for i in range(n):
        for j in range(n):
            x, y = m @ np.array([c[j], c[i]])
            out[..., index[float(y)], index[float(x)]] = a[..., i, j]
    return out


@pytest.fixture(scope="module")
def field():
    return np.random.default_rng(3).standard_normal((2, len(TENSOR), 6, 6))


@pytest.mark.parametrize("g", groups.D4)
def test_every_d4_element_against_the_hand_table(field, g):
    out = groups.act(g, field, TENSOR)
    sources, signs = HAND[g]
    for label, source, sign in zip(ROW_MAJOR, sources, signs, strict=True):
        c_out, c_in = 3 + ROW_MAJOR.index(label), 3 + ROW_MAJOR.index(source)
        assert np.array_equal(out[:, c_out], sign * _moved(field[:, c_in], g)), (g, label)
    assert np.array_equal(out[:, 0], _moved(field[:, 0], g))  # the scalar beside it
    assert np.array_equal(np.array(MATRIX[g]), groups.matrix(g))


def test_outer_product_of_a_vector_is_a_tensor(field):
    """(M u)(M u)^T = M (u u^T) M^T: the tensor action agrees with the vector action."""
    u = field[:, 1:3]
    outer = np.stack([u[:, a] * u[:, b] for a in (0, 1) for b in (0, 1)], axis=1)
    x = np.concatenate([field[:, :3], outer], axis=1)
    for g in [*groups.D4, "t(2,1)", "sr*t(1,3)"]:
        y = groups.act(g, x, TENSOR)
        v = y[:, 1:3]
        expected = np.stack([v[:, a] * v[:, b] for a in (0, 1) for b in (0, 1)], axis=1)
        assert np.array_equal(y[:, 3:], expected), g


def test_velocity_gradient_is_a_tensor():
    """grad(g . u) = g . grad(u) with (grad u)_ab = d_b u_a (central differences)."""
    n = 8
    u = np.random.default_rng(4).standard_normal((2, n, n))

    def grad(w):  # (xx, xy, yx, yy) = (d_x u_x, d_y u_x, d_x u_y, d_y u_y), x the last axis
        d = [lambda f: (np.roll(f, -1, -1) - np.roll(f, 1, -1)) / 2]
        d.append(lambda f: (np.roll(f, -1, -2) - np.roll(f, 1, -2)) / 2)
        return np.stack([d[b](w[a]) for a in (0, 1) for b in (0, 1)])

    for g in groups.D4:
        lhs = grad(groups.act(g, u, TENSOR[1:3]))
        rhs = groups.act(g, grad(u), TENSOR[3:])
        np.testing.assert_allclose(lhs, rhs, atol=1e-12, err_msg=g)


def test_components_found_by_label_swapped_pairing_and_torch(field):
    order = [0, 1, 2, 6, 4, 3, 5]  # the tensor's channels stored out of row-major order
    shuffled = [TENSOR[i] for i in order]
    for g in groups.D4:
        out = groups.act(g, field[:, order], shuffled)
        assert np.array_equal(out, groups.act(g, field, TENSOR)[:, order]), g
        # p*g*p: P on both indices (xx <-> yy, xy <-> yx) and on the vector, by hand
        exchange = [0, 2, 1, 6, 5, 4, 3]
        oracle = groups.act(g, field[:, exchange], TENSOR)[:, exchange]
        assert np.array_equal(groups.act(f"p*{g}*p", field, TENSOR), oracle), g
        t = torch.from_numpy(field)
        assert np.array_equal(groups.act(g, t, TENSOR).numpy(), groups.act(g, field, TENSOR))


def test_a_tensor_needs_all_four_components(field):
    with pytest.raises(ValueError, match=r"tensor 'sigma' needs all of xx, xy, yx, yy"):
        groups.act("r", field[:, :6], TENSOR[:6])
    bad = [*TENSOR[:3], {"kind": "tensor", "tensor": "sigma", "axis": "xz"}, *TENSOR[4:]]
    with pytest.raises(ValueError, match="channel 3: a tensor component needs 'tensor'"):
        groups.act("r", field, bad)


def test_act_transition_is_act_on_both_frames(field):
    x, y = field[:1], field[1:]
    for g in [*groups.D4, "t(1,2)", "s*t(0,3)", "p*r*p"]:
        gx, gy = groups.act_transition(g, x, y, TENSOR)
        assert np.array_equal(gx, groups.act(g, x, TENSOR)), g
        assert np.array_equal(gy, groups.act(g, y, TENSOR)), g
