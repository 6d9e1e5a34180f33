"""The other formats and loaders, each with a known answer: a TorchScript Laplacian-diffusion
model on a PDEBench 2-D CFD file, a torch.export program on a netCDF file, a python factory
with --weights on a symaudit Zarr store, history and output channels; the command line."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
import xarray as xr

from symaudit.audit import audit, read_data
from symaudit.cli import main
from symaudit.errors import UserError

from ._files import smooth_fields, write_pdebench
from ._models import Diffusion

CHANNELS = [
    {"name": "density", "kind": "scalar"},
    {"name": "velocity_x", "kind": "vector", "vector": "velocity", "axis": "x"},
    {"name": "velocity_y", "kind": "vector", "vector": "velocity", "axis": "y"},
]


def _table(out, name) -> pd.DataFrame:
    return pd.read_csv(out / "tables" / f"equivariance_{name}_per_seed.csv").set_index("element")


def _pdebench(path, n=16):
    rng = np.random.default_rng(2)
    f = smooth_fields(rng, (4, 2, 3, n, n))
    return write_pdebench(path, 1 + 0.1 * f[0] ** 2, 1 + 0.1 * f[1] ** 2, f[2], f[3])


def test_pdebench_reader(tmp_path):
    rng = np.random.default_rng(0)
    f = smooth_fields(rng, (4, 1, 3, 8, 8))
    path = write_pdebench(tmp_path / "2D_CFD_Rand_periodic_Train.hdf5", *f)
    data = read_data(path, trajectories=[0])
    assert [c["name"] for c in data.channels] == ["density", "pressure", "Vx", "Vy"]
    assert data.channels[2]["axis"] == "x" and data.periodic == {"x": True, "y": True}
    # PDEBench is (N, T, X, Y): x first; ours (.., y, x)
    assert np.allclose(data.fields[0, :, 2], np.swapaxes(f[2][0], -1, -2).astype(np.float32))


@pytest.mark.filterwarnings("ignore:`torch.jit:DeprecationWarning")
def test_torchscript_on_pdebench(tmp_path):
    path = _pdebench(tmp_path / "2D_CFD_Rand_M0.1_periodic_Train.hdf5")
    scripted = torch.jit.script(Diffusion())
    scripted.save(str(tmp_path / "diff.pt"))
    out = tmp_path / "out"
    audit(f"torchscript:{tmp_path / 'diff.pt'}", path, out, sets=["d4", "shift_x"])
    for name in ("d4", "shift_x"):
        t = _table(out, name)
        assert t["within_tolerance"].all() and (t["dtype"] == "float32").all()
    # a file that does not say periodic: no shifts, and the reason
    other = _pdebench(tmp_path / "2D_CFD_Rand_M0.1_Train.hdf5")
    audit(f"torchscript:{tmp_path / 'diff.pt'}", other, tmp_path / "o2", sets=["shift_y"])
    assert list(_table(tmp_path / "o2", "shift_y").index) == ["t(0,0)"]
    assert "file name does not say periodic" in (tmp_path / "o2" / "report.html").read_text()


def _netcdf(path, order=("sample", "time", "channel", "x", "y")):
    rng = np.random.default_rng(3)
    fields = smooth_fields(rng, (2, 3, 3, 16, 16))  # (sample, time, channel, x, y)
    da = xr.DataArray(fields, dims=("sample", "time", "channel", "x", "y"), name="data")
    da = da.assign_coords(
        channel=[c["name"] for c in CHANNELS],
        channel_kind=("channel", [c["kind"] for c in CHANNELS]),
        channel_vector=("channel", [c.get("vector", "") for c in CHANNELS]),
        channel_axis=("channel", [c.get("axis", "") for c in CHANNELS]),
    )
    da.transpose(*order).to_dataset().to_netcdf(path)
    return path, fields


def test_export_on_netcdf(tmp_path):
    path, fields = _netcdf(tmp_path / "a.nc", order=("time", "y", "channel", "sample", "x"))
    data = read_data(path)  # dims by name: transposed back
    assert np.allclose(data.fields, np.swapaxes(fields, -1, -2))
    program = torch.export.export(
        Diffusion(dtype=torch.float64), (torch.zeros(1, 3, 16, 16, dtype=torch.float64),)
    )
    torch.export.save(program, tmp_path / "diff.pt2")
    out = tmp_path / "out"
    audit(f"export:{tmp_path / 'diff.pt2'}", path, out, sets=["d4"])
    t = _table(out, "d4")
    assert t["within_tolerance"].all() and (t["tolerance"] == 1e-10).all()


def test_python_factory_weights_on_zarr(tmp_path):
    from symaudit.store import write_store

    rng = np.random.default_rng(4)
    fields = smooth_fields(rng, (2, 4, 3, 16, 16)).astype(np.float32)
    attrs = {
        "family": "test",
        "pde": "incompressible_ns",
        "channels": CHANNELS,
        "time": [0.0, 0.1, 0.2, 0.3],
        "provenance": {"source": "generated"},
    }
    store = write_store(tmp_path / "s.zarr", fields, attrs)
    torch.save(Diffusion(dt=0.2).state_dict(), tmp_path / "w.pt")
    out = tmp_path / "out"
    spec = "python:tests.audit._models:diffusion_zero"
    audit(spec, store.path, out, weights=str(tmp_path / "w.pt"), sets=["d4"])
    t = _table(out, "d4")
    assert t["within_tolerance"].all()
    summary = pd.read_csv(out / "tables" / "equivariance_d4.csv")
    assert (summary["dataset"] == "s").all() and (summary["model"] == "diffusion_zero").all()
    assert (summary["n_examples"] == 6).all()  # 2 trajectories x 3 transitions
    # history 2 on a t axis, only the velocity as output; trajectories and frames chosen
    out2 = tmp_path / "out2"
    audit(
        "python:tests.audit._models:velocity_of_two_frames",
        store.path,
        out2,
        history=2,
        layout="b t c y x",
        outputs="velocity_x,velocity_y",
        sets=["d4"],
        trajectories=[1],
        time_steps="0:3",
    )
    t2 = _table(out2, "d4")
    assert t2["within_tolerance"].all() and (t2["n"] == 1).all()


def test_cli_writes_tables_and_report(tmp_path, capsys):
    path, _ = _netcdf(tmp_path / "a.nc")
    spec = "python:tests.audit._models:diffusion"
    out = tmp_path / "out"
    assert (
        main(["audit", "--model", spec, "--data", str(path), "--out", str(out), "--sets", "d4"])
        == 0
    )
    assert (out / "tables" / "equivariance_d4.csv").exists()
    assert capsys.readouterr().out.strip().endswith("report.html")


@pytest.mark.parametrize(
    "args, culprit",
    [
        (["--model", "pickle:x"], "pickle:x"),
        (["--model", "python:tests.audit._models:nothing"], "nothing"),
        (["--model", "torchscript:/no/such.pt"], "/no/such.pt"),
        (["--layout", "b c"], "layout"),
        (["--periodic", "z"], "--periodic"),
        (["--channels", "scalar"], "--channels"),
        (["--outputs", "pressure"], "pressure"),
        (["--trajectories", "5"], "--trajectories"),
        (["--trajectories", "1:9"], "0..1"),
        (["--batch-size", "0"], "--batch-size"),
        (["--history", "3"], "--history 3"),
        (["--sets", "boost"], "--sets boost"),
    ],
)
def test_cli_bad_input_one_line(tmp_path, capsys, args, culprit):
    path, _ = _netcdf(tmp_path / "a.nc")
    base = {
        "--model": "python:tests.audit._models:diffusion",
        "--data": str(path),
        "--out": str(tmp_path / "o"),
    }
    for k, v in zip(args[::2], args[1::2], strict=True):
        base[k] = v
    argv = ["audit", *[x for kv in base.items() for x in kv]]
    assert main(argv) == 2
    errors = [ln for ln in capsys.readouterr().err.splitlines() if "symaudit audit: error:" in ln]
    assert len(errors) == 1 and culprit in errors[0], errors


def test_unknown_kinds_need_channels(tmp_path):
    da = xr.DataArray(np.zeros((1, 2, 1, 8, 8)), dims=("sample", "time", "channel", "y", "x"))
    da.to_dataset(name="u").to_netcdf(tmp_path / "u.nc")
    with pytest.raises(UserError, match="--channels"):
        read_data(tmp_path / "u.nc")
    assert read_data(tmp_path / "u.nc", channels="pseudoscalar").channels[0]["kind"] == (
        "pseudoscalar"
    )


def test_the_well_model_needs_the_package(tmp_path, monkeypatch):
    import sys

    from symaudit.audit import load_model

    (tmp_path / "config.json").write_text("{}")
    monkeypatch.setitem(sys.modules, "the_well.benchmark.models", None)
    with pytest.raises(UserError, match="needs the_well"):
        load_model(f"the_well:UNetClassic:{tmp_path}")
    with pytest.raises(UserError, match="config.json"):
        load_model(f"the_well:UNetClassic:{tmp_path / 'nowhere'}")


def test_quality_against_persistence(tmp_path):
    """The identity model IS persistence: ratio exactly 1 (passes the gate, max 1)."""
    path, _ = _netcdf(tmp_path / "a.nc")
    out = tmp_path / "out"
    audit("python:tests.audit._models:identity64", path, out, sets=["d4"])
    row = pd.read_csv(out / "tables" / "model_quality.csv").iloc[0]
    assert row["analysis_ratio"] == 1.0 and bool(row["passes"])
    assert row["analysis_smse"] == row["analysis_persistence_smse"] > 0
    assert "quality (SMSE / persistence)" in (out / "report.html").read_text()
    # a stricter gate flags the same model, in the table and the report
    argv = [
        "audit",
        "--model",
        "python:tests.audit._models:identity64",
        "--data",
        str(path),
        "--out",
        str(tmp_path / "strict"),
        "--sets",
        "d4",
        "--max-persistence-ratio",
        "0.5",
    ]
    assert main(argv) == 0
    row = pd.read_csv(tmp_path / "strict" / "tables" / "model_quality.csv").iloc[0]
    assert not bool(row["passes"])
    assert "ABOVE the gate 0.5" in (tmp_path / "strict" / "report.html").read_text()
