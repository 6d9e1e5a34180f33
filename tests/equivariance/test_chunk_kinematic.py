"""The equivariance stage with boost and scale sets (docs/algorithms.md §4.1, §5.3).

The chunk file of a boost set holds the raw relative error beside the normalised one (the
library's :func:`relative_errors` with ``normalised=True`` and the stores' frame spacing, to
1e-6 for the float32 UNet), records ``frame_dt`` and ``extent``; a D4 file is unchanged (no
``normalised_error``); a twirl over boosts and a scale set on NS stores are one-line refusals.
"""

from __future__ import annotations

import numpy as np

from symaudit import datasets, groups, outputs
from symaudit.equivariance import relative_errors

from .test_equivariance import _cli, tiny_run  # noqa: F401 (the module's fixture)

NS = datasets.channels_for("NS")
BOOSTS = groups.elements("boost", 32)


def test_boost_chunk_writes_raw_and_normalised(tiny_run, tmp_path):  # noqa: F811
    from symaudit.models import load_checkpoint
    from symaudit.runs import analysis_batch, load_splits

    out = tmp_path / "boost_chunk000.nc"
    rc = _cli(tiny_run, "--batches", "0", "--set-name", "boost", "--elements", *BOOSTS[:4],
              "--out", str(out))  # fmt: skip
    assert rc == 0
    with outputs.read(out, "equivariance") as o:
        ds = o.dataset.load()
    assert ds.attrs["set_name"] == "boost" and ds.attrs["frame_dt"] == 0.1
    assert list(ds.attrs["extent"]) == [1.0, 1.0]
    assert (ds["normalised_error"].sel(element="boost(0,0)") == 1).all()
    model, _ = load_checkpoint(tiny_run["checkpoint"])
    x, y = analysis_batch(tiny_run["stores"], load_splits(tiny_run["run_dir"]), 0, time_steps=2)
    raw = relative_errors(model, x, y, BOOSTS[:4], NS, dt=0.1)
    norm = relative_errors(model, x, y, BOOSTS[:4], NS, dt=0.1, normalised=True)
    for got, want in ((ds["relative_error"], raw), (ds["normalised_error"], norm)):
        expected = want.numpy().reshape(4, 3, 2).transpose(0, 2, 1)
        np.testing.assert_allclose(got.sel(batch=0).values, expected, rtol=1e-6)
    # a boost is not the identity for this model: raw and normalised differ
    assert np.abs(ds["relative_error"] - ds["normalised_error"]).max() > 1e-3


def test_d4_chunk_has_no_normalised_variable(tiny_run, tmp_path):  # noqa: F811
    out = tmp_path / "d4.nc"
    assert _cli(tiny_run, "--batches", "0", "--set-name", "d4", "--elements", "e", "r",
                "--out", str(out)) == 0  # fmt: skip
    with outputs.read(out) as o:
        assert "normalised_error" not in o.dataset and "frame_dt" not in o.dataset.attrs


def test_refusals_are_one_line(tiny_run, tmp_path, capsys):  # noqa: F811
    cases = [
        (["--set-name", "boost", "--elements", "boost(0,0)", "--twirl-out", "X"], "no twirl"),
        (["--set-name", "scale", "--elements", "scale(2)", "--out", "X"], "no exact scaling"),
    ]
    for extra, message in cases:
        extra = [str(tmp_path / "o.nc") if a == "X" else a for a in extra]
        assert _cli(tiny_run, *extra, "--batches", "0") == 2
        err = [line for line in capsys.readouterr().err.splitlines() if ": warning: " not in line]
        assert len(err) == 1 and message in err[0], err
    assert not list(tmp_path.iterdir())
