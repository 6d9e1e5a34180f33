"""The companion paper's statistics of the identity-element influence (Amarel et al.,
"Generalization vs. Memorization in Autoregressive Deep Learning", figures 2–6; lanl/PDEHats
``scripts/Plot/HatMatrix/heatmap.jl``, ``diag.jl``, ``horizon.jl``, ``rkhs.jl``, ``mass.jl``,
``energy.jl``).

Every function takes influence in the layout of the influence stage's outputs with a leading
SAMPLE axis (one sample = one (seed, analysis batch))::

    pi[sample, bra_transition, bra_class, ket_transition, ket_class]

bra = the response example (t₂, b₂), ket = the perturbing example (t₁, b₁); within a batch
example n = t + T · class.  NaN entries (unconverged kets) are skipped by every quantile.
Quantiles are numpy's default type 7 (``method="linear"``), as the aggregation tables.
"""

from __future__ import annotations

import warnings

import numpy as np

from symaudit.outputs import to_grid

__all__ = [
    "QUANTILES",
    "class_transfer",
    "diagonal_means",
    "distance_bins",
    "input_distances",
    "log_edges",
    "quantiles",
    "time_lag",
    "two_time_map",
]

#: (q1, median, q3)
QUANTILES = (0.25, 0.5, 0.75)
#: s_c = ½(RMS_c(x₁) + RMS_c(x₂)) + 1e-6 in the reference's SMSE distance (``diffs.jl``)
DISTANCE_EPS = 1e-6


def quantiles(values, axis=None) -> np.ndarray:
    """(q1, median, q3) along ``axis`` (None: all entries), skipping NaN; an all-NaN slice
    gives NaN.  Returns shape ``(3, *remaining)``."""
    with warnings.catch_warnings():  # all-NaN slices are NaN, not an error
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanquantile(np.asarray(values, dtype=np.float64), QUANTILES, axis=axis)


def _check(pi) -> np.ndarray:
    pi = np.asarray(pi, dtype=np.float64)
    if pi.ndim != 5 or pi.shape[1:3] != pi.shape[3:5]:
        raise ValueError(
            "influence must be (sample, bra_transition, bra_class, ket_transition, ket_class) "
            f"with equal bra and ket shapes, got {pi.shape}"
        )
    return pi


def two_time_map(pi) -> np.ndarray:
    """Two-time influence map: ``out[:, t₂, t₁]`` = (q1, median, q3) over samples × classes b
    of Π[t₂, b, t₁, b] (intra-class pairs only; ``heatmap.jl``).

    Returns (3, bra_transition, ket_transition): response (bra) first, perturbation (ket)
    second."""
    pi = _check(pi)
    classes = pi.shape[2]
    intra = np.stack([pi[:, :, b, :, b] for b in range(classes)], axis=1)  # (s, b, t₂, t₁)
    return quantiles(intra.reshape(-1, pi.shape[1], pi.shape[3]), axis=0)


def class_transfer(pi) -> np.ndarray:
    """Class-to-class transferability: ``out[:, b₂, b₁]`` = (q1, median, q3) over samples ×
    times t of the equal-time entries Π[t, b₂, t, b₁] (``diag.jl``).  b₂ is the RESPONSE
    (bra) class, b₁ the PERTURBING (ket) class — the reference's figure labels b₂'s axis
    "Input class".

    Returns (3, response_class, perturbing_class)."""
    pi = _check(pi)
    times = pi.shape[1]
    equal = np.stack([pi[:, t, :, t, :] for t in range(times)], axis=1)  # (s, t, b₂, b₁)
    return quantiles(equal.reshape(-1, pi.shape[2], pi.shape[4]), axis=0)


def time_lag(pi) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Time-lag curves: pooled (q1, median, q3) of all entries Π[t₂, b₂, t₁, b₁] with lag
    t₂ − t₁ (bra time minus ket time), intra-class (b₂ = b₁) and inter-class (b₂ ≠ b₁)
    separately (``horizon.jl``).

    Returns {"intra": (lags, q), "inter": (lags, q)} with lags = −(T−1)..T−1 and q of shape
    (3, n_lags); "inter" only with more than one class."""
    pi = _check(pi)
    times, classes = pi.shape[1], pi.shape[2]
    lag = np.arange(times)[:, None] - np.arange(times)[None, :]  # (t₂, t₁)
    same = np.eye(classes, dtype=bool)  # (b₂, b₁)
    lags = np.arange(-(times - 1), times)
    out = {}
    for kind, mask_b in (("intra", same), ("inter", ~same)):
        if not mask_b.any():
            continue
        per = []
        for d in lags:
            mask = (lag == d)[:, None, :, None] & mask_b[None, :, None, :]
            per.append(quantiles(pi[:, mask]))
        out[kind] = (lags, np.stack(per, axis=1) if per else np.empty((3, 0)))
    return out


def input_distances(inputs, time_steps: int) -> np.ndarray:
    """SMSE distance of every pair of a batch's inputs (``diffs.jl``: diff_smse):
    mean over (channel, y, x) of (x₁ − x₂)² / s_c with s_c = ½(RMS_c(x₁) + RMS_c(x₂)) + 1e-6.

    ``inputs``: (3 · T, channel, y, x), example n = t + T · class.  Returns (bra_transition,
    bra_class, ket_transition, ket_class), the layout of Π (symmetric, zero diagonal)."""
    x = np.asarray(inputs, dtype=np.float64)
    n = x.shape[0]
    if n % time_steps:
        raise ValueError(f"{n} inputs are not a multiple of time_steps={time_steps}")
    flat = x.reshape(n, x.shape[1], -1)  # (n, c, pixels)
    rms = np.sqrt((flat**2).mean(axis=2))  # (n, c)
    scale = 0.5 * (rms[:, None, :] + rms[None, :, :]) + DISTANCE_EPS  # (n₁, n₂, c)
    sq = ((flat[:, None] - flat[None, :]) ** 2).mean(axis=3)  # (n₁, n₂, c)
    dist = (sq / scale).mean(axis=2)  # mean over channels of the per-channel means
    return to_grid(dist, time_steps, n // time_steps)  # (t₂, b₂, t₁, b₁)


def log_edges(distances, n_edges: int) -> np.ndarray:
    """``n_edges`` log-spaced edges from the smallest positive to the largest of
    ``distances`` — the SAME distance that is then binned (``rkhs.jl`` took the extremes from
    the MSE distance but binned the SMSE one)."""
    d = np.asarray(distances, dtype=np.float64)
    d = d[np.isfinite(d) & (d > 0)]
    if d.size == 0:
        raise ValueError("no positive input distance to bin")
    lo, hi = d.min(), d.max()
    if not hi > lo:
        raise ValueError(f"every positive input distance is {lo:g}: nothing to bin")
    return np.geomspace(lo, hi, n_edges)


def distance_bins(distances, pi, edges, overlap: int):
    """Influence against input distance (``rkhs.jl``): bin b (b = overlap .. len(edges) −
    1 − overlap) holds the pairs with distance in [e_{b−overlap}, e_{b+overlap}], centre e_b;
    per sample the mean Π̃ over the bin's pairs, then (q1, median, q3) over the samples that
    have any (empty samples skipped).

    ``distances``, ``pi``: (sample, bra_transition, bra_class, ket_transition, ket_class).
    Returns (centres, lower, upper, n_samples, q) with q of shape (3, n_bins)."""
    d = np.asarray(distances, dtype=np.float64)
    pi = _check(pi)
    if d.shape != pi.shape:
        raise ValueError(f"distances {d.shape} and influence {pi.shape} differ in shape")
    d = d.reshape(len(d), -1)
    v = pi.reshape(len(pi), -1)
    bins = range(overlap, len(edges) - overlap)
    if not len(bins):
        raise ValueError(f"{len(edges)} edges leave no bin with overlap {overlap}")
    centres, lower, upper, counts, qs = [], [], [], [], []
    for b in bins:
        lo, hi = edges[b - overlap], edges[b + overlap]
        inside = (d >= lo) & (d <= hi) & np.isfinite(v)
        n = inside.sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            means = np.where(inside, v, 0.0).sum(axis=1) / n
        means = means[n > 0]
        centres.append(edges[b])
        lower.append(lo)
        upper.append(hi)
        counts.append(len(means))
        qs.append(quantiles(means) if len(means) else np.full(3, np.nan))
    return (
        np.array(centres),
        np.array(lower),
        np.array(upper),
        np.array(counts),
        np.stack(qs, axis=1),
    )


def diagonal_means(pi) -> tuple[np.ndarray, np.ndarray]:
    """Per sample, the mean of the diagonal (self-influence Π[t, b, t, b]) and the mean of
    every off-diagonal entry, NaN skipped (``dynamics.jl``, on the raw Π).

    Returns (diagonal, off_diagonal), each of shape (sample,)."""
    pi = _check(pi)
    n = pi.shape[1] * pi.shape[2]
    flat = pi.reshape(len(pi), n, n)
    eye = np.eye(n, dtype=bool)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanmean(flat[:, eye], axis=1), np.nanmean(flat[:, ~eye], axis=1)
