"""Case 7: Galilean boosts, mass scaling and continuous translations with known answers.

Unlike cases 1-6 these rows are not read from the study's tables: each is a small float64
computation done by the findings step itself (about 20 s on a CPU, so only when asked:
``symaudit findings --kinematic``, as the validation study does), on the look-alike generators
at N = 16 and the stores' frame spacing 1/20, because the answers are properties of the
solvers, the actions and the statistics, whatever model a study trains (docs/validation.md case 7):

* the solvers under boosts and scalings (:mod:`symaudit.data._kinematic_check`, the rows of
  ``symaudit check-solver``): every NS family commutes with boost(1,0), boost(0,-1), boost(1,1)
  to <= 1e-10 relative; the Kolmogorov forcing breaks its y-boosts (>= 1e-3, an expected
  failure); compressible Euler commutes bitwise with scale(0.5) and scale(2); its finite-volume
  scheme does NOT commute with boosts -- the commutator is reported (max relative deviation and
  its SMSE c_g; a ``descriptive`` row), while the boost's action must keep density and pressure
  (to 1e-12);
* persistence f(x) = x on CE transitions under scale(alpha): raw relative error R = alpha up to
  the SMSE normaliser's relative bound eps |alpha - 1| / (min(alpha, 1) min_c RMS_c)
  (docs/algorithms.md §5.3), normalised error exactly 1;
* the Lie derivative along x and y of a linear Fourier multiplier (a random channel-mixing
  periodic convolution) on NS fields: 0 (<= 1e-10), beside the tiny UNet's (> 1e-3).
"""

from __future__ import annotations

import numpy as np

from ._rows import num, row

CASE7 = "7 boosts, scaling, Lie derivative"
#: the findings option that runs case 7 (``symaudit findings --kinematic``; the validation study)
OPTION = "kinematic"
N = 16
DT = 0.05  # the stores' frame spacing (21 frames on [0, 1])
#: exact rows: NS boosts and the Lie derivative of a Fourier multiplier (round-off, float64)
EXACT = 1e-10
_EPS = 1e-6  # the SMSE's normaliser


def _solver_rows() -> list[dict]:
    from symaudit.data import generators
    from symaudit.data._kinematic_check import ACTION_TOLERANCE, check_kinematic
    from symaudit.datasets import ALL_DATASETS, DATA_SUBGROUP

    # the control families (DATA_SUBGROUP: NS-Diagonal) differ from an NS family only in their
    # initial conditions, not in the solver these rows check (tests/data/test_diagonal.py
    # checks their boosts); left out, every study's case-7 rows stay as they were
    controls = {f for group in DATA_SUBGROUP for f in ALL_DATASETS[group]}
    out = []
    for family, gen in {**generators.GENERATORS, **generators.VALIDATION_GENERATORS}.items():
        if family in controls:
            continue
        # one transition at the stores' frame spacing 1/20: c_g is what a study's models meet
        rows = check_kinematic(gen, N, seed=0, t_end=DT, frames=2)
        by = {}
        for r in rows:
            by.setdefault(r["expect"], []).append(r)
        for expect, members in by.items():
            names = ", ".join(r["element"].removesuffix(" action") for r in members)
            worst = max(r["deviation"] for r in members)
            where = f"{family} N={N} dt={DT:g}, {names}"
            case = f"{CASE7} | {family} | solver {expect}"
            if expect == "exact":
                tol = generators.TOLERANCE[gen.pde]
                bound = "bitwise" if tol == 0 else f"max relative deviation <= {tol:g}"
                out.append(
                    row(
                        case,
                        f"{where}: the solver commutes exactly ({bound})",
                        f"max relative deviation {worst:.3g}",
                        worst <= tol,
                    )
                )
            elif expect == "outside G":
                out.append(
                    row(
                        case,
                        f"{where}: the forcing breaks y-boosts (deviation >= "
                        f"{generators.VIOLATION:g}, an expected failure)",
                        f"min relative deviation {min(r['deviation'] for r in members):.3g}",
                        min(r["deviation"] for r in members) >= generators.VIOLATION,
                    )
                )
            elif expect == "action":
                out.append(
                    row(
                        case,
                        f"{where}: the boost keeps rho and p and adds U to u "
                        f"(<= {ACTION_TOLERANCE:g} relative)",
                        f"max relative deviation {worst:.3g}",
                        worst <= ACTION_TOLERANCE,
                    )
                )
            else:  # measured: the finite-volume scheme's own commutator, reported
                c_g = ", ".join(f"{r['c_g']:.3g}" for r in members)
                out.append(
                    row(
                        case,
                        f"{where}: finite volume is not Galilean invariant; commutator "
                        "measured (> 0, finite), c_g = its SMSE per transition",
                        f"max relative deviation {worst:.3g}; c_g {c_g}",
                        all(0 < r["deviation"] < np.inf for r in members),
                        kind="descriptive",
                    )
                )
    return out


def _ce_transitions():
    """(inputs, targets) ``(4, 4, N, N)`` float64: frames 0 -> 1 (dt = DT) of four CE-RP
    trajectories of the look-alike solver."""
    import torch

    from symaudit.data import generators

    pairs = [generators.simulate("CE-RP", N, seed, time_steps=2, t_end=DT) for seed in range(4)]
    stacked = torch.tensor(np.stack(pairs), dtype=torch.float64)
    return stacked[:, 0], stacked[:, 1]


def _scale_rows() -> list[dict]:
    from symaudit.datasets import channels_for
    from symaudit.equivariance import relative_errors

    channels = channels_for("CE")
    x, y = _ce_transitions()
    out = []
    for alpha in (0.5, 2.0):
        name = f"scale({alpha:g})"
        raw = relative_errors(lambda a: a, x, y, [name], channels)[0].numpy()
        norm = relative_errors(lambda a: a, x, y, [name], channels, normalised=True)[0].numpy()
        rms = y.square().mean(dim=(-2, -1)).sqrt().min().item()
        bound = _EPS * abs(alpha - 1) / (min(alpha, 1.0) * rms)
        dev = float(np.max(np.abs(raw / alpha - 1)))
        out.append(
            row(
                f"{CASE7} | CE-RP persistence | {name}",
                f"persistence on CE-RP under {name}: raw R = {alpha:g} within the normaliser's "
                f"relative bound {bound:.2g}; normalised R = 1 exactly",
                f"raw R {num(raw.min())}..{num(raw.max())} (|R/alpha - 1| <= {dev:.3g}); "
                f"normalised {num(norm.min(), 17)}..{num(norm.max(), 17)}",
                dev <= bound and bool(np.all(norm == 1.0)),
            )
        )
    return out


def _lie_rows() -> list[dict]:
    import torch

    from symaudit import models
    from symaudit.data import generators
    from symaudit.datasets import channels_for
    from symaudit.equivariance import lie_derivative

    channels = channels_for("NS")
    x = torch.tensor(
        np.stack([generators.initial_condition("NS-Gauss", N, s) for s in range(4)]),
        dtype=torch.float64,
    )
    gen = torch.Generator().manual_seed(0)
    kernel = torch.randn(2, 2, N, N, generator=gen, dtype=torch.float64)
    kernel_hat = torch.fft.rfft2(kernel / N)

    def multiplier(a):
        spec = torch.einsum("oiyx,biyx->boyx", kernel_hat, torch.fft.rfft2(a))
        return torch.fft.irfft2(spec, s=a.shape[-2:])

    unet = models.build("unet", "tiny", 2, resolution=N, generator=gen).double()
    out = []
    for direction in ("x", "y"):
        lie = lie_derivative(multiplier, x, channels, direction).max().item()
        contrast = lie_derivative(unet, x, channels, direction).min().item()
        out.append(
            row(
                f"{CASE7} | Lie derivative | {direction}",
                f"Lie derivative along {direction} of a linear Fourier multiplier on NS-Gauss "
                f"fields: 0 (<= {EXACT:g}); the untrained tiny UNet's > 1e-3",
                f"multiplier max {lie:.3g}; UNet min {contrast:.3g}",
                lie <= EXACT and contrast > 1e-3,
            )
        )
    return out


def case7_rows() -> list[dict]:
    """Case 7's rows (module docstring): solver, persistence under scaling, Lie derivative."""
    return _solver_rows() + _scale_rows() + _lie_rows()
