"""symaudit.outputs: the example order against explicit loops, the checkpoint names, and
``read`` refusing a truncated, corrupt, foreign or malformed per-job file with ONE line naming
it, while taking a file's identity from its attributes (not its path)."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from symaudit import outputs
from symaudit.aggregate import write_synthetic_study
from symaudit.errors import UserError

ROOT = Path(__file__).resolve().parents[1]


def test_per_class_and_to_grid_follow_n_equals_t_plus_T_class():
    T, C, E = 3, 2, 2  # noqa: N806
    n = T * C
    values = np.arange(E * n * n, dtype=np.float64).reshape(E, n, n)
    grid = outputs.to_grid(values, T, C)
    assert grid.shape == (E, T, C, T, C)
    for e in range(E):
        for t2 in range(T):
            for b2 in range(C):
                for t1 in range(T):
                    for b1 in range(C):
                        assert grid[e, t2, b2, t1, b1] == values[e, t2 + T * b2, t1 + T * b1]
    per = outputs.per_class(values[0, 0], T, C)
    assert per.shape == (T, C) and per.dtype == np.float64
    assert all(per[t, b] == values[0, 0, t + T * b] for t in range(T) for b in range(C))
    flags = outputs.per_class([True] * (n - 1) + [False], T, C, dtype=None)
    assert flags.dtype == bool and not flags[T - 1, C - 1] and flags.sum() == n - 1


def test_transition_frames_are_t_times_the_stride():
    assert outputs.transition_frames(4).tolist() == [0, 1, 2, 3]  # stride 1: today's window
    assert outputs.transition_frames(4, 1).tolist() == [0, 1, 2, 3]
    assert outputs.transition_frames(3, 4).tolist() == [0, 4, 8]  # last target frame 9
    assert outputs.transition_frames(1, 7).tolist() == [0]
    assert outputs.transition_frames(3, 2).dtype == np.int64
    for bad in ((0, 1), (3, 0), (3, -2), (3, 1.5), (3, True)):
        with pytest.raises(ValueError, match="must be an integer >= 1"):
            outputs.transition_frames(*bad)


def test_transition_coords_record_the_stride_only_when_there_is_one():
    for stride in ({}, {"time_stride": 1}):
        plain = outputs.transition_coords(3, "bra_transition", "ket_transition", **stride)
        for d, (dim, values, attrs) in plain.items():
            assert dim == d and values.tolist() == [0, 1, 2]
            assert attrs == outputs.TRANSITION_DIMS[d]  # the files of every study before the key
    dim, values, attrs = outputs.transition_coords(3, time_stride=4)["transition"]
    assert values.tolist() == [0, 1, 2]  # the index, not the frame
    assert attrs["time_stride"] == 4 and attrs["input_frame"].tolist() == [0, 4, 8]
    assert attrs["units"] == "1" and "(input frame 4t -> 4t+1)" in attrs["long_name"]


def test_checkpoint_names_round_trip():
    assert outputs.checkpoint_name(7) == "ckpt_epoch0007.pt"
    assert outputs.checkpoint_epoch("ckpt_epoch0007.pt") == 7
    assert outputs.checkpoint_epoch("ckpt_epoch12345.pt") == 12345
    for other in ("final.pt", "ckpt_epoch7.pt", "ckpt_epoch00x7.pt", "ckpt_epoch0007.pt.tmp"):
        assert outputs.checkpoint_epoch(other) is None, other


@pytest.fixture()
def chunk(tmp_path):
    """One synthetic influence file, moved to a path that says nothing about it."""
    files = write_synthetic_study(
        tmp_path / "s", datasets=["NS"], models=["vit"], seeds=[3], batches=1, time_steps=2,
        resolution=8, element_sets=["d4"], chunk_size=4, kinds=["influence"],
    )  # fmt: skip
    path = tmp_path / "anything.nc"
    files[1].rename(path)
    return path


def test_identity_comes_from_the_attributes(chunk):
    with outputs.read(chunk) as out:
        assert out.format is outputs.INFLUENCE
        assert out.dataset["pi_std"].dims == outputs.PI_DIMS
    assert outputs.identify(chunk) == outputs.Identity("influence", "NS", "vit", 3, "d4", 1)


def _one_line(path, **kwargs) -> str:
    with pytest.raises(UserError) as err:
        outputs.read(path, **kwargs)
    message = str(err.value)
    assert "\n" not in message and str(path) in message, message
    return message


def test_truncated_corrupt_and_missing_files_are_one_line(chunk, tmp_path):
    data = chunk.read_bytes()
    for size in (len(data) // 2, 600, 8):
        cut = tmp_path / f"cut{size}.nc"
        cut.write_bytes(data[:size])
        assert "not a readable netCDF file" in _one_line(cut)
    junk = tmp_path / "junk.nc"
    junk.write_text("not a netCDF file\n")
    assert "not a readable netCDF file" in _one_line(junk)
    (tmp_path / "empty.nc").touch()
    assert "empty file" in _one_line(tmp_path / "empty.nc")
    assert "no such file" in _one_line(tmp_path / "missing.nc")


def test_foreign_and_malformed_files_are_one_line(chunk, tmp_path):
    foreign = tmp_path / "foreign.nc"
    xr.Dataset({"temperature": (("x",), np.zeros(3))}).to_netcdf(foreign)
    assert "not a symaudit per-job file" in _one_line(foreign)
    assert "no variable relative_error" in _one_line(chunk, kind="equivariance")
    ds = xr.load_dataset(chunk)
    cases = {
        "no attribute chunk": ds.drop_attrs().assign_attrs(
            {k: v for k, v in ds.attrs.items() if k != "chunk"}
        ),
        "undeclared variable 'extra'": ds.assign(extra=ds["lambda_max"]),
        "'pi_std' has dims": ds.assign(pi_std=ds["pi_std"].transpose("batch", ...)),
        "no variable ket_converged": ds.drop_vars("ket_converged"),
        "malformed identity": ds.assign_attrs(seed="three"),
    }
    for expected, bad in cases.items():
        path = tmp_path / "bad.nc"
        bad.to_netcdf(path)
        assert expected in _one_line(path), expected


def test_every_format_declares_its_dims_once():
    for fmt in outputs.FORMATS.values():
        names = [v.name for v in fmt.variables]
        assert len(names) == len(set(names)), fmt.name
        assert set(fmt.identity) <= set(fmt.attrs), fmt.name
    assert outputs.INFLUENCE.dims["pi_std"] == outputs.PI_DIMS
    assert outputs.DIAGNOSTICS.dims["pi_raw"][1:] == outputs.PI_DIMS[1:]


def test_architecture_doc_shows_the_declared_formats():
    """docs/architecture.md's "Files between stages" is outputs.markdown() verbatim
    (regenerate: python -c 'from symaudit import outputs; print(outputs.markdown())')."""
    doc = (ROOT / "docs" / "architecture.md").read_text()
    assert "## Files between stages" in doc
    assert outputs.markdown() in doc


def test_outputs_imports_no_torch():
    code = "import sys, symaudit.outputs; assert 'torch' not in sys.modules, 'torch imported'"
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


def test_aggregation_finds_files_by_path_but_identifies_them_by_attrs(tmp_path):
    from symaudit.aggregate import discover

    study = tmp_path / "s"
    files = write_synthetic_study(
        study, datasets=["CE"], models=["unet"], seeds=[0], batches=1, time_steps=2,
        resolution=8, element_sets=["d4"], chunk_size=8,
    )  # fmt: skip
    moved = study / "equivariance/CE/unet/seed7/d4_chunk003.nc"  # the path says seed 7, chunk 3
    moved.parent.mkdir()
    files[0].rename(moved)
    # an atomic write's temporary file, left half-written by a killed job: not looked at
    (study / "influence/CE/unet/seed0/.d4_chunk000.x1y2.nc").write_bytes(b"\x89HDF\r\n")
    found = discover(study)
    assert [(f.kind, f.seed, f.chunk, f.path) for f in found] == [
        ("equivariance", 0, 0, moved),
        ("influence", 0, 0, files[1]),
    ]


#: the per-job dims as files written before the transition rename named them
OLD_NAMES = {"transition": "time", "bra_transition": "bra_time", "ket_transition": "ket_time"}


def _rewrite_in_old_naming(path: Path) -> None:
    """``path`` rewritten as the writers wrote it before the rename: dims ``time``,
    ``bra_time``, ``ket_time``, their coordinates bare integers without attributes."""
    ds = xr.load_dataset(path)
    ds = ds.rename({k: v for k, v in OLD_NAMES.items() if k in ds.dims})
    for name in OLD_NAMES.values():
        if name in ds.coords:
            ds[name].attrs = {}
    if "example_order" in ds.attrs:
        ds.attrs["example_order"] = "n = time + time_steps * class"
    ds.to_netcdf(path)


def test_a_file_written_before_the_transition_rename_is_read_with_the_new_dims(tmp_path):
    files = write_synthetic_study(
        tmp_path / "s", datasets=["NS"], models=["vit"], seeds=[0], batches=2, time_steps=3,
        resolution=8, element_sets=["d4"], chunk_size=8,
    )  # fmt: skip
    for path in files:
        new = xr.load_dataset(path)
        assert all(new[d].attrs == outputs.TRANSITION_DIMS[d] for d in OLD_NAMES if d in new.dims)
        _rewrite_in_old_naming(path)
        with xr.open_dataset(path) as raw:  # on disk: the old names
            assert not set(OLD_NAMES) & set(raw.dims)
            assert set(OLD_NAMES.values()) & set(raw.dims)
        with outputs.read(path) as out:
            ds = out.dataset
            for name, var in out.format.dims.items():
                if name in ds:
                    assert ds[name].dims == var, (path, name)
                    np.testing.assert_array_equal(ds[name].values, new[name].values)
            assert not set(OLD_NAMES.values()) & set(ds.dims)
        assert outputs.upgrade_dims(new) is new  # a current file: as it is
    with outputs.read(files[1]) as out:
        assert out.format is outputs.INFLUENCE and out.dataset["pi_std"].dims == outputs.PI_DIMS
        assert out.dataset["ket_converged"].dims == outputs.KET_DIMS


def test_an_old_study_aggregates_to_the_same_tables(tmp_path):
    from symaudit.aggregate import aggregate

    study = tmp_path / "s"
    files = write_synthetic_study(
        study, datasets=["CE"], models=["unet"], seeds=[0, 1], batches=2, time_steps=3,
        resolution=8, element_sets=["d4", "shift_x"], chunk_size=8,
        unconverged=[("CE", "unet", 1, 0)],
    )  # fmt: skip
    new = aggregate(study, tmp_path / "new")
    for path in files:
        _rewrite_in_old_naming(path)
    old = aggregate(study, tmp_path / "old")
    assert [p.name for p in old] == [p.name for p in new] and any(p.suffix == ".csv" for p in new)
    for a, b in zip(new, old, strict=True):
        if a.suffix == ".csv":
            assert a.read_bytes() == b.read_bytes(), a.name
        else:
            with xr.open_dataset(a) as x, xr.open_dataset(b) as y:
                assert x.identical(y), a.name
