"""``symaudit influence-bras``: influence of every group element of one chunk, all batches.

    symaudit influence-bras --solutions .../batch00/solution .../batch01/solution \\
        --checkpoint final.pt --run-dir RUN --stores A B C --time-steps 16 \\
        --set-name d4 --chunk 0 --elements e r r2 ... --settings '{...}' --out .../d4_chunk000.nc

Writes one NetCDF (atomically): Π^g of every element g of the chunk against the solved kets of
every analysis batch (:mod:`symaudit.influence._chunk`); its variables, dims and attributes are
declared in :data:`symaudit.outputs.INFLUENCE` (docs/architecture.md, "Files between stages").
"""

from __future__ import annotations

import argparse

from symaudit.influence._stage import add_run_arguments


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add = parser.add_argument
    add("--solutions", nargs="+", required=True, help="influence-solve outputs")
    add_run_arguments(parser)
    add("--set-name", required=True, help="element set name (e.g. d4, shift_x, boost)")
    add("--chunk", type=int, default=0, help="the chunk's index in its set (recorded; default 0)")
    add("--elements", nargs="+", required=True, help="the chunk's elements (symaudit.groups names)")
    add("--out", required=True, help="output NetCDF")


def run(args: argparse.Namespace) -> int:
    from symaudit import groups
    from symaudit.influence._chunk import measure_chunk, read_solutions, write_chunk
    from symaudit.influence._stage import resolve_settings
    from symaudit.runs import open_run

    settings = resolve_settings(args.settings)
    for name in args.elements:
        groups.parse_transition(name)
    if args.chunk < 0:
        raise ValueError(f"--chunk must be >= 0, got {args.chunk}")
    paths, primary = read_solutions(args.solutions)
    trained = open_run(args.checkpoint, args.stores, args.run_dir, args.device)
    acc = measure_chunk(trained, paths, primary, args.elements, settings, args.time_steps)
    out = write_chunk(
        args.out, acc, paths, primary, trained, args.elements, args.set_name, args.chunk, settings
    )
    print(f"influence-bras: {len(args.elements)} elements x {len(paths)} batches -> {out}")
    return 0
