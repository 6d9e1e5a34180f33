"""Atomic writes respect the umask; ``symaudit --version``; timestamped CLI logging."""

from __future__ import annotations

import os
import stat

import pytest
import torch

from symaudit import _io


@pytest.fixture
def umask():
    """Set the process umask for one test and restore it afterwards."""
    before = os.umask(0o022)
    os.umask(before)
    yield lambda mask: os.umask(mask)
    os.umask(before)


def _mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.mark.parametrize("mask", [0o002, 0o022, 0o077])
def test_atomic_writes_follow_the_umask(tmp_path, umask, mask):
    from symaudit.aggregate._io import write_atomic as table_writer
    from symaudit.models import build, save_checkpoint

    umask(mask)
    assert _io.current_umask() == mask
    table = table_writer(tmp_path / "tables" / "t.csv", lambda p: p.write_text("a\n1\n"))
    assert table.read_text() == "a\n1\n"
    assert _mode(table) == 0o666 & ~mask  # not mkstemp's 0600
    net = build("unet", "tiny", 2, None, resolution=16, generator=torch.Generator().manual_seed(0))
    ckpt = save_checkpoint(tmp_path / "final.pt", net, {"x": 1})
    assert _mode(ckpt) == 0o666 & ~mask
    assert sorted(p.name for p in tmp_path.iterdir()) == ["final.pt", "tables"]  # no temp left


def test_a_failed_write_leaves_nothing(tmp_path):
    def boom(path):
        path.write_text("half")
        raise RuntimeError("writer failed")

    with pytest.raises(RuntimeError, match="writer failed"):
        _io.write_atomic(tmp_path / "f.png", boom)
    assert list(tmp_path.iterdir()) == []


def test_atomic_dir_replaces_a_directory_whole_or_not_at_all(tmp_path):
    out = tmp_path / "sub" / "solution"
    with _io.atomic_dir(out) as tmp:
        (tmp / "a.txt").write_text("1")
    assert sorted(p.name for p in out.iterdir()) == ["a.txt"]
    with _io.atomic_dir(out) as tmp:  # a second write replaces the first, files and all
        (tmp / "b.txt").write_text("2")
    assert sorted(p.name for p in out.iterdir()) == ["b.txt"]
    with pytest.raises(RuntimeError, match="writer failed"), _io.atomic_dir(out) as tmp:
        (tmp / "c.txt").write_text("half")
        raise RuntimeError("writer failed")
    assert sorted(p.name for p in out.iterdir()) == ["b.txt"]  # the old one stays
    assert sorted(p.name for p in out.parent.iterdir()) == ["solution"]  # no temp left


def test_replace_dir_never_deletes_what_lacks_the_marker(tmp_path):
    target, tmp = tmp_path / "x.zarr", tmp_path / "new"
    target.mkdir()
    (target / "keep.txt").write_text("data")
    tmp.mkdir()
    with pytest.raises(FileExistsError, match="has no zarr.json"):
        _io.replace_dir(tmp, target, marker="zarr.json")
    assert (target / "keep.txt").read_text() == "data"
    (target / "zarr.json").write_text("{}")
    _io.replace_dir(tmp, target, marker="zarr.json")
    assert list(target.iterdir()) == [] and not tmp.exists()


def test_move_into_moves_each_file_whole(tmp_path):
    files = [tmp_path / "final.pt", tmp_path / "splits.json"]
    for i, f in enumerate(files):
        f.write_bytes(bytes(range(i, i + 50)))
    moved = _io.move_into(files, tmp_path / "aside")
    assert moved == [tmp_path / "aside" / f.name for f in files]
    assert not any(f.exists() for f in files)
    assert [m.read_bytes() for m in moved] == [bytes(range(i, i + 50)) for i in range(2)]
    with pytest.raises(FileNotFoundError):  # a missing file is an error, not silently skipped
        _io.move_into([tmp_path / "gone.pt"], tmp_path / "aside")


def test_atomic_dir_removes_a_killed_writers_temporary(tmp_path):
    import subprocess
    import sys

    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()  # its pid is gone
    host = _io.temporary_sibling(tmp_path / "x").name.rsplit("-", 1)[0].removeprefix("x.tmp-")
    orphan = tmp_path / f".solution.tmp{child.pid}"  # the older host-less name
    orphan2 = tmp_path / f".solution.tmp-{host}-{child.pid}"
    running = tmp_path / f".solution.tmp-{host}-{os.getppid()}"
    for d in (orphan, orphan2, running):
        d.mkdir()
        (d / "half.npy").write_bytes(b"x")
    with _io.atomic_dir(tmp_path / "solution") as tmp:
        (tmp / "done.npy").write_bytes(b"y")
    assert not orphan.exists() and not orphan2.exists() and running.exists()
    assert (tmp_path / "solution" / "done.npy").read_bytes() == b"y"
    assert _io.remove_orphans(tmp_path / "missing-parent" / "x") == []
