"""check-solver's rows for Galilean boosts and mass scaling (docs/algorithms.md §4.1, §9.4).

A boost or a scaling acts on a transition (:func:`symaudit.groups.act_transition`): the input
x0 gets the pointwise part, the frame k steps of ``dt`` later gets the pointwise part and a roll
by k (m, n) cells (U dt = (m, n) cells).  For each element g the solver's commutator

    max_k max|S(g_in x0)(t_k) - g_out^(k) S(x0)(t_k)| / max|g_out S(x0)|

is measured over the check's frames, and beside it ``c_g``, the largest over frames k >= 1 of
the SMSE (docs/algorithms.md §3.1: mean over channels of MSE_c / (RMS_c + 1e-6), the expected
frame as the target) between the two: the error a model that reproduced the solver exactly would
make on the transformed transition, so that its relative error reads R ~ 1 + c_g / SMSE(f).

What each row must show (``expect``):

* ``exact``: the NS solvers under every boost (dealiased pseudo-spectral, mean flow advanced by
  an integrating factor: round-off, TOLERANCE["incompressible_ns"]), the Kolmogorov family under
  x-boosts (its forcing depends on y only), and compressible Euler under scale(0.5) and scale(2)
  (a homogeneous numerical flux, powers of two: bitwise, TOLERANCE["compressible_euler"] = 0);
* ``outside G``: Kolmogorov y-boosts (the forcing is fixed in the lab frame and moves in the
  boosted one): a deviation of at least VIOLATION is required (an expected failure);
* ``measured``: compressible Euler under boosts.  A finite-volume scheme is not Galilean
  invariant (its numerical dissipation depends on |u| + c), so the commutator is a property of
  the discretisation, reported and never judged against a tolerance (only a boosted solve that
  fails, e.g. loses positivity, fails the row);
* ``action``: for each CE boost, the action itself on the states, judged exactly: a boost keeps
  density and pressure and adds U to the velocity (E -> E + m.U + rho|U|^2/2 is what keeps p),
  so max(|d rho|, |d p|, |du - U|) relative to the state's scale must be round-off
  (:data:`ACTION_TOLERANCE`).  A wrong energy term fails here, whatever the scheme does.
"""

from __future__ import annotations

import numpy as np

from .. import groups
from ..datasets import channels_for
from ._euler import primitive
from .commutator import smse

#: boosts checked for every family, (m, n) cells per frame; scalings for compressible Euler
BOOST_CHECKS: tuple[tuple[int, int], ...] = ((1, 0), (0, -1), (1, 1))
SCALE_CHECKS: tuple[float, ...] = (0.5, 2.0)
#: relative round-off allowed for the CE boost's action on (rho, p, u)
ACTION_TOLERANCE = 1e-12


def _smse(pred: np.ndarray, target: np.ndarray) -> float:
    return float(smse(pred, target))  # the one numpy SMSE (symaudit.data.commutator)


def _expected(g, frames: np.ndarray, channels, dt: float) -> np.ndarray:
    """g's target action on frame k of a trajectory started at frame 0 (k dt later): the
    pointwise part, then the roll by k (m, n) cells (a boost) -- through act_transition."""
    out = []
    for k, frame in enumerate(frames):
        moved = groups.act_transition(g, frame, None, channels, dt=dt)[0]
        if isinstance(g, groups.Boost) and k:
            moved = groups.act(f"t({k * g.m},{k * g.n})", moved, channels)
        out.append(moved)
    return np.stack(out)


def _action_deviation(g, frames: np.ndarray, channels, dt: float) -> float:
    """CE boost: max |rho' - rho|, |p' - p|, |u' - u - U| over the frames, relative to
    max(rho, p, |u| + |U|): the action must keep density and pressure and shift velocity."""
    boosted = groups.act_transition(g, frames, None, channels, dt=dt)[0]
    ux, uy = groups._kinematic.velocity(g, frames.shape[-2:], dt)
    rho, u, v, p = primitive(np.moveaxis(frames, -3, 0))
    rho2, u2, v2, p2 = primitive(np.moveaxis(boosted, -3, 0))
    scale = max(rho.max(), p.max(), (np.abs(u) + abs(ux)).max(), (np.abs(v) + abs(uy)).max())
    worst = max(
        np.abs(rho2 - rho).max(),
        np.abs(p2 - p).max(),
        np.abs(u2 - u - ux).max(),
        np.abs(v2 - v - uy).max(),
    )
    return float(worst / scale) if np.isfinite(worst) else float("nan")


def kinematic_elements(family: str, forcing_k: int) -> list[tuple[str, str]]:
    """(element name, expect) rows of a family, in check order (module docstring)."""
    ce = channels_for(family)[0].get("role") == "density"
    rows = []
    for m, n in BOOST_CHECKS:
        name = groups.Boost(m, n).name
        if ce:
            rows += [(name, "measured"), (f"{name} action", "action")]
        else:
            rows.append((name, "outside G" if forcing_k and n else "exact"))
    if forcing_k:
        rows.insert(1, (groups.Boost(-1, 0).name, "exact"))
    if ce:
        rows += [(groups.Scale(a).name, "exact") for a in SCALE_CHECKS]
    return rows


def check_kinematic(gen, resolution: int, seed: int, t_end: float, frames: int) -> list[dict]:
    """The boost and scaling rows of ``gen`` (a :class:`~symaudit.data.generators.Generator`):
    dicts ``element, expect, deviation, c_g`` (``c_g`` None for an action row)."""
    times = np.linspace(0.0, float(t_end), max(int(frames), 2))
    dt = float(times[1] - times[0])
    channels = channels_for(gen.family)
    x0 = gen.initial_condition(int(resolution), int(seed))
    reference = gen.solve(x0, times)
    rows = []
    for word, expect in kinematic_elements(gen.family, gen.forcing_k):
        g = groups.parse_transition(word.removesuffix(" action"))
        if expect == "action":
            states = np.concatenate([x0[None], reference[1:]])
            dev = _action_deviation(g, states, channels, dt)
            rows.append({"element": word, "expect": expect, "deviation": dev, "c_g": None})
            continue
        moved_in = groups.act_transition(g, x0, None, channels, dt=dt)[0]
        expected = _expected(g, reference, channels, dt)
        try:
            moved = gen.solve(moved_in, times)
        except FloatingPointError:  # a wrong action can leave an unphysical state
            rows.append({"element": word, "expect": expect, "deviation": np.inf, "c_g": np.inf})
            continue
        dev = float(np.max(np.abs(moved - expected)) / np.max(np.abs(expected)))
        c_g = max(_smse(moved[k], expected[k]) for k in range(1, len(times)))
        rows.append({"element": word, "expect": expect, "deviation": dev, "c_g": c_g})
    return rows


def kinematic_failures(rows: list[dict], tolerance: float, violation: float) -> list[str]:
    """Rows that contradict what they must show (NaN fails; a ``measured`` row fails only when
    the boosted solve failed: an infinite deviation)."""
    failed = []
    for row in rows:
        dev, expect = row["deviation"], row["expect"]
        ok = {
            "exact": lambda d: d <= tolerance,
            "outside G": lambda d: d >= violation,
            "action": lambda d: d <= ACTION_TOLERANCE,
            "measured": lambda d: bool(np.isfinite(d)),  # reported, but the solve must succeed
        }[expect](dev)
        if not ok:
            failed.append(row["element"])
    return failed


__all__ = [
    "ACTION_TOLERANCE",
    "BOOST_CHECKS",
    "SCALE_CHECKS",
    "check_kinematic",
    "kinematic_elements",
    "kinematic_failures",
]
