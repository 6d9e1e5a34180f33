"""The equivariance stage's per-chunk files: relative errors of a chunk of group elements
(:data:`symaudit.outputs.EQUIVARIANCE`) and the twirl decomposition
(:data:`symaudit.outputs.TWIRL`), measured batch by batch (:func:`measure`) and written
atomically (:func:`write_relative`, :func:`write_twirl`).

Layouts: within an analysis batch, example n = t + T * class (:func:`symaudit.outputs.per_class`
gives ``(..., transition, class)``); the files' variables, dims and attributes are declared in
:mod:`symaudit.outputs`.  Losses and ratios are float64.

Boosts and scalings (the sets :data:`symaudit.groups.TRANSITION_SETS`) act on transitions
through :func:`symaudit.groups.act_transition`, a boost with the stores' frame spacing and
domain (:meth:`symaudit.runs.TrainedRun.frame_geometry`, one for all class stores); their files
carry the normalised error beside the raw one (docs/algorithms.md §5.3) and the attributes
``frame_dt`` and ``extent``.  Files of D4 x translation sets are unchanged (their normalised
error IS the raw one).  There is no twirl over boosts or scalings (infinite groups).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from symaudit import groups
from symaudit._io import write_atomic
from symaudit.outputs import (
    EXAMPLE_DIMS,
    EXAMPLE_ORDER,
    NORMALISED,
    per_class,
    transition_coords,
)
from symaudit.runs import TrainedRun

__all__ = [
    "Measured",
    "is_transition_set",
    "measure",
    "open_stores",
    "twirl_group",
    "write_outputs",
    "write_relative",
    "write_twirl",
]


def open_stores(paths):
    """The class stores, in class order; they must share one channel list."""
    from symaudit.store import open_store

    stores = [open_store(p) for p in paths]
    for s in stores[1:]:
        if s.channels != stores[0].channels:
            raise ValueError(f"store {s.path}: channels differ from {stores[0].path}")
    return stores


def is_transition_set(set_name: str) -> bool:
    """Whether a set's elements act on transitions only (boosts, scalings: no twirl)."""
    return set_name in groups.TRANSITION_SETS


def twirl_group(args, n_grid: int) -> list[str]:
    """The group ``--twirl-out`` averages over (``[]`` without ``--twirl-out``): the given
    ``--twirl-elements``, else the whole ``--set-name`` set; checked to be a group."""
    from symaudit.equivariance import check_group

    if args.twirl_out is None:
        return []
    if is_transition_set(args.set_name):
        raise ValueError(
            f"--twirl-out over set {args.set_name!r}: boosts and scalings form infinite groups, "
            "there is no twirl over them (docs/algorithms.md §4.1)"
        )
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
class Measured:
    """The stage's numbers for B batches, T time steps, C classes and E elements, float64;
    NaN until :meth:`add` fills a batch."""

    shape: tuple[int, int, int, int]  # (E, B, T, C)
    relative: np.ndarray = field(init=False)  # (element, batch, transition, class)
    normalised: np.ndarray = field(init=False)  # (element, batch, transition, class)
    transformed: np.ndarray = field(init=False)  # (element, batch, transition, class)
    baseline: np.ndarray = field(init=False)  # (batch, transition, class)
    persistence: np.ndarray = field(init=False)  # (batch, transition, class)
    tw_class: dict = field(init=False)  # key -> (batch, class), means over transitions
    tw_example: dict = field(init=False)  # key -> (batch, transition, class); no "percent"

    def __post_init__(self):
        E, B, T, C = self.shape  # noqa: N806 (the paper's symbols)
        self.relative = np.full((E, B, T, C), np.nan)
        self.normalised = np.full((E, B, T, C), np.nan)
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
            self.normalised[:, i] = per_class(result.normalised, T, C)
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


def measure(args, run: TrainedRun, wanted: list[str], twirl_elements: list[str]) -> Measured:
    """Sweep every analysis batch of ``args.batches``: ``wanted`` elements for the relative
    errors, ``twirl_elements`` (empty: no twirl) for the decomposition; boosts with the
    stores' frame geometry."""
    from symaudit.equivariance import sweep

    kinematic = any(not isinstance(groups.parse_transition(g), groups.Element) for g in wanted)
    geometry = run.frame_geometry() if kinematic else {}
    T, C = args.time_steps, len(run.stores)  # noqa: N806 (the paper's symbols)
    measured = Measured((len(args.elements), len(args.batches), T, C))
    n_forward = len(dict.fromkeys(wanted + twirl_elements))
    for i, (k, inputs, targets) in enumerate(run.batches(args.batches, T, args.time_stride)):
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
            **geometry,
        )
        measured.add(i, result, inputs, targets)
        seconds = time.perf_counter() - tic
        logging.getLogger("symaudit.equivariance").info(
            f"batch {k}: {n_forward} elements in {seconds:.2f} s "
            f"({n_forward / max(seconds, 1e-9):.2f} elements/s)"
        )
    return measured


def attrs_of(args, run: TrainedRun) -> dict:
    """The file attributes both outputs share: the run's identity and how it was measured."""
    from symaudit import __version__
    from symaudit.store import git_revision

    return {
        **run.identity.as_dict(),
        "set_name": args.set_name,
        "checkpoint": str(args.checkpoint),
        **run.precision_attrs(),
        "device": str(run.device),
        "elements_per_batch": args.elements_per_batch,
        "example_order": EXAMPLE_ORDER,
        "time_stride": int(args.time_stride),
        "symaudit_version": __version__,
        "git_revision": git_revision(),
    }


def write_relative(
    path: Path, measured: Measured, elements, chunk: int, coords: dict, attrs: dict
) -> None:
    """``--out``: the relative errors and their SMSEs, dims (element,) batch, transition, class, of
    chunk ``chunk`` of the element set (attribute ``chunk``); a boost or scaling set adds the
    normalised error (``attrs`` then carry ``frame_dt`` and ``extent``)."""
    import xarray as xr

    btc = EXAMPLE_DIMS
    data = {
        "relative_error": (("element", *btc), measured.relative),
        "smse_transformed": (("element", *btc), measured.transformed),
        "smse": (btc, measured.baseline),
        "persistence_smse": (btc, measured.persistence),
    }
    if is_transition_set(attrs["set_name"]):
        data["normalised_error"] = (("element", *btc), measured.normalised)
    ds = xr.Dataset(
        data,
        coords={"element": np.asarray(elements, dtype=object), **coords},
        attrs={**attrs, "chunk": int(chunk)},
    )
    ds["relative_error"].attrs["description"] = "SMSE(f(g x), g y) / SMSE(f(x), y)"
    ds["smse_transformed"].attrs["description"] = "SMSE(f(g x), g y)"
    ds["smse"].attrs["description"] = "SMSE(f(x), y)"
    ds["persistence_smse"].attrs["description"] = "SMSE(x, y): predicting no change"
    if "normalised_error" in ds:
        ds["normalised_error"].attrs["description"] = NORMALISED
    write_atomic(path, ds.to_netcdf)


def write_twirl(path: Path, measured: Measured, group, coords: dict, attrs: dict) -> None:
    """``--twirl-out``: the decomposition per (batch, class) and per example."""
    import xarray as xr

    btc = EXAMPLE_DIMS
    data = {key: (("batch", "class"), measured.tw_class[key]) for key in _TWIRL_KEYS}
    data.update({f"example_{key}": (btc, v) for key, v in measured.tw_example.items()})
    ds = xr.Dataset(
        data,
        coords=coords,
        attrs={
            **attrs,
            "twirl_elements": " ".join(group),
            "weights": "1 / (RMS(y) + 1e-6) of the untransformed target, per example+channel",
            "aggregation": "(batch, class) values are means over transitions; percent = 100 * "
            "mean(equiv) / mean(total)",
        },
    )
    write_atomic(path, ds.to_netcdf)


def write_outputs(args, measured: Measured, run: TrainedRun, twirl_elements: list[str]) -> None:
    """The command's files: ``args.out`` (relative errors of ``args.elements``, chunk
    ``args.chunk``) if given, ``args.twirl_out`` if ``twirl_elements``."""
    attrs = attrs_of(args, run)
    if is_transition_set(args.set_name):
        geometry = run.frame_geometry()
        attrs |= {"frame_dt": geometry["dt"], "extent": list(geometry["extent"])}
    coords = {
        "batch": np.asarray(args.batches, dtype=np.int64),
        **transition_coords(args.time_steps, time_stride=args.time_stride),
        "class": np.asarray(run.families, dtype=object),
    }
    if args.out is not None:
        write_relative(args.out, measured, args.elements, args.chunk, coords, attrs)
    if twirl_elements:
        write_twirl(args.twirl_out, measured, twirl_elements, coords, attrs)
