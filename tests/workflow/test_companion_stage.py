"""The tiny study's companion stage (companion.enabled in tests/workflow/tiny.yaml): every table
recomputed from the stage's own influence outputs, analysis inputs and metrics with plain
numpy loops, the figures and the report entries present."""

from __future__ import annotations

import json
from itertools import product

import numpy as np
import pandas as pd
import pytest
import torch
import xarray as xr

from symaudit import companion
from symaudit.datasets import DATASETS
from symaudit.outputs import PI_DIMS
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
                    if var == "pi_std":  # the raw values beside, for the rollout correlation
                        raw = ds["pi_raw"].sel(element=name, batch=b)
                        out.setdefault("raw", []).append(raw.transpose(*PI_DIMS[2:]).values)
                    grid = da.sel(batch=b).transpose(*PI_DIMS[2:]).values
                    out.setdefault(obs, []).append((seed, int(b), grid))
    return out


def _check(row, values):
    values = np.asarray(values, dtype=float)
    values = values[np.isfinite(values)]
    assert row.n == len(values)
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


def test_rollout_tables_recomputed_from_the_rollouts(tiny_study):
    from symaudit.losses import smse
    from symaudit.models import load_checkpoint

    error_table = pd.read_csv(tiny_study / "results/tiny/tables/rollout_error.csv")
    corr_table = pd.read_csv(tiny_study / "results/tiny/tables/rollout_correlation.csv")
    T = CFG["analysis"]["time_steps"]
    train = CFG["train"]["time_steps"] - 1
    for dataset, model in product(CFG["datasets"], CFG["models"]):
        found = _identity(tiny_study, dataset, model)
        errors, points_x, points_y = [], [], []
        for seed in CFG["seeds"]:
            run = tiny_study / f"results/tiny/models/{dataset}/{model}/seed{seed}"
            with xr.open_dataset(
                tiny_study / f"results/tiny/companion/{dataset}/{model}/seed{seed}/diagnostics.nc"
            ) as ds:
                err = ds["rollout_error"].values  # (batch, class, start, horizon)
                batches = [int(b) for b in ds["batch"].values]
            errors.append(err)
            # the first step from t₀ = 1 of class 2, by hand from the checkpoint
            net, _ = load_checkpoint(run / "final.pt")
            splits = json.loads((run / "splits.json").read_text())["splits"]
            stores = [tiny_study / f"results/tiny/data/{f}.zarr" for f in DATASETS[dataset]]
            x, y = analysis_batch(stores, splits, batches[0], T)
            with torch.no_grad():
                one = smse(net(x[1 + 2 * T][None]), y[1 + 2 * T][None]).item()
            np.testing.assert_allclose(err[0, 2, 1, 0], one, rtol=1e-5)
            for k, c in product(range(len(batches)), range(3)):
                points_y.append(
                    [
                        np.median([err[k, c, t0, dt - 1] for t0 in range(T - dt + 1)])
                        for dt in range(1, T + 1)
                    ]
                )
        for raw in found["raw"]:  # seeds × batches, the order of points_y
            for c in range(3):
                block = raw[:, c, :, c]
                points_x.append((block.sum() - np.trace(block)) / np.trace(block))
        part = error_table[(error_table.dataset == dataset) & (error_table.model == model)]
        assert len(part) == errors[0].shape[3]
        for row in part.itertuples():
            assert row.beyond_training == (row.horizon > train)
            _check(row, np.concatenate([e[..., row.horizon - 1].ravel() for e in errors]))
        part = corr_table[(corr_table.dataset == dataset) & (corr_table.model == model)]
        assert list(part.horizon) == list(range(1, T + 1))
        points_y = np.array(points_y)
        for row in part.itertuples():
            assert row.n == len(points_x)
            want = np.corrcoef(points_x, points_y[:, row.horizon - 1])[0, 1]
            np.testing.assert_allclose(row.pearson_r, want, rtol=1e-10)


def _raw_identity(path):
    with xr.open_dataset(path) as ds:
        assert str(ds["element"].values[0]) in ("e", "t(0,0)")
        raw = ds["pi_raw"].isel(element=0).transpose(*PI_DIMS[1:])
        return raw.values  # (batch, bra_transition, bra_class, ket_transition, ket_class)


def test_influence_dynamics_recomputed_from_each_epochs_influence(tiny_study):
    table = pd.read_csv(tiny_study / "results/tiny/tables/influence_dynamics.csv")
    first = CFG["analysis"]["element_sets"][0]
    last = CFG["train"]["epochs"]
    for dataset, model in product(CFG["datasets"], CFG["models"]):
        part = table[(table.dataset == dataset) & (table.model == model)]
        assert sorted(set(part.epoch)) == sorted([*CFG["companion"]["epochs"], last])
        for epoch in set(part.epoch):
            grids = []
            for seed in CFG["seeds"]:
                if epoch == last:
                    run = f"results/tiny/influence/{dataset}/{model}/seed{seed}"
                    grids += list(_raw_identity(tiny_study / run / f"{first}_chunk000.nc"))
                else:
                    run = f"results/tiny/companion/{dataset}/{model}/seed{seed}"
                    with xr.open_dataset(tiny_study / run / "diagnostics.nc") as ds:
                        assert bool(ds["ket_converged"].all())
                        raw = ds["pi_raw"].sel(influence_epoch=epoch).values
                    grids += list(raw)
            n = grids[0].shape[0] * grids[0].shape[1]
            flat = [g.reshape(n, n) for g in grids]  # (t, b) flattened, the same on both sides
            diag = [np.trace(f) / n for f in flat]
            off = [(f.sum() - np.trace(f)) / (n * n - n) for f in flat]
            for kind, values in (("diagonal", diag), ("off_diagonal", off)):
                (row,) = part[(part.epoch == epoch) & (part.kind == kind)].itertuples()
                _check(row, values)
        if dataset == CFG["datasets"][0] and model == CFG["models"][0]:
            # the earlier epoch's influence differs from the last one's (another checkpoint)
            early = part[part.epoch == CFG["companion"]["epochs"][0]]["median"].to_numpy()
            assert not np.allclose(early, part[part.epoch == last]["median"].to_numpy())


def test_gn_spectrum_recomputed_from_the_spectra(tiny_study):
    table = pd.read_csv(tiny_study / "results/tiny/tables/gn_spectrum.csv")
    epochs = sorted([*CFG["companion"]["epochs"], CFG["train"]["epochs"]])
    n_examples = 3 * CFG["analysis"]["time_steps"]
    for dataset, model in product(CFG["datasets"], CFG["models"]):
        part = table[(table.dataset == dataset) & (table.model == model)]
        assert list(part.epoch) == epochs
        for row in part.itertuples():
            eig, top = [], []
            for seed in CFG["seeds"]:
                run = f"results/tiny/companion/{dataset}/{model}/seed{seed}"
                with xr.open_dataset(tiny_study / run / "diagnostics.nc") as ds:
                    values = ds["eigenvalue"].sel(epoch=row.epoch).values
                    rank = ds["rank"].sel(epoch=row.epoch).values
                    assert (1 <= rank).all() and (rank <= n_examples).all()
                    for b, k in enumerate(rank):  # descending, NaN past the rank
                        assert np.isfinite(values[b, :k]).all() and np.isnan(values[b, k:]).all()
                        assert (np.diff(values[b, :k]) <= 0).all()
                    eig.append(values)
                    top += list(ds["lambda_max"].sel(epoch=row.epoch).values)
            eig = np.concatenate(eig)
            pooled = eig[np.isfinite(eig)]
            _check(row, pooled)
            np.testing.assert_allclose([row.min, row.max], [pooled.min(), pooled.max()])
            ratio = np.nanmax(eig, axis=1) / np.nanmin(eig, axis=1)
            np.testing.assert_allclose(row.ratio_median, np.median(ratio), rtol=1e-12)
            np.testing.assert_allclose(row.lambda_max_median, np.median(top), rtol=1e-12)
            assert pooled.min() > 0


def test_companion_figures_and_report(tiny_study):
    page = (tiny_study / "results/tiny/report.html").read_text(errors="replace")
    for stem in companion.FIGURES:
        png = tiny_study / f"results/tiny/figures/{stem}.png"
        assert png.stat().st_size > 5_000, stem
        assert f"{stem}.png" in page, stem
    for name in companion.TABLES:
        assert f"{name}.csv" in page, name
