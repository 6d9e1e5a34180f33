"""Known answers on the_well HDF5 files written here: an isotropic, not odd operator on a vector
field is equivariant under all of D4 and every shift; declaring the spatial dims the other way
round (same arrays) makes exactly r, r3, s, sr2 fail; a non-square grid is audited on
{e, r2, s, sr2} and a wall axis without its shifts, the dropped elements named."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import pytest

from symaudit.audit import audit, read_data

from ._files import smooth_fields, write_the_well

GRAD_DIV = "python:tests.audit._models:grad_div_advection"


def _velocity(shape=(2, 3, 16, 16), seed=0) -> np.ndarray:
    """(B, T, d0, d1, 2) smooth velocity, components along d0 and d1."""
    rng = np.random.default_rng(seed)
    b, t, n0, n1 = shape
    return np.moveaxis(smooth_fields(rng, (b, t, 2, n0, n1)), 2, -1)


def _table(out, name) -> pd.DataFrame:
    return pd.read_csv(out / "tables" / f"equivariance_{name}_per_seed.csv").set_index("element")


def test_reader_pairs_components_by_declared_dims(tmp_path):
    v = _velocity()
    path = write_the_well(tmp_path / "a.h5", t0={"p": v[..., 0] ** 2}, t1={"velocity": v})
    data = read_data(path)
    assert [c["name"] for c in data.channels] == ["p", "velocity_x", "velocity_y"]
    assert [c.get("axis") for c in data.channels] == [None, "x", "y"]
    # the file's (d0, d1) = (x, y) becomes (y, x) = (d1, d0): a transpose
    assert np.allclose(data.fields[:, :, 1], np.swapaxes(v[..., 0], -1, -2).astype(np.float32))
    assert data.periodic == {"x": True, "y": True}
    swapped = read_data(
        write_the_well(tmp_path / "b.h5", t1={"velocity": v}, spatial_dims=("y", "x"))
    )
    assert [c["axis"] for c in swapped.channels] == ["y", "x"]
    assert np.allclose(swapped.fields[:, :, 0], v[..., 0].astype(np.float32))


def test_isotropic_operator_equivariant_for_d4_and_shifts(tmp_path):
    path = write_the_well(tmp_path / "well.h5", t1={"velocity": _velocity()})
    out = tmp_path / "out"
    written = audit(GRAD_DIV, path, out, layout="b x y c")
    assert written["report"].exists()
    for name in ("d4", "shift_x", "shift_y"):
        t = _table(out, name)
        assert len(t) == (8 if name == "d4" else 16)
        assert t["within_tolerance"].all(), t["residual_max"]
        assert (t["dtype"] == "float64").all() and (t["tolerance"] == 1e-10).all()
        assert np.allclose(t[["min", "max"]], 1.0, rtol=0, atol=1e-10)
    summary = pd.read_csv(out / "tables" / "equivariance_d4.csv")
    assert {"q1", "median", "q3", "n_seeds", "n_examples", "min", "max"} <= set(summary)
    assert (summary["n_examples"] == 4).all()  # 2 trajectories x 2 transitions


def test_declared_dims_swapped_fail_exactly_r_r3_s_sr2(tmp_path):
    path = write_the_well(
        tmp_path / "swapped.h5", t1={"velocity": _velocity()}, spatial_dims=("y", "x")
    )
    out = tmp_path / "out"
    audit(GRAD_DIV, path, out, layout="b x y c", sets=["d4"])
    t = _table(out, "d4")
    failing = set(t.index[~t["within_tolerance"]])
    assert failing == {"r", "r3", "s", "sr2"}, t["residual_max"]
    assert (t.loc[sorted(failing), "residual_max"] > 1e-3).all()


def test_non_square_grid_and_wall_axis(tmp_path, caplog):
    # d0 = x has 32 cells, d1 = y 16 cells and walls: (y, x) = (16, 32)
    path = write_the_well(
        tmp_path / "shear.h5",
        t1={"velocity": _velocity((2, 3, 32, 16))},
        bc={"x": "periodic", "y": "wall"},
    )
    out = tmp_path / "out"
    with caplog.at_level(logging.INFO, logger="symaudit.audit"):
        audit(GRAD_DIV, path, out, layout="b x y c")
    d4 = _table(out, "d4")
    assert list(d4.index) == ["e", "r2", "s", "sr2"]
    assert d4["within_tolerance"].all()
    assert len(_table(out, "shift_x")) == 32 and _table(out, "shift_x")["within_tolerance"].all()
    assert list(_table(out, "shift_y").index) == ["t(0,0)"]
    log = caplog.text
    for g in ("r", "r3", "sr", "sr3"):
        assert f"dropped d4 {g}: the grid is 16 x 32" in log
    assert "dropped shift_y t(0,5): the y axis is not periodic (boundary_conditions/y_wall" in log
    report = (out / "report.html").read_text()
    assert "d4 sr3: the grid is 16 x 32" in report and "bc_type WALL" in report


def test_rank2_tensor_field(tmp_path):
    rng = np.random.default_rng(1)
    t = np.moveaxis(smooth_fields(rng, (2, 3, 4, 16, 16)), 2, -1).reshape(2, 3, 16, 16, 2, 2)
    s = smooth_fields(rng, (2, 3, 16, 16))
    path = write_the_well(tmp_path / "t.h5", t0={"s": s}, t2={"stress": t})
    data = read_data(path)
    assert [c.get("axis") for c in data.channels] == [None, "xx", "xy", "yx", "yy"]
    out = tmp_path / "out"
    audit("python:tests.audit._models:tensor_square", path, out, sets=["d4"])
    assert _table(out, "d4")["within_tolerance"].all()


@pytest.mark.parametrize("bad", ["b c y", "b c y x x", "b q y x"])
def test_bad_layout_is_one_line(tmp_path, bad):
    from symaudit.errors import UserError

    path = write_the_well(tmp_path / "w.h5", t1={"velocity": _velocity()})
    with pytest.raises(UserError, match="layout"):
        audit(GRAD_DIV, path, tmp_path / "o", layout=bad)


def _divergence_free(n=16, seed=5) -> np.ndarray:
    """(B, T, d0 = x, d1 = y, 2) velocity from a streamfunction: vx = d psi/dy, vy = -d psi/dx."""
    from symaudit.data._residuals import _spectral_derivative

    psi = smooth_fields(np.random.default_rng(seed), (2, 3, n, n))
    return np.stack([_spectral_derivative(psi, -1), -_spectral_derivative(psi, -2)], axis=-1)


def test_pairing_check_warns_when_components_are_stored_the_other_way(tmp_path, caplog):
    v = _divergence_free()
    good = write_the_well(tmp_path / "good.h5", t1={"velocity": v})
    # declared dims swapped with the arrays: a consistent relabelling (a diagonal reflection of
    # the data), still divergence-free as declared -- only the model's own convention breaks
    swapped = write_the_well(tmp_path / "sw.h5", t1={"velocity": v}, spatial_dims=("y", "x"))
    # components stored (vy, vx) under spatial_dims (x, y): the data contradict the declaration
    bad = write_the_well(tmp_path / "bad.h5", t1={"velocity": v[..., ::-1]})
    for path in (good, swapped):
        caplog.clear()
        with caplog.at_level(logging.INFO, logger="symaudit.audit"):
            audit(GRAD_DIV, path, tmp_path / path.stem, layout="b x y c", sets=["d4"])
        assert "pairing check: velocity: relative divergence" in caplog.text
        assert "the other way round" not in caplog.text
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="symaudit.audit"):
        audit(GRAD_DIV, bad, tmp_path / "b", layout="b x y c", sets=["d4"])
    assert "velocity is divergence-free only with its components paired the other way" in (
        caplog.text
    )
    assert "WARNING: velocity is divergence-free" in (tmp_path / "b" / "report.html").read_text()


def test_trajectories_checked_against_the_file(tmp_path):
    from symaudit.errors import UserError

    path = write_the_well(tmp_path / "w.h5", t1={"velocity": _velocity()})
    with pytest.raises(UserError, match=r"trajectories 0\.\.1"):
        read_data(path, trajectories=[0, 7])
    assert read_data(path, trajectories=[1, 1]).fields.shape[0] == 1


def test_declared_order_checked_against_coordinates(tmp_path):
    import h5py

    from symaudit.errors import UserError

    path = write_the_well(tmp_path / "rect.h5", t1={"velocity": _velocity((2, 3, 32, 16))})
    with h5py.File(path, "r+") as f:
        f["dimensions"].attrs["spatial_dims"] = ["y", "x"]  # the arrays stay (x: 32, y: 16)
    with pytest.raises(UserError, match=r"puts 'y' on an axis of 32 points, but dimensions/y"):
        read_data(path)


def test_only_the_frames_asked_for_are_read(tmp_path):
    v = _velocity((3, 5, 16, 16))
    path = write_the_well(tmp_path / "w.h5", t0={"p": v[..., 0]}, t1={"velocity": v})
    data = read_data(path, trajectories=[2, 0], time_steps="1:4")
    assert data.fields.shape == (2, 3, 3, 16, 16)
    expect = np.swapaxes(v[[0, 2], 1:4, :, :, 1], -1, -2).astype(np.float32)
    assert np.array_equal(data.fields[:, :, 2], expect.astype(np.float64))
