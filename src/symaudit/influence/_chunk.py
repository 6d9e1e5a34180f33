"""The influence stage's per-chunk file (:data:`symaudit.outputs.INFLUENCE`): the bras of one
chunk of group elements against every analysis batch's solved kets, accumulated batch by batch
(:class:`Bras`) and written as one NetCDF (:func:`write_chunk`).

For each batch's solved kets x_j and each element g, the bras are the SMSE gradients at
(g x, g y) (and, for CE, the mass and energy drifts at g x), so Pi^g = G_bra(g) X^T costs one
gradient per bra and a dot product; (g x, g y) is :func:`symaudit.groups.act_transition`, so a
boost or a scaling acts on the input and the target of each analysis transition (a boost with
the stores' frame spacing).  A Galerkin solution (``method: galerkin``: the stored
vectors are the ket gradients) instead gets the reference's Pi^g per element and observable:
the subspace span[G_ket, G_bra(g)] with the 1e-4 energy rule, the metric of the untransformed
batch (lanl/PDEHats ``scripts/HatMatrix/qr_eqv.jl``); the kets' gradients, Jacobian products
and Gram matrices are computed once per batch and shared by every element of the chunk.

Layouts: examples n = t + T * class within a batch (:func:`symaudit.outputs.to_grid`); raw Π of one
batch ``(E * n, n)`` -> ``(E, bra_transition, bra_class, ket_transition, ket_class)``; the file's
variables, dims and attributes are declared in :data:`symaudit.outputs.INFLUENCE`.  ``pi_std``
divides each bra row by the std of its ket entries; unless ``include_unconverged``, kets whose solve
did not converge are NaN there and left out of every row's std.  A damping path
(``influence.damping.values``) stores every variable at the ``primary`` λ, and the SMSE influence at
every λ as ``pi_path_*`` (dim ``damping`` = the configured values).
``galerkin_reference`` (a Krylov study) adds the reference's Galerkin Π^g at ε = 1e-6
(``pi_galerkin_*``) and, in the same subspaces at the primary λ and normalisation,
``pi_galerkin_primary_raw`` and the raw float64 self-influences ``self_influence_*`` of both
methods (docs/algorithms.md §6.4, the exact ordering Π_G(x, x) ≤ Π(x, x)).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from symaudit import groups
from symaudit._io import atomic_path
from symaudit.outputs import (
    EXAMPLE_ORDER,
    KET_DIMS,
    PI_DIMS,
    per_class,
    to_grid,
    transition_coords,
)

__all__ = [
    "GALERKIN_EPS",
    "Bras",
    "SolvedBatches",
    "measure_chunk",
    "read_solutions",
    "write_chunk",
]

#: ε of the Galerkin comparison values (``galerkin_reference``): the reference code's, on JᵀJ/D
GALERKIN_EPS = 1e-6
#: ``galerkin_reference``'s raw self-influences per ket: key of :func:`_galerkin_reference` ->
#: suffix of the ``self_influence*`` variable (:data:`symaudit.outputs.INFLUENCE`)
SELF_INFLUENCE = {
    "self_exact": "_raw",
    "self_bound": "_bound",
    "self_galerkin": "_galerkin_raw",
    "self_galerkin_eps": "_galerkin_eps_raw",
}


def _moved(g, x, y, channels, geometry: dict):
    """(g x, g y): :func:`symaudit.groups.act_transition` (boosts with the stores' frame
    geometry; D4 x translations act on both frames alike)."""

    return groups.act_transition(g, x, y, channels, **geometry)


def _galerkin_batch(model, solution, x, y, elements, channels, observables, geometry, chunk):
    """Per observable: (values (E * n, n), bounds (E,), full relres (E, n) | None, ranks (E,),
    subspace relres (n,)) of the reference's per-element Galerkin influence (``chunk``:
    ``influence.vmap_chunk``)."""
    import torch

    from symaudit.influence import GalerkinKets, per_example_gradients

    basis = GalerkinKets.from_solution(model, solution, x, chunk_size=chunk)
    energy = float(solution.setup.get("galerkin_energy", 1e-4))
    out = {}
    sub = np.zeros(basis.n_ket)
    for suffix, loss in observables.items():
        values, bounds, full, ranks = [], [], [], []
        for g in elements:
            gx, gy = _moved(g, x, y, channels, geometry)
            gy = gy if loss == "smse" else None
            Gb = per_example_gradients(
                model, gx, gy, loss=loss, channels=channels, chunk_size=chunk, space=basis.op.space
            )
            res = basis.influence(Gb, solution.damping, energy=energy, full_residual=loss == "smse")
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


def _row_dots(a, b):
    """fp64 Σ_p a[j, p] b[j, p] per row j, in column chunks (no fp64 copy of a block, ``b``
    moved to ``a``'s device a chunk at a time)."""
    import torch

    out = torch.zeros(a.shape[0], dtype=torch.float64, device=a.device)
    for start in range(0, a.shape[-1], 1 << 20):
        sl = slice(start, start + (1 << 20))
        out += (a[:, sl].double() * b[:, sl].to(device=a.device).double()).sum(dim=1)
    return out.cpu().numpy()


def _galerkin_reference(
    model, x, y, elements, channels, epsilon, geometry, solution=None, *, chunk: int
):
    """The reference's Galerkin method (SMSE bras) for comparison with a Krylov study: ket
    gradients and their products computed once per batch.

    Returns ``{"eps": (E * n, n)}`` raw Π at ε = ``epsilon`` on JᵀJ/D; with the primary
    ``solution`` also, in the SAME subspaces (no extra Jacobian product), ``"primary"`` (E * n,
    n) at the solve's λ and normalisation, and per ket (n,) float64 the raw self-influences
    ``"self_exact"`` = g_jᵀ x_j of the solve, ``"self_bound"`` = ‖g_j‖ ‖r_j‖ / λ and
    ``"self_galerkin"`` / ``"self_galerkin_eps"`` = g_jᵀ Q(QᵀAQ)⁻¹Qᵀ g_j in span(G_ket) at λ
    / at ε (docs/algorithms.md §6.4).  Memory: the operator is used for J v alone (no vjp
    closure); the peak is ``chunk`` (``influence.vmap_chunk``) examples' backward activations."""
    from symaudit.influence import GalerkinKets, GaussNewtonOperator, per_example_gradients

    mode = solution.operator_mode if solution is not None else "linearize"
    op = GaussNewtonOperator(model, x, mode=mode, chunk_size=chunk)  # the solve's mode (memory)
    basis = GalerkinKets(op, per_example_gradients(model, x, y, chunk_size=chunk, space=op.space))
    pairs = [(epsilon, None)]
    if solution is not None:
        lam, scale = float(solution.damping), op.scale_of(solution.normalization)
        pairs.append((lam, scale))
    parts = [[] for _ in pairs]
    for g in elements:
        gx, gy = _moved(g, x, y, channels, geometry)
        Gb = per_example_gradients(model, gx, gy, chunk_size=chunk, space=op.space)
        for part, res in zip(parts, basis.influences(Gb, pairs, full_residual=False), strict=True):
            part.append(res.values.numpy())
    out = {"eps": np.concatenate(parts[0])}
    if solution is not None:
        out["primary"] = np.concatenate(parts[1])
        ket = basis.influences(None, pairs, full_residual=False)
        out["self_galerkin_eps"] = ket[0].self_influence
        out["self_galerkin"] = ket[1].self_influence
        out["self_exact"] = _row_dots(basis.G, solution.vectors)
        out["self_bound"] = basis.rhs_norms * solution.residual_norms.numpy() / lam
    return out


class SolvedBatches(list):
    """Per analysis batch, the solutions of every λ, their vectors memory-mapped (only the
    metadata is read); :meth:`load` reads one batch's vectors.  A bras job so holds one batch's
    solutions at a time: the paper UNet's are 3 λ x 48 kets x 13.9 M floats = 8 GB per batch,
    144 GB for all 18 batches.  The batch read last is kept, so a per-run job's chunks of a
    one-batch study read it once, not once per chunk."""

    def __init__(self, directories):
        from symaudit.influence._stage import load_solutions

        self.directories = [Path(d) for d in directories]
        super().__init__(load_solutions(d, mmap=True) for d in self.directories)
        self._last: tuple[int, list] | None = None

    def load(self, i: int) -> list:
        """Batch ``i``'s solutions of every λ, vectors in memory."""
        from symaudit.influence._stage import load_solutions

        if self._last is None or self._last[0] != i:
            self._last = None  # free the previous batch before reading the next
            self._last = (i, load_solutions(self.directories[i]))
        return self._last[1]


def read_solutions(directories) -> tuple[SolvedBatches, int]:
    """Per batch, the solutions of every λ (:class:`SolvedBatches`), and the index of the
    primary λ of a damping path (0 without a path)."""
    paths = SolvedBatches(directories)
    lengths = {len(p) for p in paths}
    if len(lengths) > 1:
        raise ValueError(f"--solutions hold damping paths of different lengths {sorted(lengths)}")
    if lengths.pop() == 1:
        return paths, 0
    want = paths[0][0].meta.get("damping_primary")
    return paths, [s.damping for s in paths[0]].index(want)


@dataclass
class Bras:
    """What every analysis batch adds: one entry per batch in each list (shapes per entry).

    ``results``: observable suffix ("", "_mass", "_energy") -> raw Π (E, bra_transition, bra_class,
    ket_transition, ket_class); ``bounds`` (E,); ``converged``, ``relres`` (ket_transition,
    ket_class); Galerkin: ``full_relres`` (E, ket_transition, ket_class), ``ranks`` (E,); a damping
    path: ``path_raw`` (damping, E, ...), ``path_conv`` (damping, ket_transition, ket_class);
    ``galerkin_reference``: ``gal_raw`` like ``results[""]``, ``gal_primary_raw`` (the same at the
    primary λ) and ``self_raw``: name -> (ket_transition, ket_class) raw self-influences."""

    n_elements: int
    time_steps: int
    n_classes: int
    time_stride: int = 1  # frames between the transitions (outputs.transition_frames)
    results: dict[str, list] = field(default_factory=dict)
    bounds: list = field(default_factory=list)
    converged: list = field(default_factory=list)
    relres: list = field(default_factory=list)
    full_relres: list = field(default_factory=list)
    ranks: list = field(default_factory=list)
    path_raw: list = field(default_factory=list)
    path_conv: list = field(default_factory=list)
    gal_raw: list = field(default_factory=list)
    gal_primary_raw: list = field(default_factory=list)
    self_raw: dict[str, list] = field(default_factory=dict)

    def grid(self, values):
        """(E * n, n) -> (E, bra_transition, bra_class, ket_transition, ket_class)."""
        n = self.n_classes * self.time_steps
        return to_grid(
            np.asarray(values).reshape(self.n_elements, n, n), self.time_steps, self.n_classes
        )

    def ket(self, values):
        """(n,) per ket, n = t + T * class -> (ket_transition, ket_class)."""
        return per_class(values, self.time_steps, self.n_classes, dtype=None)

    def add_galerkin(
        self, model, solution, x, y, elements, channels, observables, geometry=None, *, chunk
    ) -> None:
        """The reference's per-element Galerkin influence of one batch."""
        per_obs, sub = _galerkin_batch(
            model, solution, x, y, elements, channels, observables, geometry or {}, chunk
        )
        for suffix, (values, bound, full, rank) in per_obs.items():
            self.results.setdefault(suffix, []).append(self.grid(values))
            if bound is not None:
                self.bounds.append(bound)
                self.full_relres.append(per_class(full, self.time_steps, self.n_classes, None))
                self.ranks.append(rank)
        self.relres.append(self.ket(sub))

    def add_krylov(
        self, model, path, primary, x, y, elements, channels, observables, geometry=None, *, chunk
    ) -> None:
        """One batch's bras against its solved kets: SMSE at every λ of ``path`` (one gradient
        per bra), the conservation drifts at the primary λ; ``chunk`` bras' gradients at a time
        (``influence.vmap_chunk``: the job's peak memory)."""
        import torch

        from symaudit.influence import bra_influence

        solution = path[primary]
        moved = [_moved(g, x, y, channels, geometry or {}) for g in elements]
        bra_x = torch.cat([gx for gx, _ in moved])
        bra_y = torch.cat([gy for _, gy in moved])
        del moved
        for suffix, loss in observables.items():
            smse = loss == "smse"
            values, bound = bra_influence(
                model,
                path if smse else [solution],
                bra_x,
                bra_y if smse else None,
                loss=loss,
                channels=channels,
                chunk_size=chunk,
                return_bounds=True,
            )
            values, bound = values.numpy(), bound.numpy()
            k = primary if smse else 0
            self.results.setdefault(suffix, []).append(self.grid(values[k]))
            if smse:
                self.bounds.append(bound[k].reshape(self.n_elements, -1).max(axis=1))
                if len(path) > 1:
                    self.path_raw.append(np.stack([self.grid(v) for v in values]))
                    conv = [self.ket([r.converged for r in s.records]) for s in path]
                    self.path_conv.append(np.stack(conv))
        self.relres.append(self.ket([r.relres_true for r in solution.records]))

    def variables(self, paths, solutions, settings, galerkin: bool) -> dict:
        """The NetCDF's data variables (module docstring)."""
        from symaudit.influence import standardise

        pi_dims, ket_dims = PI_DIMS, KET_DIMS
        ket_conv = np.stack(self.converged)  # (batch, ket_transition, ket_class)
        keep = None if settings["include_unconverged"] else ket_conv[None, :, None, None]
        data = {}
        for suffix, parts in self.results.items():
            raw = np.stack(parts, axis=1)  # (element, batch, ...)
            data[f"pi{suffix}_raw"] = (pi_dims, raw)
            data[f"pi{suffix}_std"] = (pi_dims, standardise(raw, ket_ndim=2, ket_mask=keep))
        data["pi_error_bound"] = (("element", "batch"), np.stack(self.bounds, axis=1))
        data["ket_converged"] = (ket_dims, ket_conv)
        data["ket_true_relres"] = (ket_dims, np.stack(self.relres))
        if galerkin:
            full = np.stack(self.full_relres, axis=1)
            data["ket_full_space_relres"] = (("element", *ket_dims), full)
            data["galerkin_rank"] = (("element", "batch"), np.stack(self.ranks, axis=1))
        if self.path_raw:
            # (damping, element, batch, ...): the SMSE influence at every λ of the path
            raw = np.stack(self.path_raw, axis=2)
            conv = np.stack(self.path_conv, axis=1)  # (damping, batch, ket_transition, ket_class)
            mask = None if settings["include_unconverged"] else conv[:, None, :, None, None]
            data["pi_path_raw"] = (("damping",) + pi_dims, raw)
            data["pi_path_std"] = (
                ("damping",) + pi_dims,
                standardise(raw, ket_ndim=2, ket_mask=mask),
            )
            data["ket_converged_path"] = (("damping", *ket_dims), conv)
            data["damping_absolute"] = (
                ("damping", "batch"),
                np.array([[s.damping for s in p] for p in paths]).T,
            )
        if self.gal_raw:
            raw = np.stack(self.gal_raw, axis=1)
            data["pi_galerkin_raw"] = (pi_dims, raw)
            data["pi_galerkin_std"] = (pi_dims, standardise(raw, ket_ndim=2))
        if self.gal_primary_raw:
            data["pi_galerkin_primary_raw"] = (pi_dims, np.stack(self.gal_primary_raw, axis=1))
        for name, parts in self.self_raw.items():
            data[f"self_influence{name}"] = (ket_dims, np.stack(parts))
        # absolute λ of the (primary) solve per batch; with a path, ``damping`` is the path's dim
        data["lambda_primary" if self.path_raw else "damping"] = (
            ("batch",),
            np.array([s.damping for s in solutions]),
        )
        data["lambda_max"] = (
            ("batch",),
            np.array([np.nan if s.lambda_max is None else s.lambda_max for s in solutions]),
        )
        return data


def _attrs(identity: dict, set_name: str, chunk: int, solution, settings, reference: bool) -> dict:
    """The NetCDF's attributes: the run, the element set and chunk, the solve's settings."""
    damping = settings["damping"]
    if "values" in damping:
        primary = damping.get("primary", damping.get("values", [0])[0])
    else:
        primary = damping.get("value", float("nan"))
    masked = not settings["include_unconverged"]
    return {
        **identity,
        "set_name": set_name,
        "chunk": int(chunk),
        "rtol": solution.rtol,
        "method": solution.method,
        "normalization": solution.normalization,
        "standardisation": "each bra row / sample std (n-1) of its ket entries, no centring"
        + ("; unconverged kets NaN and left out of the std" if masked else ""),
        "include_unconverged": int(bool(settings["include_unconverged"])),
        "damping_mode": damping.get("mode", "absolute"),
        "damping_primary": float(primary),
        "galerkin_reference_epsilon": GALERKIN_EPS if reference else float("nan"),
        "example_order": EXAMPLE_ORDER,
    }


def measure_chunk(
    trained,
    paths: SolvedBatches,
    primary: int,
    elements,
    settings,
    time_steps: int,
    time_stride: int = 1,
) -> Bras:
    """The bras of ``elements`` against every batch's solutions (``paths``, ``primary``:
    :func:`read_solutions`; read one batch at a time) of the opened run ``trained``
    (:func:`symaudit.runs.open_run`), on the analysis frames of ``time_stride`` (the solve's:
    a solution recording another stride is refused)."""
    solutions = [p[primary] for p in paths]
    for s in solutions:
        solved = int(s.meta.get("time_stride", 1))  # solutions written before the key: 1
        if solved != time_stride:
            raise ValueError(
                f"--solutions of batch {s.meta.get('batch')}: solved at time_stride {solved}, "
                f"not --time-stride {time_stride} (rerun influence-solve)"
            )
    kinds = {s.kind for s in solutions}
    if len(kinds) > 1:
        raise ValueError(f"--solutions mix kinds {sorted(kinds)} (rerun influence-solve)")
    galerkin = kinds == {"ket_gradients"}
    reference = bool(settings["galerkin_reference"]) and not galerkin
    model, channels = trained.model, trained.channels
    observables = {"": "smse"}
    if any(c["name"] == "density" for c in channels):  # CE: the conservation drifts too
        observables.update({"_mass": "mass", "_energy": "energy"})
    acc = Bras(len(elements), time_steps, len(trained.stores), int(time_stride))
    kinematic = any(not isinstance(groups.parse_transition(g), groups.Element) for g in elements)
    geometry = trained.frame_geometry() if kinematic else {}
    batches = [int(s.meta["batch"]) for s in solutions]
    chunk = int(settings["vmap_chunk"])
    for i, (_, x, y) in enumerate(trained.batches(batches, time_steps, time_stride)):
        path = paths.load(i)  # this batch's vectors only (memory: SolvedBatches)
        solution = path[primary]
        if galerkin:
            acc.add_galerkin(
                model, solution, x, y, elements, channels, observables, geometry, chunk=chunk
            )
        else:
            acc.add_krylov(
                model, path, primary, x, y, elements, channels, observables, geometry, chunk=chunk
            )
            if reference:
                gal = _galerkin_reference(
                    model, x, y, elements, channels, GALERKIN_EPS, geometry, solution, chunk=chunk
                )
                acc.gal_raw.append(acc.grid(gal["eps"]))
                acc.gal_primary_raw.append(acc.grid(gal["primary"]))
                for key, name in SELF_INFLUENCE.items():
                    acc.self_raw.setdefault(name, []).append(acc.ket(gal[key]))
        acc.converged.append(acc.ket([r.converged for r in solution.records]))
    return acc


def write_chunk(
    out: str | os.PathLike,
    acc: Bras,
    paths,
    primary: int,
    trained,
    elements,
    set_name: str,
    chunk: int,
    settings,
) -> Path:
    """Write the chunk's NetCDF (:data:`symaudit.outputs.INFLUENCE`) atomically to ``out``."""
    import xarray as xr

    solutions = [p[primary] for p in paths]
    galerkin = solutions[0].kind == "ket_gradients"
    reference = bool(settings["galerkin_reference"]) and not galerkin
    t = acc.time_steps
    coords = {"damping": [float(v) for v in settings["damping"]["values"]]} if acc.path_raw else {}
    identity = trained.identity.as_dict()
    ds = xr.Dataset(
        acc.variables(paths, solutions, settings, galerkin),
        coords={
            **coords,
            "element": list(elements),
            "batch": [int(s.meta["batch"]) for s in solutions],
            **transition_coords(t, "bra_transition", "ket_transition", time_stride=acc.time_stride),
            "bra_class": trained.families,
            "ket_class": trained.families,
        },
        attrs={
            **_attrs(identity, set_name, chunk, solutions[0], settings, reference),
            **trained.precision_attrs(),
            "time_stride": acc.time_stride,
        },
    )
    out = Path(out)
    with atomic_path(out) as tmp:
        ds.to_netcdf(tmp)
    return out
