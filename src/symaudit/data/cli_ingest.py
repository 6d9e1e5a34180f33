"""``symaudit ingest FILE... --family FAMILY --out PATH.zarr [--order numeric|lexicographic]``.

Converts PDEGym netCDF chunk files (variable ``data`` for CE, ``velocity`` for NS; dims
``(sample, time, channel, x, y)``, found by name in any order, aliases and ``--dims``:
``symaudit.dims``) into a store of layout ``(trajectory, time, channel, y, x)``; the axis
pairing is decided from the data (see ``symaudit.data.ingest``).
"""

from __future__ import annotations

import argparse
import logging

from symaudit.cli import add_no_progress, options
from symaudit.settings import DATA


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("files", nargs="+", metavar="FILE", help="PDEGym netCDF chunk files")
    # no argparse `choices` for the family: datasets.family gives the one-line error
    parser.add_argument("--family", required=True, help="CE-RP, CE-CRP, CE-RPUI, NS-BB, ...")
    parser.add_argument("--out", required=True, help="output store PATH.zarr")
    parser.add_argument(
        "--order",
        choices=("numeric", "lexicographic"),
        default=DATA["order"],
        help="trajectory order of the chunks: by chunk number (default) or string sort, as "
        "PDEGym's assemble_data.py",
    )
    parser.add_argument(
        "--check-trajectories",
        type=int,
        default=8,
        metavar="K",
        help="self-checks use the first K trajectories of every file (default 8)",
    )
    parser.add_argument(
        "--x-axis",
        choices=("auto", "x", "y"),
        default="auto",
        help="netCDF dim that is physical x (paired with u); default: decide from the data",
    )
    parser.add_argument(
        "--endpoint",
        choices=("drop", "refuse"),
        default="drop",
        help="a duplicated periodic endpoint (last grid point = first): drop it (default; "
        "checked on every trajectory, recorded in provenance) or refuse the input",
    )
    parser.add_argument(
        "--shard",
        type=int,
        default=None,
        metavar="S",
        help="trajectories per store shard (default: about 32 MiB per shard)",
    )
    parser.add_argument(
        "--dims",
        default=None,
        metavar="NAME=DIM,...",
        help="which file dim is which, for names the alias table does not know (docs/data.md "
        "§1.4), e.g. member=trajectory,lon=x; DIM is trajectory, time, channel, x or y",
    )
    add_no_progress(parser, "--quiet")  # --quiet: the former spelling, hidden


def run(args: argparse.Namespace) -> int:
    from symaudit.data.ingest import ingest

    store = ingest(
        args.files,
        args.family,
        args.out,
        progress=None if args.no_progress else logging.getLogger("symaudit.ingest").info,
        **options(args, "order", "check_trajectories", "x_axis", "shard", "endpoint", "dims"),
    )
    conv = store.attrs["axis_convention"]
    cand = conv["evidence"]["candidates"]
    ends = store.attrs["provenance"]["endpoint"]

    def fmt(value):
        return "n/a" if value is None else f"{value:.3g}"

    chosen = conv["x_axis"]["netcdf_dim"]
    other = conv["y_axis"]["netcdf_dim"]
    how = "forced by --x-axis" if conv["decided_by"] == "override" else conv["decided_by"]
    print(
        f"wrote {store.path}: fields {store.shape}; x = netCDF dim {chosen!r} ({how}; median "
        f"relative residual {fmt(cand[chosen]['median'])} with u along {chosen!r} vs "
        f"{fmt(cand[other]['median'])} along {other!r}); duplicated endpoint: "
        + (f"dropped (N {ends['file_N']} -> {ends['stored_N']})" if ends["duplicated"] else "none")
    )
    return 0
