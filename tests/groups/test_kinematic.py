"""Galilean boosts and mass scalings (symaudit.groups, act_transition): the action against hand
computations on each channel role, the exact group law of boosts, names and refusals."""

import itertools

import numpy as np
import pytest
import torch

from symaudit import datasets, groups

CE = datasets.channels_for("CE")  # density, momentum_x, momentum_y, energy
NS = datasets.channels_for("NS")  # velocity_x, velocity_y
N, DT = 8, 1.0 / 16  # U = (m, n) / (N dt) = 2 (m, n): dyadic, so dyadic data stay exact


def fields(channels, seed, size=(N, N), dyadic=False, n=3):
    rng = np.random.default_rng(seed)
    shape = (n, len(channels), *size)
    if dyadic:  # multiples of 1/8 in [-4, 4]: every sum and product below is exact
        return rng.integers(-32, 33, shape).astype(np.float64) / 8
    return rng.standard_normal(shape)


def hand_boost(name, a, channels, dt=DT, extent=(1.0, 1.0), target=False):
    """The contract's boost written out by hand per role (no groups code)."""
    m, n = (int(v) for v in name[len("boost(") : -1].split(","))
    ny, nx = a.shape[-2:]
    ux, uy = m * extent[0] / (nx * dt), n * extent[1] / (ny * dt)
    out = a.copy()
    if channels is NS:
        out[..., 0, :, :] += ux
        out[..., 1, :, :] += uy
    else:
        rho, mx, my, en = (a[..., c, :, :] for c in range(4))
        out[..., 1, :, :] = mx + rho * ux
        out[..., 2, :, :] = my + rho * uy
        out[..., 3, :, :] = en + mx * ux + my * uy + 0.5 * rho * (ux**2 + uy**2)
    return np.roll(out, shift=(n, m), axis=(-2, -1)) if target else out


@pytest.mark.parametrize("channels", [NS, CE], ids=["NS", "CE"])
@pytest.mark.parametrize("name", ["boost(1,0)", "boost(0,-1)", "boost(-2,3)"])
def test_boost_matches_hand_computation(channels, name):
    x, y = fields(channels, 0), fields(channels, 1)
    bx, by = groups.act_transition(name, x, y, channels, dt=DT)
    np.testing.assert_allclose(bx, hand_boost(name, x, channels), rtol=0, atol=1e-13)
    np.testing.assert_allclose(by, hand_boost(name, y, channels, target=True), rtol=0, atol=1e-13)
    # the input is not rolled; the target is rolled by exactly (m, n) cells
    assert np.array_equal(bx[..., 0, :, :], hand_boost(name, x, channels)[..., 0, :, :])


def test_boost_velocity_uses_each_axis_cells_and_the_domain():
    x = fields(NS, 2, size=(8, 16), dyadic=True)  # (Ny, Nx) = (8, 16), domain 2 x 1
    bx, _ = groups.act_transition("boost(1,1)", x, None, NS, dt=0.25, extent=(2.0, 1.0))
    # U = (1 * 2 / (16 * 0.25), 1 * 1 / (8 * 0.25)) = (0.5, 0.5)
    np.testing.assert_array_equal(
        bx - x, np.broadcast_to([0.5, 0.5], (3, 8, 16, 2)).transpose(0, 3, 1, 2)
    )


def test_ce_boost_numbers_by_hand():
    """One cell, float64: rho = 2, m = (1, -3), E = 10, U = (2, -4)  (boost(1,-2), N dt = 1/2)."""
    a = np.zeros((4, N, N))
    a[:, 0, 0] = [2.0, 1.0, -3.0, 10.0]
    bx, by = groups.act_transition("boost(1,-2)", a, a, CE, dt=DT)
    # m' = m + rho U = (1 + 4, -3 - 8); E' = 10 + (1*2 + (-3)(-4)) + 0.5*2*(4 + 16) = 44
    assert bx[:, 0, 0].tolist() == [2.0, 5.0, -11.0, 44.0]
    assert by[:, -2, 1].tolist() == [2.0, 5.0, -11.0, 44.0]  # rolled by (1, -2) cells


@pytest.mark.parametrize("alpha", [0.5, 2.0, 3.0])
def test_scale_matches_hand_computation(alpha):
    x, y = fields(CE, 3), fields(CE, 4)
    sx, sy = groups.act_transition(f"scale({alpha:g})", x, y, CE)
    assert np.array_equal(sx, x * alpha) and np.array_equal(sy, y * alpha)
    assert groups.parse_transition(f"scale({alpha:g})") == groups.Scale(alpha)


def test_scale_keeps_velocity_and_refuses_ns():
    prim = [
        {"name": "rho", "kind": "scalar", "role": "density"},
        {"name": "u", "kind": "vector", "vector": "v", "axis": "x", "role": "velocity"},
        {"name": "v", "kind": "vector", "vector": "v", "axis": "y", "role": "velocity"},
    ]
    x = fields(prim, 5)
    sx, _ = groups.act_transition("scale(2)", x, None, prim)
    assert np.array_equal(sx[:, 0], 2 * x[:, 0]) and np.array_equal(sx[:, 1:], x[:, 1:])
    with pytest.raises(ValueError, match=r"^scale\(2\): no exact scaling without a density"):
        groups.act_transition("scale(2)", fields(NS, 6), None, NS)


def test_boost_group_law_exact_on_dyadic_fields():
    """Composition and inverse: bitwise on data where float64 arithmetic is exact."""
    grid = [(1, 0), (0, -1), (-1, 1), (2, 3)]
    for channels in (NS, CE):
        x, y = fields(channels, 7, dyadic=True), fields(channels, 8, dyadic=True)
        for (a, b), (c, d) in itertools.product(grid, repeat=2):
            ga, gb = f"boost({a},{b})", f"boost({c},{d})"
            gab = groups.compose(ga, gb)
            assert gab == f"boost({a + c},{b + d})"
            two = groups.act_transition(
                ga, *groups.act_transition(gb, x, y, channels, dt=DT), channels, dt=DT
            )
            one = groups.act_transition(gab, x, y, channels, dt=DT)
            assert all(np.array_equal(p, q) for p, q in zip(two, one, strict=True)), (ga, gb)
            inv = groups.inverse(ga)
            assert inv == f"boost({-a},{-b})" and groups.compose(inv, ga) == "boost(0,0)"
            back = groups.act_transition(
                inv, *groups.act_transition(ga, x, y, channels, dt=DT), channels, dt=DT
            )
            assert np.array_equal(back[0], x) and np.array_equal(back[1], y), ga


@pytest.mark.parametrize("channels", [NS, CE], ids=["NS", "CE"])
def test_boost_group_law_on_random_float64(channels):
    """On random float64 fields and a frame spacing that is not dyadic: to round-off."""
    x, y = fields(channels, 9), fields(channels, 10)
    dt = 0.05
    for ga, gb in [
        ("boost(1,0)", "boost(0,1)"),
        ("boost(-1,1)", "boost(1,1)"),
        ("boost(2,-1)", "boost(-2,1)"),
    ]:
        two = groups.act_transition(
            ga, *groups.act_transition(gb, x, y, channels, dt=dt), channels, dt=dt
        )
        one = groups.act_transition(groups.compose(ga, gb), x, y, channels, dt=dt)
        for p, q in zip(two, one, strict=True):
            np.testing.assert_allclose(p, q, rtol=1e-14, atol=1e-13)
        back = groups.act_transition(
            groups.inverse(ga), *groups.act_transition(ga, x, y, channels, dt=dt), channels, dt=dt
        )
        np.testing.assert_allclose(back[0], x, rtol=0, atol=1e-13)
        np.testing.assert_allclose(back[1], y, rtol=0, atol=1e-13)


def test_scale_group_law_and_commutes_with_boosts():
    x, y = fields(CE, 11), fields(CE, 12)
    assert groups.compose("scale(2)", "scale(0.5)") == "scale(1)"
    assert groups.inverse("scale(2)") == "scale(0.5)"
    back = groups.act_transition("scale(0.5)", *groups.act_transition("scale(2)", x, y, CE), CE)
    assert np.array_equal(back[0], x) and np.array_equal(back[1], y)
    sb = groups.act_transition(
        "scale(2)", *groups.act_transition("boost(1,1)", x, y, CE, dt=DT), CE
    )
    bs = groups.act_transition(
        "boost(1,1)", *groups.act_transition("scale(2)", x, y, CE), CE, dt=DT
    )
    for p, q in zip(sb, bs, strict=True):
        assert np.array_equal(p, q)  # factors of two: exact
    with pytest.raises(ValueError, match="not supported"):
        groups.compose("scale(2)", "boost(1,0)")


def test_torch_matches_numpy_and_is_differentiable():
    x, y = fields(CE, 13), fields(CE, 14)
    ref = groups.act_transition("boost(1,-1)", x, y, CE, dt=DT)
    tx = torch.tensor(x, requires_grad=True)
    out = groups.act_transition("boost(1,-1)", tx, torch.tensor(y), CE, dt=DT)
    assert isinstance(out[0], torch.Tensor)
    np.testing.assert_array_equal(out[0].detach().numpy(), ref[0])
    np.testing.assert_array_equal(out[1].numpy(), ref[1])
    out[0].sum().backward()
    assert tx.grad is not None


def test_d4_through_act_transition_is_act():
    x, y = fields(CE, 15), fields(CE, 16)
    for g in ("r", "sr2", "t(3,1)"):
        gx, gy = groups.act_transition(g, x, y, CE)
        assert np.array_equal(gx, groups.act(g, x, CE)) and np.array_equal(gy, groups.act(g, y, CE))


def test_names_sets_and_geometry():
    assert groups.elements("boost", 16)[0] == "boost(0,0)"
    boosts = [groups.parse_transition(g) for g in groups.elements("boost", 16)]
    assert {(b.m, b.n) for b in boosts} >= {(1, 0), (-1, 0), (0, 1), (0, -1), (1, 1), (-1, -1)}
    assert groups.elements("scale", 16) == ["scale(1)", "scale(0.5)", "scale(2)"]
    assert not set(groups.TRANSITION_SETS) & set(groups.ELEMENT_SETS)
    attrs = datasets.family("CE-RP").store_attrs(21, 64)
    assert groups.frame_geometry(attrs) == {"dt": 0.05, "extent": (1.0, 1.0)}
    # PDEGym's 21 frames at N = 64: U = 1 / (N dt) = 0.3125 exactly (a dyadic velocity)
    u = groups.act_transition(
        "boost(1,0)", np.zeros((2, 64, 64)), None, NS, **groups.frame_geometry(attrs)
    )[0]
    assert np.all(u[0] == 0.3125) and np.all(u[1] == 0.0)
    with pytest.raises(ValueError, match="not uniform"):
        groups.frame_geometry({**attrs, "time": [0.0, 0.1, 0.3]})
    for fam in [*datasets.FAMILIES, *datasets.VALIDATION_FAMILIES]:
        assert all(ch["role"] in groups.ROLES for ch in datasets.family(fam).channels)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (
            lambda: groups.act("boost(1,0)", np.zeros((2, 4, 4)), NS),
            "apply it with groups.act_transition",
        ),
        (lambda: groups.parse("scale(2)"), "apply it with groups.act_transition"),
        (
            lambda: groups.act_transition("boost(1,0)", np.zeros((2, 4, 4)), None, NS),
            "needs the frame spacing dt",
        ),
        (
            lambda: groups.act_transition(
                "boost(1,0)", np.zeros((2, 4, 4)), None, ["scalar", "scalar"], dt=1.0
            ),
            "has none",
        ),
        (
            lambda: groups.act_transition(
                "boost(1,0)",
                np.zeros((1, 4, 4)),
                None,
                [{"name": "E", "kind": "scalar", "role": "energy"}],
                dt=1.0,
            ),
            "needs a density",
        ),
        (lambda: groups.parse_transition("scale(0)"), "finite alpha > 0"),
        (lambda: groups.parse_transition("scale(-2)"), "finite alpha > 0"),
        (
            lambda: groups.act_transition("boost(1,0)", np.zeros((3, 4, 4)), None, NS, dt=1.0),
            "channel list names 2",
        ),
    ],
)
def test_refusals_are_one_line(call, message):
    with pytest.raises(ValueError, match=message) as info:
        call()
    assert "\n" not in str(info.value)


def test_roles_and_frame_spacing_survive_a_store_round_trip(tmp_path):
    """A store written from the family's attrs gives back the roles and dt a boost needs."""
    from symaudit import store as st

    fam = datasets.family("CE-RP")
    fields_ = np.random.default_rng(17).standard_normal((2, 5, 4, N, N)).astype(np.float32)
    attrs = {**fam.store_attrs(5, N), "provenance": {"source": "generated"}}
    back = st.open_store(st.write_store(tmp_path / "s.zarr", fields_, attrs).path)
    assert [ch["role"] for ch in back.channels] == ["density", "momentum", "momentum", "energy"]
    geometry = groups.frame_geometry(back.attrs)
    assert geometry == {"dt": 0.25, "extent": (1.0, 1.0)}
    frames = back.read([0]).astype(np.float64)[0]
    bx, by = groups.act_transition("boost(1,0)", frames[0], frames[1], back.channels, **geometry)
    ref = hand_boost("boost(1,0)", frames[1], CE, dt=0.25, target=True)
    np.testing.assert_allclose(by, ref, rtol=0, atol=1e-13)
