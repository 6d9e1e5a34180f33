"""The conservation study: every arm on every target, measured against its expectation.

Arms (augmentation, optimiser, loss):

========== ============ ========= ========= =========================================
arm        augmentation optimiser loss      expectation for the per-orbit direction
========== ============ ========= ========= =========================================
orbit      orbit        gd        mse       conserved exactly (defect at round-off)
random     random       gd        mse       not conserved
none       none         gd        mse       not conserved
adam       orbit        adam      mse       not conserved
logcosh    orbit        gd        logcosh   not conserved
========== ============ ========= ========= =========================================

Besides the arms: the vector-channel and two-layer checks, and two exact influence rows (the
workflow's solve and bras on the ``linear`` model against :func:`linear_influence`).

Outputs (:func:`write_study`): ``tables/findings.csv`` (``case, expected, measured, holds``),
``tables/defects.csv`` (``arm, target, step, max_defect, orbits_above_floor, perp_norm_ratio,
loss``), ``tables/orbits.csv.gz`` (the tracker's per-orbit table, ``step, orbit, size, norm,
ratio, defect, floored, arm, target``), ``tables/balancedness.csv`` (two-layer drift: ``lr,
step, time, drift``) and ``figures/conservation_defect.png`` (max_O d_O and the norm of K_perp
over the steps, one line per arm, one column per target).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from symaudit import groups
from symaudit.conservation import _theory
from symaudit.conservation._data import TARGETS, make_target, random_fields
from symaudit.conservation._influence import linear_influence, linear_smse_gradients
from symaudit.conservation._track import balancedness_drift, track
from symaudit.conservation._train import train_full_batch
from symaudit.datasets import channels_for
from symaudit.equivariance import twirl_decomposition
from symaudit.errors import UserError
from symaudit.influence import SolveOptions, bra_influence, solve_kets
from symaudit.influence._stage import resolve_settings
from symaudit.models import TwoLayerLinearConv, build
from symaudit.models._linear import twirl_kernel
from symaudit.settings import CONSERVATION, resolve

__all__ = ["ARMS", "DEFAULTS", "StudyResult", "run_study", "settings_with_defaults", "write_study"]

#: arm -> (augmentation, optimizer, loss)
ARMS: dict[str, tuple[str, str, str]] = {
    "orbit": ("orbit", "gd", "mse"),
    "random": ("random", "gd", "mse"),
    "none": ("none", "gd", "mse"),
    "adam": ("orbit", "adam", "mse"),
    "logcosh": ("orbit", "gd", "logcosh"),
}

#: keys of the config's conservation section that choose what the workflow runs, not numbers
_WORKFLOW_KEYS = ("enabled", "standalone")

#: the study's defaults (:data:`symaudit.settings.CONSERVATION` but :data:`_WORKFLOW_KEYS`)
DEFAULTS: dict = {k: v for k, v in CONSERVATION.items() if k not in _WORKFLOW_KEYS}

#: thresholds the findings are judged by
CONSERVED = 1e-10  # max_O d_O of an arm that conserves the direction
BROKEN = 1e-3  # max_O d_O of an arm that does not
RATIO = 1e-9  # relative error of ||K^perp_O|| against the first step's factor to the n
ORACLE = 1e-12  # relative error of the measured first factor against the closed form
TWIRL = 1e-10  # relative error of twirl_decomposition's L_equiv against the closed form
INFLUENCE_RTOL = 1e-10  # the exact influence row's solve: per-ket true relative residual
INFLUENCE = 100 * INFLUENCE_RTOL  # max |ΔΠ| / max |Π| of the solve against the closed form

SCALAR = [{"name": "u", "kind": "scalar", "vector": None, "axis": None}]


def settings_with_defaults(settings: Mapping | None) -> dict:
    """``settings`` over :data:`DEFAULTS` (:func:`symaudit.settings.resolve`); unknown keys and
    arms/targets raise :class:`~symaudit.errors.UserError`."""
    out = resolve("conservation", settings, drop=_WORKFLOW_KEYS)
    bad = [a for a in out["arms"] if a not in ARMS] + [
        t for t in out["targets"] if t not in TARGETS
    ]
    if bad:
        raise UserError(
            f"conservation settings: unknown arms/targets {bad}; arms {list(ARMS)}, "
            f"targets {list(TARGETS)}"
        )
    for key, (low, strict) in _LOWER_BOUNDS.items():  # the schema's bounds, for --settings too
        value = out[key]
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise UserError(f"conservation.{key}: expected a number, got {value!r}")
        if value < low or (strict and value == low):
            raise UserError(
                f"conservation.{key} = {value}: must be {'>' if strict else '>='} {low}"
            )
    return out


#: key -> (lower bound, exclusive?), as in workflow/schemas/config.schema.yaml
_LOWER_BOUNDS = {
    "resolution": (4, False),
    "batch": (1, False),
    "steps": (2, False),
    "seed": (0, False),
    "hidden": (1, False),
    "two_layer_steps": (1, False),
    "lr_fraction": (0, True),
    "adam_lr": (0, True),
    "floor": (0, True),
}


@dataclass
class StudyResult:
    """``findings`` (case, expected, measured, holds); ``defects`` one row per arm, target and
    step; ``orbits`` one row per arm, target, step and orbit (:meth:`OrbitTrack.table`);
    ``balancedness`` the two-layer drift per step and step size; ``seconds`` wall time."""

    findings: pd.DataFrame
    defects: pd.DataFrame
    orbits: pd.DataFrame
    balancedness: pd.DataFrame
    seconds: float


def _row(case: str, expected: str, measured: float, holds: bool) -> dict:
    return {"case": case, "expected": expected, "measured": f"{measured:.3e}", "holds": bool(holds)}


def _model(kind: str, n: int, seed: int, channels=SCALAR, hidden: int = 4):
    """A float64 ``linear`` model from the registry, or a ``linear2`` with ``hidden`` channels."""
    gen = torch.Generator().manual_seed(seed)
    if kind == "linear2":
        model = TwoLayerLinearConv(len(channels), n, hidden=hidden).to(torch.float64)
        model.reset_parameters(gen)
        return model
    return build(
        kind, "tiny", len(channels), channels, resolution=n, dtype=torch.float64, generator=gen
    )


def _perp_spectrum_error(kernels, factors, steps, channels) -> float:
    """max over steps and k of |fft2(K_n - P K_n)(k) - K_perp_0^(k) A(k)^n|, relative to the
    largest |fft2(K_n)| of the same step."""
    pred = _theory.predicted_perp(kernels[0], factors, steps, channels)
    got = torch.fft.fft2(kernels - twirl_kernel(kernels, channels)).permute(0, 3, 4, 1, 2)
    scale = torch.fft.fft2(kernels).abs().amax(dim=(1, 2, 3, 4))[:, None, None, None, None]
    return float(((got - pred).abs() / scale).max())


def run_study(settings: Mapping | None = None) -> StudyResult:
    """Run every configured arm on every configured target (see the module docstring)."""
    s = settings_with_defaults(settings)
    start = time.perf_counter()
    n, steps, seed = s["resolution"], s["steps"], s["seed"]
    x = random_fields(s["batch"], n, 1, seed=seed + 1)
    lr = _theory.safe_lr(x, s["lr_fraction"])
    second = _theory.twirled_second_moment(x, SCALAR)
    factors = _theory.gd_factors(second, lr)
    rows, curves, orbits = [], [], []
    for target in s["targets"]:
        y = make_target(x, target)
        for arm in s["arms"]:
            aug, opt, loss = ARMS[arm]
            model = _model("linear", n, seed)
            hist = train_full_batch(
                model,
                x,
                y,
                SCALAR,
                steps=steps,
                lr=s["adam_lr"] if opt == "adam" else lr,
                augmentation=aug,
                optimizer=opt,
                loss=loss,
                seed=seed,
            )
            tr = track(hist.kernels, SCALAR, floor=s["floor"])
            curves.append(_curve(arm, target, tr, hist, steps))
            orbits.append(tr.table().assign(arm=arm, target=target))
            tag = f"{arm} ({aug} augmentation, {opt}, {loss}) / {target}"
            worst = float(np.nanmax(tr.max_defect().numpy()))
            if arm == "orbit":
                rows.extend(_orbit_rows(tag, target, tr, hist, factors, model, x, y))
            else:
                rows.append(
                    _row(
                        f"{tag}: direction of K_perp per orbit",
                        f"max d_O > {BROKEN:g} (not conserved)",
                        worst,
                        worst > BROKEN,
                    )
                )
    rows.extend(_vector_rows(s))
    rows.extend(_influence_rows(x, seed))
    two_layer_rows, balanced = _two_layer_rows(s)
    rows.extend(two_layer_rows)
    return StudyResult(
        pd.DataFrame(rows, columns=["case", "expected", "measured", "holds"]),
        pd.concat(curves, ignore_index=True),
        pd.concat(orbits, ignore_index=True),
        balanced,
        time.perf_counter() - start,
    )


def _curve(arm: str, target: str, tr, hist, steps: int) -> pd.DataFrame:
    """Per step 0..steps of one arm trained on one target: the worst orbit's direction defect,
    the orbits above the noise floor, ||K_perp|| relative to step 0 and the loss (NaN after the
    last step)."""
    perp_total = tr.norm.square().sum(dim=1).sqrt()
    return pd.DataFrame(
        {
            "arm": arm,
            "target": target,
            "step": np.arange(steps + 1),
            "max_defect": tr.max_defect().numpy(),
            "orbits_above_floor": (~tr.floored).sum(dim=1).numpy(),
            "perp_norm_ratio": (perp_total / perp_total[0]).numpy(),
            "loss": np.append(hist.loss.numpy(), np.nan),
        }
    )


def _orbit_rows(tag: str, target: str, tr, hist, factors, model, x, y) -> list[dict]:
    """The orbit-complete GD arm against theory: the direction of K_perp per orbit is
    conserved, its norm follows the first-step factor, that factor and the spectrum of K_perp
    match the closed form, and twirl_decomposition's L_equiv equals the orbit form.  ``x``,
    ``y``: ``(batch, 1, y, x)``."""
    worst = float(np.nanmax(tr.max_defect().numpy()))
    steps = hist.kernels.shape[0] - 1
    rows = [
        _row(
            f"{tag}: direction of K_perp per orbit",
            f"max d_O < {CONSERVED:g}",
            worst,
            worst < CONSERVED,
        )
    ]
    err = tr.ratio_power_error()
    rows.append(
        _row(
            f"{tag}: ||K_perp_O|| = (first-step factor)^n",
            f"max rel. error < {RATIO:g}",
            err,
            err < RATIO,
        )
    )
    lam = _theory.orbit_averaged(factors[..., 0, 0].real, tr.labels).abs()
    ok = ~tr.floored[1]
    rel = float(((tr.ratio[1] - lam).abs() / lam)[ok].max())
    rows.append(
        _row(
            f"{tag}: first-step factor = |1 - 2 lr s_O / N^2|",
            f"max rel. error < {ORACLE:g}",
            rel,
            rel < ORACLE,
        )
    )
    rel = _perp_spectrum_error(hist.kernels, factors, steps, SCALAR)
    rows.append(
        _row(
            f"{tag}: spectrum of K_perp = K_perp_0 * lambda^n",
            f"max error / max|K^| < {ORACLE:g}",
            rel,
            rel < ORACLE,
        )
    )
    with torch.no_grad():
        dec = twirl_decomposition(model, x, y, list(groups.D4), SCALAR)
        orbit_form, _, _ = _theory.equiv_orbit_form(model.kernel, x, y)
    ref = dec["per_example"]["equiv"]
    rel = float(((orbit_form - ref).abs() / ref).max())
    rows.append(
        _row(
            f"twirl_decomposition L_equiv = sum_O s_O ||K_perp_O||^2 / {target}",
            f"max rel. error < {TWIRL:g}",
            rel,
            rel < TWIRL,
        )
    )
    return rows


def _vector_rows(s: Mapping) -> list[dict]:
    """CE channel kinds (scalar, momentum vector, scalar): the factor is a channel matrix A(k);
    K_perp(k) A(k)^n is exact, the per-orbit direction is not conserved unless every twirled
    second moment S(k) is a multiple of the identity."""
    ch = channels_for("CE")
    n, steps = 16, 30
    x = random_fields(6, n, len(ch), seed=s["seed"] + 2)
    y = make_target(x, "advection")
    model = _model("linear", n, s["seed"], channels=ch)
    lr = _theory.safe_lr(x, s["lr_fraction"])
    hist = train_full_batch(model, x, y, ch, steps=steps, lr=lr, augmentation="orbit")
    second = _theory.twirled_second_moment(x, ch)
    rel = _perp_spectrum_error(hist.kernels, _theory.gd_factors(second, lr), steps, ch)
    aniso = _theory.channel_anisotropy(second)
    worst = float(np.nanmax(track(hist.kernels, ch, floor=s["floor"]).max_defect().numpy()))
    with torch.no_grad():
        dec = twirl_decomposition(model, x, y, list(groups.D4), ch)
        closed = _theory.equiv_closed_form(model.kernel, x, y, ch)
    ref = dec["per_example"]["equiv"]
    twirl_rel = float(((closed - ref).abs() / ref).max())
    # the condition is sufficient: (a, b), (b, a), (a, -b), (b, -a) make S(k) scalar exactly
    nch = channels_for("NS")
    a, b = random_fields(2, n, 2, seed=s["seed"] + 4).unbind(dim=1)
    xs = torch.cat([torch.stack(p, dim=1) for p in ((a, b), (b, a), (a, -b), (b, -a))])
    ys = make_target(xs, "advection")
    hist_s = train_full_batch(
        _model("linear", n, s["seed"], channels=nch), xs, ys, nch, steps=steps,
        lr=_theory.safe_lr(xs, s["lr_fraction"]), augmentation="orbit",
    )  # fmt: skip
    aniso_s = _theory.channel_anisotropy(_theory.twirled_second_moment(xs, nch))
    worst_s = float(np.nanmax(track(hist_s.kernels, nch, floor=s["floor"]).max_defect().numpy()))
    tag = "vector channels (CE kinds), orbit augmentation, gd, mse"
    tag_s = (
        "vector channels (NS velocity, S(k) scalar by construction), orbit augmentation, gd, mse"
    )
    return [
        _row(
            f"{tag_s}: direction of K_perp per orbit",
            f"max d_O < {CONSERVED:g} (anisotropy {aniso_s:.1e})",
            worst_s,
            worst_s < CONSERVED,
        ),
        _row(
            f"{tag}: spectrum of K_perp = K_perp_0(k) A(k)^n",
            f"max error / max|K^| < {ORACLE:g}",
            rel,
            rel < ORACLE,
        ),
        _row(
            f"{tag}: channel anisotropy of S(k) (direction conserved iff 0)",
            "> 0 for independent random channels",
            aniso,
            aniso > 0,
        ),
        _row(
            f"{tag}: direction of K_perp per orbit",
            f"max d_O > {BROKEN:g} (S(k) not scalar)",
            worst,
            worst > BROKEN,
        ),
        _row(
            f"{tag}: twirl_decomposition L_equiv = closed form",
            f"max rel. error < {TWIRL:g}",
            twirl_rel,
            twirl_rel < TWIRL,
        ),
    ]


def _influence_rows(x: torch.Tensor, seed: int) -> list[dict]:
    """Exact influence: the workflow's solve (its settings but ``rtol``, :func:`solve_kets`)
    and bras (:func:`bra_influence`, the examples rotated by r) on the study's ``linear`` model
    and batch ``x`` (metric batch = kets, advection targets), against the closed form per
    wave-vector (:func:`linear_influence`) at the λ the solve used.  The a-posteriori bound
    |ΔΠ_ij| ≤ ‖g_bra,i‖ ‖r_j‖ / λ that every stored Π carries must hold too."""
    y = make_target(x, "advection")
    model = _model("linear", x.shape[-1], seed)
    options = SolveOptions.from_settings(resolve_settings({"rtol": INFLUENCE_RTOL}))
    solution = solve_kets(model, x, x, y, options)
    bx, by = groups.act("r", x, SCALAR), groups.act("r", y, SCALAR)
    values, bound = bra_influence(model, solution, bx, by, channels=SCALAR, return_bounds=True)
    kernel = model.kernel.detach()
    bra, ket = (linear_smse_gradients(kernel, u, t) for u, t in ((bx, by), (x, y)))
    exact = linear_influence(x, bra, ket, solution.damping)
    diff = (values - exact).abs()
    rel = float(diff.max() / exact.abs().max())
    within = float((diff / bound).max())
    lam = solution.damping / solution.lambda_max
    tag = f"influence of the linear model, bras r . x, lambda/lambda_max = {lam:.0e}"
    return [
        _row(
            f"{tag}: block CG (rtol {INFLUENCE_RTOL:g}) Pi = closed form per wave-vector",
            f"max |dPi| / max |Pi| < {INFLUENCE:g} (max |Pi| = {float(exact.abs().max()):.3g})",
            rel,
            rel < INFLUENCE and solution.converged,
        ),
        _row(
            f"{tag}: |dPi| within the a-posteriori bound |g_bra| |r| / lambda",
            "max |dPi| / bound <= 1",
            within,
            within <= 1.0,
        ),
    ]


def _two_layer_rows(s: Mapping) -> tuple[list[dict], pd.DataFrame]:
    """Balancedness K1 K1^H - K2^H K2 per wave-vector: conserved by gradient flow, drifting by
    O(lr) over a fixed time under GD, so halving lr (doubling the steps) halves the drift."""
    n, steps = 16, s["two_layer_steps"]
    x = random_fields(8, n, 1, seed=s["seed"] + 3)
    y = make_target(x, "advection")
    lr = _theory.safe_lr(x, 0.05)
    drift, tables = [], []
    for scale, m in ((1.0, steps), (0.5, 2 * steps)):
        model = _model("linear2", n, s["seed"], hidden=s["hidden"])
        hist = train_full_batch(model, x, y, SCALAR, steps=m, lr=scale * lr)
        per_step = balancedness_drift(hist.kernel1, hist.kernel2).numpy()
        drift.append(float(per_step[-1]))
        tables.append(
            pd.DataFrame(
                {
                    "lr": scale * lr,
                    "step": np.arange(m + 1),
                    "time": scale * lr * np.arange(m + 1),
                    "drift": per_step,
                }
            )
        )
    ratio = drift[0] / drift[1]
    tag = "two-layer linear, orbit augmentation, gd, mse"
    return [
        _row(
            f"{tag}: balancedness drift at lr (fixed time)",
            "O(lr): small but nonzero",
            drift[0],
            0 < drift[0] < 1e-2,
        ),
        _row(
            f"{tag}: drift(lr) / drift(lr/2) at fixed time",
            "2 (first order in lr), in [1.9, 2.1]",
            ratio,
            1.9 < ratio < 2.1,
        ),
    ], pd.concat(tables, ignore_index=True)


def _figure(defects: pd.DataFrame, path: Path) -> None:
    """Top row: max_O d_O per step; bottom row: ||K_perp|| / ||K_perp_0||; one column per
    target, one line per arm."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    targets = list(dict.fromkeys(defects["target"]))
    fig, axes = plt.subplots(
        2, len(targets), figsize=(5.0 * len(targets), 6.4), sharex=True, squeeze=False
    )
    for col, target in enumerate(targets):
        sub = defects[defects["target"] == target]
        top, bottom = axes[0, col], axes[1, col]
        for arm, part in sub.groupby("arm", sort=False):
            aug, opt, loss = ARMS[arm]
            label = f"{arm} ({aug}, {opt}, {loss})"
            top.semilogy(part["step"], part["max_defect"].clip(lower=1e-17), label=label)
            bottom.semilogy(part["step"], part["perp_norm_ratio"], label=label)
        top.axhline(CONSERVED, color="k", ls=":", lw=0.8)
        top.set_title(f"target: {target}")
        bottom.set_xlabel("step n")
    axes[0, 0].set_ylabel("max over orbits of d_O")
    axes[1, 0].set_ylabel("||K_perp_n|| / ||K_perp_0||")
    axes[0, -1].legend(fontsize=7, loc="center right")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)


def write_study(result: StudyResult, out_dir: str | Path) -> list[Path]:
    """Write the findings and defect tables and the figure under ``out_dir``."""
    out = Path(out_dir)
    (out / "tables").mkdir(parents=True, exist_ok=True)
    tables = out / "tables"
    paths = [
        tables / "findings.csv",
        tables / "defects.csv",
        tables / "orbits.csv.gz",
        tables / "balancedness.csv",
    ]
    result.findings.to_csv(paths[0], index=False)
    result.defects.to_csv(paths[1], index=False)
    result.orbits.to_csv(paths[2], index=False, float_format="%.6e")
    result.balancedness.to_csv(paths[3], index=False)
    fig = out / "figures" / "conservation_defect.png"
    _figure(result.defects, fig)
    return [*paths, fig]
