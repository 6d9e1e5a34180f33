"""``influence_galerkin_ordering.csv``: per run, the ordering Π_G(x, x) ≤ Π(x, x) + ‖g‖ ‖r‖ / λ
and the matched / mismatched Galerkin gaps, from the ``self_influence_*`` variables."""

from __future__ import annotations

import numpy as np
import xarray as xr

from symaudit import aggregate as agg
from symaudit.aggregate._robustness import galerkin_ordering

from ._synthetic import BATCHES, SEEDS


def test_ordering_table_counts_pairs_once_per_run(tmp_path):
    nt, nb = 2, 3
    sizes = dict(seeds=SEEDS, batches=BATCHES, time_steps=nt, element_sets=("d4",))
    agg.write_synthetic_study(
        tmp_path, datasets=("CE",), models=("unet",), chunk_size=4, kinds=("influence",), **sizes
    )
    assert galerkin_ordering(tmp_path).empty  # stores without the self-influences: no rows
    shape = (BATCHES, nt, nb)
    exact = np.full(shape, 2.0)
    bound = np.full(shape, 0.1)
    gal = np.full(shape, 1.5)  # gap 0.25
    eps = np.full(shape, 3.0)  # gap 0.5
    violated = gal.copy()
    violated[0, 0, 0] = 2.2  # 0.2 above Π: twice the bound
    for seed in SEEDS:
        for chunk in (0, 1):  # the same kets in every chunk: counted once
            path = tmp_path / "influence/CE/unet" / f"seed{seed}" / f"d4_chunk{chunk:03d}.nc"
            ds = xr.load_dataset(path)
            dims = ("batch", "ket_transition", "ket_class")
            ds["self_influence_raw"] = (dims, exact)
            ds["self_influence_bound"] = (dims, bound)
            ds["self_influence_galerkin_raw"] = (dims, violated if seed == SEEDS[-1] else gal)
            ds["self_influence_galerkin_eps_raw"] = (dims, eps)
            ds.to_netcdf(path)
    table = galerkin_ordering(tmp_path).set_index("seed")
    n = BATCHES * nt * nb
    assert (table["n_pairs"] == n).all()
    good, bad = table.loc[SEEDS[0]], table.loc[SEEDS[-1]]
    assert good["n_ordered"] == n and good["fraction_ordered"] == 1.0
    assert good["max_excess"] == np.float64(-0.5) / 0.1
    assert bad["n_ordered"] == n - 1 and np.isclose(bad["max_excess"], 2.0)
    assert np.isclose(good["gap_matched_median"], 0.25)
    assert np.isclose(good["gap_mismatched_median"], 0.5)
