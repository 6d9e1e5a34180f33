"""``symaudit simulate FAMILY --resolution N --trajectories M --seed S --out PATH.zarr``."""

from __future__ import annotations

import argparse
import json

from symaudit import datasets
from symaudit.cli import add_no_progress, options
from symaudit.settings import DATA


def add_arguments(parser: argparse.ArgumentParser) -> None:
    known = [*datasets.FAMILIES, *datasets.VALIDATION_FAMILIES]
    parser.add_argument("family", help=f"one of {', '.join(known)}")
    parser.add_argument("--resolution", type=int, required=True, help="grid size N (N x N)")
    parser.add_argument("--trajectories", type=int, required=True, help="trajectories M")
    parser.add_argument("--seed", type=int, required=True, help="study seed for this family")
    parser.add_argument("--out", required=True, help="output store PATH.zarr")
    parser.add_argument(
        "--time-steps", type=int, default=DATA["time_steps"], help="frames on t in [0, 1]"
    )
    parser.add_argument(
        "--cluster", default="{}", help="JSON: the config's data.cluster section (defaults filled)"
    )
    parser.add_argument(
        "--shard",
        type=int,
        default=None,
        help="trajectories per store shard (default: about 32 MiB per shard)",
    )
    add_no_progress(parser)


def run(args: argparse.Namespace) -> int:
    from symaudit.data.generate import generate_store

    datasets.family(args.family)  # fail early, before starting a cluster
    try:
        cluster = json.loads(args.cluster)
    except json.JSONDecodeError as err:
        raise ValueError(f"--cluster is not valid JSON: {err}") from None
    store = generate_store(
        args.family,
        args.out,
        cluster=cluster,
        progress=not args.no_progress,
        **options(args, "resolution", "trajectories", "seed", "time_steps", "shard"),
    )
    test = store.attrs["equivariance_self_test"]
    print(f"wrote {store.path}: fields {store.shape}; solver self-test passed={test['passed']}")
    return 0
