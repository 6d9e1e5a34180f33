"""``symaudit train``: one (dataset group, model, seed) run.

    symaudit train --dataset CE --model unet --preset tiny --seed 0 \\
        --stores CE-RP.zarr CE-CRP.zarr CE-RPUI.zarr --out DIR --settings '{"epochs": 3}'

Rerunning the same command resumes from the newest checkpoint in DIR (or does nothing when
DIR/final.pt is complete).  Multi-GPU / multi-process: launch the same arguments under
``torchrun --nproc_per_node K -m symaudit train ...``.
"""

from __future__ import annotations

import argparse
import logging
import os

from symaudit._io import move_into
from symaudit.baselines import add_gate_argument, warn_if_failed
from symaudit.cli import add_device, add_settings
from symaudit.names import ARCHITECTURES, DATASETS, PRESETS


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dataset", required=True, help=f"one of: {', '.join(DATASETS)}")
    parser.add_argument(
        "--model",
        required=True,
        help=f"one of: {', '.join(ARCHITECTURES)} (or a linear model of symaudit.models.MODELS)",
    )
    parser.add_argument(
        "--name",
        default=None,
        help="the run's model name in its study when it is a variant of --model (e.g. "
        "unet-aug: the UNet trained with augmentation); recorded in the checkpoints, which "
        "keep --model as the architecture (default: --model)",
    )
    parser.add_argument("--preset", default="paper", help=f"one of: {', '.join(PRESETS)}")
    parser.add_argument("--seed", type=int, required=True, help="the run's seed (splits, init)")
    parser.add_argument(
        "--stores",
        nargs="+",
        required=True,
        metavar="STORE",
        help="the group's class stores, in class order (e.g. CE-RP CE-CRP CE-RPUI; NSK: "
        "NS-Kolmogorov alone; NSD: NS-Diagonal alone)",
    )
    parser.add_argument("--out", required=True, help="run directory")
    add_settings(parser, "train")
    add_device(parser)
    parser.add_argument(
        "--restart-on-change",
        action="store_true",
        help="discard DIR's checkpoints when the arguments, settings or training code changed "
        "since they were written (the workflow's rerun after an edit); resume otherwise",
    )
    add_gate_argument(parser)


def fingerprint_code() -> list:
    """The source files whose edits can change a run's numbers: the training stage's code
    (:data:`symaudit.names.STAGE_CODE`: the loss, the models, the splits and the training
    loop, not this command-line front end, whose help text changes nothing)."""
    from symaudit.names import stage_files

    return sorted(stage_files("train"))


def _fingerprint(args: argparse.Namespace, settings: dict) -> str:
    """Hash of everything that defines the run: arguments, resolved settings but ``epochs``
    (raising it extends the run from its last checkpoint), and :func:`fingerprint_code`."""
    import hashlib
    import json

    from symaudit.training._settings import run_defining

    digest = hashlib.sha256()
    # epochs are left out: asking for more extends a run from its newest checkpoint
    defining = {k: v for k, v in run_defining(settings).items() if k != "epochs"}
    identity = [args.dataset, args.model, args.preset, args.seed, defining]
    if args.name is not None and args.name != args.model:
        identity.append(args.name)
    digest.update(json.dumps(identity, sort_keys=True, default=str).encode())
    for path in fingerprint_code():
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def _restart_if_changed(out: str, fingerprint: str) -> None:
    """Start an obsolete run (other code or settings) afresh: its checkpoints, splits and
    metrics move aside to ``superseded-<old fingerprint>/`` in the run directory."""
    from pathlib import Path

    run_dir = Path(out)
    stamp = run_dir / "fingerprint.txt"
    if stamp.exists() and (old := stamp.read_text().strip()) != fingerprint:
        aside = run_dir / f"superseded-{old or 'unknown'}"
        moved = [
            p
            for p in [
                *run_dir.glob("ckpt_epoch*.pt"),
                *(
                    run_dir / n
                    for n in (
                        "final.pt",
                        "splits.json",
                        "metrics.csv",
                        "config.yaml",
                        "training_curve.png",
                    )
                ),
            ]
            if p.exists()
        ]
        if moved:
            move_into(moved, aside)
        logging.getLogger("symaudit.train").warning(
            f"code or settings changed since {stamp}; starting afresh "
            f"({len(moved)} file(s) of the old run moved to {aside})"
        )
    run_dir.mkdir(parents=True, exist_ok=True)
    stamp.write_text(fingerprint + "\n")


def run(args: argparse.Namespace) -> int:
    from symaudit.settings import read_settings
    from symaudit.training import train
    from symaudit.training._settings import resolve_settings

    settings = read_settings(args.settings, "train")
    if args.restart_on_change and int(os.environ.get("RANK", "0")) == 0:
        _restart_if_changed(args.out, _fingerprint(args, resolve_settings(settings)))
    train(
        args.dataset,
        args.model,
        args.preset,
        args.seed,
        args.stores,
        args.out,
        settings,
        device=args.device,
        log=logging.getLogger("symaudit.train").info,
        name=args.name,
    )
    if int(os.environ.get("RANK", "0")) == 0:
        warn_if_failed(args.out, args.max_persistence_ratio)
    return 0
