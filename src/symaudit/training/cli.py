"""``symaudit train``: one (dataset group, model, seed) run.

    symaudit train --dataset CE --model unet --preset tiny --seed 0 \\
        --stores CE-RP.zarr CE-CRP.zarr CE-RPUI.zarr --out DIR --settings '{"epochs": 3}'

Rerunning the same command resumes from the newest checkpoint in DIR (or does nothing when
DIR/final.pt is complete).  Multi-GPU / multi-process: launch the same arguments under
``torchrun --nproc_per_node K -m symaudit train ...``.
"""

from __future__ import annotations

import argparse

from symaudit.datasets import DATASETS
from symaudit.models import MODELS, PRESETS


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dataset", required=True, help=f"one of: {', '.join(DATASETS)}")
    parser.add_argument("--model", required=True, help=f"one of: {', '.join(MODELS)}")
    parser.add_argument("--preset", default="paper", help=f"one of: {', '.join(PRESETS)}")
    parser.add_argument("--seed", type=int, required=True)
    parser.add_argument(
        "--stores",
        nargs=3,
        required=True,
        metavar="STORE",
        help="the group's three class stores, in class order (e.g. CE-RP CE-CRP CE-RPUI)",
    )
    parser.add_argument("--out", required=True, help="run directory")
    parser.add_argument(
        "--settings",
        default=None,
        help="the config's train section: a JSON object, or a JSON/YAML file holding one",
    )
    parser.add_argument("--device", default=None, help="cpu | cuda (default: cuda if available)")


def run(args: argparse.Namespace) -> int:
    from symaudit.training import train
    from symaudit.training._settings import read_settings_argument

    train(
        args.dataset,
        args.model,
        args.preset,
        args.seed,
        args.stores,
        args.out,
        read_settings_argument(args.settings),
        device=args.device,
    )
    return 0
