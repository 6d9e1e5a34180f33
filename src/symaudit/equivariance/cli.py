"""``symaudit equivariance``: relative errors of a chunk of group elements and the twirl
decomposition, for every analysis batch of one trained run.

    symaudit equivariance --checkpoint MODEL_DIR/final.pt --run-dir MODEL_DIR \\
        --stores CE-RP.zarr CE-CRP.zarr CE-RPUI.zarr --batches 0 1 --time-steps 16 \\
        --set-name d4 --elements e r r2 --out d4_chunk000.nc [--twirl-out twirl.nc]

The model is loaded once; per batch, f(x) is computed once and the elements go through the
model ``--elements-per-batch`` at a time.  The model keeps its checkpoint dtype; losses and
ratios are float64.

``--out`` (NetCDF, written atomically): ``relative_error`` (element, batch, time, class) =
SMSE(f(g x), g y) / SMSE(f(x), y), plus the SMSEs themselves (``smse``, ``smse_transformed``)
and the persistence baseline SMSE(x, y) (``persistence_smse``).
``--twirl-out``: the twirl decomposition over the full group ``--twirl-elements`` (default:
the whole ``--set-name`` set, e.g. D4), per (batch, class) as means over time (``total``,
``mean``, ``equiv``, ``twirled_loss``, ``plain``; ``percent`` = 100 equiv / total) and per
example (``example_*``, dims batch, time, class).  Elements in both lists share forward passes.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path

import numpy as np
import torch

from symaudit import groups
from symaudit._device import choose_device
from symaudit._io import write_atomic
from symaudit.baselines import add_gate_argument, warn_if_failed
from symaudit.runs import run_identity

__all__ = ["add_arguments", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = __doc__.splitlines()[0]
    parser.add_argument("--checkpoint", required=True, type=Path, help="final.pt of the run")
    parser.add_argument(
        "--stores", required=True, nargs="+", type=Path, help="the class stores, in class order"
    )
    parser.add_argument(
        "--run-dir", required=True, type=Path, help="the run directory (holds the data splits)"
    )
    parser.add_argument(
        "--batches", required=True, nargs="+", type=int, help="analysis batch indices (0-based)"
    )
    parser.add_argument(
        "--elements", required=True, nargs="+", help="element names: e r ... sr3 or t(dx,dy)"
    )
    parser.add_argument(
        "--set-name",
        required=True,
        choices=sorted(groups.ELEMENT_SETS),
        help="the element set the elements belong to (recorded; default twirl group)",
    )
    parser.add_argument("--out", type=Path, help="NetCDF file for the relative errors")
    parser.add_argument("--twirl-out", type=Path, help="NetCDF file for the twirl decomposition")
    parser.add_argument(
        "--twirl-elements",
        nargs="+",
        help="the group to twirl over (default: the whole --set-name set; must be a group)",
    )
    parser.add_argument(
        "--time-steps", type=int, default=16, help="transitions per class and batch (default 16)"
    )
    parser.add_argument(
        "--elements-per-batch",
        type=int,
        default=8,
        help="transformed copies of a batch per forward pass (default 8)",
    )
    parser.add_argument("--device", default="auto", help="auto | cpu | cuda[:i] (default auto)")
    add_gate_argument(parser)


# --- the two collaborators (separate functions so the tests can stand in for them) ----------


def load_model(checkpoint: Path, device: torch.device):
    """(model, meta) from a checkpoint, on ``device``, in the checkpoint's dtype."""
    from symaudit.models import load_checkpoint

    if not checkpoint.exists():
        raise FileNotFoundError(f"checkpoint {checkpoint} does not exist (run the train stage)")
    model, meta = load_checkpoint(checkpoint)
    return model.to(device), dict(meta or {})


def load_batches(stores, run_dir: Path, batches, time_steps: int):
    """Yield (k, inputs, targets) for each analysis batch k; examples ordered n = t + T * class."""
    from symaudit.training import analysis_batch, load_splits

    splits = load_splits(run_dir)
    for k in batches:
        inputs, targets = analysis_batch(stores, splits, k, time_steps=time_steps)
        yield k, torch.as_tensor(inputs), torch.as_tensor(targets)


# --- helpers ------------------------------------------------------------------------------


def _device(name: str) -> torch.device:
    return choose_device(name)  # auto: a Slurm GPU job that sees no GPU stops here


def _per_class(values: torch.Tensor, time_steps: int, n_classes: int) -> np.ndarray:
    """``(..., n)`` with n = t + T * class -> ``(..., time, class)`` float64 numpy."""
    v = values.detach().to("cpu", torch.float64).numpy()
    v = v.reshape(*v.shape[:-1], n_classes, time_steps)
    return np.swapaxes(v, -1, -2)


def _write_atomic(ds, path: Path) -> None:
    """Write ``ds`` to a temporary name next to ``path``, then rename it into place, so a
    reader (or Snakemake) never sees a half-written file."""
    write_atomic(path, ds.to_netcdf)


def _check_args(args) -> None:
    if args.out is None and args.twirl_out is None:
        raise ValueError("nothing to do: give --out and/or --twirl-out")
    if args.time_steps < 1:
        raise ValueError(f"--time-steps must be >= 1, got {args.time_steps}")
    if args.elements_per_batch < 1:
        raise ValueError(f"--elements-per-batch must be >= 1, got {args.elements_per_batch}")
    if any(k < 0 for k in args.batches) or len(set(args.batches)) != len(args.batches):
        raise ValueError(f"--batches must be distinct non-negative integers, got {args.batches}")
    for names, flag in ((args.elements, "--elements"), (args.twirl_elements or [], "--twirl")):
        for g in names:
            groups.parse(g)  # one-line ValueError naming the bad element
        if len(set(names)) != len(names):
            raise ValueError(f"{flag}: duplicate element names in {names}")
    for path in args.stores:
        if not path.exists():
            raise FileNotFoundError(f"store {path} does not exist (run the data stage first)")
    if not args.run_dir.is_dir():
        raise FileNotFoundError(f"run directory {args.run_dir} does not exist")


def run(args) -> int:
    import xarray as xr

    from symaudit import __version__
    from symaudit.equivariance._api import decomposition
    from symaudit.equivariance._sweep import check_group, placement, sweep
    from symaudit.losses import smse
    from symaudit.store import git_revision, open_store

    _check_args(args)
    warn_if_failed(args.run_dir, args.max_persistence_ratio)
    stores = [open_store(p) for p in args.stores]
    families = [s.family for s in stores]
    channels = stores[0].channels
    for s in stores[1:]:
        if s.channels != channels:
            raise ValueError(f"store {s.path}: channels differ from {stores[0].path}")
    n_grid = stores[0].shape[-1]
    twirl = args.twirl_out is not None
    twirl_elements = list(args.twirl_elements or [])
    if twirl:
        try:
            if not twirl_elements:
                if args.set_name == "shift_box":  # a box of shifts is not closed under addition
                    raise ValueError("the shift box is not a group; give --twirl-elements")
                twirl_elements = groups.elements(args.set_name, n_grid)
            check_group(twirl_elements, (n_grid, n_grid))
        except ValueError as err:
            raise ValueError(f"--twirl-out over set {args.set_name!r}: {err}") from None

    device = _device(args.device)
    model, meta = load_model(args.checkpoint, device)
    T, C = args.time_steps, len(stores)  # noqa: N806 (the paper's symbols)
    B, E = len(args.batches), len(args.elements)  # noqa: N806
    relative = np.full((E, B, T, C), np.nan)
    transformed = np.full((E, B, T, C), np.nan)
    baseline = np.full((B, T, C), np.nan)
    persistence = np.full((B, T, C), np.nan)
    tw_keys = ("total", "mean", "equiv", "twirled_loss", "plain", "percent")
    tw_class = {k: np.full((B, C), np.nan) for k in tw_keys}
    tw_example = {k: np.full((B, T, C), np.nan) for k in tw_keys if k != "percent"}
    dtype = None
    wanted = args.elements if args.out is not None else []
    n_forward = len(dict.fromkeys(list(wanted) + (twirl_elements if twirl else [])))

    start_all = time.perf_counter()
    for i, (k, inputs, targets) in enumerate(
        load_batches(stores, args.run_dir, args.batches, args.time_steps)
    ):
        if inputs.shape[0] != T * C:
            raise ValueError(
                f"analysis batch {k}: {inputs.shape[0]} examples, expected "
                f"time_steps x classes = {T} x {C}"
            )
        tic = time.perf_counter()
        result = sweep(
            model,
            inputs,
            targets,
            wanted,
            channels,
            elements_per_batch=args.elements_per_batch,
            twirl=twirl,
            twirl_elements=twirl_elements,
        )
        dtype = str(placement(model, inputs)[1]).removeprefix("torch.")
        baseline[i] = _per_class(result.baseline, T, C)
        # the SMSE of predicting no change, SMSE(x, y): what the model must beat
        persistence[i] = _per_class(smse(inputs.double(), targets.double(), "per_example"), T, C)
        if wanted:
            relative[:, i] = _per_class(result.relative, T, C)
            transformed[:, i] = _per_class(result.errors, T, C)
        if twirl:
            per_example = decomposition(result, targets)["per_example"]
            for key in tw_example:
                tw_example[key][i] = _per_class(per_example[key], T, C)
            for key in tw_example:
                tw_class[key][i] = tw_example[key][i].mean(axis=0)
            with np.errstate(invalid="ignore", divide="ignore"):
                tw_class["percent"][i] = 100.0 * tw_class["equiv"][i] / tw_class["total"][i]
        seconds = time.perf_counter() - tic
        logging.getLogger("symaudit.equivariance").info(
            f"batch {k}: {n_forward} elements in {seconds:.2f} s "
            f"({n_forward / max(seconds, 1e-9):.2f} elements/s)"
        )

    ident = run_identity(meta, args.checkpoint).as_dict()
    attrs = {
        **ident,
        "set_name": args.set_name,
        "checkpoint": str(args.checkpoint),
        "model_dtype": dtype or "",
        "device": str(device),
        "elements_per_batch": args.elements_per_batch,
        "example_order": "n = time + time_steps * class",
        "symaudit_version": __version__,
        "git_revision": git_revision(),
    }
    coords = {
        "batch": np.asarray(args.batches, dtype=np.int64),
        "time": np.arange(T, dtype=np.int64),
        "class": np.asarray(families, dtype=object),
    }
    btc = ("batch", "time", "class")
    if args.out is not None:
        ds = xr.Dataset(
            {
                "relative_error": (("element", *btc), relative),
                "smse_transformed": (("element", *btc), transformed),
                "smse": (btc, baseline),
                "persistence_smse": (btc, persistence),
            },
            coords={"element": np.asarray(args.elements, dtype=object), **coords},
            attrs=attrs,
        )
        ds["relative_error"].attrs["description"] = "SMSE(f(g x), g y) / SMSE(f(x), y)"
        ds["smse_transformed"].attrs["description"] = "SMSE(f(g x), g y)"
        ds["smse"].attrs["description"] = "SMSE(f(x), y)"
        ds["persistence_smse"].attrs["description"] = "SMSE(x, y): predicting no change"
        _write_atomic(ds, args.out)
    if twirl:
        data = {key: (("batch", "class"), tw_class[key]) for key in tw_keys}
        data.update({f"example_{key}": (btc, v) for key, v in tw_example.items()})
        ds = xr.Dataset(
            data,
            coords=coords,
            attrs={
                **attrs,
                "twirl_elements": " ".join(twirl_elements),
                "weights": "1 / (RMS(y) + 1e-6) of the untransformed target, per example+channel",
                "aggregation": "(batch, class) values are means over time; percent = 100 * "
                "mean(equiv) / mean(total)",
            },
        )
        _write_atomic(ds, args.twirl_out)
    total_s = time.perf_counter() - start_all
    outs = " and ".join(str(p) for p in (args.out, args.twirl_out) if p is not None)
    print(
        f"wrote {outs}: {n_forward} elements x {B} batches in {total_s:.1f} s",
        file=sys.stdout,
    )
    return 0
