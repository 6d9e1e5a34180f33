"""``symaudit lie`` and ``symaudit lie-tables`` (docs/algorithms.md §9): the per-run file holds
the library's Lie derivatives and sub-cell profile per example (n = t + T * class reordered to
(time, class)); the tables pool them over seeds and examples; R(0) = 1 on band-limited stores."""

from __future__ import annotations

import numpy as np
import pandas as pd

from symaudit import datasets, outputs
from symaudit.equivariance import lie_derivative, subcell_profile

from .test_equivariance import tiny_run  # noqa: F401 (the module's fixture)

NS = datasets.channels_for("NS")


def test_lie_file_tables_and_figure(tiny_run, tmp_path, capsys):  # noqa: F811
    from symaudit.cli import main
    from symaudit.models import load_checkpoint
    from symaudit.runs import analysis_batch, load_splits

    out = tmp_path / "lie.nc"
    argv = ["lie", "--checkpoint", str(tiny_run["checkpoint"]), "--run-dir",
            str(tiny_run["run_dir"]), "--stores", *map(str, tiny_run["stores"]),
            "--time-steps", "2", "--batches", "1", "--shifts", "0", "0.5",
            "--out", str(out)]  # fmt: skip
    assert main(argv) == 0
    with outputs.read(out) as o:
        assert o.format.name == "lie" and o.identity.model == "unet"
        ds = o.dataset.load()
    assert ds["lie_derivative"].dims == ("direction", "batch", "transition", "class")
    assert ds["subcell_profile"].shape == (2, 2, 1, 2, 3)
    model, _ = load_checkpoint(tiny_run["checkpoint"])
    x, y = analysis_batch(tiny_run["stores"], load_splits(tiny_run["run_dir"]), 1, time_steps=2)
    for d in ("x", "y"):
        want = lie_derivative(model, x, NS, d).numpy().reshape(3, 2).T
        np.testing.assert_allclose(ds["lie_derivative"].sel(direction=d, batch=1), want, rtol=1e-6)
        prof = subcell_profile(model, x, y, NS, d, [0.0, 0.5]).numpy().reshape(2, 3, 2)
        got = ds["subcell_profile"].sel(direction=d, batch=1).values
        np.testing.assert_allclose(got, prof.transpose(0, 2, 1), rtol=1e-6)

    tables, figures = tmp_path / "tables", tmp_path / "figures"
    assert main(["lie-tables", "--inputs", str(out), "--tables", str(tables),
                 "--figures", str(figures)]) == 0  # fmt: skip
    lie = pd.read_csv(tables / "lie_derivative.csv")
    assert list(lie[["dataset", "model", "direction"]].itertuples(index=False, name=None)) == [
        ("NS", "unet", "x"), ("NS", "unet", "y")]  # fmt: skip
    values = ds["lie_derivative"].sel(direction="x").values.ravel()
    assert lie.loc[0, "median"] == np.quantile(values, 0.5) and lie.loc[0, "n"] == 6
    profile = pd.read_csv(tables / "lie_profile.csv")
    assert len(profile) == 4 and set(profile["shift"]) == {0.0, 0.5}
    for col in ("q1_lo", "median_hi", "n_clusters", "ci_note"):
        assert col in lie and col in profile
    assert lie["n_clusters"].tolist() == [1, 1] and lie["median_lo"].isna().all()  # 1 < 5
    assert (figures / "subcell_profile.png").stat().st_size > 0
