"""``symaudit audit``: one foreign model on one data set, tables and an HTML report
(docs/audit.md)."""

from __future__ import annotations

import argparse

from symaudit.baselines import add_gate_argument
from symaudit.cli import add_device, options
from symaudit.errors import UserError

from ._group import DEFAULT_SETS


def _trajectories(text: str | None) -> list[int] | None:
    """``"N"`` (the first N), ``"A:B"`` or ``"0,3,5"``."""
    if not text:
        return None
    try:
        if ":" in text:
            a, b = text.split(":")
            return list(range(int(a), int(b)))
        if "," in text:
            return [int(p) for p in text.split(",") if p.strip()]
        return list(range(int(text)))
    except ValueError:
        raise UserError(f"--trajectories {text!r}: expected N, A:B or a list 0,3,5") from None


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--model",
        required=True,
        help="python:pkg.module:factory | torchscript:FILE "
        "| export:FILE | neuraloperator:FOLDER/NAME | the_well:CLASS:FOLDER",
    )
    p.add_argument("--data", required=True, help="the_well or PDEBench HDF5, netCDF, or .zarr")
    p.add_argument("--out", required=True, help="output directory (tables/, report.html)")
    p.add_argument("--weights", help="state dict for a python: factory (weights_only=True)")
    p.add_argument(
        "--layout",
        default="b c y x",
        help="the model's tensor layout (default "
        "'b c y x'; neuraloperator 'b c x y', the_well raw 'b x y c')",
    )
    p.add_argument("--history", type=int, default=1, help="input frames K (default 1)")
    p.add_argument("--outputs", help="input channels (names or indices) the outputs are")
    p.add_argument(
        "--sets",
        default=",".join(DEFAULT_SETS),
        help=f"element sets, comma list (default {','.join(DEFAULT_SETS)}; those the grid allows)",
    )
    p.add_argument("--trajectories", help="N, A:B or 0,3,5 (default: all)")
    p.add_argument("--time-steps", help="N or A:B frames (default: all)")
    p.add_argument(
        "--channels",
        help="channel kinds, one per channel: "
        "scalar,vector:v:x,vector:v:y,... (files that do not say)",
    )
    p.add_argument("--periodic", help="periodic axes: x,y | x | y | none (override)")
    p.add_argument("--dims", help="dim-name override FILE_DIM=CANONICAL,... (docs/data.md §1.4)")
    p.add_argument("--variable", help="netCDF variable (when the file has several)")
    add_device(p)
    add_gate_argument(p)
    p.add_argument("--batch-size", type=int, default=16, help="examples per forward pass")
    p.add_argument(
        "--influence",
        action="store_true",
        help="also the influence between x and g.x (torch.func; not for TorchScript)",
    )


def run(args: argparse.Namespace) -> int:
    from ._run import audit

    written = audit(
        args.model,
        args.data,
        args.out,
        sets=[s.strip() for s in args.sets.split(",") if s.strip()],
        trajectories=_trajectories(args.trajectories),
        **options(
            args,
            *("weights", "layout", "history", "outputs", "time_steps", "channels", "periodic"),
            *("dims", "variable", "device", "batch_size", "influence", "max_persistence_ratio"),
        ),
    )
    print(written["report"])
    return 0
