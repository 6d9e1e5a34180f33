"""Unconverged kets leave the quantiles by default: the bras job writes them as NaN in
``pi_std`` (``include_unconverged: false``), the tables pool only finite values and still
count ``n_unconverged``."""

from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr

from symaudit.aggregate import aggregate, write_synthetic_study


def test_unconverged_kets_are_left_out_but_counted(tmp_path):
    study = tmp_path / "results/s"
    files = write_synthetic_study(
        study,
        datasets=["NS"],
        models=["unet"],
        seeds=[0, 1],
        batches=2,
        time_steps=3,
        element_sets=["d4"],
        chunk_size=8,
        kinds=["influence"],
        unconverged=[("NS", "unet", 1, 1)],
        rng=3,
    )
    diags = []
    for path in files:
        ds = xr.load_dataset(path)
        keep = ds["ket_converged"].values.astype(bool)  # (batch, ket_transition, ket_class)
        assert (~keep).sum() == (1 if ds.attrs["seed"] == 1 else 0)
        pi = ds["pi_std"].values  # (element, batch, bra_t, bra_c, ket_t, ket_c)
        pi = np.where(keep[None, :, None, None], pi, np.nan)  # what influence-bras writes
        ds["pi_std"] = (ds["pi_std"].dims, pi)
        ds.to_netcdf(path)
        t = np.arange(pi.shape[2])
        for b in range(pi.shape[3]):
            diags.append(pi[:, :, t, b, t, b].reshape(len(ds["element"]), -1))
    aggregate(study, study / "tables", element_sets=["d4"], kinds=["influence"])
    table = pd.read_csv(study / "tables/influence_d4.csv").set_index("element")
    pooled = np.concatenate(diags, axis=1)  # (element, values)
    for i, g in enumerate(xr.open_dataset(files[0])["element"].values):
        vals = pooled[i][np.isfinite(pooled[i])]
        row = table.loc[g]
        assert row["n"] == vals.size == pooled.shape[1] - 1  # one ket left out
        np.testing.assert_allclose(row["median"], np.quantile(vals, 0.5), rtol=1e-12)
        np.testing.assert_allclose(row["q1"], np.quantile(vals, 0.25), rtol=1e-12)
        assert row["n_unconverged"] == 1 and not row["converged"]
