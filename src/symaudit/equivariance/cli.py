"""``symaudit equivariance``: relative errors of a chunk of group elements and the twirl
decomposition, for every analysis batch of one trained run.

    symaudit equivariance --checkpoint MODEL_DIR/final.pt --run-dir MODEL_DIR \\
        --stores CE-RP.zarr CE-CRP.zarr CE-RPUI.zarr --batches 0 1 --time-steps 16 \\
        --set-name d4 --chunk 0 --elements e r r2 --out d4_chunk000.nc [--twirl-out twirl.nc]

The model is loaded once; per batch, f(x) once, the elements ``--elements-per-batch`` at a
time.  ``--out``: relative errors SMSE(f(g x), g y) / SMSE(f(x), y) and their SMSEs;
``--twirl-out``: the twirl decomposition over ``--twirl-elements`` (default the whole set);
each ``--task SET CHUNK OUT ELEMENT ...``: one more chunk's ``--out`` from the same process
(the workflow's per-run job: every chunk of a run and its twirl, the model loaded once; each
file the same as its own invocation writes).
Formats: :mod:`symaudit.outputs` (``EQUIVARIANCE``, ``TWIRL``); writers: ``_chunk``.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from symaudit import groups
from symaudit.baselines import add_gate_argument, warn_if_failed
from symaudit.cli import add_device, add_dtype, add_task, add_time_stride, parse_tasks
from symaudit.settings import ANALYSIS

__all__ = ["add_arguments", "add_run_inputs", "check_run_inputs", "run"]


def add_run_inputs(parser: argparse.ArgumentParser) -> None:
    """The trained run and its analysis batches, as every per-run analysis command reads them."""
    add = parser.add_argument
    add("--checkpoint", required=True, type=Path, help="final.pt of the run")
    add("--stores", required=True, nargs="+", type=Path, help="the class stores, in class order")
    add("--run-dir", required=True, type=Path, help="the run directory (holds the data splits)")
    add("--batches", required=True, nargs="+", type=int, help="analysis batch indices (0-based)")
    add_dtype(parser)


def check_run_inputs(args: argparse.Namespace) -> None:
    """Refuse the arguments of :func:`add_run_inputs` before the model is loaded: repeated or
    negative batches, and stores or a run directory that are not there (one line each)."""
    if any(k < 0 for k in args.batches) or len(set(args.batches)) != len(args.batches):
        raise ValueError(f"--batches must be distinct non-negative integers, got {args.batches}")
    for path in args.stores:
        if not path.exists():
            raise FileNotFoundError(f"store {path} does not exist (run the data stage first)")
    if not args.run_dir.is_dir():
        raise FileNotFoundError(f"run directory {args.run_dir} does not exist")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = __doc__.splitlines()[0]
    add = parser.add_argument
    add_run_inputs(parser)
    add(
        "--elements",
        required=True,
        nargs="+",
        help="element names: e r ... sr3, t(dx,dy), boost(m,n) or scale(alpha)",
    )
    add(
        "--set-name",
        required=True,
        choices=sorted([*groups.ELEMENT_SETS, *groups.TRANSITION_SETS]),
        help="the element set the elements belong to (recorded; default twirl group)",
    )
    add("--chunk", type=int, default=0, help="the chunk's index in its set (recorded; default 0)")
    add("--out", type=Path, help="NetCDF file for the relative errors")
    add("--twirl-out", type=Path, help="NetCDF file for the twirl decomposition")
    add(
        "--twirl-elements",
        nargs="+",
        help="the group to twirl over (default: the whole --set-name set; must be a group)",
    )
    t = ANALYSIS["time_steps"]
    add("--time-steps", type=int, default=t, help=f"transitions per class and batch (default {t})")
    add_time_stride(parser)
    per = "transformed copies of a batch per forward pass (default 8)"
    add("--elements-per-batch", type=int, default=8, help=per)
    add_task(parser)
    add_device(parser)
    add_gate_argument(parser)


@dataclass(frozen=True)
class _Task:
    """One more relative-error file (``--task``): ``args`` with these four replaced."""

    set_name: str
    chunk: int
    out: Path
    elements: list


def _tasks(args) -> list[_Task]:
    tasks = [_Task(s, c, Path(o), e) for s, c, o, e in parse_tasks(args.task)]
    for task in tasks:
        if task.set_name not in groups.ELEMENT_SETS and task.set_name not in groups.TRANSITION_SETS:
            raise ValueError(f"--task: unknown element set {task.set_name!r}")
    return tasks


def _task_args(args, task: _Task) -> argparse.Namespace:
    """``args`` as the task's own invocation would have them (no twirl)."""
    return argparse.Namespace(**{**vars(args), **asdict(task), "twirl_out": None, "task": []})


def _check_args(args) -> None:
    if args.out is None and args.twirl_out is None and not args.task:
        raise ValueError("nothing to do: give --out, --twirl-out and/or --task")
    for flag in ("time_steps", "time_stride", "elements_per_batch"):
        if getattr(args, flag) < 1:
            raise ValueError(f"--{flag.replace('_', '-')} must be >= 1, got {getattr(args, flag)}")
    if args.chunk < 0:
        raise ValueError(f"--chunk must be >= 0, got {args.chunk}")
    lists = [(args.elements, "--elements"), (args.twirl_elements or [], "--twirl")]
    lists += [(elements, "--task") for *_, elements in parse_tasks(args.task)]
    for names, flag in lists:
        for g in names:
            groups.parse_transition(g)  # one-line ValueError naming the bad element
        if len(set(names)) != len(names):
            raise ValueError(f"{flag}: duplicate element names in {names}")
    check_run_inputs(args)


def _measure_and_write(args, opened, twirl_elements) -> None:
    """One invocation's files (``args.out``, ``args.twirl_out``) from the opened run."""
    from symaudit.equivariance import _chunk

    wanted = list(args.elements) if args.out is not None else []
    start = time.perf_counter()
    measured = _chunk.measure(args, opened, wanted, twirl_elements)
    _chunk.write_outputs(args, measured, opened, twirl_elements)
    n_forward = len(dict.fromkeys(wanted + twirl_elements))
    outs = " and ".join(str(p) for p in (args.out, args.twirl_out) if p is not None)
    seconds = time.perf_counter() - start
    print(f"wrote {outs}: {n_forward} elements x {len(args.batches)} batches in {seconds:.1f} s")


def run(args) -> int:
    from symaudit.equivariance import _chunk
    from symaudit.runs import open_run

    _check_args(args)
    tasks = _tasks(args)
    warn_if_failed(args.run_dir, args.max_persistence_ratio)
    stores = _chunk.open_stores(args.stores)
    twirl_elements = _chunk.twirl_group(args, stores[0].shape[-1])
    opened = open_run(args.checkpoint, stores, args.run_dir, args.device, args.dtype)
    if args.out is not None or twirl_elements:
        _measure_and_write(args, opened, twirl_elements)
    for task in tasks:  # each as its own invocation: the same sweeps, the same numbers
        _measure_and_write(_task_args(args, task), opened, [])
    return 0
