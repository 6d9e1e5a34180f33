"""``symaudit influence-bras``: influence of every group element of one chunk, all batches.

    symaudit influence-bras --solutions .../batch00/solution .../batch01/solution \\
        --checkpoint final.pt --run-dir RUN --stores A B C --time-steps 16 \\
        --set-name d4 --elements e r r2 ... --settings '{...}' --out .../d4_chunk000.nc

For each batch's solved kets x_j and each element g, the bras are the SMSE gradients at
(g x, g y) (and, for CE, the mass and energy drifts at g x), so Pi^g = G_bra(g) X^T costs one
gradient per bra and a dot product.  A Galerkin solution (``method: galerkin``: the stored
vectors are the ket gradients) instead gets the reference's Pi^g per element and observable:
the subspace span[G_ket, G_bra(g)] with the 1e-4 energy rule, the metric of the untransformed
batch (lanl/PDEHats ``scripts/HatMatrix/qr_eqv.jl``); the kets' gradients, Jacobian products
and Gram matrices are computed once per batch and shared by every element of the chunk.
Writes one NetCDF (atomically) with

* ``pi_raw``, ``pi_std`` (element, batch, bra_time, bra_class, ket_time, ket_class): raw and
  standardised influence (each bra row divided by the std of its ket entries).  Unless
  ``include_unconverged`` is true, kets whose solve did not converge are NaN in ``pi_std`` and
  left out of every row's std (so out of every quantile downstream);
* CE only: ``pi_mass_raw/std``, ``pi_energy_raw/std`` with the same dims;
* ``pi_error_bound`` (element, batch): max_ij ||g_bra,i|| ||r_j|| / lambda (Galerkin: r_j is
  the full-space residual, so the bound is on the distance to the full-space inverse);
* ``ket_converged``, ``ket_true_relres`` (batch, ket_time, ket_class), ``damping`` (absolute
  λ) and ``lambda_max`` (batch);
* a damping path (``influence.damping.values``): every variable above is at the ``primary``
  λ, whose absolute value per batch is then ``lambda_primary``; the SMSE influence at every λ
  is ``pi_path_raw``/``pi_path_std`` (damping, element, batch, bra_time, bra_class, ket_time,
  ket_class) with coordinate ``damping`` = the configured values, ``ket_converged_path``
  (damping, batch, ket_time, ket_class) and ``damping_absolute`` (damping, batch);
* ``galerkin_reference: true``: ``pi_galerkin_raw``/``pi_galerkin_std`` (as ``pi_raw``), the
  reference's Galerkin values (ε = 1e-6 on JᵀJ/D) beside the Krylov ones;
* Galerkin only: ``ket_full_space_relres`` (element, batch, ket_time, ket_class), the SMSE
  Galerkin solution's full-space ||b - (M + lambda I) x|| / ||b|| (information; not a
  tolerance), and ``galerkin_rank`` (element, batch).
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--solutions", nargs="+", required=True, help="influence-solve outputs")
    parser.add_argument("--checkpoint", required=True, help="the model checkpoint (final.pt)")
    parser.add_argument("--run-dir", required=True, help="the model's run directory (splits)")
    parser.add_argument("--stores", nargs="+", required=True, metavar="STORE",
                        help="the group's class stores (three; NSK: one), in class order")
    parser.add_argument("--time-steps", type=int, default=16, help="transitions per class")
    parser.add_argument("--set-name", required=True, help="element set name (e.g. d4, shift_x)")
    parser.add_argument("--elements", nargs="+", required=True,
                        help="the group elements of this chunk (names as in symaudit.groups)")
    parser.add_argument("--settings", default=None, help="the config's influence section (JSON)")
    parser.add_argument("--out", required=True, help="output NetCDF")
    parser.add_argument("--device", default=None, help="cpu | cuda (default: cuda if available)")


#: ε of the Galerkin comparison values (``galerkin_reference``): the reference code's, on JᵀJ/D
GALERKIN_EPS = 1e-6


def _to_grid(values, n_elements: int, time_steps: int, n_classes: int = 3):
    """(E * CT, CT) with example n = t + T * class (C classes: 3, the validation group NSK 1)
    -> (E, bra_time, bra_class, ket_time, ket_class)."""
    grid = values.reshape(n_elements, n_classes, time_steps, n_classes, time_steps)
    return grid.transpose(0, 2, 1, 4, 3)


def _galerkin_batch(model, solution, x, y, elements, channels, observables):
    """Per observable: (values (E * n, n), bounds (E,), full relres (E, n) | None, ranks (E,),
    subspace relres (n,)) of the reference's per-element Galerkin influence."""
    import numpy as np
    import torch

    from symaudit import groups
    from symaudit.influence import GalerkinKets, per_example_gradients

    basis = GalerkinKets.from_solution(model, solution, x)
    energy = float(solution.setup.get("galerkin_energy", 1e-4))
    out = {}
    sub = np.zeros(basis.n_ket)
    for suffix, loss in observables.items():
        values, bounds, full, ranks = [], [], [], []
        for g in elements:
            gx = groups.act(g, x, channels)
            gy = groups.act(g, y, channels) if loss == "smse" else None
            Gb = per_example_gradients(
                model, gx, gy, loss=loss, channels=channels, space=basis.op.space
            )
            res = basis.influence(
                Gb, solution.damping, energy=energy, full_residual=loss == "smse"
            )
            values.append(res.values.numpy())
            ranks.append(res.rank)
            sub = np.maximum(sub, res.relres_subspace)
            if loss == "smse":
                full.append(res.relres_full_space)
                bounds.append(
                    float(np.max(res.bra_norms[:, None] * res.residual_norms[None, :]))
                    / solution.damping
                )
            del Gb
        out[suffix] = (
            np.concatenate(values),
            np.array(bounds) if bounds else None,
            np.stack(full) if full else None,
            np.array(ranks),
        )
        if torch.cuda.is_available():
            torch.cuda.empty_cache()
    return out, sub


def _galerkin_reference(model, x, y, elements, channels, epsilon):
    """(E * n, n) raw Π of the reference's Galerkin method (SMSE bras), for comparison with a
    Krylov study: ket gradients and their products computed once per batch."""
    import numpy as np

    from symaudit import groups
    from symaudit.influence import GalerkinKets, GaussNewtonOperator, per_example_gradients

    op = GaussNewtonOperator(model, x)
    basis = GalerkinKets(op, per_example_gradients(model, x, y, space=op.space))
    parts = []
    for g in elements:
        gx, gy = groups.act(g, x, channels), groups.act(g, y, channels)
        Gb = per_example_gradients(model, gx, gy, space=op.space)
        parts.append(basis.influence(Gb, epsilon, full_residual=False).values.numpy())
    return np.concatenate(parts)


def run(args: argparse.Namespace) -> int:
    import numpy as np
    import torch
    import xarray as xr

    from symaudit import groups
    from symaudit.influence import bra_influence, standardise
    from symaudit.influence._stage import (
        load_analysis,
        load_solutions,
        resolve_settings,
        run_identity,
    )

    settings = resolve_settings(args.settings)
    for name in args.elements:
        groups.parse(name)
    paths = [load_solutions(p) for p in args.solutions]
    lengths = {len(p) for p in paths}
    if len(lengths) > 1:
        raise ValueError(f"--solutions hold damping paths of different lengths {sorted(lengths)}")
    n_damp = lengths.pop()
    primary = 0
    if n_damp > 1:
        want = paths[0][0].meta.get("damping_primary")
        primary = [s.damping for s in paths[0]].index(want)
    solutions = [p[primary] for p in paths]
    batches = [int(s.meta["batch"]) for s in solutions]
    kinds = {s.kind for s in solutions}
    if len(kinds) > 1:
        raise ValueError(f"--solutions mix kinds {sorted(kinds)} (rerun influence-solve)")
    galerkin = kinds == {"ket_gradients"}
    reference = bool(settings["galerkin_reference"]) and not galerkin
    n_el, t, nc = len(args.elements), args.time_steps, len(args.stores)
    observables = {"": "smse"}
    pde_is_ce = None
    results: dict[str, list] = {}
    path_raw, path_conv, gal_raw = [], [], []
    bounds, converged, relres, full_relres, ranks = [], [], [], [], []
    identity = None
    for path, batch in zip(paths, batches, strict=True):
        solution = path[primary]
        model, meta, channels, families, x, y = load_analysis(
            args.checkpoint, args.run_dir, args.stores, batch, t, args.device
        )
        identity = identity or run_identity(meta, args.checkpoint)
        if pde_is_ce is None:
            pde_is_ce = any(c["name"] == "density" for c in channels)
            if pde_is_ce:
                observables.update({"_mass": "mass", "_energy": "energy"})
        if galerkin:
            per_obs, sub = _galerkin_batch(
                model, solution, x, y, args.elements, channels, observables
            )
            for suffix, (values, bound, full, rank) in per_obs.items():
                results.setdefault(suffix, []).append(_to_grid(values, n_el, t, nc))
                if bound is not None:
                    bounds.append(bound)
                    full_relres.append(full.reshape(n_el, nc, t).transpose(0, 2, 1))
                    ranks.append(rank)
            relres.append(sub.reshape(nc, t).T)
        else:
            bra_x = torch.cat([groups.act(g, x, channels) for g in args.elements])
            bra_y = torch.cat([groups.act(g, y, channels) for g in args.elements])
            for suffix, loss in observables.items():
                # SMSE bras: every λ of the path from one gradient per bra
                sols = path if loss == "smse" else [solution]
                values, bound = bra_influence(
                    model,
                    sols,
                    bra_x,
                    bra_y if loss == "smse" else None,
                    loss=loss,
                    channels=channels,
                    return_bounds=True,
                )
                values, bound = values.numpy(), bound.numpy()
                k = primary if loss == "smse" else 0
                results.setdefault(suffix, []).append(_to_grid(values[k], n_el, t, nc))
                if loss == "smse":
                    bounds.append(bound[k].reshape(n_el, -1).max(axis=1))
                    if n_damp > 1:
                        path_raw.append(np.stack([_to_grid(v, n_el, t, nc) for v in values]))
                        path_conv.append(np.stack([
                            np.array([r.converged for r in s.records]).reshape(nc, t).T
                            for s in path
                        ]))
            relres.append(np.array([r.relres_true for r in solution.records]).reshape(nc, t).T)
            if reference:
                gal = _galerkin_reference(model, x, y, args.elements, channels, GALERKIN_EPS)
                gal_raw.append(_to_grid(gal, n_el, t, nc))
        converged.append(np.array([r.converged for r in solution.records]).reshape(nc, t).T)

    pi_dims = ("element", "batch", "bra_time", "bra_class", "ket_time", "ket_class")
    ket_conv = np.stack(converged)  # (batch, ket_time, ket_class)
    keep = None if settings["include_unconverged"] else ket_conv[None, :, None, None]
    data = {}
    for suffix, parts in results.items():
        raw = np.stack(parts, axis=1)  # (element, batch, ...)
        data[f"pi{suffix}_raw"] = (pi_dims, raw)
        data[f"pi{suffix}_std"] = (pi_dims, standardise(raw, ket_ndim=2, ket_mask=keep))
    data["pi_error_bound"] = (("element", "batch"), np.stack(bounds, axis=1))
    data["ket_converged"] = (("batch", "ket_time", "ket_class"), ket_conv)
    data["ket_true_relres"] = (("batch", "ket_time", "ket_class"), np.stack(relres))
    if galerkin:
        data["ket_full_space_relres"] = (
            ("element", "batch", "ket_time", "ket_class"),
            np.stack(full_relres, axis=1),
        )
        data["galerkin_rank"] = (("element", "batch"), np.stack(ranks, axis=1))
    if path_raw:
        # (damping, element, batch, ...): the SMSE influence at every λ of the path
        raw = np.stack(path_raw, axis=2)
        conv = np.stack(path_conv, axis=1)  # (damping, batch, ket_time, ket_class)
        mask = None if settings["include_unconverged"] else conv[:, None, :, None, None]
        data["pi_path_raw"] = (("damping",) + pi_dims, raw)
        data["pi_path_std"] = (("damping",) + pi_dims, standardise(raw, ket_ndim=2, ket_mask=mask))
        data["ket_converged_path"] = (("damping", "batch", "ket_time", "ket_class"), conv)
        data["damping_absolute"] = (
            ("damping", "batch"), np.array([[s.damping for s in p] for p in paths]).T
        )
    if gal_raw:
        raw = np.stack(gal_raw, axis=1)
        data["pi_galerkin_raw"] = (pi_dims, raw)
        data["pi_galerkin_std"] = (pi_dims, standardise(raw, ket_ndim=2))
    # absolute λ of the (primary) solve per batch; with a path, ``damping`` is the path's dim
    data["lambda_primary" if path_raw else "damping"] = (
        ("batch",), np.array([s.damping for s in solutions])
    )
    data["lambda_max"] = (
        ("batch",),
        np.array([np.nan if s.lambda_max is None else s.lambda_max for s in solutions]),
    )
    coords = {}
    if path_raw:
        spec = settings["damping"]
        coords["damping"] = [float(v) for v in spec["values"]]
    ds = xr.Dataset(
        data,
        coords={
            **coords,
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
            "standardisation": "each bra row / sample std (n-1) of its ket entries, no centring"
            + ("" if keep is None else "; unconverged kets NaN and left out of the std"),
            "include_unconverged": int(bool(settings["include_unconverged"])),
            "damping_mode": settings["damping"].get("mode", "absolute"),
            "damping_primary": float(
                settings["damping"].get("primary", settings["damping"].get("values", [0])[0])
                if "values" in settings["damping"]
                else settings["damping"].get("value", float("nan"))
            ),
            "galerkin_reference_epsilon": GALERKIN_EPS if reference else float("nan"),
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
