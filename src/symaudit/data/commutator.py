"""The generating solver's commutator c_g, per analysis example and element: the solver part of
the law R_g ~ 1 + c_g / rho (docs/validation.md "The law", docs/algorithms.md §5.4).

For an example (x, y) of a generated store, Phi the store's own generating solver advanced one
frame interval dt and g an element acting on transitions (:func:`symaudit.groups.act_transition`,
the one implementation of every action: ``(g_in x, g_out y)``)::

    c_g(x) = SMSE(Phi(g_in x), g_out Phi(x))

with SMSE the equivariance stage's (:func:`smse`: per channel, the MSE over the grid divided by
the target's UNSQUARED spatial RMS + 1e-6, then the mean over channels; the numpy twin of
:func:`symaudit.losses.smse`).  c_g depends on the data and the solver only, never on a model:
it is 0 (to round-off, ~1e-30) for every element the solver commutes with (NS: D4 x integer
shifts, boosts; Kolmogorov flow: its subgroup G(N, k)), positive otherwise (the negation ``neg``;
the wrong pairing ``p*g*p`` at r, r3, s, sr2; Kolmogorov elements outside G; CE boosts: a
finite-volume scheme is not Galilean invariant).

The law: write f = Phi + e.  Then f(g x) - g y = e(g x) + [Phi(g x) - g Phi(x)] + g [Phi(x) - y],
the last term the store's own consistency (``resolve_smse`` = SMSE(Phi(x), y): the store's
frames are float32 and were integrated with the trajectory's step count).  If the model's
weighted error on g x is about its error on x and uncorrelated with the commutator (and the
consistency term is negligible), SMSE(f(g x), g y) ~ c_g(x) + SMSE(f(x), y), so

    R_hat_g(x) = 1 + c_g(x) / SMSE(f(x), y)

predicts the measured R_g(x) example by example (:func:`predicted_ratio`).  Dividing c_g and
SMSE(f) by the persistence SMSE(x, y) reads the same: c_g / rho with rho = SMSE(f) / persistence.

Only stores whose generating solver is KNOWN have a commutator (:func:`store_solver`): generated
stores whose recorded generator (name, version, family, parameters) is this package's; ingested
PDEGym files and external data get a stated reason instead.  Torch-free (numpy and the solvers).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from .. import groups

__all__ = [
    "EPS",
    "advance",
    "commutators",
    "predicted_ratio",
    "smse",
    "store_solver",
]

#: the SMSE's normaliser (``symaudit.losses.EPS``; docs/algorithms.md §3.1)
EPS = 1e-6


def smse(pred: np.ndarray, target: np.ndarray) -> np.ndarray:
    """The equivariance stage's SMSE per example, numpy float64: layout ``(..., channel, y, x)``
    -> ``(...)``; mean over (channel, y, x) of (target - pred)^2 / (RMS_c(target) + 1e-6), the
    RMS per example and channel over the grid (:func:`symaudit.losses.smse`)."""
    pred = np.asarray(pred, dtype=np.float64)
    target = np.asarray(target, dtype=np.float64)
    if pred.shape != target.shape:
        raise ValueError(f"smse: pred shape {pred.shape} != target {target.shape}")
    rms = np.sqrt((target**2).mean(axis=(-2, -1), keepdims=True)) + EPS
    return ((target - pred) ** 2 / rms).mean(axis=(-3, -2, -1))


def store_solver(attrs: Mapping):
    """``(generator, None)`` when the store's attrs record this package's generator for its
    family (``provenance.generator``: name, version, family and parameters all equal to the
    current :func:`symaudit.data.generators.generator_info`'s), else ``(None, reason)``: the
    generating solver is unknown (ingested or external data) or another version."""
    from . import generators

    provenance = attrs.get("provenance") or {}
    source = provenance.get("source")
    if source != "generated":
        return None, f"store source {source!r}: the generating solver is not known"
    recorded = provenance.get("generator") or {}
    family = recorded.get("family", attrs.get("family"))
    try:
        current = generators.generator_info(str(family))
    except (KeyError, ValueError):
        return None, f"family {family!r} has no generator in this package"
    for key in ("generator", "version", "family", "parameters"):
        if recorded.get(key) != current[key]:
            return None, (
                f"store's generator {key} {recorded.get(key)!r} differs from this package's "
                f"{current[key]!r}: not the solver that made the data"
            )
    return generators._generator(str(family)), None


def advance(gen, states: np.ndarray, dt: float) -> np.ndarray:
    """Phi: each state ``(..., channel, y, x)`` advanced by one frame interval ``dt`` with the
    generator's solver (float64; each state solved on its own from time 0)."""
    states = np.asarray(states, dtype=np.float64)
    flat = states.reshape(-1, *states.shape[-3:])
    out = np.stack([gen.solve(s, [0.0, float(dt)])[1] for s in flat])
    return out.reshape(states.shape)


def commutators(
    gen,
    inputs: np.ndarray,
    targets: np.ndarray | None,
    elements: Sequence[str],
    channels: Sequence[Mapping],
    *,
    dt: float,
    extent: tuple[float, float] = (1.0, 1.0),
) -> dict[str, np.ndarray]:
    """c_g per example for every element, and the store's consistency.

    Parameters
    ----------
    gen
        The generating solver (:func:`store_solver`'s, or any object with the
        :class:`~symaudit.data.generators.Generator` ``solve(x0, times)`` method).
    inputs, targets
        ``(n, channel, y, x)``: the analysis examples (as the equivariance stage reads them,
        float32 from the store; computed in float64); ``targets`` None skips the consistency.
    elements
        Element names (any :func:`symaudit.groups.act_transition` accepts; boosts need ``dt``
        and ``extent``, :func:`symaudit.groups.frame_geometry`).
    channels
        The store's channel list (kinds and roles).
    dt
        The frame spacing: Phi advances by it.

    Returns
    -------
    dict
        ``commutator`` ``(element, n)`` = SMSE(Phi(g_in x), g_out Phi(x)); ``resolve_smse``
        ``(n,)`` = SMSE(Phi(x), y) (NaN without ``targets``); ``phi`` ``(n, channel, y, x)``.
        A solve that fails (a wrong action can leave an unphysical state) gives inf.
    """
    x = np.asarray(inputs, dtype=np.float64)
    phi = advance(gen, x, dt)
    out = np.full((len(elements), x.shape[0]), np.nan)
    for i, g in enumerate(elements):
        moved_in, moved_phi = groups.act_transition(g, x, phi, channels, dt=dt, extent=extent)
        try:
            out[i] = smse(advance(gen, moved_in, dt), moved_phi)
        except FloatingPointError:
            out[i] = np.inf
    resolve = np.full(x.shape[0], np.nan) if targets is None else smse(phi, targets)
    return {"commutator": out, "resolve_smse": resolve, "phi": phi}


def predicted_ratio(commutator, model_smse) -> np.ndarray:
    """R_hat = 1 + c_g / SMSE(f(x), y), elementwise (broadcast), float64; NaN where the model's
    SMSE is 0 or not finite."""
    c = np.asarray(commutator, dtype=np.float64)
    m = np.asarray(model_smse, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(np.isfinite(m) & (m > 0), 1.0 + c / m, np.nan)
