"""equivariance_boost / equivariance_scale tables (docs/algorithms.md §5.3): the raw statistic in
the usual columns, the normalised one beside it (``normalised_*``), boosts described by
boost_x/boost_y, scalings by alpha.  Known answer: files whose normalised error is the raw one
divided by alpha (persistence-like) give normalised quantiles = raw / alpha exactly."""

from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr

from symaudit import aggregate as agg
from symaudit import groups
from symaudit.outputs import EXAMPLE_DIMS

SEEDS, B, T = (0, 1, 2), 3, 2


def _write(root, set_name, dataset, classes, divide):
    gen = np.random.default_rng(1)
    names = groups.elements(set_name, 16)
    for seed in SEEDS:
        rel = gen.lognormal(0, 0.1, (len(names), B, T, len(classes)))
        ds = xr.Dataset(
            {
                "relative_error": (("element", *EXAMPLE_DIMS), rel),
                "normalised_error": (("element", *EXAMPLE_DIMS), rel / divide[:, None, None, None]),
                "smse_transformed": (("element", *EXAMPLE_DIMS), rel),
                "smse": (EXAMPLE_DIMS, np.ones(rel.shape[1:])),
                "persistence_smse": (EXAMPLE_DIMS, np.ones(rel.shape[1:])),
            },
            coords={
                "element": names,
                "batch": np.arange(B),
                "transition": np.arange(T),
                "class": classes,
            },  # fmt: skip
            attrs={
                "dataset": dataset,
                "model": "unet",
                "seed": seed,
                "set_name": set_name,
                "chunk": 0,
            },  # fmt: skip
        )
        path = root / "equivariance" / dataset / "unet" / f"seed{seed}" / f"{set_name}_chunk000.nc"
        path.parent.mkdir(parents=True, exist_ok=True)
        ds.to_netcdf(path)
    return names


def test_boost_and_scale_tables(tmp_path):
    boosts = _write(tmp_path, "boost", "NS", ["NS-BB", "NS-Gauss", "NS-Sines"], np.full(9, 2.0))
    alphas = np.array([groups.parse_transition(g).alpha for g in groups.elements("scale", 16)])
    _write(tmp_path, "scale", "CE", ["CE-RP", "CE-CRP", "CE-RPUI"], alphas)
    written = agg.aggregate(tmp_path, tmp_path / "tables", kinds=["equivariance"])
    assert {p.name for p in written} >= {"equivariance_boost.csv", "equivariance_scale.csv"}
    boost = pd.read_csv(tmp_path / "tables" / "equivariance_boost.csv")
    assert list(boost.element) == boosts
    assert list(zip(boost.boost_x, boost.boost_y, strict=True)) == list(groups.BOOSTS)
    for col in ("q1", "median", "q3", "median_lo", "median_hi", "min", "max"):
        np.testing.assert_allclose(boost[f"normalised_{col}"], boost[col] / 2, rtol=1e-12)
    scale = pd.read_csv(tmp_path / "tables" / "equivariance_scale.csv")
    assert list(scale.alpha) == [1.0, 0.5, 2.0] and "dx" not in scale
    np.testing.assert_allclose(
        scale["normalised_median"], scale["median"] / scale["alpha"], rtol=1e-12
    )
    per_seed = pd.read_csv(tmp_path / "tables" / "equivariance_scale_per_seed.csv")
    assert len(per_seed) == 9 and "normalised_median" in per_seed

    from symaudit.aggregate._figures import make_figures

    figures = make_figures(tmp_path / "tables", tmp_path / "figures", only=["boost_error"])
    assert [p.name for p in figures] == ["boost_error.png", "boost_error.pdf"]
    everything = make_figures(tmp_path / "tables", tmp_path / "figures", formats=["png"])
    assert {p.name for p in everything} == {"boost_error.png", "scale_error.png"}
