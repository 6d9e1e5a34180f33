"""``symaudit equivariance --task``: several chunks and the twirl from one process, each file
equal to the one its own invocation writes (the workflow's per-run jobs, analysis.jobs)."""

import numpy as np
import pytest
import xarray as xr

from tests.equivariance.test_equivariance import _cli, tiny_run  # noqa: F401 (the fixture)


def _equal(a, b) -> None:
    with xr.open_dataset(a) as x, xr.open_dataset(b) as y:
        assert sorted(x.data_vars) == sorted(y.data_vars)
        for name in x.data_vars:
            np.testing.assert_array_equal(x[name].values, y[name].values, err_msg=name)
        assert sorted(x.attrs) == sorted(y.attrs)
        for key, value in x.attrs.items():  # (array-valued attrs, e.g. a transition set's)
            np.testing.assert_array_equal(value, y.attrs[key], err_msg=key)


def test_tasks_write_what_separate_invocations_write(tiny_run, tmp_path):  # noqa: F811
    one, many = tmp_path / "one", tmp_path / "many"
    one.mkdir(), many.mkdir()
    chunks = [
        ("d4", "0", ["e", "r", "sr2"]),
        ("shift_x", "1", ["t(1,0)", "t(3,0)"]),
        ("negation", "0", ["e", "neg"]),  # a set acting on transitions (groups.TRANSITION_SETS)
    ]
    batches = ["--batches", "0", "1", "--elements-per-batch", "2"]
    assert _cli(tiny_run, *batches, "--set-name", "d4", "--elements", "e",
                "--twirl-out", str(one / "twirl.nc")) == 0  # fmt: skip
    for name, chunk, elements in chunks:
        assert _cli(tiny_run, *batches, "--set-name", name, "--chunk", chunk, "--elements",
                    *elements, "--out", str(one / f"{name}.nc")) == 0  # fmt: skip
    tasks = [a for n, c, e in chunks for a in ("--task", n, c, str(many / f"{n}.nc"), *e)]
    assert _cli(tiny_run, *batches, "--set-name", "d4", "--elements", "e",
                "--twirl-out", str(many / "twirl.nc"), *tasks) == 0  # fmt: skip
    for name in ("twirl", "d4", "shift_x", "negation"):
        _equal(one / f"{name}.nc", many / f"{name}.nc")
    with xr.open_dataset(many / "shift_x.nc") as ds:
        assert ds.attrs["set_name"] == "shift_x" and ds.attrs["chunk"] == 1


@pytest.mark.parametrize(
    "task, message",
    [(["d4", "x", "o.nc", "e"], "expected SET CHUNK OUT"), (["nope", "0", "o.nc", "e"], "unknown")],
)
def test_malformed_task_is_one_line(tiny_run, tmp_path, capsys, task, message):  # noqa: F811
    rc = _cli(tiny_run, "--batches", "0", "--set-name", "d4", "--elements", "e", "--task", *task)
    assert rc == 2
    err = [line for line in capsys.readouterr().err.splitlines() if ": warning: " not in line]
    assert len(err) == 1 and message in err[0], err
