"""The cluster bootstrap of the tables' intervals (``symaudit.aggregate._bootstrap``): against
hand computations, against a loop over replicates written from its definition, its exact
degenerate cases, and its coverage on synthetic studies with a known sampling distribution."""

from __future__ import annotations

import numpy as np
import pytest

from symaudit import settings
from symaudit.aggregate._bootstrap import (
    Bootstrap,
    distinct_resamples,
    draw,
    percentile_interval,
    pooled_intervals,
    ratio_intervals,
    replicate_weights,
    seed_quantile_intervals,
    weighted_quantiles,
)
from symaudit.aggregate.cli_tables import bootstrap_settings
from symaudit.errors import UserError

Q = (0.25, 0.5, 0.75)


def test_defaults_are_the_configs():
    assert Bootstrap() == Bootstrap.from_settings(settings.ANALYSIS["bootstrap"])
    assert Bootstrap().resamples >= 1000
    assert bootstrap_settings('{"confidence": 0.9}') == Bootstrap(confidence=0.9)
    with pytest.raises(UserError, match="bootstrap.level"):
        bootstrap_settings('{"level": 0.9}')
    with pytest.raises(UserError, match="confidence must be in"):
        bootstrap_settings('{"confidence": 1.5}')


def test_weighted_quantiles_are_numpys_on_the_expanded_sample():
    rng = np.random.default_rng(0)
    values = np.sort(rng.normal(size=(6, 30)), axis=-1)
    values[:, -4:] = np.nan  # NaN sorts last and carries no weight
    weights = rng.integers(0, 4, size=values.shape)
    weights[:, -4:] = 0
    weights[0] = 0  # an empty sample: NaN
    got = weighted_quantiles(values, weights, (0.1, *Q, 1.0))
    for i in range(1, 6):
        sample = np.repeat(values[i], weights[i])
        np.testing.assert_allclose(got[:, i], np.quantile(sample, (0.1, *Q, 1.0)), rtol=1e-15)
    assert np.isnan(got[:, 0]).all()


def test_draw_resamples_seeds_then_whole_batches():
    seed_of, counts = draw(np.random.default_rng(1), 4000, 3, 5)
    assert seed_of.shape == (4000, 3) and counts.shape == (4000, 3, 5)
    assert (counts.sum(-1) == 5).all()  # every drawn seed keeps B batches
    multisets = {tuple(sorted(row)) for row in seed_of.tolist()}
    assert len(multisets) == distinct_resamples(3) == 10  # 3 seeds: only 10 resamples
    assert [distinct_resamples(k) for k in range(6)] == [0, 1, 3, 10, 35, 126]


def _loop_pooled(values, ps, boot, key):
    """The pooled interval written from its definition: one replicate at a time."""
    s, b, e, _ = values.shape
    seed_of, counts = draw(boot.rng(key), boot.resamples, s, b)
    reps = []
    for r in range(boot.resamples):
        parts = [
            values[seed_of[r, j], k]
            for j in range(s)
            for k in range(b)
            for _ in range(counts[r, j, k])
        ]
        reps.append(np.nanquantile(np.concatenate(parts, axis=-1), ps, axis=-1))
    return np.nanquantile(np.array(reps), boot.tails, axis=0)


def _loop_seed_quantile(values, inner, ps, boot, key):
    """The equivariance interval from its definition: per replicate, each drawn seed's
    ``inner`` quantile over its drawn batches, then ``ps`` over the drawn seeds."""
    s, b, e, _ = values.shape
    seed_of, counts = draw(boot.rng(key), boot.resamples, s, b)
    reps = []
    for r in range(boot.resamples):
        per_seed = [
            np.nanquantile(
                np.concatenate(
                    [values[seed_of[r, j], k] for k in range(b) for _ in range(counts[r, j, k])],
                    axis=-1,
                ),
                inner,
                axis=-1,
            )
            for j in range(s)
        ]
        reps.append(np.nanquantile(np.array(per_seed), ps, axis=0))
    return np.nanquantile(np.array(reps), boot.tails, axis=0)


@pytest.mark.filterwarnings("ignore:All-NaN slice")  # the loop's seed without element 2
def test_vectorised_intervals_equal_the_loop_over_replicates():
    rng = np.random.default_rng(2)
    values = rng.lognormal(0, 0.3, size=(3, 4, 5, 6))
    values[1, :, 2] = np.nan  # an element missing from one seed (a ragged chunk)
    values[0, 1, 0, :3] = np.nan  # failed examples
    boot = Bootstrap(resamples=300, seed=4)
    lohi, n = pooled_intervals(values, Q, boot, "k")
    np.testing.assert_allclose(lohi, _loop_pooled(values, Q, boot, "k"), rtol=1e-13)
    assert n.tolist() == [12, 12, 8, 12, 12]
    lohi, n = seed_quantile_intervals(values, 0.75, Q, boot, "k")
    want = _loop_seed_quantile(values, 0.75, Q, boot, "k")
    np.testing.assert_allclose(lohi, want, rtol=1e-13)


def test_hand_computed_intervals_of_the_smallest_cases():
    # two batches of one value each, a < b: the pooled median of a replicate is a (p 1/4),
    # (a + b)/2 (p 1/2) or b (p 1/4), so the 95 % percentile interval is exactly [a, b]
    values = np.array([[[[1.0]], [[3.0]]]])  # (seed 1, batch 2, element 1, example 1)
    boot = Bootstrap(min_clusters=2)
    lohi, n = pooled_intervals(values, [0.5], boot, "two")
    assert lohi[:, 0, 0].tolist() == [1.0, 3.0] and n.tolist() == [2]
    # three seeds of one batch each: the median over drawn seeds is min with p 7/27 > 2.5 %,
    # so the interval of the median over seeds is [min, max] of the per-seed Q3 values
    x = np.array([2.0, 5.0, 4.0])
    values = x[:, None, None, None]  # per-seed Q3 of one value is the value
    lohi, n = seed_quantile_intervals(values, 0.75, [0.5], Bootstrap(min_clusters=3), "three")
    assert lohi[:, 0, 0].tolist() == [2.0, 5.0] and n.tolist() == [3]


def test_below_the_minimum_the_interval_is_nan():
    values = np.arange(3.0)[:, None, None, None]  # 3 seeds x 1 batch
    lohi, n = seed_quantile_intervals(values, 0.75, Q, Bootstrap(), "k")
    assert np.isnan(lohi).all() and n.tolist() == [3]
    one = np.full((1, 1, 2, 4), 7.0)  # 1 seed x 1 batch: one resample, no interval
    assert np.isnan(pooled_intervals(one, Q, Bootstrap(), "k")[0]).all()
    lohi, _ = pooled_intervals(one, Q, Bootstrap(min_clusters=1), "k")
    assert (lohi == 7.0).all()  # forced: the single resample has zero width


def _coverage(values, boot, truth=0.0):
    lohi, _ = pooled_intervals(values, [0.5], boot, "coverage")
    return float(np.mean((lohi[0, 0] <= truth) & (truth <= lohi[1, 0])))


def test_coverage_with_correlated_examples_is_near_nominal():
    """400 synthetic studies (the element axis), 10 batches of 8 examples sharing a batch
    effect N(0, 1) (examples within a batch nearly equal, noise sd 0.1): the pooled median
    estimates 0, and the 90 % interval covers it in about 90 % of the studies (percentile
    intervals of a median run a little under: 0.82-0.96 is ~4 binomial sd at n = 400).
    Resampling the examples as if independent covers far less: the test can tell."""
    rng = np.random.default_rng(5)
    batch = rng.normal(0.0, 1.0, size=(1, 10, 400, 1))
    values = batch + rng.normal(0.0, 0.1, size=(1, 10, 400, 8))
    boot = Bootstrap(resamples=1000, confidence=0.9, seed=1)
    assert 0.82 <= _coverage(values, boot) <= 0.96
    as_if_independent = np.moveaxis(values, -1, 1).reshape(1, 80, 400, 1)
    assert _coverage(as_if_independent, boot) < 0.5


def test_two_stage_coverage_with_seed_and_batch_effects():
    """6 seeds (effect N(0, 1)) x 4 batches (N(0, 0.5²)) x 4 examples: 90 % interval of the
    pooled median covers 0 in 0.8-0.97 of 300 studies (the two-stage bootstrap counts the batch
    variance twice, so it may run wide; seed variance from 6 values makes it run narrow)."""
    rng = np.random.default_rng(6)
    seed = rng.normal(0.0, 1.0, size=(6, 1, 300, 1))
    batch = rng.normal(0.0, 0.5, size=(6, 4, 300, 1))
    values = seed + batch + rng.normal(0.0, 0.1, size=(6, 4, 300, 4))
    assert 0.8 <= _coverage(values, Bootstrap(resamples=1000, confidence=0.9, seed=2)) <= 0.97


def test_ratio_interval_is_the_pooled_ratio_of_resampled_clusters():
    rng = np.random.default_rng(7)
    num, den = rng.uniform(0, 1, (2, 3, 4)), rng.uniform(1, 2, (2, 3, 4))
    boot = Bootstrap(resamples=200)
    lohi, n = ratio_intervals(num, den, boot, "r")
    seed_of, counts = draw(boot.rng("r"), 200, 2, 3)
    reps = [
        sum(counts[r, j, k] * num[seed_of[r, j], k].sum() for j in range(2) for k in range(3))
        / sum(counts[r, j, k] * den[seed_of[r, j], k].sum() for j in range(2) for k in range(3))
        for r in range(200)
    ]
    np.testing.assert_allclose(lohi, np.quantile(reps, boot.tails), rtol=1e-13)
    assert n == 6


def test_replicate_weights_give_any_statistic_the_tables_replicates():
    """A statistic the module does not know (the mean of cluster means), from the public
    weights: each replicate keeps S x B clusters, and the interval of the pooled ratio through
    the weights is ratio_intervals' for the same key."""
    rng = np.random.default_rng(9)
    num, den = rng.uniform(0, 1, (3, 2, 5)), rng.uniform(1, 2, (3, 2, 5))
    boot = Bootstrap(min_clusters=2)
    w = replicate_weights(boot, "r", 3, 2)
    assert w.shape == (boot.resamples, 6) and (w.sum(1) == 6).all()
    reps = (w @ num.sum(-1).ravel()) / (w @ den.sum(-1).ravel())
    np.testing.assert_array_equal(
        percentile_interval(reps, boot), ratio_intervals(num, den, boot, "r")[0]
    )
