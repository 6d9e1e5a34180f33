"""The tiny study's companion stage (companion.enabled in tests/workflow/tiny.yaml): every table
recomputed from the stage's own influence outputs, analysis inputs and metrics with plain
numpy loops, the figures and the report entries present."""

from __future__ import annotations

import json
from itertools import product

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from symaudit import companion
from symaudit.datasets import DATASETS
from symaudit.training import analysis_batch

from .test_workflow import CFG

pytestmark = pytest.mark.workflow
Q = [0.25, 0.5, 0.75]


def _identity(tiny_study, dataset, model):
    """{observable: [(seed, batch, Π̃ (t₂, b₂, t₁, b₁))]} read from the influence outputs."""
    first = CFG["analysis"]["element_sets"][0]
    out = {}
    for seed in CFG["seeds"]:
        path = tiny_study / f"results/tiny/influence/{dataset}/{model}/seed{seed}"
        with xr.open_dataset(path / f"{first}_chunk000.nc") as ds:
            name = str(ds["element"].values[0])
            assert name in ("e", "t(0,0)")
            for var, obs in (
                ("pi_std", "smse"),
                ("pi_mass_std", "mass"),
                ("pi_energy_std", "energy"),
            ):
                if var not in ds:
                    continue
                da = ds[var].sel(element=name)
                for b in ds["batch"].values:
                    grid = (
                        da.sel(batch=b)
                        .transpose("bra_time", "bra_class", "ket_time", "ket_class")
                        .values
                    )
                    out.setdefault(obs, []).append((seed, int(b), grid))
    return out


def _check(row, values):
    values = np.asarray(values, dtype=float)
    values = values[np.isfinite(values)]
    assert row["n"] == len(values)
    np.testing.assert_allclose([row.q1, row.median, row.q3], np.quantile(values, Q), rtol=1e-12)


def test_companion_tables_recomputed_from_the_influence_outputs(tiny_study):
    tables = {
        name: pd.read_csv(tiny_study / f"results/tiny/tables/{name}.csv")
        for name in companion.TABLES
    }
    for name, frame in tables.items():
        assert list(frame.columns) == list(companion.TABLES[name]), name
    edges_wanted = CFG["companion"]["distance_edges"]
    for dataset, model in product(CFG["datasets"], CFG["models"]):
        found = _identity(tiny_study, dataset, model)
        samples = [grid for _, _, grid in found["smse"]]
        T, B = samples[0].shape[:2]

        def sel(frame, dataset=dataset, model=model):
            return frame[(frame.dataset == dataset) & (frame.model == model)]

        part = sel(tables["two_time_map"])
        assert len(part) == T * T
        for row in part.itertuples():
            _check(row, [g[row.bra_time, b, row.ket_time, b] for g in samples for b in range(B)])

        part = sel(tables["class_transfer"])
        classes = list(DATASETS[dataset])
        assert len(part) == B * B
        for row in part.itertuples():
            b2, b1 = classes.index(row.response_class), classes.index(row.perturbing_class)
            _check(row, [g[t, b2, t, b1] for g in samples for t in range(T)])

        part = sel(tables["time_lag"])
        assert sorted(set(part.lag)) == list(range(-(T - 1), T))
        for row in part.itertuples():
            _check(
                row,
                [
                    g[t2, b2, t1, b1]
                    for g in samples
                    for t2, b2, t1, b1 in product(range(T), range(B), range(T), range(B))
                    if t2 - t1 == row.lag and (b2 == b1) == (row.kind == "intra")
                ],
            )

        # distances from the stores, the run's splits and the formula, binned by hand
        dists = []
        for seed, batch, _ in found["smse"]:
            run = tiny_study / f"results/tiny/models/{dataset}/{model}/seed{seed}"
            splits = json.loads((run / "splits.json").read_text())["splits"]
            stores = [tiny_study / f"results/tiny/data/{f}.zarr" for f in classes]
            x, _ = analysis_batch(stores, splits, batch, T)
            x = x.numpy().astype(np.float64)
            d = np.zeros((T, B, T, B))
            for t2, b2, t1, b1 in product(range(T), range(B), range(T), range(B)):
                u, v = x[t2 + T * b2], x[t1 + T * b1]
                ru, rv = np.sqrt((u**2).mean(axis=(1, 2))), np.sqrt((v**2).mean(axis=(1, 2)))
                s = 0.5 * (ru + rv) + 1e-6
                d[t2, b2, t1, b1] = (((u - v) ** 2).mean(axis=(1, 2)) / s).mean()
            dists.append(d)
        positive = np.concatenate([d[d > 0] for d in dists])
        edges = np.geomspace(positive.min(), positive.max(), edges_wanted)
        part = sel(tables["influence_distance"])
        assert list(part.bin) == list(range(1, edges_wanted - 1))  # overlap 1 (default)
        for row in part.itertuples():
            lo, hi = edges[row.bin - 1], edges[row.bin + 1]
            np.testing.assert_allclose(
                [row.lower, row.distance, row.upper], [lo, edges[row.bin], hi], rtol=1e-12
            )
            means = [
                g[(d >= lo) & (d <= hi) & np.isfinite(g)].mean()
                for g, d in zip(samples, dists, strict=True)
                if ((d >= lo) & (d <= hi) & np.isfinite(g)).any()
            ]
            assert row.n == len(means)
            if means:
                np.testing.assert_allclose(
                    [row.q1, row.median, row.q3], np.quantile(means, Q), rtol=1e-10
                )

        part = sel(tables["conservation_two_time_map"])
        if dataset == "CE":
            assert sorted(set(part.observable)) == ["energy", "mass"]
            for row in part.itertuples():
                grids = [g for _, _, g in found[row.observable]]
                _check(row, [g[row.bra_time, b, row.ket_time, b] for g in grids for b in range(B)])
        else:
            assert part.empty

        part = sel(tables["training_curves"])
        curves = [
            pd.read_csv(tiny_study / f"results/tiny/models/{dataset}/{model}/seed{s}/metrics.csv")
            for s in CFG["seeds"]
        ]
        assert list(part.epoch) == list(curves[0].epoch)
        for row in part.itertuples():
            _check(row, [c.set_index("epoch").val_smse[row.epoch] for c in curves])


def test_companion_figures_and_report(tiny_study):
    page = (tiny_study / "results/tiny/report.html").read_text(errors="replace")
    for stem in companion.FIGURES:
        png = tiny_study / f"results/tiny/figures/{stem}.png"
        assert png.stat().st_size > 5_000, stem
        assert f"{stem}.png" in page, stem
    for name in companion.TABLES:
        assert f"{name}.csv" in page, name
