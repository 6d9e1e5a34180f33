"""Synthetic per-job stores in the exact on-disk layout of the equivariance and influence stages
(:data:`symaudit.outputs.EQUIVARIANCE`, :data:`symaudit.outputs.INFLUENCE`: every required
variable, the identity attributes).

Used by the tests and to look at the figures without running a study.  The numbers are made up
but shaped like the paper's: NS models fail on r, r3, s, sr2; ViTs show a patch-periodic
response to shifts; the identity has relative error 1 and the largest self-influence.
"""

from __future__ import annotations

import os
from collections.abc import Collection, Sequence
from pathlib import Path

import numpy as np
import xarray as xr

from symaudit import groups
from symaudit.datasets import DATASETS
from symaudit.outputs import EXAMPLE_DIMS, KET_DIMS, PI_DIMS, transition_coords

from ._io import write_atomic

__all__ = ["write_synthetic_study"]

_NS_FAILING = {"r", "r3", "s", "sr2"}  # the elements the NS paper figure shows failing


def _pattern(model: str, dataset: str, element: str) -> float:
    """A deterministic 'symmetry breaking strength' in [0, 1] for one element."""
    g = groups.parse(element)
    if element in groups.D4:
        if element == "e":
            return 0.0
        return 1.0 if (dataset == "NS" and element in _NS_FAILING) else 0.1 * (1 + g.rotate)
    if (g.dx, g.dy) == (0, 0):
        return 0.0
    if "vit" in model:  # resonance with the patch lattice: wavelength 16 along x, 32 along y
        return (
            0.5 * (1 - np.cos(2 * np.pi * g.dx / 16)) / 2
            + 0.5 * (1 - np.cos(2 * np.pi * g.dy / 32)) / 2
            + 0.05
        )
    return 0.2 + 0.05 * np.cos(2 * np.pi * (g.dx + g.dy) / 8)


def _chunks(names: list[str], size: int) -> list[list[str]]:
    return [names[i : i + size] for i in range(0, len(names), size)]


def _equivariance_chunk(
    gen, attrs: dict, chunk, strength, classes, batches: int, time_steps: int
) -> xr.Dataset:
    """relative_error (element, batch, transition, class): 1 + a strength-scaled excess, lognormal;
    its SMSEs (``smse`` 0.01, ``persistence_smse`` 0.02, ``smse_transformed`` their product)."""
    scale = 1e3 if attrs["dataset"] == "NS" else 0.2
    base = 1 + (scale if attrs["set_name"] == "d4" else 0.05) * strength
    noise = gen.lognormal(0, 0.05, (len(chunk), batches, time_steps, len(classes)))
    rel = base[:, None, None, None] * noise
    rel[[e in ("e", "t(0,0)") for e in chunk]] = 1.0  # the identity is exactly 1
    smse = np.full(rel.shape[1:], 0.01)
    return xr.Dataset(
        {
            "relative_error": (("element", *EXAMPLE_DIMS), rel),
            "smse_transformed": (("element", *EXAMPLE_DIMS), rel * smse),
            "smse": (EXAMPLE_DIMS, smse),
            "persistence_smse": (EXAMPLE_DIMS, 2 * smse),
        },
        coords={
            "element": chunk,
            "batch": np.arange(batches),
            **transition_coords(time_steps),
            "class": classes,
        },
        attrs=attrs,
    )


def _influence_chunk(
    gen, attrs: dict, chunk, strength, classes, batches: int, time_steps: int, bad: set[int]
) -> xr.Dataset:
    """pi_raw, pi_std (element, batch, bra_transition, bra_class, ket_transition, ket_class),
    the ket solves' ket_converged, ket_true_relres (batch, ket_transition, ket_class),
    pi_error_bound (element, batch) and lambda_max (batch), as the influence stage writes them;
    the first ket solve of each batch in ``bad`` is marked not converged."""
    nb = len(classes)
    pi = gen.normal(0.3, 1.0, (len(chunk), batches, time_steps, nb, time_steps, nb))
    diag = 5.0 * (1 - strength)[:, None, None, None] + gen.normal(
        0, 0.5, (len(chunk), batches, time_steps, nb)
    )
    t, b = np.meshgrid(np.arange(time_steps), np.arange(nb), indexing="ij")
    pi[:, :, t, b, t, b] = diag
    converged = np.ones((batches, time_steps, nb), dtype=bool)
    for k in bad & set(range(batches)):
        converged[k, 0, 0] = False
    return xr.Dataset(
        {
            "pi_raw": (PI_DIMS, pi * 1e-3),
            "pi_std": (PI_DIMS, pi),
            "pi_error_bound": (("element", "batch"), np.full((len(chunk), batches), 1e-6)),
            "ket_converged": (KET_DIMS, converged),
            "ket_true_relres": (KET_DIMS, np.where(converged, 1e-5, 1e-2)),
            "lambda_max": (("batch",), np.ones(batches)),
        },
        coords={
            "element": chunk,
            "batch": np.arange(batches),
            **transition_coords(time_steps, "bra_transition", "ket_transition"),
            "bra_class": classes,
            "ket_class": classes,
        },
        attrs=attrs,
    )


def write_synthetic_study(
    root: str | os.PathLike,
    *,
    datasets: Sequence[str] = ("CE", "NS"),
    models: Sequence[str] = ("unet", "vit"),
    seeds: Sequence[int] = (0, 1, 2),
    batches: int = 2,
    time_steps: int = 4,
    resolution: int = 16,
    box: int = 3,
    element_sets: Sequence[str] = ("d4", "shift_x", "shift_y", "shift_box"),
    chunk_size: int = 5,
    kinds: Collection[str] = ("equivariance", "influence"),
    unconverged: Collection[tuple[str, str, int, int]] = (),
    rng: int = 0,
) -> list[Path]:
    """Write equivariance and influence stores under ``root`` (= ``results/{study}``): one file
    per (dataset, model, seed, element set, chunk of ``chunk_size`` elements) and stage, the
    influence files holding every analysis batch along a ``batch`` dimension.

    Parameters
    ----------
    unconverged
        ``(dataset, model, seed, batch)`` runs whose first ket solve is marked not converged.

    Returns
    -------
    list[Path]
        The files written.
    """
    root = Path(root)
    gen = np.random.default_rng(rng)
    written = []
    for dataset in datasets:
        classes = list(DATASETS[dataset])
        for model in models:
            for seed in seeds:
                run = Path(dataset) / model / f"seed{seed}"
                bad = {k for d, m, s, k in unconverged if (d, m, s) == (dataset, model, seed)}
                for set_name in element_sets:
                    attrs = {"dataset": dataset, "model": model, "seed": seed, "set_name": set_name}
                    names = groups.elements(set_name, resolution, box)
                    for c, chunk in enumerate(_chunks(names, chunk_size)):
                        strength = np.array([_pattern(model, dataset, e) for e in chunk])
                        name = f"{set_name}_chunk{c:03d}.nc"
                        contents = (chunk, strength, classes, batches, time_steps)
                        attrs = {**attrs, "chunk": c}
                        if "equivariance" in kinds:
                            ds = _equivariance_chunk(gen, attrs, *contents)
                            path = root / "equivariance" / run / name
                            written.append(write_atomic(path, ds.to_netcdf))
                        if "influence" in kinds:
                            ds = _influence_chunk(gen, attrs, *contents, bad)
                            path = root / "influence" / run / name
                            written.append(write_atomic(path, ds.to_netcdf))
    return written
