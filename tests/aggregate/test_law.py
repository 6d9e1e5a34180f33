"""The law table (symaudit.aggregate._law) on hand-made per-job files: the join with each run's
splits, the statistics against hand computations (a model that obeys the law exactly has
median R / R_hat = 1, slope 1 and intercept 0), the c_neg comparison, and a refused join."""

import json

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from symaudit.aggregate._bootstrap import Bootstrap
from symaudit.aggregate._law import law_table
from symaudit.outputs import transition_coords

B, T, C = 3, 4, 3  # noqa: N806
CLASSES = ["NS-BB", "NS-Gauss", "NS-Sines"]
ELEMENTS = ["e", "p*r*p", "p*sr*p", "neg"]
BOOT = Bootstrap(resamples=200, min_clusters=3)


def _coords():
    return {
        "batch": np.arange(B),
        **transition_coords(T),
        "class": np.asarray(CLASSES, dtype=object),
    }


def _commutator(path, seed, rng):
    c = rng.uniform(0.5, 2.0, size=(B, T, C))
    comm = np.stack([np.zeros_like(c), c, np.full_like(c, 1e-31), c])
    dims = ("element", "batch", "transition", "class")
    ds = xr.Dataset(
        {
            "commutator": (dims, comm),
            "resolve_smse": (dims[1:], np.full((B, T, C), 1e-16)),
            "persistence_smse": (dims[1:], np.full((B, T, C), 0.5)),
            "trajectory": (("batch", "class"), np.arange(B * C).reshape(B, C) + 10 * seed),
        },
        coords={"element": np.asarray(ELEMENTS, dtype=object), **_coords()},
        attrs={
            "dataset": "NS",
            "seed": seed,
            "element_sets": json.dumps({"d4_swapped": ELEMENTS[:3], "negation": ["e", "neg"]}),
        },
    )
    ds.to_netcdf(path)
    return comm


def _equivariance(path, seed, set_name, elements, ratio):
    smse = np.full((B, T, C), 0.1)
    dims = ("element", "batch", "transition", "class")
    ds = xr.Dataset(
        {
            "relative_error": (dims, ratio),
            "smse_transformed": (dims, ratio * smse),
            "smse": (dims[1:], smse),
            "persistence_smse": (dims[1:], np.full((B, T, C), 0.5)),
        },
        coords={"element": np.asarray(elements, dtype=object), **_coords()},
        attrs={"dataset": "NS", "model": "unet", "seed": seed, "set_name": set_name, "chunk": 0},
    )
    ds.to_netcdf(path)


def _splits(path, seed, shift=0):
    test = {f: [10 * seed + b * C + j + shift for b in range(B)] for j, f in enumerate(CLASSES)}
    splits = {f: {"train": [], "val": [], "test": t} for f, t in test.items()}
    path.write_text(json.dumps({"seed": seed, "splits": splits}))


@pytest.fixture()
def study(tmp_path):
    rng = np.random.default_rng(0)
    comms, eqs, runs = [], [], {}
    for seed in (0, 1):
        comm = _commutator(tmp_path / f"c{seed}.nc", seed, rng)
        law = 1.0 + comm / 0.1  # R = 1 + c / SMSE(f): the law exactly
        _equivariance(tmp_path / f"s{seed}.nc", seed, "d4_swapped", ELEMENTS[:3], law[:3])
        _equivariance(tmp_path / f"n{seed}.nc", seed, "negation", ["e", "neg"], law[[0, 3]])
        _splits(tmp_path / f"splits{seed}.json", seed)
        comms.append(tmp_path / f"c{seed}.nc")
        eqs += [tmp_path / f"s{seed}.nc", tmp_path / f"n{seed}.nc"]
        runs["NS", "unet", seed] = tmp_path / f"splits{seed}.json"
    return comms, eqs, runs, tmp_path


def test_a_model_obeying_the_law_exactly(study):
    comms, eqs, runs, _ = study
    df = law_table(comms, eqs, runs, BOOT).set_index(["element_set", "element"])
    assert len(df) == 5 and (df["note"].fillna("") == "").all()
    r = df.loc["d4_swapped", "p*r*p"]
    assert r.ratio_median == pytest.approx(1.0) and r.excess_median == pytest.approx(1.0)
    assert r.slope == pytest.approx(1.0) and r.intercept == pytest.approx(0.0, abs=1e-9)
    assert r.ratio_median_lo == pytest.approx(1.0) and r.ratio_median_hi == pytest.approx(1.0)
    assert r.n_examples == 2 * B * T * C and r.n_seeds == 2 and r.n_clusters == 2 * B
    assert not r.commutes and r.c_median > 1.0  # c / persistence: c in [0.5, 2] over 0.5
    assert r.max_rel_diff_neg == 0.0  # c(p*r*p) = c(neg) in these files
    assert df.loc["d4_swapped", "p*sr*p"].commutes and df.loc["d4_swapped", "e"].commutes
    assert np.isnan(df.loc["d4_swapped", "e"].excess_median)  # R_hat - 1 = 0: nothing to explain
    assert r.rho_median == pytest.approx(0.2) and r.Rhat_median == pytest.approx(r.R_median)


def test_a_run_with_other_test_trajectories_is_not_joined(study):
    comms, eqs, runs, tmp = study
    _splits(tmp / "splits1.json", 1, shift=1)
    df = law_table(comms, eqs, runs, BOOT)
    assert df["note"].str.contains("seed 1: test trajectory").all()
    assert (df["n_seeds"].dropna() == 1).all()


def test_the_cli_writes_the_fingerprints_beside_the_law(study):
    from symaudit.aggregate._fingerprints import FINGERPRINT_COLUMNS
    from symaudit.aggregate._law import write_law

    comms, eqs, runs, tmp = study
    write_law(comms, eqs, runs, tmp / "law.csv", BOOT, fingerprints=tmp / "fp.csv")
    fp = pd.read_csv(tmp / "fp.csv")
    assert list(fp.columns) == list(FINGERPRINT_COLUMNS)
    assert fp.empty  # these files hold only p*r*p of the four: no fingerprint rows
    assert len(pd.read_csv(tmp / "law.csv")) == 5
