"""The companion statistics on synthetic influence with known answers, quantiles against numpy."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from symaudit import companion

T, B = 5, 3


def identity_pi(samples: int = 4) -> np.ndarray:
    """Π = identity on the 3T examples, in the (sample, t₂, b₂, t₁, b₁) layout."""
    eye = np.eye(T * B).reshape(B, T, B, T).transpose(1, 0, 3, 2)
    return np.broadcast_to(eye, (samples, T, B, T, B)).copy()


def random_pi(seed: int = 0, samples: int = 6) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(samples, T, B, T, B))


def test_identity_gives_the_identity_patterns():
    pi = identity_pi()
    q = companion.two_time_map(pi)
    for k in range(3):
        np.testing.assert_array_equal(q[k], np.eye(T))
    q = companion.class_transfer(pi)
    for k in range(3):
        np.testing.assert_array_equal(q[k], np.eye(B))
    curves = companion.time_lag(pi)
    lags, intra = curves["intra"]
    np.testing.assert_array_equal(lags, np.arange(-(T - 1), T))
    # lag 0 intra: every entry is a diagonal 1; elsewhere all zeros
    np.testing.assert_array_equal(intra[1], (lags == 0).astype(float))
    assert np.argmax(intra[1]) == T - 1
    np.testing.assert_array_equal(curves["inter"][1], np.zeros((3, 2 * T - 1)))


def test_diagonal_means():
    diag, off = companion.diagonal_means(identity_pi(3) * 2.0)
    np.testing.assert_array_equal(diag, [2.0, 2.0, 2.0])
    np.testing.assert_array_equal(off, [0.0, 0.0, 0.0])
    pi = random_pi(2)
    flat = pi[1].transpose(1, 0, 3, 2).reshape(T * B, T * B)  # n = t + T · class
    diag, off = companion.diagonal_means(pi)
    np.testing.assert_allclose(diag[1], np.trace(flat) / (T * B))
    np.testing.assert_allclose(off[1], (flat.sum() - np.trace(flat)) / (T * B * (T * B - 1)))


def test_aggregators_match_numpy_quantiles():
    pi = random_pi()
    q = companion.two_time_map(pi)
    t2, t1 = 3, 1
    pool = np.concatenate([pi[:, t2, b, t1, b] for b in range(B)])
    np.testing.assert_allclose(q[:, t2, t1], np.quantile(pool, [0.25, 0.5, 0.75]))

    q = companion.class_transfer(pi)
    b2, b1 = 2, 0  # response class 2, perturbing class 0 (NOT the transpose)
    pool = np.concatenate([pi[:, t, b2, t, b1] for t in range(T)])
    np.testing.assert_allclose(q[:, b2, b1], np.quantile(pool, [0.25, 0.5, 0.75]))
    assert not np.allclose(q[:, b2, b1], q[:, b1, b2])

    lags, q = companion.time_lag(pi)["inter"]
    lag = -2
    pool = [
        pi[s, a, c, b, d]
        for s in range(len(pi))
        for a in range(T)
        for b in range(T)
        for c in range(B)
        for d in range(B)
        if a - b == lag and c != d
    ]
    np.testing.assert_allclose(q[:, lags == lag][:, 0], np.quantile(pool, [0.25, 0.5, 0.75]))


def test_quantiles_skip_nan():
    pi = random_pi(1)
    pi[0, :, :, 0, 0] = np.nan  # an unconverged ket
    q = companion.two_time_map(pi)
    pool = np.concatenate([pi[:, 2, b, 0, b] for b in range(B)])
    np.testing.assert_allclose(q[:, 2, 0], np.quantile(pool[np.isfinite(pool)], [0.25, 0.5, 0.75]))


def test_input_distances_match_the_formula():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(T * B, 2, 4, 4)) + 2.0
    d = companion.input_distances(x, T)
    assert d.shape == (T, B, T, B)
    n1, n2 = 1 + T * 2, 3 + T * 0  # (t=1, class 2) and (t=3, class 0)
    rms = lambda v: np.sqrt((v**2).mean(axis=(1, 2)))  # noqa: E731
    s = 0.5 * (rms(x[n1]) + rms(x[n2])) + 1e-6
    want = (((x[n1] - x[n2]) ** 2).mean(axis=(1, 2)) / s).mean()
    np.testing.assert_allclose(d[1, 2, 3, 0], want)
    np.testing.assert_allclose(d[3, 0, 1, 2], want)
    np.testing.assert_array_equal(np.einsum("abab->ab", d), 0.0)


def test_distance_bins_use_the_binned_distance():
    rng = np.random.default_rng(4)
    d = rng.uniform(0.1, 10.0, size=(3, T, B, T, B))
    pi = 1.0 / d  # influence decays with distance
    edges = companion.log_edges(d, 8)
    np.testing.assert_allclose([edges[0], edges[-1]], [d.min(), d.max()])
    centres, lower, upper, n, q = companion.distance_bins(d, pi, edges, overlap=1)
    np.testing.assert_array_equal(centres, edges[1:-1])
    np.testing.assert_array_equal(lower, edges[:-2])
    b = 2
    inside = (d >= lower[b]) & (d <= upper[b])
    means = [pi[s][inside[s]].mean() for s in range(3)]
    np.testing.assert_allclose(q[:, b], np.quantile(means, [0.25, 0.5, 0.75]))
    assert (np.diff(q[1]) < 0).all()  # decays
    with pytest.raises(ValueError, match="no bin"):
        companion.distance_bins(d, pi, edges[:2], overlap=1)


def test_bad_layout_is_named():
    with pytest.raises(ValueError, match="sample, bra_transition"):
        companion.two_time_map(np.zeros((T, B, T, B)))


class Persistence(torch.nn.Module):
    """q_{k+1} = q_k (one unused parameter so the rollout finds a dtype)."""

    def __init__(self):
        super().__init__()
        self.w = torch.nn.Parameter(torch.zeros((), dtype=torch.float64))

    def forward(self, x):
        return x + 0.0 * self.w


def test_rollout_errors_of_persistence_match_the_formula():
    from symaudit.companion._rollout import rollout_errors

    rng = np.random.default_rng(5)
    traj = rng.normal(size=(B, 6, 2, 4, 4)) + 1.5  # (class, frames, channel, y, x)
    err = rollout_errors(Persistence(), traj, starts=3)
    assert err.shape == (B, 3, 5)

    def smse(pred, target):
        rms = np.sqrt((target**2).mean(axis=(1, 2), keepdims=True)) + 1e-6  # losses.EPS
        return ((target - pred) ** 2 / rms).mean()

    b, t0 = 2, 1
    want = np.cumsum([smse(traj[b, t0], traj[b, t0 + k]) for k in range(1, 5)])
    np.testing.assert_allclose(err[b, t0, :4], want, rtol=1e-12)
    assert np.isnan(err[b, t0, 4])  # t₀ + 5 is past the last frame
    assert np.isfinite(err[:, 0]).all()
    with pytest.raises(ValueError, match="start times"):
        rollout_errors(Persistence(), traj, starts=6)
    # start frames (analysis.time_stride 2: the analysis inputs 0, 2): those rows exactly
    np.testing.assert_array_equal(rollout_errors(Persistence(), traj, [0, 2]), err[:, [0, 2]])
    with pytest.raises(ValueError, match="start frames"):
        rollout_errors(Persistence(), traj, [0, 5])  # frame 5 is the last: no step from it


def test_cross_time_ratio_and_pearson():
    from symaudit.companion._rollout import cross_time_ratio, pearson

    np.testing.assert_array_equal(cross_time_ratio(identity_pi(2)), np.zeros((2, B)))
    np.testing.assert_allclose(cross_time_ratio(np.ones((T, B, T, B))), np.full(B, T - 1))
    pi = random_pi(6, samples=2) + 5.0
    b = 1
    block = pi[0, :, b, :, b]
    want = (block.sum() - np.trace(block)) / np.trace(block)
    np.testing.assert_allclose(cross_time_ratio(pi)[0, b], want)
    x, y = np.random.default_rng(7).normal(size=(2, 10))
    np.testing.assert_allclose(pearson(x, y), np.corrcoef(x, y)[0, 1])
    assert np.isnan(pearson([1.0, 2.0], [3.0, 4.0]))


def test_gradient_span_spectrum_matches_the_dense_metric():
    from symaudit.companion._spectrum import gradient_span_spectrum
    from symaudit.influence import GaussNewtonOperator, per_example_gradients

    torch.manual_seed(0)
    model = torch.nn.Sequential(
        torch.nn.Conv2d(2, 3, 3, padding=1, padding_mode="circular", dtype=torch.float64),
        torch.nn.Tanh(),
        torch.nn.Conv2d(3, 2, 1, dtype=torch.float64),
    )
    x = torch.randn(6, 2, 4, 4, dtype=torch.float64)
    y = x + 0.3 * torch.randn_like(x)
    found = gradient_span_spectrum(model, x, y, energy=0.0)
    # oracle: the dense M, the gradients' left singular vectors from numpy
    dense = GaussNewtonOperator(model, x).dense().numpy()
    g = per_example_gradients(model, x, y).numpy()  # (N, P)
    u, s, _ = np.linalg.svd(g.T, full_matrices=False)
    basis = u[:, s > 1e-10 * s[0]]
    want = np.sort(np.linalg.eigvalsh(basis.T @ dense @ basis))[::-1]
    assert found["rank"] == basis.shape[1] == 6
    np.testing.assert_allclose(found["eigenvalues"], want, rtol=1e-8, atol=1e-14)
    top = np.linalg.eigvalsh(dense)[-1]
    assert found["eigenvalues"][0] <= top * (1 + 1e-9)
    np.testing.assert_allclose(found["lambda_max"], top, rtol=1e-4)
    # the energy rule keeps fewer directions when allowed to drop 10 % of the energy
    assert gradient_span_spectrum(model, x, y, energy=0.1)["rank"] < 6


def test_one_class_group_has_no_inter_class_curve():
    """The validation group NSK has one class: every statistic but the inter-class lag."""
    eye = np.eye(T).reshape(T, 1, T, 1)
    pi = np.broadcast_to(eye, (2, T, 1, T, 1))
    np.testing.assert_array_equal(companion.two_time_map(pi)[1], np.eye(T))
    np.testing.assert_array_equal(companion.class_transfer(pi)[1], [[1.0]])
    curves = companion.time_lag(pi)
    assert set(curves) == {"intra"}
    np.testing.assert_array_equal(curves["intra"][1][1], (curves["intra"][0] == 0) * 1.0)
