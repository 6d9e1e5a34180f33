"""``symaudit influence-bras``: influence of every group element of one chunk, all batches.

    symaudit influence-bras --solutions .../batch00/solution .../batch01/solution \\
        --checkpoint final.pt --run-dir RUN --stores A B C --time-steps 16 \\
        --set-name d4 --chunk 0 --elements e r r2 ... --settings '{...}' --out .../d4_chunk000.nc

Writes one NetCDF (atomically) per chunk: ``--out``, and one per ``--task SET CHUNK OUT
ELEMENT ...`` (several chunks of one run from one process, the model, data and solutions loaded
once; each file the same as its own invocation writes): Π^g of every element g of the chunk
against the solved kets of every analysis batch (:mod:`symaudit.influence._chunk`); its
variables, dims and attributes are declared in :data:`symaudit.outputs.INFLUENCE`
(docs/architecture.md, "Files between stages").
"""

from __future__ import annotations

import argparse

from symaudit.cli import add_dtype, add_task, parse_tasks
from symaudit.influence._stage import add_run_arguments


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add = parser.add_argument
    add("--solutions", nargs="+", required=True, help="influence-solve outputs")
    add_run_arguments(parser)
    add("--set-name", help="element set name (e.g. d4, shift_x, boost)")
    add("--chunk", type=int, default=0, help="the chunk's index in its set (recorded; default 0)")
    add("--elements", nargs="+", help="the chunk's elements (symaudit.groups names)")
    add("--out", help="output NetCDF")
    add_dtype(parser, "the bra gradients and their dot products (the kets stay as solved)")
    add_task(parser)


def _tasks(args) -> list[tuple[str, int, str, list[str]]]:
    """(set, chunk, out, elements) of every file to write: --out's, then each --task's."""
    from symaudit import groups

    tasks = []
    if args.out is not None or args.set_name is not None or args.elements:
        if args.out is None or args.set_name is None or not args.elements:
            raise ValueError("--out, --set-name and --elements go together")
        tasks.append((args.set_name, args.chunk, args.out, list(args.elements)))
    tasks += parse_tasks(args.task)
    if not tasks:
        raise ValueError("nothing to do: give --set-name, --elements and --out, or --task")
    for _, chunk, _, elements in tasks:
        for name in elements:
            groups.parse_transition(name)
        if chunk < 0:
            raise ValueError(f"--chunk must be >= 0, got {chunk}")
    return tasks


def run(args: argparse.Namespace) -> int:
    from symaudit.influence._chunk import measure_chunk, read_solutions, write_chunk
    from symaudit.influence._stage import resolve_settings
    from symaudit.runs import open_run

    settings = resolve_settings(args.settings)
    tasks = _tasks(args)
    paths, primary = read_solutions(args.solutions)
    trained = open_run(args.checkpoint, args.stores, args.run_dir, args.device, args.dtype)
    for set_name, chunk, out, elements in tasks:
        acc = measure_chunk(
            trained, paths, primary, elements, settings, args.time_steps, args.time_stride
        )
        out = write_chunk(out, acc, paths, primary, trained, elements, set_name, chunk, settings)
        print(f"influence-bras: {len(elements)} elements x {len(paths)} batches -> {out}")
    return 0
