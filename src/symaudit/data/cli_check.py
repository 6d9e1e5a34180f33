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
"""

from __future__ import annotations

import argparse
import time


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = __doc__.splitlines()[0]
    parser.add_argument(
        "family", metavar="FAMILY", help="CE-RP, CE-CRP, CE-RPUI, NS-BB, ..., NS-Kolmogorov"
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
    elapsed = time.perf_counter() - start
    width = max(len(name) for name in deviations)
    for name, dev in deviations.items():
        if gen.forcing_k:
            inside = expected_symmetric(args.family, args.resolution, name)
            print(f"{name:<{width}}  {dev:.3e}  {'in G' if inside else 'outside G'}")
        else:
            print(f"{name:<{width}}  {dev:.3e}")
    failed = check_failures(args.family, args.resolution, deviations)  # NaN fails too
    bound = f", violation >= {VIOLATION:g} outside G" if gen.forcing_k else ""
    what = (
        f"{args.family} N={args.resolution} seed={args.seed} t_end={args.t_end:g}: "
        f"{len(deviations)} elements, tolerance {tol:g} ({pde}){bound}, {elapsed:.1f} s"
    )
    if failed:
        print(f"FAIL {what}; exceeded by {', '.join(failed)}")
        return 1
    print(f"PASS {what}")
    return 0
