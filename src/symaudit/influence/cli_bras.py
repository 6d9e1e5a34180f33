"""``symaudit influence-bras``: influence of every group element of one chunk, all batches.

    symaudit influence-bras --solutions .../batch00/solution .../batch01/solution \\
        --checkpoint final.pt --run-dir RUN --stores A B C --time-steps 16 \\
        --set-name d4 --elements e r r2 ... --out .../d4_chunk000.nc

For each batch's solved kets x_j and each element g, the bras are the SMSE gradients at
(g x, g y) (and, for CE, the mass and energy drifts at g x), so Pi^g = G_bra(g) X^T costs one
gradient per bra and a dot product.  Writes one NetCDF (atomically) with

* ``pi_raw``, ``pi_std`` (element, batch, bra_time, bra_class, ket_time, ket_class): raw and
  standardised influence (each bra row divided by the std of its ket entries, pdehats §4.3);
* CE only: ``pi_mass_raw/std``, ``pi_energy_raw/std`` with the same dims;
* ``pi_error_bound`` (element, batch): max_ij ||g_bra,i|| ||r_j|| / lambda;
* ``ket_converged``, ``ket_true_relres`` (batch, ket_time, ket_class), ``damping`` and
  ``lambda_max`` (batch).
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--solutions", nargs="+", required=True, help="influence-solve outputs")
    parser.add_argument("--checkpoint", required=True, help="the model checkpoint (final.pt)")
    parser.add_argument("--run-dir", required=True, help="the model's run directory (splits)")
    parser.add_argument("--stores", nargs=3, required=True, metavar="STORE",
                        help="the group's three class stores, in class order")
    parser.add_argument("--time-steps", type=int, default=16, help="transitions per class")
    parser.add_argument("--set-name", required=True, help="element set name (e.g. d4, shift_x)")
    parser.add_argument("--elements", nargs="+", required=True,
                        help="the group elements of this chunk (names as in symaudit.groups)")
    parser.add_argument("--out", required=True, help="output NetCDF")
    parser.add_argument("--device", default=None, help="cpu | cuda (default: cuda if available)")


def _to_grid(values, n_elements: int, time_steps: int):
    """(E * 3T, 3T) with example n = t + T * class -> (E, bra_time, bra_class, ket_time,
    ket_class)."""
    grid = values.reshape(n_elements, 3, time_steps, 3, time_steps)
    return grid.transpose(0, 2, 1, 4, 3)


def run(args: argparse.Namespace) -> int:
    import numpy as np
    import torch
    import xarray as xr

    from symaudit import groups
    from symaudit.influence import KetSolution, bra_influence, standardise
    from symaudit.influence._stage import load_analysis, run_identity

    for name in args.elements:
        groups.parse(name)
    solutions = [KetSolution.load(Path(p) / "solution.pt") for p in args.solutions]
    batches = [int(s.meta["batch"]) for s in solutions]
    n_el, t = len(args.elements), args.time_steps
    observables = {"": "smse"}
    pde_is_ce = None
    results: dict[str, list] = {}
    bounds, converged, relres = [], [], []
    identity = None
    for solution, batch in zip(solutions, batches, strict=True):
        model, meta, channels, families, x, y = load_analysis(
            args.checkpoint, args.run_dir, args.stores, batch, t, args.device
        )
        identity = identity or run_identity(meta, args.checkpoint)
        if pde_is_ce is None:
            pde_is_ce = any(c["name"] == "density" for c in channels)
            if pde_is_ce:
                observables.update({"_mass": "mass", "_energy": "energy"})
        bra_x = torch.cat([groups.act(g, x, channels) for g in args.elements])
        bra_y = torch.cat([groups.act(g, y, channels) for g in args.elements])
        for suffix, loss in observables.items():
            values, bound = bra_influence(
                model,
                solution,
                bra_x,
                bra_y if loss == "smse" else None,
                loss=loss,
                channels=channels,
                return_bounds=True,
            )
            results.setdefault(suffix, []).append(_to_grid(values.numpy(), n_el, t))
            if loss == "smse":
                bounds.append(bound.numpy().reshape(n_el, -1).max(axis=1))
        converged.append(np.array([r.converged for r in solution.records]).reshape(3, t).T)
        relres.append(np.array([r.relres_true for r in solution.records]).reshape(3, t).T)

    pi_dims = ("element", "batch", "bra_time", "bra_class", "ket_time", "ket_class")
    data = {}
    for suffix, parts in results.items():
        raw = np.stack(parts, axis=1)  # (element, batch, ...)
        data[f"pi{suffix}_raw"] = (pi_dims, raw)
        data[f"pi{suffix}_std"] = (pi_dims, standardise(raw, ket_ndim=2))
    data["pi_error_bound"] = (("element", "batch"), np.stack(bounds, axis=1))
    data["ket_converged"] = (("batch", "ket_time", "ket_class"), np.stack(converged))
    data["ket_true_relres"] = (("batch", "ket_time", "ket_class"), np.stack(relres))
    data["damping"] = (("batch",), np.array([s.damping for s in solutions]))
    data["lambda_max"] = (
        ("batch",),
        np.array([np.nan if s.lambda_max is None else s.lambda_max for s in solutions]),
    )
    ds = xr.Dataset(
        data,
        coords={
            "element": list(args.elements),
            "batch": batches,
            "bra_time": np.arange(t),
            "ket_time": np.arange(t),
            "bra_class": families,
            "ket_class": families,
        },
        attrs={
            **{k: v for k, v in identity.items() if v is not None},
            "set_name": args.set_name,
            "rtol": solutions[0].rtol,
            "method": solutions[0].method,
            "normalization": solutions[0].normalization,
            "standardisation": "each bra row / sample std (n-1) of its ket entries, no centring",
            "example_order": "n = time + time_steps * class",
        },
    )
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp{os.getpid()}")
    ds.to_netcdf(tmp)
    os.replace(tmp, out)
    print(f"influence-bras: {n_el} elements x {len(batches)} batches -> {out}")
    return 0
