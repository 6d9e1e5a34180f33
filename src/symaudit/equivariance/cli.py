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
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from symaudit import groups
from symaudit._io import write_atomic
from symaudit.baselines import add_gate_argument, warn_if_failed
from symaudit.cli import add_device
from symaudit.runs import TrainedRun, open_run, per_class
from symaudit.settings import ANALYSIS

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
        "--time-steps",
        type=int,
        default=ANALYSIS["time_steps"],
        help=f"transitions per class and batch (default {ANALYSIS['time_steps']})",
    )
    parser.add_argument(
        "--elements-per-batch",
        type=int,
        default=8,
        help="transformed copies of a batch per forward pass (default 8)",
    )
    add_device(parser)
    add_gate_argument(parser)


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


def _open_stores(paths):
    """The class stores, in class order; they must share one channel list."""
    from symaudit.store import open_store

    stores = [open_store(p) for p in paths]
    for s in stores[1:]:
        if s.channels != stores[0].channels:
            raise ValueError(f"store {s.path}: channels differ from {stores[0].path}")
    return stores


def _twirl_group(args, n_grid: int) -> list[str]:
    """The group ``--twirl-out`` averages over (``[]`` without ``--twirl-out``): the given
    ``--twirl-elements``, else the whole ``--set-name`` set; checked to be a group."""
    from symaudit.equivariance import check_group

    if args.twirl_out is None:
        return []
    elements = list(args.twirl_elements or [])
    try:
        if not elements:
            if args.set_name == "shift_box":  # a box of shifts is not closed under addition
                raise ValueError("the shift box is not a group; give --twirl-elements")
            elements = groups.elements(args.set_name, n_grid)
        check_group(elements, (n_grid, n_grid))
    except ValueError as err:
        raise ValueError(f"--twirl-out over set {args.set_name!r}: {err}") from None
    return elements


_TWIRL_KEYS = ("total", "mean", "equiv", "twirled_loss", "plain", "percent")


@dataclass
class _Measured:
    """The stage's numbers for B batches, T time steps, C classes and E elements, float64;
    NaN until :meth:`add` fills a batch."""

    shape: tuple[int, int, int, int]  # (E, B, T, C)
    relative: np.ndarray = field(init=False)  # (element, batch, time, class)
    transformed: np.ndarray = field(init=False)  # (element, batch, time, class)
    baseline: np.ndarray = field(init=False)  # (batch, time, class)
    persistence: np.ndarray = field(init=False)  # (batch, time, class)
    tw_class: dict = field(init=False)  # key -> (batch, class), means over time
    tw_example: dict = field(init=False)  # key -> (batch, time, class); no "percent"

    def __post_init__(self):
        E, B, T, C = self.shape  # noqa: N806 (the paper's symbols)
        self.relative = np.full((E, B, T, C), np.nan)
        self.transformed = np.full((E, B, T, C), np.nan)
        self.baseline = np.full((B, T, C), np.nan)
        self.persistence = np.full((B, T, C), np.nan)
        self.tw_class = {k: np.full((B, C), np.nan) for k in _TWIRL_KEYS}
        self.tw_example = {k: np.full((B, T, C), np.nan) for k in _TWIRL_KEYS if k != "percent"}

    def add(self, i: int, result, inputs, targets) -> None:
        """Batch ``i`` from a :class:`~symaudit.equivariance.SweepResult` of examples
        ``n = t + T * class`` (inputs, targets ``(n, channel, y, x)``)."""
        from symaudit.equivariance import decomposition
        from symaudit.losses import smse

        _, _, T, C = self.shape  # noqa: N806
        self.baseline[i] = per_class(result.baseline, T, C)
        # the SMSE of predicting no change, SMSE(x, y): what the model must beat (on the CPU,
        # whatever the run's device, as the analysis batch comes from the store)
        no_change = smse(
            inputs.to("cpu", torch.float64), targets.to("cpu", torch.float64), "per_example"
        )
        self.persistence[i] = per_class(no_change, T, C)
        if result.elements:
            self.relative[:, i] = per_class(result.relative, T, C)
            self.transformed[:, i] = per_class(result.errors, T, C)
        if result.twirl is not None:
            per_example = decomposition(result, targets)["per_example"]
            for key in self.tw_example:
                self.tw_example[key][i] = per_class(per_example[key], T, C)
            for key in self.tw_example:
                self.tw_class[key][i] = self.tw_example[key][i].mean(axis=0)
            with np.errstate(invalid="ignore", divide="ignore"):
                percent = 100.0 * self.tw_class["equiv"][i] / self.tw_class["total"][i]
            self.tw_class["percent"][i] = percent


def _measure(args, run: TrainedRun, wanted: list[str], twirl_elements: list[str]) -> _Measured:
    """Sweep every analysis batch of ``args.batches``: ``wanted`` elements for the relative
    errors, ``twirl_elements`` (empty: no twirl) for the decomposition."""
    from symaudit.equivariance import sweep

    T, C = args.time_steps, len(run.stores)  # noqa: N806 (the paper's symbols)
    measured = _Measured((len(args.elements), len(args.batches), T, C))
    n_forward = len(dict.fromkeys(wanted + twirl_elements))
    for i, (k, inputs, targets) in enumerate(run.batches(args.batches, T)):
        tic = time.perf_counter()
        result = sweep(
            run.model,
            inputs,
            targets,
            wanted,
            run.channels,
            elements_per_batch=args.elements_per_batch,
            twirl=bool(twirl_elements),
            twirl_elements=twirl_elements,
        )
        measured.add(i, result, inputs, targets)
        seconds = time.perf_counter() - tic
        logging.getLogger("symaudit.equivariance").info(
            f"batch {k}: {n_forward} elements in {seconds:.2f} s "
            f"({n_forward / max(seconds, 1e-9):.2f} elements/s)"
        )
    return measured


def _attrs(args, run: TrainedRun) -> dict:
    """The file attributes both outputs share: the run's identity and how it was measured."""
    from symaudit import __version__
    from symaudit.store import git_revision

    return {
        **run.identity.as_dict(),
        "set_name": args.set_name,
        "checkpoint": str(args.checkpoint),
        "model_dtype": str(run.dtype).removeprefix("torch."),
        "device": str(run.device),
        "elements_per_batch": args.elements_per_batch,
        "example_order": "n = time + time_steps * class",
        "symaudit_version": __version__,
        "git_revision": git_revision(),
    }


def _write_relative(path: Path, measured: _Measured, elements, coords: dict, attrs: dict) -> None:
    """``--out``: the relative errors and their SMSEs, dims (element,) batch, time, class."""
    import xarray as xr

    btc = ("batch", "time", "class")
    ds = xr.Dataset(
        {
            "relative_error": (("element", *btc), measured.relative),
            "smse_transformed": (("element", *btc), measured.transformed),
            "smse": (btc, measured.baseline),
            "persistence_smse": (btc, measured.persistence),
        },
        coords={"element": np.asarray(elements, dtype=object), **coords},
        attrs=attrs,
    )
    ds["relative_error"].attrs["description"] = "SMSE(f(g x), g y) / SMSE(f(x), y)"
    ds["smse_transformed"].attrs["description"] = "SMSE(f(g x), g y)"
    ds["smse"].attrs["description"] = "SMSE(f(x), y)"
    ds["persistence_smse"].attrs["description"] = "SMSE(x, y): predicting no change"
    write_atomic(path, ds.to_netcdf)


def _write_twirl(path: Path, measured: _Measured, group, coords: dict, attrs: dict) -> None:
    """``--twirl-out``: the decomposition per (batch, class) and per example."""
    import xarray as xr

    btc = ("batch", "time", "class")
    data = {key: (("batch", "class"), measured.tw_class[key]) for key in _TWIRL_KEYS}
    data.update({f"example_{key}": (btc, v) for key, v in measured.tw_example.items()})
    ds = xr.Dataset(
        data,
        coords=coords,
        attrs={
            **attrs,
            "twirl_elements": " ".join(group),
            "weights": "1 / (RMS(y) + 1e-6) of the untransformed target, per example+channel",
            "aggregation": "(batch, class) values are means over time; percent = 100 * "
            "mean(equiv) / mean(total)",
        },
    )
    write_atomic(path, ds.to_netcdf)


def run(args) -> int:
    _check_args(args)
    warn_if_failed(args.run_dir, args.max_persistence_ratio)
    stores = _open_stores(args.stores)
    twirl_elements = _twirl_group(args, stores[0].shape[-1])
    opened = open_run(args.checkpoint, stores, args.run_dir, args.device)
    wanted = list(args.elements) if args.out is not None else []

    start = time.perf_counter()
    measured = _measure(args, opened, wanted, twirl_elements)
    attrs = _attrs(args, opened)
    coords = {
        "batch": np.asarray(args.batches, dtype=np.int64),
        "time": np.arange(args.time_steps, dtype=np.int64),
        "class": np.asarray(opened.families, dtype=object),
    }
    if args.out is not None:
        _write_relative(args.out, measured, args.elements, coords, attrs)
    if twirl_elements:
        _write_twirl(args.twirl_out, measured, twirl_elements, coords, attrs)
    total_s = time.perf_counter() - start
    n_forward = len(dict.fromkeys(wanted + twirl_elements))
    outs = " and ".join(str(p) for p in (args.out, args.twirl_out) if p is not None)
    print(
        f"wrote {outs}: {n_forward} elements x {len(args.batches)} batches in {total_s:.1f} s",
        file=sys.stdout,
    )
    return 0
