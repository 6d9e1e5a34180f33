"""``symaudit model-info MODEL --preset PRESET --dataset CE|NS [--resolution N]``.

Prints ``parameters: <count>`` (trainable scalars).  The reference sizes are
unet/paper 13 875 081 (CE), 13 869 175 (NS); vit/paper 4 504 913 (CE), 4 483 889 (NS).
"""

from __future__ import annotations

import argparse

from symaudit.datasets import ALL_DATASETS, channels_for
from symaudit.models import MODELS, PRESETS, build, count_parameters


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", help=f"one of: {', '.join(MODELS)}")
    parser.add_argument("--preset", default="paper", help=f"one of: {', '.join(PRESETS)}")
    parser.add_argument("--dataset", required=True, help=f"one of: {', '.join(ALL_DATASETS)}")
    parser.add_argument(
        "--resolution", type=int, default=128, help="grid size N (fixes the ViT's token grid)"
    )


def run(args: argparse.Namespace) -> int:
    if args.dataset not in ALL_DATASETS:
        known = ", ".join(ALL_DATASETS)
        raise ValueError(f"unknown dataset {args.dataset!r}; known: {known}")
    channels = channels_for(args.dataset)
    model = build(args.model, args.preset, len(channels), channels, resolution=args.resolution)
    print(f"parameters: {count_parameters(model)}")
    return 0
