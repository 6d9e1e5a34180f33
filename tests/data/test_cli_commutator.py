"""``symaudit commutator`` end to end on tiny generated stores: the file's format, its examples
(the splits a run of the seed makes), c_g = 0 where the NS solver commutes and c_g = c_neg at
the four elements of the wrong pairing; ingested data refused with a reason."""

import json
import subprocess
import sys

import numpy as np
import pytest

from symaudit import outputs
from symaudit.data.generate import generate_store
from symaudit.training import make_splits

FAMILIES = ["NS-BB", "NS-Gauss", "NS-Sines"]


@pytest.fixture(scope="module")
def stores(tmp_path_factory):
    root = tmp_path_factory.mktemp("stores")
    paths = []
    for family in FAMILIES:
        path = root / f"{family}.zarr"
        generate_store(
            family, path, resolution=16, trajectories=5, time_steps=4, seed=3,
            cluster={"kind": "none"}, shard=5, progress=False,
        )  # fmt: skip
        paths.append(path)
    return paths


def _run(stores, out, *sets, times=("--time-steps", "2")):
    args = ["--stores", *map(str, stores), "--dataset", "NS", "--seed", "1"]
    args += ["--split-train", "0.4", "--split-val", "0.2", "--batches", "0", "1"]
    args += [*times, "--out", str(out)]
    for s in sets:
        args += ["--set", *s]
    return subprocess.run(
        [sys.executable, "-m", "symaudit", "commutator", *args], capture_output=True, text=True
    )


def test_commutator_file(stores, tmp_path):
    out = tmp_path / "commutator.nc"
    swapped = ["d4_swapped", "p*e*p", "p*r*p", "p*sr*p", "p*s*p"]
    done = _run(stores, out, ["d4", "e", "r", "sr2"], swapped, ["negation", "e", "neg"])
    assert done.returncode == 0, done.stderr
    with outputs.read(out) as found:
        assert found.identity == outputs.Identity("commutator", "NS", "", 1)
        ds = found.dataset.load()
    assert list(ds["element"].values) == [
        "e",
        "r",
        "sr2",
        "p*e*p",
        "p*r*p",
        "p*sr*p",
        "p*s*p",
        "neg",
    ]
    assert dict(ds["commutator"].sizes) == {"element": 8, "batch": 2, "transition": 2, "class": 3}
    assert json.loads(ds.attrs["element_sets"])["negation"] == ["e", "neg"]
    splits = make_splits(FAMILIES, [5, 5, 5], 1, 0.4, 0.2)
    want = [[splits[f]["test"][k] for f in FAMILIES] for k in (0, 1)]
    np.testing.assert_array_equal(ds["trajectory"].values, want)
    c = ds["commutator"] / ds["persistence_smse"]
    for g in ("e", "r", "sr2", "p*e*p", "p*sr*p"):
        assert float(c.sel(element=g).max()) < 1e-20, g
    for g in ("p*r*p", "p*s*p"):
        np.testing.assert_allclose(c.sel(element=g), c.sel(element="neg"), rtol=1e-9)
    assert float(c.sel(element="neg").min()) > 1e-3
    assert float((ds["resolve_smse"] / ds["persistence_smse"]).max()) < 1e-6


def test_the_examples_follow_the_time_stride(stores, tmp_path):
    """--time-stride 2: transitions 0 -> 1 and 2 -> 3 of the 4-frame stores (direct reads), the
    stride recorded; stride 1 (the default) is today's file, frames 0 -> 1, 1 -> 2."""
    from symaudit.data import commutator as cm
    from symaudit.store import open_store

    done = {}
    for stride in ("1", "2"):
        out = tmp_path / f"c{stride}.nc"
        times = ("--time-steps", "2", "--time-stride", stride)
        proc = _run(stores, out, ["d4", "e", "r"], times=times)
        assert proc.returncode == 0, proc.stderr
        with outputs.read(out) as found:
            done[int(stride)] = found.dataset.load()
    default = tmp_path / "default.nc"
    assert _run(stores, default, ["d4", "e", "r"]).returncode == 0
    with outputs.read(default) as found:
        same = found.dataset.load()
    for name in ("commutator", "persistence_smse", "resolve_smse", "trajectory"):
        np.testing.assert_array_equal(same[name].values, done[1][name].values)
    assert int(same.attrs["time_stride"]) == 1 and same["transition"].attrs == dict(
        outputs.TRANSITION_DIMS["transition"]
    )
    ds = done[2]
    assert int(ds.attrs["time_stride"]) == 2
    assert ds["transition"].attrs["input_frame"].tolist() == [0, 2]
    for i in range(2):
        for c, path in enumerate(stores):
            traj = open_store(path).read()[int(ds["trajectory"][i, c])].astype(np.float32)
            for t, frame in enumerate((0, 2)):  # direct reads: frame 2t -> 2t + 1
                want = cm.smse(traj[frame : frame + 1], traj[frame + 1 : frame + 2])
                got = ds["persistence_smse"].values[i, t, c]
                np.testing.assert_allclose(got, np.ravel(want)[0], rtol=1e-12)
    # transition 0 is frames 0 -> 1 at either stride; transition 1 is 1 -> 2 vs 2 -> 3
    np.testing.assert_array_equal(
        ds["persistence_smse"][:, 0].values, done[1]["persistence_smse"][:, 0].values
    )
    assert not np.allclose(
        ds["persistence_smse"][:, 1].values, done[1]["persistence_smse"][:, 1].values
    )


def test_ingested_data_is_refused(stores, tmp_path):
    import shutil

    import zarr

    fake = tmp_path / "fake.zarr"
    shutil.copytree(stores[0], fake)
    group = zarr.open_group(str(fake), mode="r+")
    # provenance is a JSON-encoded group attr (symaudit._store_meta.encode_attrs)
    group.attrs["provenance"] = group.attrs["provenance"].replace('"generated"', '"pdegym"')
    done = _run([fake, *stores[1:]], tmp_path / "x.nc", ["d4", "e", "r"])
    assert done.returncode != 0 and "no commutator" in done.stderr
    assert "'pdegym': the generating solver is not known" in done.stderr
