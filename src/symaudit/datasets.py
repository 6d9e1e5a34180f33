"""The dataset registry: the six flow families, their PDE, group (CE | NS) and channels.

Beside them, :data:`VALIDATION_FAMILIES` holds generated-only families of the validation study
(group ``NSK``: ``NS-Kolmogorov``; group ``NSD``: ``NS-Diagonal``, case 6's control), which
never join the paper's two groups.  :data:`DATA_SUBGROUP` names the groups whose DATA are not
D4-invariant although their solver is (NSD), with the D4 elements that keep their distribution.

A channel is ``{"name", "kind", "vector", "axis", "role"}`` (kind: ``scalar`` | ``vector`` |
``pseudoscalar``; ``vector`` and ``axis`` only for vector components; role: ``density`` |
``momentum`` | ``energy`` | ``velocity``, what the physical quantity is, which the Galilean boost
and the mass scaling of :mod:`symaudit.groups` read).  Stores carry the same
list in their attrs, so code that holds a store never needs this module; it is the source the
generators and the ingester write from.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "CHANNELS",
    "ALL_DATASETS",
    "DATASETS",
    "DATA_SUBGROUP",
    "FAMILIES",
    "VALIDATION_DATASETS",
    "VALIDATION_FAMILIES",
    "Family",
    "channels_for",
    "family",
]


def _scalar(name: str, role: str) -> dict:
    return {"name": name, "kind": "scalar", "vector": None, "axis": None, "role": role}


def _component(vector: str, axis: str, role: str) -> dict:
    return {
        "name": f"{vector}_{axis}",
        "kind": "vector",
        "vector": vector,
        "axis": axis,
        "role": role,
    }


CHANNELS: dict[str, list[dict]] = {
    "compressible_euler": [
        _scalar("density", "density"),
        _component("momentum", "x", "momentum"),
        _component("momentum", "y", "momentum"),
        _scalar("energy", "energy"),
    ],
    "incompressible_ns": [
        _component("velocity", "x", "velocity"),
        _component("velocity", "y", "velocity"),
    ],
}

#: dataset groups as in the paper, classes always in this order
DATASETS: dict[str, tuple[str, ...]] = {
    "CE": ("CE-RP", "CE-CRP", "CE-RPUI"),
    "NS": ("NS-BB", "NS-Gauss", "NS-Sines"),
}


@dataclass(frozen=True)
class Family:
    name: str
    dataset: str  # CE | NS
    pde: str  # compressible_euler | incompressible_ns
    netcdf_variable: str  # PDEGym variable name

    @property
    def channels(self) -> list[dict]:
        return [dict(c) for c in CHANNELS[self.pde]]

    def store_attrs(self, n_times: int, resolution: int, **grid) -> dict:
        """The attrs every store of this family opens with, generated or ingested: family,
        dataset, pde, channels, ``time`` (``n_times`` frames uniform on [0, 1]) and ``grid``
        (``resolution`` N on the periodic unit square, then the entries of ``grid``)."""
        import numpy as np

        return {
            "family": self.name,
            "dataset": self.dataset,
            "pde": self.pde,
            "channels": self.channels,
            "time": np.linspace(0.0, 1.0, n_times).tolist(),
            "grid": {"N": resolution, "domain": [[0, 1], [0, 1]], "boundary": "periodic", **grid},
        }


FAMILIES: dict[str, Family] = {
    name: Family(
        name,
        group,
        "compressible_euler" if group == "CE" else "incompressible_ns",
        "data" if group == "CE" else "velocity",
    )
    for group, names in DATASETS.items()
    for name in names
}


#: generated-only families of the validation study (no PDEGym counterpart), kept apart from
#: DATASETS/FAMILIES so the paper's two groups and their three classes never change.
#: NSK: Kolmogorov-forced NS (symaudit.data._kolmogorov), equivariant only under a subgroup.
#: NSD: unforced NS from initial conditions with a preferred diagonal (symaudit.data._ic.
#: ns_diagonal; docs/validation.md case 6, "The control"): the solver commutes with all of D4,
#: the data distribution only with the diagonal's stabiliser (:data:`DATA_SUBGROUP`).
VALIDATION_DATASETS: dict[str, tuple[str, ...]] = {
    "NSK": ("NS-Kolmogorov",),
    "NSD": ("NS-Diagonal",),
}

VALIDATION_FAMILIES: dict[str, Family] = {
    name: Family(name, group, "incompressible_ns", "velocity")
    for group, names in VALIDATION_DATASETS.items()
    for name in names
}


#: dataset group -> the D4 elements that keep its DATA distribution, for the groups whose data
#: are not D4-invariant although their generating solver commutes with all of D4 (NSD: the
#: stabiliser {e, r2, sr, sr3} of the diagonal x = y; r, r3, s, sr2 mirror the distribution).
#: NSK is not here: there the solver itself breaks the symmetry (symaudit.groups.kolmogorov).
DATA_SUBGROUP: dict[str, tuple[str, ...]] = {"NSD": ("e", "r2", "sr", "sr3")}


#: every dataset group a study can train on: the paper's two, then the validation study's
ALL_DATASETS: dict[str, tuple[str, ...]] = {**DATASETS, **VALIDATION_DATASETS}


def family(name: str) -> Family:
    """A family of :data:`FAMILIES` or :data:`VALIDATION_FAMILIES` by name."""
    found = FAMILIES.get(name) or VALIDATION_FAMILIES.get(name)
    if found is None:
        known = ", ".join([*FAMILIES, *VALIDATION_FAMILIES])
        raise ValueError(f"unknown family {name!r}; known: {known}")
    return found


def channels_for(name: str) -> list[dict]:
    """Channel list of a dataset group (``CE``, ``NS``, ``NSK``, ``NSD``) or a family."""
    if name in ALL_DATASETS:
        return family(ALL_DATASETS[name][0]).channels
    return family(name).channels


def split_sizes(n: int, train: float, val: float) -> tuple[int, int]:
    """(train, val) trajectories of a class of ``n`` for the split fractions ``train`` and
    ``val`` (config ``train.split``; the rest are the test trajectories).  Rounds half to even
    like Julia's round (MLUtils.splitobs); keeps at least one training trajectory, and one
    validation trajectory when ``val > 0`` and there are enough to spare."""
    n_train = min(n, max(1, round(train * n)))
    n_val = min(n - n_train, round(val * n))
    if val > 0 and n_val == 0 and n - n_train >= 2:
        n_val = 1
    return n_train, n_val
