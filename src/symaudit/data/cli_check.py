"""``symaudit check-solver FAMILY --resolution N [--seed S]``: a generator's equivariance self-test.

Runs the family's solver on x0 and on g . x0 for the 8 D4 elements and a few translations,
prints one line per element ``element  max_rel_deviation`` with
max|solve(g . x0) - g . solve(x0)| / max|solve(x0)|, then a verdict line.  Exit status 0 when
every deviation is within ``TOLERANCE`` (compressible Euler: exactly 0; NS: 1e-10), 1 otherwise,
2 for a user error such as an unknown family (printed by :mod:`symaudit.cli`).

A forced family (``NS-Kolmogorov``) is checked on a sample of its symmetry subgroup (lines
marked ``in G``: deviation within the tolerance) and on elements outside it (``outside G``: a
deviation of at least ``VIOLATION`` = 1e-3 is required).  Words such as ``s*t(0,2)`` mean
s o t(0,2), the translation applied first.

Then Galilean boosts and (compressible Euler) mass scalings, which act on transitions
(:mod:`symaudit.data._kinematic_check`; U dt = (m, n) cells with dt = t_end / (frames - 1)): one
line ``element  deviation  c_g=...  expect`` each.  ``exact`` rows are judged by the tolerance
(NS boosts, Kolmogorov x-boosts, CE scale(0.5) and scale(2)); ``outside G`` rows (Kolmogorov
y-boosts) need a deviation >= VIOLATION; ``measured`` rows (CE boosts: a finite-volume scheme is
not Galilean invariant) report the solver's own commutator and its SMSE c_g, never judged;
``action`` rows check that the CE boost keeps density and pressure and adds U to the velocity
(relative round-off, 1e-12).
"""

from __future__ import annotations

import argparse
import time


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = __doc__.splitlines()[0]
    parser.add_argument(
        "family",
        metavar="FAMILY",
        help="CE-RP, CE-CRP, CE-RPUI, NS-BB, ..., NS-Kolmogorov, NS-Diagonal",
    )
    parser.add_argument("--resolution", "-N", type=int, required=True, help="grid side N")
    parser.add_argument("--seed", type=int, default=0, help="initial-condition seed (default 0)")
    parser.add_argument(
        "--t-end", type=float, default=1.0, help="final time of the check (default 1.0)"
    )
    parser.add_argument(
        "--frames", type=int, default=3, help="output times compared in [0, t_end] (default 3)"
    )


def run(args: argparse.Namespace) -> int:
    # Imported here so `symaudit --help` never pays for numpy/scipy.
    from ._kinematic_check import check_kinematic, kinematic_failures
    from .generators import (
        GENERATORS,
        TOLERANCE,
        VALIDATION_GENERATORS,
        VIOLATION,
        check_failures,
        check_solver,
        expected_symmetric,
    )

    known = {**GENERATORS, **VALIDATION_GENERATORS}
    if args.family not in known:
        raise ValueError(f"unknown family {args.family!r}; known: {', '.join(known)}")
    if args.resolution < 8:
        raise ValueError(f"--resolution must be at least 8, got {args.resolution}")
    if not args.t_end > 0:
        raise ValueError(f"--t-end must be positive, got {args.t_end}")
    if args.frames < 1:  # no frame compared would pass vacuously
        raise ValueError(f"--frames must be at least 1, got {args.frames}")
    gen = known[args.family]
    pde = gen.pde
    tol = TOLERANCE[pde]
    start = time.perf_counter()
    deviations = check_solver(
        args.family, args.resolution, seed=args.seed, t_end=args.t_end, frames=args.frames
    )
    rows = check_kinematic(gen, args.resolution, args.seed, args.t_end, args.frames)
    elapsed = time.perf_counter() - start
    width = max(len(name) for name in [*deviations, *(row["element"] for row in rows)])
    for name, dev in deviations.items():
        if gen.forcing_k:
            inside = expected_symmetric(args.family, args.resolution, name)
            print(f"{name:<{width}}  {dev:.3e}  {'in G' if inside else 'outside G'}")
        else:
            print(f"{name:<{width}}  {dev:.3e}")
    for row in rows:
        c_g = "" if row["c_g"] is None else f"c_g={row['c_g']:.3e}"
        print(f"{row['element']:<{width}}  {row['deviation']:.3e}  {c_g:<13}  {row['expect']}")
    failed = check_failures(args.family, args.resolution, deviations)  # NaN fails too
    failed += kinematic_failures(rows, tol, VIOLATION)
    bound = f", violation >= {VIOLATION:g} outside G" if gen.forcing_k else ""
    what = (
        f"{args.family} N={args.resolution} seed={args.seed} t_end={args.t_end:g}: "
        f"{len(deviations) + len(rows)} elements, tolerance {tol:g} ({pde}){bound}, {elapsed:.1f} s"
    )
    if failed:
        print(f"FAIL {what}; exceeded by {', '.join(failed)}")
        return 1
    print(f"PASS {what}")
    return 0
