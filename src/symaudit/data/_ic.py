"""Initial-condition families of the six look-alike datasets (docs/data.md §2), and of the
validation study's ``NS-Diagonal`` (:func:`ns_diagonal`, :data:`VALIDATION_IC_FAMILIES`).

Every family of the six is periodic on the unit square and invariant IN DISTRIBUTION under D4
and under translations: a transformed sample is as likely as the sample itself, so the audit's
transformed inputs stay in distribution (``NS-Diagonal`` on purpose only under the diagonal's
stabiliser {e, r2, sr, sr3} and translations).  How each family achieves it:

* random phases or a uniformly random global offset give translation invariance;
* isotropic amplitudes (depending on |k| only), symmetric coefficient ranges, wave-vector sets
  closed under (i, j) -> (j, i) and sign flips, and i.i.d. quadrant states give D4 invariance.

Layouts: NS returns the velocity ``(2, y, x)`` = (velocity_x, velocity_y); CE returns the
conservative state ``(4, y, x)`` = (density, momentum_x, momentum_y, energy).  x is the LAST
axis.  Grid: cell centres x_j = (j + 1/2)/N, so an index flip is the reflection about 1/2.
Everything is float64 and a pure function of (resolution, numpy Generator).
"""

from __future__ import annotations

import numpy as np

from ._euler import conservative
from ._ns import NSSolver

__all__ = [
    "CE_STATE_RANGES",
    "DIAGONAL_BETA",
    "IC_FAMILIES",
    "VALIDATION_IC_FAMILIES",
    "diagonal_filter",
    "diagonal_weight",
    "grid",
    "ns_diagonal",
]

TWO_PI = 2.0 * np.pi


def grid(n: int) -> np.ndarray:
    """Cell-centre coordinates (j + 1/2)/N, j = 0..N-1, of the periodic unit interval."""
    return (np.arange(n) + 0.5) / n


# --- incompressible NS --------------------------------------------------------------------


def _wrapped_gaussians(x: np.ndarray, centres: np.ndarray, sigma: np.ndarray) -> np.ndarray:
    """Periodic sums exp(-(x - c + m)^2 / (2 sigma^2)) over images m = -1, 0, 1: ``(M, N)``.

    The distance is first wrapped into [-1/2, 1/2), so the omitted images are >= 1.5 away
    (e^-112 for sigma = 0.1): the result is smooth AND periodic to machine precision, unlike a
    plain minimum-image distance, which has a kink of e^-12.5 at distance 1/2.
    """
    d = np.mod(x[None, :] - centres[:, None] + 0.5, 1.0) - 0.5
    s2 = 2.0 * sigma[:, None] ** 2
    return sum(np.exp(-((d + m) ** 2) / s2) for m in (-1.0, 0.0, 1.0))


def gauss_parameters(rng: np.random.Generator) -> dict[str, np.ndarray]:
    """NS-Gauss's random parameters: ``alpha``, ``sigma``, centres ``cx``, ``cy`` (draw order
    fixed: the family's seeds give the same fields as ever)."""
    m = 100
    alpha = rng.uniform(-1.0, 1.0, m)
    sigma = rng.uniform(0.01, 0.1, m)
    cx = rng.uniform(0.0, 1.0, m)
    cy = rng.uniform(0.0, 1.0, m)
    return {"alpha": alpha, "sigma": sigma, "cx": cx, "cy": cy}


def gauss_vorticity(n: int, p: dict[str, np.ndarray]) -> np.ndarray:
    """The vorticity ``(y, x)`` sum_i alpha_i/sigma_i exp(-|X - c_i|^2/2 sigma_i^2) (wrapped)."""
    x = grid(n)
    gx = _wrapped_gaussians(x, p["cx"], p["sigma"])
    gy = _wrapped_gaussians(x, p["cy"], p["sigma"])
    return np.einsum("i,iy,ix->yx", p["alpha"] / p["sigma"], gy, gx)


def ns_gauss(n: int, rng: np.random.Generator, ns: NSSolver) -> np.ndarray:
    """NS-Gauss: vorticity = sum of 100 periodic Gaussians alpha_i/sigma_i exp(-r^2/2 sigma_i^2).

    alpha ~ U[-1, 1], sigma ~ U[0.01, 0.1], centres ~ U[0, 1)^2 (PDEGym recipe, [2nd]).  The
    velocity comes from the streamfunction; the vorticity mean is removed and the 2/3 mask
    applied.  Isotropic Gaussians at uniform centres: D4- and translation-invariant.
    """
    return ns.velocity_from_vorticity(gauss_vorticity(n, gauss_parameters(rng)))


#: NS-Diagonal: strength beta of the anisotropic weight exp(-beta kx ky / |k|^2) on NS-Gauss's
#: vorticity spectrum.  The velocity correlation <u_x u_y> / (<u_x^2> <u_y^2>)^(1/2) of an
#: isotropic spectrum so weighted is I1(beta) / I0(beta) = 0.70 at beta = 2; measured at N = 32
#: (12 seeds, mean +- standard error): 0.60 +- 0.05 at t = 0, 0.41 at t = 0.3, 0.11 +- 0.04 at
#: t = 1 (the flow isotropises; beta = 1: 0.36 -> 0.04, beta = 3: 0.75 -> 0.13)
DIAGONAL_BETA = 2.0


def diagonal_weight(n: int, beta: float = DIAGONAL_BETA) -> np.ndarray:
    """The real multiplier exp(-beta kx ky / |k|^2) / I0(beta)^(1/2) on an rfft2 grid
    ``(n, n // 2 + 1)`` (1 / I0(beta)^(1/2) at k = 0 and on the Nyquist modes |kx| or |ky| =
    n/2 of an even n, which a sign flip maps onto themselves; the NS mask removes them anyway).

    Even in k and symmetric under (kx, ky) -> (ky, kx): it commutes with the grid action of
    e, r2, sr, sr3 (which map kx ky to itself) and is mapped to the weight of -beta by r, r3,
    s, sr2 (kx ky -> -kx ky), on any field.  Dividing by I0(beta)^(1/2) keeps the angular
    average of the energy spectrum (the mean of exp(-2 beta kx ky/|k|^2) over directions is
    I0(beta)).
    """
    ky = np.fft.fftfreq(n, 1.0 / n)[:, None]
    kx = np.fft.rfftfreq(n, 1.0 / n)[None, :]
    k2 = kx * kx + ky * ky
    keep = (k2 > 0) & (2 * np.abs(kx) != n) & (2 * np.abs(ky) != n)
    cross = np.divide(kx * ky, k2, out=np.zeros((n, n // 2 + 1)), where=keep)
    return np.exp(-beta * cross) / np.sqrt(np.i0(beta))


def diagonal_filter(omega: np.ndarray, beta: float = DIAGONAL_BETA) -> np.ndarray:
    """``omega`` ``(..., y, x)`` times :func:`diagonal_weight` in Fourier space (real output)."""
    n = omega.shape[-1]
    spec = np.fft.rfft2(omega, axes=(-2, -1)) * diagonal_weight(n, beta)
    return np.fft.irfft2(spec, s=(n, n), axes=(-2, -1))


def ns_diagonal(n: int, rng: np.random.Generator, ns: NSSolver) -> np.ndarray:
    """NS-Diagonal (validation case 6's control): NS-Gauss with a preferred diagonal.

    NS-Gauss's vorticity (the same draws) times the multiplier exp(-beta kx ky / |k|^2)
    (:func:`diagonal_weight`, beta = :data:`DIAGONAL_BETA`), then the velocity from the
    streamfunction as NS-Gauss (mean removed, 2/3 mask): divergence-free and periodic.  A
    Fourier mode of wave vector k moves the fluid perpendicular to k, so the weight, largest
    where kx ky < 0, favours velocities along the diagonal x = y: <u_x u_y> > 0.

    Distribution: NS-Gauss's is D4 x translation invariant and the weight commutes with
    translations and with e, r2, sr, sr3 (the stabiliser of the diagonal x = y: sr = (x, y) ->
    (y, x) fixes it pointwise, sr3 = (x, y) -> (-y, -x) reverses it; recorded as
    :data:`symaudit.datasets.DATA_SUBGROUP`), so this family is invariant under {e, r2, sr,
    sr3} x translations; r, r3, s, sr2 map it to the mirrored family (the weight of -beta,
    <u_x u_y> < 0).  It is NOT D4-invariant.
    """
    omega = diagonal_filter(gauss_vorticity(n, gauss_parameters(rng)))
    return ns.velocity_from_vorticity(omega)


#: NS-BB velocity amplitude factor (velocity std about 0.4 per component at t = 0)
BB_AMPLITUDE = 0.5
#: NS-BB pre-evolution: the field is evolved from t = -0.5 to t = 0
BB_PRE_TIME = 0.5


def ns_bb(n: int, rng: np.random.Generator, ns: NSSolver) -> np.ndarray:
    """NS-BB: "Brownian-bridge"-like isotropic random field, pre-evolved with NS for t in [-0.5, 0].

    The velocity modes have amplitude BB_AMPLITUDE |k|^{-3/2} times cos/sin coefficients
    U[-1, 1] (the PDEGym recipe [2nd]); that is, streamfunction coefficients |k|^{-5/2}/(2 pi),
    over every integer wave vector kept by the 2/3 mask.  A Brownian 1-D cut (power k^-2)
    results.  Amplitudes depending on |k| only and symmetric coefficients make the family
    D4-invariant; U[-1, 1] cos/sin pairs alone are not phase-invariant, so a uniformly random
    global offset is added for translation invariance.  The rough field is then smoothed by
    ``BB_PRE_TIME`` of NS evolution with the dataset's own solver.
    """
    k = np.fft.fftfreq(n, 1.0 / n)
    ky, kx = np.meshgrid(k, k, indexing="ij")
    kmax = (n - 1) // 3
    inside = (np.abs(kx) <= kmax) & (np.abs(ky) <= kmax) & ((kx != 0) | (ky != 0))
    # One representative of each +-k pair (upper half plane): kx > 0, or kx == 0 and ky > 0.
    half = inside & ((kx > 0) | ((kx == 0) & (ky > 0)))
    iy, ix = np.nonzero(half)
    a = rng.uniform(-1.0, 1.0, iy.size)
    b = rng.uniform(-1.0, 1.0, iy.size)
    offset = rng.uniform(0.0, 1.0, 2)
    kabs = np.hypot(kx[iy, ix], ky[iy, ix])
    amp = BB_AMPLITUDE * kabs ** (-2.5) / TWO_PI
    # psi(x) = sum_k amp (a cos(2 pi k.(x - x0)) + b sin(...)) = sum_{+-k} C_k e^{2 pi i k.x}
    # with C_k = amp (a - i b)/2 e^{-2 pi i k.x0} and C_{-k} = conj(C_k); x = (j + 1/2)/N.
    phase = np.exp(
        -1j * TWO_PI * (kx[iy, ix] * (offset[0] - 0.5 / n) + ky[iy, ix] * (offset[1] - 0.5 / n))
    )
    # omega = -laplace(psi): its coefficients are (2 pi |k|)^2 C_k.
    coef = 0.5 * amp * (a - 1j * b) * phase * (TWO_PI * kabs) ** 2
    spec = np.zeros((n, n), dtype=np.complex128)
    spec[iy, ix] = coef
    spec[(-iy) % n, (-ix) % n] = np.conj(coef)
    omega = np.fft.ifft2(spec).real * (n * n)
    velocity = ns.velocity_from_vorticity(omega)
    return ns.solve(velocity, [-BB_PRE_TIME, 0.0])[-1]


#: NS-Sines: number of modes per direction
SINES_P = 10


def ns_sines(n: int, rng: np.random.Generator, ns: NSSolver) -> np.ndarray:
    """NS-Sines: the PDEGym sines formula ([2nd]), projected to divergence-free.

    u_x = sum_{i,j=1..p} a_ij sin(2 pi i x + beta_ij) sin(2 pi j y + gamma_ij)
    u_y = sum_{i,j=1..p} a_ij cos(2 pi i x + beta_ij) cos(2 pi j y + gamma_ij)

    with a_ij = alpha_ij / sqrt(2 pi (i + j)),

    p = 10, alpha ~ U[-1, 1], beta, gamma ~ U[0, 2 pi).  The formula is not divergence-free;
    the solver's curl/streamfunction projection keeps its solenoidal part.  Uniform phases give
    translation invariance; i <-> j with pi/2 phase shifts and beta -> -beta map the family onto
    itself under D4 (docs/data.md §2).
    """
    p = SINES_P
    alpha = rng.uniform(-1.0, 1.0, (p, p))
    beta = rng.uniform(0.0, TWO_PI, (p, p))
    gamma = rng.uniform(0.0, TWO_PI, (p, p))
    i = np.arange(1, p + 1)[:, None, None]
    j = np.arange(1, p + 1)[None, :, None]
    x = grid(n)[None, None, :]
    amp = alpha / np.sqrt(TWO_PI * (i + j)[..., 0])
    ax = TWO_PI * i * x + beta[..., None]  # (i, j, x)
    ay = TWO_PI * j * x + gamma[..., None]  # (i, j, y)
    ux = np.einsum("ij,ijy,ijx->yx", amp, np.sin(ay), np.sin(ax))
    uy = np.einsum("ij,ijy,ijx->yx", amp, np.cos(ay), np.cos(ax))
    return ns.project(np.stack([ux, uy]))


# --- compressible Euler -------------------------------------------------------------------

#: Constant-state ranges (rho, velocity component, p), uniform and symmetric in velocity.
#: CE-RP: chosen to match the measured CE-RP statistics (docs/data.md §1.2): rho mean 1.25,
#: std 0.55 (U[0.3, 2.2] has exactly these), p mean 0.21 std 0.11, velocity std 0.26.
#: CE-CRP: rho, p ~ U[0.1, 1] as in the recipe ([2nd], means 0.55 match the measured 0.552);
#: the recipe's v ~ U[-1, 1] (std 0.58) contradicts the measured velocity std 0.275, so
#: U[-0.5, 0.5] (std 0.29) is used.  CE-RPUI: CRP-like (the [2nd] ranges are contradicted by
#: the measured means), velocity std 0.21 as measured.
CE_STATE_RANGES: dict[str, dict[str, tuple[float, float]]] = {
    "CE-RP": {"rho": (0.3, 2.2), "vel": (-0.45, 0.45), "p": (0.02, 0.40)},
    "CE-CRP": {"rho": (0.1, 1.0), "vel": (-0.5, 0.5), "p": (0.1, 1.0)},
    "CE-RPUI": {"rho": (0.1, 1.0), "vel": (-0.37, 0.37), "p": (0.1, 1.0)},
}

#: CE-CRP curved-partition parameters: sum over i, j = 1..p, amplitude U[-a, a]
CRP_P, CRP_AMPLITUDE = 3, 0.1
#: CE-RPUI interface perturbations: wave numbers i + 2 p^2, j + 2 p^2 (i, j = 1..p)
RPUI_P, RPUI_AMPLITUDE = 2, 0.01


def _states(rng: np.random.Generator, ranges: dict) -> np.ndarray:
    """Four i.i.d. constant primitive states, ``(4 quadrants, 4 = rho, u, v, p)``."""
    rho = rng.uniform(*ranges["rho"], 4)
    u = rng.uniform(*ranges["vel"], 4)
    v = rng.uniform(*ranges["vel"], 4)
    p = rng.uniform(*ranges["p"], 4)
    return np.stack([rho, u, v, p], axis=1)


def _interface_field(
    rng: np.random.Generator, n: int, p: int, amplitude: float, k0: int
) -> np.ndarray:
    """sigma(x, y) = sum_{i,j=1..p} alpha sin(2 pi ((i + k0) x + s (j + k0) y) + beta), ``(y, x)``.

    alpha ~ U[-a, a], beta ~ U[0, 2 pi), s = +-1 with equal probability.  The random sign is the
    reflection-invariant variant of the [2nd] formula (whose j y term also lacked the 2 pi that
    periodicity needs): the wave-vector set {(i, +-j)} is closed under reflections, and the
    family is closed under x <-> y once the i and j ranges are the same.
    """
    alpha = rng.uniform(-amplitude, amplitude, (p, p))
    beta = rng.uniform(0.0, TWO_PI, (p, p))
    sign = rng.choice(np.array([-1.0, 1.0]), (p, p))
    x = grid(n)
    out = np.zeros((n, n))
    for a in range(p):
        for b in range(p):
            kx = a + 1 + k0
            ky = sign[a, b] * (b + 1 + k0)
            out += alpha[a, b] * np.sin(TWO_PI * (kx * x[None, :] + ky * x[:, None]) + beta[a, b])
    return out


def _quadrants(
    n: int, rng: np.random.Generator, ranges: dict, sigma_x=None, sigma_y=None
) -> np.ndarray:
    """Conservative state of a (possibly warped) periodic 2 x 2 partition, ``(4, y, x)``.

    Quadrant (qx, qy) = (floor(2 {x + sigma_x - x_s}), floor(2 {y + sigma_y - y_s})) with the
    split point (x_s, y_s) ~ U[0, 1)^2, so the family is translation-invariant in distribution.
    On the torus a 2 x 2 partition has four interfaces: x = x_s, x_s + 1/2 and likewise in y.
    """
    states = _states(rng, ranges)
    split = rng.uniform(0.0, 1.0, 2)
    x = grid(n)
    xx = np.broadcast_to(x[None, :], (n, n))
    yy = np.broadcast_to(x[:, None], (n, n))
    if sigma_x is not None:
        xx = xx + sigma_x
    if sigma_y is not None:
        yy = yy + sigma_y
    qx = np.floor(2.0 * np.mod(xx - split[0], 1.0)).astype(np.int64).clip(0, 1)
    qy = np.floor(2.0 * np.mod(yy - split[1], 1.0)).astype(np.int64).clip(0, 1)
    prim = states[2 * qy + qx]  # (y, x, 4)
    return conservative(prim[..., 0], prim[..., 1], prim[..., 2], prim[..., 3])


def ce_rp(n: int, rng: np.random.Generator, ns=None) -> np.ndarray:
    """CE-RP: four-quadrant Riemann problem, i.i.d. constant states, random split point."""
    return _quadrants(n, rng, CE_STATE_RANGES["CE-RP"])


def ce_crp(n: int, rng: np.random.Generator, ns=None) -> np.ndarray:
    """CE-CRP: curved 2 x 2 partition, x -> x + sigma_x(x, y), y -> y + sigma_y(x, y)."""
    sx = _interface_field(rng, n, CRP_P, CRP_AMPLITUDE, 0)
    sy = _interface_field(rng, n, CRP_P, CRP_AMPLITUDE, 0)
    return _quadrants(n, rng, CE_STATE_RANGES["CE-CRP"], sx, sy)


def ce_rpui(n: int, rng: np.random.Generator, ns=None) -> np.ndarray:
    """CE-RPUI: four quadrants with small high-frequency interface perturbations.

    Wave numbers i + 2p^2 and j + 2p^2 (p = 2: 9 and 10), amplitude U[-0.01, 0.01].
    """
    k0 = 2 * RPUI_P * RPUI_P
    sx = _interface_field(rng, n, RPUI_P, RPUI_AMPLITUDE, k0)
    sy = _interface_field(rng, n, RPUI_P, RPUI_AMPLITUDE, k0)
    return _quadrants(n, rng, CE_STATE_RANGES["CE-RPUI"], sx, sy)


#: family name -> IC function (n, rng, ns_solver_or_None) -> (channel, y, x) float64
IC_FAMILIES = {
    "CE-RP": ce_rp,
    "CE-CRP": ce_crp,
    "CE-RPUI": ce_rpui,
    "NS-BB": ns_bb,
    "NS-Gauss": ns_gauss,
    "NS-Sines": ns_sines,
}

#: generated-only families of the validation study (their own IC, not the paper's six)
VALIDATION_IC_FAMILIES = {"NS-Diagonal": ns_diagonal}
