"""``analysis.dtype``: the forward-pass stages in float64 (the exact rows of cases 1 and 2).

A float32-trained tiny UNet analysed with ``--dtype float64`` (weights and batch cast up, the
arithmetic float64) is 1 to the float64 tolerance at stride-multiple shifts; with the default
float32 it is judged at 1e-6; the precision reaches the files' attributes, the tables' column
``analysis_dtype`` and the findings' tolerance (docs/validation.md, cases 1 and 2).
"""

import numpy as np
import pandas as pd
import pytest
import torch

from symaudit import groups
from tests.equivariance.test_equivariance import _cli, tiny_run  # noqa: F401 (the fixture)

SHIFTS = {
    "shift_x": [f"t({k},0)" for k in range(32)],
    "shift_y": [f"t(0,{k})" for k in range(32)],
}


def test_analysis_dtype_casts_up_never_down():
    from symaudit.runs import analysis_dtype

    assert analysis_dtype(torch.float32, None) is torch.float32
    assert analysis_dtype(torch.float32, "float32") is torch.float32
    assert analysis_dtype(torch.float32, "float64") is torch.float64
    assert analysis_dtype(torch.float64, "float32") is torch.float64  # never down
    with pytest.raises(ValueError, match="float16"):
        analysis_dtype(torch.float32, "float16")


def test_open_run_casts_the_model_and_the_batch(tiny_run):  # noqa: F811
    from symaudit.runs import open_run

    kept = open_run(tiny_run["checkpoint"], tiny_run["stores"], device="cpu", dtype="float32")
    cast = open_run(tiny_run["checkpoint"], tiny_run["stores"], device="cpu", dtype="float64")
    assert kept.dtype == torch.float32 and cast.dtype == torch.float64
    assert kept.precision_attrs() == {"model_dtype": "float32", "analysis_dtype": "float32"}
    assert cast.precision_attrs() == {"model_dtype": "float32", "analysis_dtype": "float64"}
    for a, b in zip(kept.model.parameters(), cast.model.parameters(), strict=True):
        assert b.dtype == torch.float64 and torch.equal(a.double(), b)  # exactly the weights
    (x32, y32), (x64, y64) = kept.batch(0, 2), cast.batch(0, 2)
    assert x64.dtype == y64.dtype == torch.float64
    assert torch.equal(x32.double(), x64) and torch.equal(y32.double(), y64)


def _stage(run, tmp_path, dtype):
    """The shift sets of the tiny run through the stage CLI and the aggregation: the tables."""
    from symaudit.aggregate._write import aggregate

    study = tmp_path / (dtype or "default")
    files = []
    for name, elements in SHIFTS.items():
        out = study / "equivariance" / "NS" / "unet" / "seed3" / f"{name}_chunk000.nc"
        extra = [] if dtype is None else ["--dtype", dtype]
        assert _cli(run, "--batches", "0", "--set-name", name, "--elements",
                    *elements, "--out", str(out), *extra) == 0  # fmt: skip
        files.append(out)
    aggregate(study, study / "tables", kinds=["equivariance"], inputs=files)
    return files, study / "tables"


def _stride_deviation(table) -> float:
    """max |R - 1| over the examples of the non-zero stride multiples t(16,0), t(0,16)."""
    rows = table[table.element.isin(["t(16,0)", "t(0,16)"])]
    return float(np.maximum((rows["min"] - 1).abs(), (rows["max"] - 1).abs()).max())


def test_float64_analysis_is_exact_at_stride_multiples(tiny_run, tmp_path):  # noqa: F811
    import xarray as xr

    from symaudit.validation import _exact
    from symaudit.validation._rows import FORWARD_TOLERANCE, TOLERANCE

    results = {}
    for dtype in (None, "float32", "float64"):
        files, tables = _stage(tiny_run, tmp_path, dtype)
        with xr.open_dataset(files[0]) as ds:
            assert ds.attrs["analysis_dtype"] == (dtype or "float32")
            assert ds.attrs["model_dtype"] == "float32"  # as trained
            rel = ds["relative_error"].values
        table = pd.read_csv(tables / "equivariance_shift_x.csv")
        assert set(table.analysis_dtype) == {dtype or "float32"}
        per_seed = pd.read_csv(tables / "equivariance_shift_y_per_seed.csv")
        assert set(per_seed.analysis_dtype) == {dtype or "float32"}
        stride = pd.concat([table, pd.read_csv(tables / "equivariance_shift_y.csv")])
        results[dtype] = rel, _stride_deviation(stride), tables
    # the default is float32 and casts nothing: the same numbers, bit for bit
    np.testing.assert_array_equal(results[None][0], results["float32"][0])
    dev32, dev64 = results["float32"][1], results["float64"][1]
    assert dev32 <= TOLERANCE  # float32: judged at 1e-6
    assert dev64 <= FORWARD_TOLERANCE["float64"] == 1e-12
    # the findings: every exact forward row holds, at the tolerance of the table's precision
    for dtype, tol in (("float32", "1e-06"), ("float64", "1e-12")):
        rows = pd.DataFrame(_exact.case2_rows(results[dtype][2], stride=16))
        exact = rows[rows.case.str.contains(r"exact equivariance|period", regex=True)]
        # t(16,0) and t(0,16); the periods t(k) = t(k + 16), k = 1..15, along x and along y
        assert len(exact) == 2 + 2 * 15 and exact.holds.all(), exact
        assert exact.expected.str.contains(tol, regex=False).all()
        assert exact.expected.str.contains(f"({dtype} forward passes)", regex=False).all()


def test_lie_records_its_precision(tiny_run, tmp_path):  # noqa: F811
    import xarray as xr

    from symaudit.cli import main

    out = tmp_path / "lie.nc"
    argv = ["lie", "--checkpoint", str(tiny_run["checkpoint"]), "--run-dir",
            str(tiny_run["run_dir"]), "--stores", *map(str, tiny_run["stores"]),
            "--time-steps", "1", "--batches", "0", "--shifts", "0", "0.5", "--dtype", "float64",
            "--out", str(out)]  # fmt: skip
    assert main(argv) == 0
    with xr.open_dataset(out) as ds:
        assert ds.attrs["analysis_dtype"] == "float64" and ds.attrs["model_dtype"] == "float32"


#: shifts and their partners one UNet stride (16) on: Pi(t(k + 16)) = Pi(t(k)) per example
PERIOD = ["t(0,0)", "t(1,0)", "t(5,0)", "t(16,0)", "t(17,0)", "t(21,0)"]


def _bras(run, tmp_path, solution, dtype):
    """Pi of the tiny run's shift_x bras against ``solution``, in ``dtype`` (None: default)."""
    from symaudit.cli import main

    out = tmp_path / (dtype or "default") / "influence" / "NS" / "unet" / "seed3"
    out = out / "shift_x_chunk000.nc"
    extra = [] if dtype is None else ["--dtype", dtype]
    argv = ["influence-bras", "--solutions", str(solution), *_influence_run(run),
            "--set-name", "shift_x", "--elements", *PERIOD, "--out", str(out),
            *extra]  # fmt: skip
    assert main(argv) == 0
    return out


def _influence_run(run) -> list[str]:
    import json

    settings = {"damping": {"mode": "relative", "value": 1e-3}}
    return ["--checkpoint", str(run["checkpoint"]), "--run-dir", str(run["run_dir"]),
            "--stores", *map(str, run["stores"]), "--time-steps", "2", "--device", "cpu",
            "--settings", json.dumps(settings)]  # fmt: skip


def test_float64_bras_make_the_influence_period_exact(tiny_run, tmp_path):  # noqa: F811
    """The bras in float64 against the same float32-solved kets: Pi(t(k+16)) = Pi(t(k)) per
    example to 1e-12 (float32: round-off, ~1e-7); the precision reaches the file and the
    influence table, and the findings' period rows are judged by it."""
    import xarray as xr

    from symaudit.aggregate._write import aggregate
    from symaudit.cli import main
    from symaudit.validation._rows import FORWARD_TOLERANCE

    solution = tmp_path / "solution"
    argv = ["influence-solve", *_influence_run(tiny_run), "--batch", "0", "--out", str(solution)]
    assert main(argv) == 0
    period = {}
    for dtype in (None, "float32", "float64"):
        out = _bras(tiny_run, tmp_path, solution, dtype)
        with xr.open_dataset(out) as ds:
            assert ds.attrs["analysis_dtype"] == (dtype or "float32")
            assert ds.attrs["model_dtype"] == "float32"
            pi = ds["pi_raw"].values  # (element, batch, bra t, bra class, ket t, ket class)
        half = len(PERIOD) // 2  # t(k) against t(k + 16)
        period[dtype] = np.abs(pi[:half] - pi[half:]).max() / np.abs(pi).max(), pi
        aggregate(out.parents[4], out.parents[4] / "tables", kinds=["influence"], inputs=[out])
        table = pd.read_csv(out.parents[4] / "tables" / "influence_shift_x.csv")
        assert set(table.analysis_dtype) == {dtype or "float32"}
    np.testing.assert_array_equal(period[None][1], period["float32"][1])  # nothing cast
    assert period["float64"][0] <= FORWARD_TOLERANCE["float64"]
    assert period["float32"][0] > FORWARD_TOLERANCE["float64"]  # float32 round-off is visible


def test_workflow_threads_analysis_dtype():
    """The equivariance, Lie and influence-bras rules pass config analysis.dtype to the
    stages' --dtype (the solve keeps the trained precision)."""
    from pathlib import Path

    root = Path(__file__).resolve().parents[2] / "workflow" / "rules"
    for name, rules in (("equivariance.smk", 3), ("lie.smk", 1), ("influence.smk", 2)):
        text = (root / name).read_text()
        assert text.count('dtype=config["analysis"]["dtype"]') == rules, name
        assert text.count("--dtype {params.dtype}") == rules, name


def _twirled_d4(dev: float, precision: str | None) -> pd.DataFrame:
    rows = []
    for g in groups.D4:
        h = groups.parse(g)
        row = {"dataset": "NS", "model": "twirled-unet", "element_set": "d4", "element": g,
               "dx": h.dx, "dy": h.dy, "rotate": h.rotate, "reflect": h.reflect,
               "q1": 1.0, "median": 1.0, "q3": 1.0, "n_seeds": 1, "n_examples": 24,
               "n_examples_per_seed_min": 24, "min": 1.0 - dev, "max": 1.0 + dev}  # fmt: skip
        if precision is not None:
            row["analysis_dtype"] = precision
        rows.append(row)
    return pd.DataFrame(rows)


@pytest.mark.parametrize(
    "precision, dev, holds",
    [
        (None, 1e-9, True),  # a table without the record: float32, 1e-6
        ("float32", 1e-9, True),
        ("float64", 1e-9, False),  # float64: 1e-12
        ("float64", 1e-13, True),
        ("float32", 2e-6, False),
    ],
)
def test_findings_pick_the_tolerance_from_the_table(tmp_path, precision, dev, holds):
    from symaudit.validation import _exact

    _twirled_d4(dev, precision).to_csv(tmp_path / "equivariance_d4.csv", index=False)
    rows = pd.DataFrame(_exact.case1_rows(tmp_path))
    errors = rows[rows.case.str.contains("| equivariance", regex=False)]
    assert len(errors) == 8 and (errors.holds == holds).all(), errors
    tol = "1e-12" if precision == "float64" else "1e-06"
    assert errors.expected.str.contains(f"1 +- {tol}", regex=False).all()
    forward = f"({precision or 'float32'} forward passes)"
    assert errors.expected.str.contains(forward, regex=False).all()
