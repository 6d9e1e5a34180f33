"""The workflow's Galerkin mode and damping path (real Snakemake, one small study each).

A copy of the tiny study restricted to CE / unet / d4 with ``influence.method: galerkin`` and no
damping in the config (so the reference's ε = 1e-6 on JᵀJ/D applies): its bras file must flag no
ket as unconverged, and its Π for element r must equal ``influence_matrix(method="galerkin")``
recomputed here on the same checkpoint and analysis batch.  A second copy solves a damping path
with Galerkin comparison values and checks the bras' ``damping`` dimension and the robustness
table's Kendall τ against ``scipy.stats.kendalltau``.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import xarray as xr
import yaml

from symaudit import groups
from tests._workflow import ROOT, copy_repo, snakemake

pytestmark = pytest.mark.workflow


@pytest.fixture(scope="module")
def galerkin_study(tmp_path_factory):
    work = copy_repo(tmp_path_factory.mktemp("galerkin"))
    cfg = yaml.safe_load((ROOT / "tests/workflow/tiny.yaml").read_text())
    cfg.update(study="galerkin", datasets=["CE"], models=["unet"])
    cfg["analysis"]["element_sets"] = ["d4"]
    cfg["influence"] = {"method": "galerkin", "rtol": 1e-4}
    (work / "galerkin.yaml").write_text(yaml.safe_dump(cfg))
    target = "results/galerkin/influence/CE/unet/seed0/d4_chunk000.nc"
    snakemake(work, "--configfile", "galerkin.yaml", "--cores", "2", target)
    return work, cfg, work / target


def test_galerkin_stage_is_converged_and_equals_influence_matrix(galerkin_study):
    from symaudit.influence import KetSolution, bra_influence, influence_matrix, solve_kets
    from symaudit.runs import open_run

    work, cfg, path = galerkin_study
    ds = xr.open_dataset(path)
    assert bool(ds["ket_converged"].all())
    assert ds.attrs["method"] == "galerkin"
    np.testing.assert_array_equal(ds["damping"].values, 1e-6)  # the reference's ε, absolute
    assert np.isfinite(ds["pi_std"]).all() and np.isfinite(ds["pi_mass_raw"]).all()
    full = ds["ket_full_space_relres"].values
    assert np.isfinite(full).all() and (full > 0).all()  # recorded, not a failure
    run = work / "results/galerkin/models/CE/unet/seed0"
    stores = [work / f"results/galerkin/data/{f}.zarr" for f in ("CE-RP", "CE-CRP", "CE-KH")]
    stores = [str(s) for s in stores] if all(s.exists() for s in stores) else None
    if stores is None:  # family names from the dataset table
        from symaudit.datasets import DATASETS

        stores = [str(work / f"results/galerkin/data/{f}.zarr") for f in DATASETS["CE"]]
    t = cfg["analysis"]["time_steps"]
    opened = open_run(run / "final.pt", stores, run, "cpu")
    model, channels = opened.model, opened.channels
    x, y = opened.batch(0, t)
    sol = KetSolution.load(
        work / "results/galerkin/influence/CE/unet/seed0/batch00/solution" / "solution.pt"
    )
    assert sol.kind == "ket_gradients" and all(r.converged for r in sol.records)
    gx, gy = groups.act("r", x, channels), groups.act("r", y, channels)
    ref = influence_matrix(
        model,
        x,
        x,
        y,
        gx,
        gy,
        damping={"mode": "absolute", "value": 1e-6},
        rtol=1e-4,
        method="galerkin",
    )
    assert all(r.converged for r in ref.records)
    # (E, batch, bra_transition, bra_class, ket_transition, ket_class) -> (n_bra, n_ket),
    # n = t + T * class
    got = ds["pi_raw"].sel(element="r").isel(batch=0).values.transpose(1, 0, 3, 2)
    got = torch.from_numpy(got.reshape(3 * t, 3 * t))
    err = float((got - ref.values).norm() / ref.values.norm())
    assert err <= 1e-4, err  # fp32 model; same algorithm, thread counts differ
    # what the stage used to compute: one subspace span(G_ket) for every element
    old = solve_kets(
        model, x, x, y, damping={"mode": "absolute", "value": 1e-6}, rtol=1e-4, method="galerkin"
    )
    shared = bra_influence(model, old, gx, gy)
    print(
        f"\nGalerkin stage vs influence_matrix (element r): {err:.2e}; span(G_ket)-only "
        f"subspace differs by {float((shared - ref.values).norm() / ref.values.norm()):.1%}"
    )


@pytest.fixture(scope="module")
def path_study(tmp_path_factory):
    work = copy_repo(tmp_path_factory.mktemp("path"))
    cfg = yaml.safe_load((ROOT / "tests/workflow/tiny.yaml").read_text())
    cfg.update(study="path", datasets=["NS"], models=["unet"])
    cfg["analysis"]["element_sets"] = ["d4"]
    cfg["influence"] = {
        "damping": {"mode": "relative", "values": [1e-1, 1e-2, 1e-3], "primary": 1e-2},
        "rtol": 1e-4,
        "galerkin_reference": True,
    }
    (work / "path.yaml").write_text(yaml.safe_dump(cfg))
    snakemake(
        work,
        "--configfile",
        "path.yaml",
        "--cores",
        "2",
        "results/path/tables/influence_robustness.csv",
    )
    return work


def test_damping_path_stage_and_robustness_table(path_study):
    import pandas as pd
    from scipy.stats import kendalltau

    ds = xr.open_dataset(path_study / "results/path/influence/NS/unet/seed0/d4_chunk000.nc")
    assert list(ds["damping"].values) == [1e-1, 1e-2, 1e-3]
    assert ds["pi_path_raw"].dims[0] == "damping" and bool(ds["ket_converged_path"].all())
    # the primary λ's slice of the path is the paper figures' pi_raw
    np.testing.assert_array_equal(ds["pi_path_raw"].sel(damping=1e-2).values, ds["pi_raw"].values)
    lam = ds["damping_absolute"].values[:, 0]
    np.testing.assert_allclose(lam / lam[1], [10.0, 1.0, 0.1], rtol=1e-12)
    assert np.isfinite(ds["pi_galerkin_std"]).all()
    tables = path_study / "results/path/tables"
    labels = {"damping_a": str, "damping_b": str}
    table = pd.read_csv(tables / "influence_robustness.csv", dtype=labels)
    medians = pd.read_csv(tables / "influence_robustness_medians.csv", dtype={"damping": str})
    wide = medians.pivot(index="element", columns="damping", values="median")
    assert len(table) == 2 + 3  # neighbouring λ pairs, every λ vs Galerkin
    for row in table.itertuples():
        want = kendalltau(wide[row.damping_a], wide[row.damping_b]).statistic
        assert row.tau == pytest.approx(want, abs=1e-12)
        assert row.stable == (row.tau >= 0.7)
    assert (path_study / "results/path/figures/robustness_d4_unet_NS.png").stat().st_size > 5000
    status = yaml.safe_load((tables / "robustness_status.yaml").read_text())["robustness_status"]
    assert len(status["unstable"]) == int((~table["stable"]).sum())
