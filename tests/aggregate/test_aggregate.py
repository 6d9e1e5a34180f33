"""Aggregation stage: quantile tables equal numpy's type-7 quantiles computed independently from
the raw per-job files, counts and convergence flags are right, and the file lists agree with what
is written (figures: ``test_figures.py``; report captions: ``test_report_captions.py``)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from symaudit import aggregate as agg
from symaudit import groups, names

from ._synthetic import BATCHES, CLASSES, SEEDS, UNCONVERGED, K, N, T

ROOT = Path(__file__).resolve().parents[2]


def _raw_equivariance(root: Path, dataset, model, set_name) -> dict[int, xr.DataArray]:
    """Per seed, the relative errors of all chunks (read file by file, no aggregation code)."""
    out = {}
    for seed in SEEDS:
        files = sorted(
            (root / "equivariance" / dataset / model / f"seed{seed}").glob(f"{set_name}_chunk*.nc")
        )
        out[seed] = xr.concat([xr.load_dataset(f)["relative_error"] for f in files], "element")
    return out


def _raw_influence(root: Path, dataset, model, set_name):
    """Per (seed, batch): pi_std of all chunks and the ket_converged mask (workflow layout:
    one file per (seed, chunk) with a batch dimension)."""
    out = {}
    for seed in SEEDS:
        d = root / "influence" / dataset / model / f"seed{seed}"
        parts = [xr.load_dataset(f) for f in sorted(d.glob(f"{set_name}_chunk*.nc"))]
        pi = xr.concat([p["pi_std"] for p in parts], "element")
        for k in range(BATCHES):
            out[seed, k] = (
                pi.sel(batch=k).transpose(
                    "element", "bra_transition", "bra_class", "ket_transition", ...
                ),
                parts[0]["ket_converged"].sel(batch=k).values,
            )
    return out


def _rows_of(table, dataset, model, element):
    """The rows of a quantile table for one (dataset, model, element)."""
    return table[(table.dataset == dataset) & (table.model == model) & (table.element == element)]


# --- file lists ----------------------------------------------------------------------------


def test_paper_figure_numbers_are_each_produced_once():
    stems = agg.expected_figures(["CE", "NS"], ["unet", "vit"], agg.ELEMENT_SETS)
    assert [s for s in stems if not s.startswith("fig")] == [
        "boost_error",
        "scale_error",
        "negation_error",
    ]
    numbers = sorted(int(s[3:5]) for s in stems if s.startswith("fig"))
    assert numbers == list(range(1, 21))
    # the captions' assignments (influence-symmetry paper)
    for stem in [
        "fig01_d4_error_NS",
        "fig09_d4_error_CE",
        "fig02_d4_influence_NS",
        "fig10_d4_influence_CE",
        "fig03_shift_x_error_CE",
        "fig13_shift_x_error_NS",
        "fig04_shift_y_error_CE",
        "fig12_shift_y_error_NS",
        "fig05_shift_x_influence_CE",
        "fig11_shift_x_influence_NS",
        "fig06_shift_y_influence_CE",
        "fig14_shift_y_influence_NS",
        "fig07_shift_box_error_vit_CE",
        "fig16_shift_box_error_unet_CE",
        "fig17_shift_box_error_unet_NS",
        "fig20_shift_box_error_vit_NS",
        "fig08_shift_box_influence_vit_CE",
        "fig18_shift_box_influence_unet_CE",
        "fig15_shift_box_influence_unet_NS",
        "fig19_shift_box_influence_vit_NS",
    ]:
        assert stem in stems
    assert agg.expected_figures(["CE"], ["unet"], ["d4"], kinds=["equivariance"]) == [
        "fig09_d4_error_CE"
    ]
    twirled = agg.expected_figures(["CE"], ["twirled-vit"], ["shift_box"])
    assert twirled == [
        "fig07_shift_box_error_twirled-vit_CE",
        "fig08_shift_box_influence_twirled-vit_CE",
    ]
    with pytest.raises(ValueError, match="element set"):
        agg.expected_figures(["CE"], ["unet"], ["d8"])


def test_expected_tables_are_exactly_the_files_written(study):
    root, written = study
    # the synthetic study has the paper's sets (the validation sets: tests/validation/; boosts
    # and scalings: tests/aggregate/test_kinematic_tables.py)
    paper_sets = [
        s for s in agg.ELEMENT_SETS if s not in agg.VALIDATION_SETS + names.TRANSITION_SETS
    ]
    stems = agg.expected_tables(paper_sets)
    want = {f"{s}{suffix}" for s in stems for suffix in agg.TABLE_SUFFIXES}
    assert {p.name for p in written} == want
    # atomic writes leave no temporaries behind
    assert sorted(p.name for p in (root / "tables").iterdir()) == sorted(want)


# --- statistics ----------------------------------------------------------------------------


def test_equivariance_statistic_is_median_over_seeds_of_per_seed_q3(study, tables):
    root, _ = study
    for set_name in ("d4", "shift_box"):
        table = tables[f"equivariance_{set_name}"]
        per_seed_table = tables[f"equivariance_{set_name}_per_seed"]
        for dataset in ("CE", "NS"):
            for model in ("unet", "vit"):
                raw = _raw_equivariance(root, dataset, model, set_name)
                for element in groups.elements(set_name, N, K):
                    q3 = np.array(
                        [
                            np.quantile(raw[s].sel(element=element).values.ravel(), 0.75)
                            for s in SEEDS
                        ]
                    )
                    row = _rows_of(table, dataset, model, element)
                    assert len(row) == 1
                    row = row.iloc[0]
                    np.testing.assert_allclose(
                        [row["q1"], row["median"], row["q3"]],
                        np.quantile(q3, [0.25, 0.5, 0.75]),
                        rtol=1e-12,
                    )
                    # with 3 seeds, type 7 gives midpoints of adjacent sorted values
                    a, b, c = np.sort(q3)
                    np.testing.assert_allclose(
                        [row["q1"], row["median"], row["q3"]],
                        [(a + b) / 2, b, (b + c) / 2],
                        rtol=1e-12,
                    )
                    per_example = BATCHES * T * CLASSES
                    assert (row.n_seeds, row.n_examples) == (3, 3 * per_example)
                    assert row.n_examples_per_seed_min == per_example
                    ps = _rows_of(per_seed_table, dataset, model, element)
                    assert list(ps.seed) == list(SEEDS)
                    np.testing.assert_allclose(ps.q3, q3, rtol=1e-12)
                    assert set(ps.n) == {per_example}
                    values = np.stack([raw[s].sel(element=element).values for s in SEEDS])
                    assert (row["min"], row["max"]) == (values.min(), values.max())
                    np.testing.assert_array_equal(
                        ps["max"], values.reshape(len(SEEDS), -1).max(axis=1)
                    )


def test_influence_statistic_is_pooled_quantiles_of_the_diagonal(study, tables):
    root, _ = study
    t, b = np.meshgrid(np.arange(T), np.arange(CLASSES), indexing="ij")
    for set_name in ("d4", "shift_x"):
        table = tables[f"influence_{set_name}"]
        for dataset in ("CE", "NS"):
            for model in ("unet", "vit"):
                raw = _raw_influence(root, dataset, model, set_name)
                for element in groups.elements(set_name, N, K):
                    pooled = np.concatenate(
                        [
                            pi.sel(element=element).values[t, b, t, b].ravel()
                            for pi, _ in raw.values()
                        ]
                    )
                    n_bad = sum(int((~conv).sum()) for _, conv in raw.values())
                    row = _rows_of(table, dataset, model, element).iloc[0]
                    np.testing.assert_allclose(
                        [row["q1"], row["median"], row["q3"]],
                        np.quantile(pooled, [0.25, 0.5, 0.75]),
                        rtol=1e-12,
                    )
                    assert row.n == pooled.size == len(SEEDS) * BATCHES * T * CLASSES
                    assert (row["min"], row["max"]) == (pooled.min(), pooled.max())
                    assert (row.n_seeds, row.n_batches) == (3, 3 * BATCHES)
                    assert row.n_kets == 3 * BATCHES * T * CLASSES
                    assert row.n_unconverged == n_bad
                    expect_bad = (dataset, model) == UNCONVERGED[:2]
                    assert n_bad == int(expect_bad)
                    assert bool(row.converged) is (not expect_bad)
    assert tables["influence_d4"]["converged"].dtype == bool


def test_statistics_on_in_memory_arrays_match_numpy():
    gen = np.random.default_rng(3)
    rel = xr.DataArray(
        gen.lognormal(size=(3, 2, 2, 5, 3)),
        dims=("seed", "element", "batch", "transition", "class"),
        coords={"element": ["e", "r"]},
    )
    summary, per_seed = agg.equivariance_statistics(rel)
    q3 = np.quantile(rel.values.reshape(3, 2, -1), 0.75, axis=-1)  # (seed, element)
    np.testing.assert_allclose(per_seed["q3"].values, q3, rtol=1e-12)
    np.testing.assert_allclose(summary["median"].values, np.median(q3, axis=0), rtol=1e-12)
    np.testing.assert_allclose(summary["q1"].values, np.quantile(q3, 0.25, axis=0), rtol=1e-12)
    # dask-backed input gives the same numbers
    lazy, _ = agg.equivariance_statistics(rel.chunk({"seed": 1, "element": 1}))
    xr.testing.assert_allclose(lazy.compute(), summary)


def test_missing_chunks_and_nans_are_skipped_and_counted(tmp_path):
    agg.write_synthetic_study(
        tmp_path,
        datasets=["CE"],
        models=["unet"],
        seeds=(0, 1),
        batches=2,
        time_steps=3,
        resolution=8,
        box=2,
        element_sets=["d4"],
        chunk_size=4,
    )
    # seed 1 lost its second chunk (elements s..sr3) of equivariance and of batch 1's influence
    # (a failed solve leaves NaN); one relative error of seed 0 is NaN
    (tmp_path / "equivariance/CE/unet/seed1/d4_chunk001.nc").unlink()
    f = tmp_path / "influence/CE/unet/seed1/d4_chunk001.nc"
    inf = xr.load_dataset(f)
    inf["pi_std"][:, 1] = np.nan
    inf.to_netcdf(f)
    f = tmp_path / "equivariance/CE/unet/seed0/d4_chunk000.nc"
    ds = xr.load_dataset(f)
    ds["relative_error"][1, 0, 0, 0] = np.nan  # element r
    ds.to_netcdf(f)

    eq, _ = agg.equivariance_tables(agg.discover(tmp_path), "d4")
    inf = agg.influence_table(agg.discover(tmp_path), "d4")
    eq, inf = eq.set_index("element"), inf.set_index("element")
    assert list(eq.index) == list(groups.D4)  # the paper's order despite the outer join
    per_seed = 2 * 3 * 3
    assert (eq.loc["r", "n_examples"], eq.loc["r", "n_seeds"]) == (2 * per_seed - 1, 2)
    assert eq.loc["r", "n_examples_per_seed_min"] == per_seed - 1
    assert (eq.loc["s", "n_seeds"], eq.loc["s", "n_examples"]) == (1, per_seed)
    raw = xr.load_dataset(tmp_path / "equivariance/CE/unet/seed0/d4_chunk001.nc")
    only = np.quantile(raw["relative_error"].sel(element="s").values, 0.75)
    np.testing.assert_allclose(eq.loc["s", ["q1", "median", "q3"]].astype(float), [only] * 3)
    r0 = np.nanquantile(ds["relative_error"].sel(element="r").values, 0.75)
    assert np.isfinite(r0) and np.isfinite(eq.loc["r", "median"])
    # influence: seed 1 has element s only in batch 0
    assert (inf.loc["s", "n_batches"], inf.loc["s", "n_seeds"]) == (3, 2)
    assert inf.loc["s", "n"] == 3 * 3 * 3
    assert inf.loc["e", "n_batches"] == 4


def test_netcdf_tables_hold_the_csv_values(study, tables):
    root, _ = study
    ds = xr.load_dataset(root / "tables" / "influence_shift_x.nc")
    assert set(ds.dims) == {"dataset", "model", "element"}
    assert list(ds["element"].values) == groups.elements("shift_x", N)
    df = tables["influence_shift_x"]
    row = df[(df.dataset == "NS") & (df.model == "vit") & (df.element == "t(3,0)")].iloc[0]
    cell = ds.sel(dataset="NS", model="vit", element="t(3,0)")
    assert float(cell["median"]) == pytest.approx(row["median"], rel=1e-12)
    assert int(cell["converged"]) == int(row["converged"]) == 0
    assert int(ds["dx"].sel(element="t(3,0)")) == 3
    per_seed = xr.load_dataset(root / "tables" / "equivariance_d4_per_seed.nc")
    assert set(per_seed.dims) == {"dataset", "model", "seed", "element"}


def test_tables_read_exactly_the_given_inputs_not_leftovers(tmp_path, capsys):
    from symaudit.cli import main

    small = dict(
        datasets=["CE"], models=["unet"], batches=1, time_steps=2, resolution=8, element_sets=["d4"]
    )
    study = tmp_path / "results" / "s"
    inputs = agg.write_synthetic_study(study, seeds=(0, 1), **small)

    def csvs(paths):
        return {p.name: p.read_text() for p in paths if p.suffix == ".csv"}

    clean = csvs(agg.aggregate(study, tmp_path / "clean"))
    assert clean
    # a leftover seed of an earlier configuration lies in the same study directory
    old = agg.write_synthetic_study(tmp_path / "old", seeds=(7,), rng=3, **small)
    for path in old:
        target = study / path.relative_to(tmp_path / "old")
        target.parent.mkdir(parents=True, exist_ok=True)
        path.rename(target)
    globbed = csvs(agg.aggregate(study, tmp_path / "globbed"))
    assert globbed != clean  # the glob picks the leftover up
    argv = [
        "aggregate",
        "--study-dir",
        str(study),
        "--out-dir",
        str(tmp_path / "exact"),
        "--element-sets",
        "d4",
        "--workers",
        "1",
        "--inputs",
        *map(str, inputs),
    ]
    assert main(argv) == 0
    exact = csvs((tmp_path / "exact").iterdir())
    assert exact == clean
    stray = tmp_path / "elsewhere.nc"
    stray.touch()
    assert main([*argv, str(stray)]) == 2
    err = capsys.readouterr().err.strip()  # one line naming the file the attrs cannot come from
    assert len(err.splitlines()) == 1 and f"{stray}: empty file" in err
