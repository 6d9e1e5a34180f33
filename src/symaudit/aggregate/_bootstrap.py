"""Cluster-bootstrap percentile intervals for the quantile tables (docs/algorithms.md §7.1).

Numpy only (no torch, no xarray): the tables code (:mod:`._tables`, :mod:`._twirl`) hands in
plain arrays of dims ``(seed, batch, element, example)`` and gets ``lo``/``hi`` arrays back.

The resampling unit is the **analysis batch** (one test trajectory of every class, docs/
algorithms.md §1.5), nested in the **seed** (one trained model): a replicate draws S seeds with
replacement from the S seeds, then, independently for each drawn seed, B batches with
replacement from that seed's B batches, and keeps every example of each drawn batch.  Whole
batches keep the standardisation unit of Π̃ intact (each row is divided by a std over its whole
batch, §6.5) and keep the class composition of every replicate equal to the sample's: the
stratification by class holds by construction.  Examples inside a batch (consecutive frames of
one trajectory) are never resampled on their own: they are not independent.

A replicate is represented by integer weights on the (seed, batch) clusters, so a statistic of
the resampled data is a *weighted* type-7 quantile of the sorted original values: nothing is
copied per replicate.  Per element, the values are sorted once with the cumulative count of
each cluster's values along them; the order statistics of all replicates are then found
together by a bisection that evaluates a replicate's cumulative weight (a dot product with its
cluster weights) at ~log2(n) positions only (:func:`_type7_weighted`).  The Python loops run
over elements and seeds, never over replicates.

Below ``min_clusters`` (seed, batch) clusters with data the interval is NaN: k clusters have
only C(2k−1, k) distinct resamples (1, 3, 10, 35, 126 for k = 1..5), too few for a percentile
at the tails.  The reason is returned per element (:func:`note`).
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

__all__ = [
    "Bootstrap",
    "distinct_resamples",
    "draw",
    "note",
    "percentile_interval",
    "pooled_intervals",
    "ratio_intervals",
    "replicate_weights",
    "seed_quantile_intervals",
    "weighted_quantiles",
]


@dataclass(frozen=True)
class Bootstrap:
    """The settings (config ``analysis.bootstrap``)."""

    resamples: int = 2000
    confidence: float = 0.95
    seed: int = 0
    min_clusters: int = 5

    def __post_init__(self):
        if self.resamples < 1:
            raise ValueError(f"bootstrap resamples must be >= 1, got {self.resamples}")
        if not 0.0 < self.confidence < 1.0:
            raise ValueError(f"bootstrap confidence must be in (0, 1), got {self.confidence}")
        if self.min_clusters < 1:
            raise ValueError(f"bootstrap min_clusters must be >= 1, got {self.min_clusters}")

    @classmethod
    def from_settings(cls, settings: Mapping | None) -> Bootstrap:
        """From the ``analysis.bootstrap`` mapping (missing keys: the defaults)."""
        return cls(**dict(settings or {}))

    @property
    def tails(self) -> tuple[float, float]:
        """The percentile levels of the interval's ends, (α/2, 1 − α/2)."""
        alpha = 1.0 - self.confidence
        return alpha / 2, 1.0 - alpha / 2

    def rng(self, key: str) -> np.random.Generator:
        """A generator for one table group: the config seed and a stable hash of ``key``, so a
        group's interval does not depend on which other groups a table holds."""
        return np.random.default_rng([self.seed, zlib.crc32(key.encode())])

    def attrs(self) -> dict:
        """The settings as NetCDF attributes."""
        return {
            "ci_method": "cluster bootstrap (seeds, then whole analysis batches within each "
            "seed), percentile interval",
            "ci_confidence": self.confidence,
            "ci_resamples": self.resamples,
            "ci_seed": self.seed,
            "ci_min_clusters": self.min_clusters,
        }


def distinct_resamples(k: int) -> int:
    """Distinct bootstrap resamples (multisets) of k clusters: C(2k − 1, k)."""
    return math.comb(2 * k - 1, k) if k > 0 else 0


def draw(rng: np.random.Generator, resamples: int, seeds: int, batches: int):
    """One set of replicates: ``seed_of`` (R, S) the seed drawn into each of the S slots, and
    ``counts`` (R, S, B) how often each batch of that slot's seed is drawn (rows sum to B)."""
    seed_of = rng.integers(0, seeds, size=(resamples, seeds))
    picks = rng.integers(0, batches, size=(resamples, seeds, batches))
    counts = np.zeros((resamples * seeds, batches), dtype=np.int32)
    rows = np.repeat(np.arange(resamples * seeds), batches)
    np.add.at(counts, (rows, picks.ravel()), 1)
    return seed_of, counts.reshape(resamples, seeds, batches)


def _lerp(a: np.ndarray, b: np.ndarray, t: np.ndarray) -> np.ndarray:
    """numpy's own quantile interpolation (``np.quantile``'s ``_lerp``)."""
    diff = b - a
    return np.where(t >= 0.5, b - diff * (1 - t), a + diff * t)


def weighted_quantiles(values: np.ndarray, weights: np.ndarray, ps: Sequence[float]) -> np.ndarray:
    """Type-7 quantiles of the sample in which ``values[..., i]`` occurs ``weights[..., i]``
    times (integer weights; the resampled data of a bootstrap replicate).

    ``values`` (..., n) ascending along the last axis (NaN last, carrying weight 0), broadcast
    against ``weights`` (..., n).  Returns (len(ps), ...); NaN where the weights sum to 0.
    With unit weights on the finite values it is ``np.quantile`` of those values.
    """
    values, weights = np.broadcast_arrays(values, weights)
    cum = np.cumsum(weights, axis=-1)
    total = cum[..., -1]
    last = values.shape[-1] - 1
    out = []
    for p in ps:
        h = (total - 1) * p
        k0 = np.floor(h)
        # the k-th order statistic (0-based) is the first value whose cumulative weight > k
        i0 = np.minimum(np.count_nonzero(cum <= k0[..., None], axis=-1), last)
        k1 = np.minimum(k0 + 1, total - 1)[..., None]
        i1 = np.minimum(np.count_nonzero(cum <= k1, axis=-1), last)
        v0 = np.take_along_axis(values, i0[..., None], -1)[..., 0]
        v1 = np.take_along_axis(values, i1[..., None], -1)[..., 0]
        out.append(np.where(total > 0, _lerp(v0, v1, h - k0), np.nan))
    return np.stack(out)


def _membership(values: np.ndarray, m: int):
    """One element's values (C clusters of m, cluster-major) sorted (NaN last), and the
    cumulative count (n, C) of each cluster's finite values among the first j + 1 sorted ones:
    a replicate with cluster weights w has cumulative weight ``counts[j] @ w`` at value j."""
    order = np.argsort(values, kind="stable")
    v = values[order]
    member = np.zeros((values.size, values.size // m))
    member[np.arange(values.size), order // m] = np.isfinite(v)
    return v, np.cumsum(member, axis=0)


def _first_above(counts: np.ndarray, weights: np.ndarray, ks: np.ndarray) -> np.ndarray:
    """For every replicate r and target k = ks[r, t]: the first j whose cumulative weight
    ``counts[j] @ weights[r]`` exceeds k (n if none) -- a bisection over j, vectorised over
    replicates and targets, that evaluates the cumulative weight only where it looks."""
    n = counts.shape[0]
    lo = np.zeros(ks.shape, dtype=np.int64)
    hi = np.full(ks.shape, n, dtype=np.int64)
    for _ in range(int(np.ceil(np.log2(n + 1))) + 1):
        active = lo < hi
        if not active.any():
            break
        mid = np.minimum((lo + hi) // 2, n - 1)
        below = np.einsum("rtc,rc->rt", counts[mid], weights) <= ks
        lo = np.where(active & below, mid + 1, lo)
        hi = np.where(active & ~below, mid, hi)
    return lo


def _type7_weighted(
    values: np.ndarray, counts: np.ndarray, weights: np.ndarray, ps: Sequence[float]
) -> np.ndarray:
    """Type-7 quantiles (R, len(ps)) of the replicates whose cluster weights are the rows of
    ``weights`` (R, C), over the sorted ``values`` (n,) with cumulative cluster counts
    ``counts`` (n, C) (:func:`_membership`); NaN for an empty replicate.  The k-th order
    statistic (0-based) is the first value whose cumulative weight exceeds k."""
    total = weights @ counts[-1]
    h = (total - 1)[:, None] * np.asarray(ps, dtype=np.float64)[None, :]
    k0 = np.floor(h)
    k1 = np.minimum(k0 + 1, (total - 1)[:, None])
    idx = _first_above(counts, weights, np.concatenate([k0, k1], axis=1))
    picked = values[np.minimum(idx, values.size - 1)]
    v0, v1 = picked[:, : len(ps)], picked[:, len(ps) :]
    return np.where(total[:, None] > 0, _lerp(v0, v1, h - k0), np.nan)


def _clusters(values: np.ndarray) -> np.ndarray:
    """(seed, batch, element, m) -> (element,) number of (seed, batch) with a finite value."""
    return np.isfinite(values).any(-1).sum((0, 1))


def note(n_clusters: np.ndarray, n_seeds: np.ndarray, boot: Bootstrap, per_seed=False):
    """Per element, why the interval is NaN or what it does not cover ("" when neither)."""
    out = []
    for k, s in zip(np.ravel(n_clusters), np.ravel(n_seeds), strict=True):
        if k == 0:
            out.append("no data")
        elif k < boot.min_clusters:
            out.append(
                f"no interval: {k} (seed, batch) cluster{'s' if k > 1 else ''} < min_clusters "
                f"{boot.min_clusters} ({_resamples(int(k))})"
            )
        elif s == 1 and not per_seed:
            out.append("one seed: test-trajectory sampling only, not training variability")
        elif s < boot.min_clusters and not per_seed:
            out.append(
                f"{s} seeds: training variability from {_resamples(int(s))} of the seeds "
                "(may cover less than nominal)"
            )
        else:
            out.append("")
    return np.array(out, dtype=object)


def _resamples(k: int) -> str:
    n = distinct_resamples(k)
    return f"{n} distinct resample{'s' if n != 1 else ''}"


def _percentile(reps: np.ndarray, boot: Bootstrap) -> np.ndarray:
    """(R, ...) replicate statistics -> (2, ...) lo, hi (NaN replicates left out)."""
    v = np.sort(np.moveaxis(reps, 0, -1), axis=-1)
    return weighted_quantiles(v, np.isfinite(v).astype(np.int32), boot.tails)


def _mask(lohi: np.ndarray, n_clusters: np.ndarray, boot: Bootstrap) -> np.ndarray:
    return np.where(n_clusters >= boot.min_clusters, lohi, np.nan)


def replicate_weights(boot: Bootstrap, key: str, seeds: int, batches: int) -> np.ndarray:
    """(R, seeds * batches): how often each (seed, batch) cluster, index seed * batches +
    batch, is in each replicate -- for a statistic this module does not compute (any
    statistic of weighted clusters; its interval is :func:`percentile_interval` of the
    replicates).  The same replicates as the tables' for the same ``key``."""
    return _cluster_weights(*draw(boot.rng(key), boot.resamples, seeds, batches))


def percentile_interval(replicates: np.ndarray, boot: Bootstrap) -> np.ndarray:
    """(2, ...) the percentile interval of replicate statistics (R, ...), NaN ones left out."""
    return _percentile(np.asarray(replicates, dtype=np.float64), boot)


def _cluster_weights(seed_of: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """(R, S*B): how often each (seed, batch) cluster is in each replicate."""
    r, s, b = counts.shape
    w = np.zeros((r, s, b))
    np.add.at(w, (np.repeat(np.arange(r), s), seed_of.ravel()), counts.reshape(r * s, b))
    return w.reshape(r, s * b)


def pooled_intervals(values: np.ndarray, ps: Sequence[float], boot: Bootstrap, key: str):
    """Intervals of type-7 quantiles ``ps`` of all values pooled over seeds × batches ×
    examples (the influence statistic; with one seed, a per-seed statistic).

    ``values`` (S, B, E, m).  Returns ``lohi`` (2, len(ps), E) and ``n_clusters`` (E,).
    """
    s, b, e, m = values.shape
    weights = _cluster_weights(*draw(boot.rng(key), boot.resamples, s, b))
    clustered = values.reshape(s * b, e, m)  # cluster s * B + b
    reps = np.empty((boot.resamples, len(ps), e))
    for i in range(e):  # replicates vectorised; one element at a time bounds the memory
        v, counts = _membership(clustered[:, i].ravel(), m)
        reps[:, :, i] = _type7_weighted(v, counts, weights, ps)
    n_clusters = _clusters(values)
    return _mask(_percentile(reps, boot), n_clusters, boot), n_clusters


def seed_quantile_intervals(
    values: np.ndarray, inner: float, ps: Sequence[float], boot: Bootstrap, key: str
):
    """Intervals of the equivariance statistic: type-7 quantiles ``ps`` over seeds of each
    seed's ``inner`` quantile over its examples (the reference's Q3, docs/algorithms.md §7).

    ``values`` (S, B, E, m).  Returns ``lohi`` (2, len(ps), E) and ``n_clusters`` (E,).
    """
    s, b, e, m = values.shape
    seed_of, counts = draw(boot.rng(key), boot.resamples, s, b)
    reps = np.empty((boot.resamples, len(ps), e))
    per_seed = np.empty((boot.resamples, s))  # the inner quantile of each drawn slot
    for i in range(e):
        for seed in range(s):
            v, members = _membership(values[seed, :, i].ravel(), m)
            drawn = seed_of == seed  # the (replicate, slot) pairs that drew this seed
            weights = counts[drawn].astype(np.float64)
            per_seed[drawn] = _type7_weighted(v, members, weights, [inner])[:, 0]
        ordered = np.sort(per_seed, axis=-1)  # NaN (a seed without the element) last
        q = weighted_quantiles(ordered, np.isfinite(ordered).astype(np.int64), ps)
        reps[:, :, i] = q.T
    n_clusters = _clusters(values)
    return _mask(_percentile(reps, boot), n_clusters, boot), n_clusters


def ratio_intervals(num: np.ndarray, den: np.ndarray, boot: Bootstrap, key: str):
    """Interval of the pooled ratio sum(num) / sum(den) over seeds × batches × examples
    (e.g. the twirl table's pooled equivariance share).  ``num``, ``den`` (S, B, m).

    Returns ``lohi`` (2,) and the number of clusters.
    """
    s, b, _ = num.shape
    ok = np.isfinite(num) & np.isfinite(den)
    sn = np.where(ok, num, 0.0).sum(-1).reshape(s * b)
    sd = np.where(ok, den, 0.0).sum(-1).reshape(s * b)
    w = _cluster_weights(*draw(boot.rng(key), boot.resamples, s, b))
    with np.errstate(invalid="ignore", divide="ignore"):
        reps = (w @ sn) / (w @ sd)
    n_clusters = int(ok.any(-1).sum())
    return _mask(_percentile(reps, boot), np.asarray(n_clusters), boot), n_clusters
