"""Known answers on neuraloperator FNOs (saved in the library's own checkpoint format, audited
on a the_well file in neuraloperator's layout ``b c x y``): without positional embedding an FNO
is equivariant to every integer periodic shift (a spectral convolution is diagonal in Fourier
modes, a shift a per-mode phase) and not to D4; with ``positional_embedding="grid"`` the shifts
fail; its D4-twirl is D4-equivariant.  float32 models: tolerance 1e-4 (neuraloperator's
SpectralConv accumulates in complex64 whatever the model's dtype)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from symaudit.audit import audit, load_model

from ._files import smooth_fields, write_the_well

neuralop = pytest.importorskip("neuralop")


def _fno(folder, positional_embedding):
    from neuralop.models import FNO

    torch.manual_seed(0)
    model = FNO(
        n_modes=(6, 6),
        hidden_channels=8,
        in_channels=2,
        out_channels=2,
        positional_embedding=positional_embedding,
        n_layers=2,
    )
    model.save_checkpoint(folder, "fno")
    return f"neuraloperator:{folder}/fno"


@pytest.fixture(scope="module")
def well(tmp_path_factory):
    rng = np.random.default_rng(0)
    v = np.moveaxis(smooth_fields(rng, (2, 3, 2, 16, 16)), 2, -1)
    return write_the_well(tmp_path_factory.mktemp("well") / "well.h5", t1={"velocity": v})


def _table(out, name) -> pd.DataFrame:
    return pd.read_csv(out / "tables" / f"equivariance_{name}_per_seed.csv").set_index("element")


def test_checkpoint_loads_with_its_dtypes(tmp_path):
    spec = _fno(tmp_path / "ck", None)
    loaded = load_model(spec)
    assert loaded.name == "fno" and loaded.kind == "neuraloperator"
    dtypes = {p.dtype for p in loaded.module.parameters()}
    assert dtypes == {torch.float32, torch.complex64}


def test_fno_without_embedding_shift_exact_not_d4(tmp_path, well):
    out = tmp_path / "out"
    audit(_fno(tmp_path / "ck", None), well, out, layout="b c x y")
    for name in ("shift_x", "shift_y"):
        t = _table(out, name)
        assert len(t) == 16 and t["within_tolerance"].all(), t["residual_max"].max()
        assert (t["tolerance"] == 1e-4).all() and (t["dtype"] == "float32").all()
        assert np.allclose(t[["min", "max"]], 1.0, rtol=0, atol=1e-4)
    d4 = _table(out, "d4")
    assert not d4.drop(index="e")["within_tolerance"].any()
    assert (d4.drop(index="e")["residual_max"] > 1e-2).all()
    assert (abs(d4["median"] - 1) > 1e-4).any()  # R != 1 for some element of D4


def test_fno_with_grid_embedding_fails_shifts(tmp_path, well):
    out = tmp_path / "out"
    audit(_fno(tmp_path / "ck", "grid"), well, out, layout="b c x y", sets=["shift_x"])
    t = _table(out, "shift_x")
    assert not t.drop(index="t(0,0)")["within_tolerance"].any()
    shifted = t.drop(index="t(0,0)")
    assert (shifted["residual_max"] > 1e-3).all()
    assert (abs(shifted["median"] - 1)).max() > 1e-4  # R != 1


def test_twirled_fno_d4_exact(tmp_path, well):
    out = tmp_path / "out"
    audit("python:tests.audit._models:twirled_fno", well, out, sets=["d4"])
    t = _table(out, "d4")
    assert t["within_tolerance"].all(), t["residual_max"]
    assert np.allclose(t[["min", "max"]], 1.0, rtol=0, atol=1e-4)


def test_missing_extra_named(monkeypatch, tmp_path):
    import sys

    from symaudit.errors import UserError

    monkeypatch.setitem(sys.modules, "neuralop.models.base_model", None)
    with pytest.raises(UserError, match=r"pip install 'symaudit\[neuraloperator\]'"):
        load_model(f"neuraloperator:{tmp_path}/fno")
