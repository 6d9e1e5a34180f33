"""influence-bras with boosts: the bras at (g x, g y) through act_transition (the stores' frame
spacing), so boost(0,0) gives the identity's influence and boost(1,0) another, finite one."""

from __future__ import annotations

import json

import numpy as np

from symaudit import outputs
from tests.test_runs import run  # noqa: F401 (the module's fixture)


def test_boost_bras(run, tmp_path):  # noqa: F811
    from symaudit.cli import main

    stores = [str(s) for s in run["stores"]]
    common = ["--checkpoint", str(run["checkpoint"]), "--run-dir", str(run["run_dir"])]
    common += ["--stores", *stores, "--time-steps", "2", "--device", "cpu"]
    common += ["--settings", json.dumps({"damping": {"mode": "relative", "value": 0.1}})]
    solution = tmp_path / "solution"
    assert main(["influence-solve", *common, "--batch", "0", "--out", str(solution)]) == 0
    out = tmp_path / "boost.nc"
    argv = ["influence-bras", "--solutions", str(solution), *common, "--set-name", "boost"]
    argv += ["--elements", "boost(0,0)", "e", "boost(1,0)", "--out", str(out)]
    assert main(argv) == 0
    with outputs.read(out, "influence") as o:
        pi = o.dataset["pi_raw"].load()
    assert o.identity.element_set == "boost"
    np.testing.assert_allclose(pi.sel(element="boost(0,0)"), pi.sel(element="e"), rtol=1e-12)
    moved = pi.sel(element="boost(1,0)").values
    assert np.isfinite(moved).all() and np.abs(moved - pi.sel(element="e").values).max() > 0
