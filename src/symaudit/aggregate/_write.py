"""Writing a study's quantile tables: :func:`aggregate` finds the per-job files, computes each
element set's tables (:mod:`._tables`; boosts and scalings with their normalised statistic,
:mod:`._kinematic`) and writes every table as ``.csv`` and ``.nc`` (dims dataset, model,
[seed,] element), atomically."""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from symaudit import groups

from ._bootstrap import Bootstrap
from ._io import write_atomic
from ._kinematic import kinematic_tables
from ._layout import ELEMENT_SETS, KINDS, TABLE_SUFFIXES, table_stem
from ._stores import discover, parse_files
from ._tables import element_order, equivariance_tables, influence_table

__all__ = ["aggregate"]


#: the ``analysis_dtype`` column, described in the tables' netCDF attributes
_PRECISION = (
    "precision of the forward passes (config analysis.dtype; the lowest of the model's files), "
    "by which the findings judge the exact rows"
)
_BRA_PRECISION = _PRECISION.replace("forward passes", "bras (their gradients and dot products)")

_ATTRS = {
    "equivariance": {
        "statistic": "Q1/median/Q3 over seeds of the per-seed Q3 of the relative SMSE "
        "SMSE(f(g.x), g.y) / SMSE(f(x), y) over all examples (batches x times x classes)",
        "quantile_method": "numpy type 7 (linear)",
        "extremes": "min/max of the relative SMSE over all seeds x examples",
        "analysis_dtype": _PRECISION,
    },
    "equivariance_per_seed": {
        "statistic": "per-seed Q1/median/Q3 (and min/max) of the relative SMSE over the seed's "
        "examples",
        "quantile_method": "numpy type 7 (linear)",
        "analysis_dtype": _PRECISION,
    },
    "influence": {
        "statistic": "Q1/median/Q3 of the pooled standardised diagonal influence "
        "Pi_std^g[t,b,t,b] over seeds x batches x examples",
        "quantile_method": "numpy type 7 (linear)",
        "converged": "1 when every ket solve behind the element converged, else 0",
        "extremes": "min/max of the pooled standardised diagonal",
        "analysis_dtype": _BRA_PRECISION,
    },
}


def _to_netcdf(
    df: pd.DataFrame, kind: str, element_set: str, path: Path, boot: Bootstrap | None = None
) -> None:
    """The table as a gridded Dataset: dims (dataset, model, [seed,] element)."""
    index = ["dataset", "model", *(["seed"] if "seed" in df else []), "element"]
    per_element = [c for c in ("dx", "dy", "rotate", "reflect", "boost_x", "boost_y", "alpha")
                   if c in df]  # fmt: skip
    body = df.drop(columns=["element_set", *per_element])
    if "converged" in body:
        body["converged"] = body["converged"].astype("int8")
    ds = body.set_index(index).to_xarray()
    order = sorted(df["element"].unique(), key=element_order)
    ds = ds.reindex(element=order)
    first = df.drop_duplicates("element").set_index("element").loc[order]
    ds = ds.assign_coords({c: ("element", first[c].to_numpy()) for c in per_element})
    for name in ds.data_vars:
        if name == "n" or name.startswith("n_") or name == "converged":  # counts: 0 if missing
            ds[name] = ds[name].fillna(0).astype("int64" if name != "converged" else "int8")
    for text in ("ci_note", "analysis_dtype"):  # a missing combination: "" (NaN is no string)
        if text in ds:
            ds[text] = ds[text].fillna("").astype(str)
    ds.attrs = {"element_set": element_set, **_ATTRS[kind], **(boot.attrs() if boot else {})}
    ds.to_netcdf(path)


def _write_table(
    df: pd.DataFrame,
    out_dir: Path,
    stem: str,
    kind: str,
    element_set: str,
    boot: Bootstrap | None = None,
):
    written = []
    for suffix in TABLE_SUFFIXES:
        path = out_dir / f"{stem}{suffix}"
        if suffix == ".csv":
            write_atomic(path, lambda tmp: df.to_csv(tmp, index=False))
        else:
            write_atomic(path, lambda tmp: _to_netcdf(df, kind, element_set, tmp, boot))
        written.append(path)
    return written


def aggregate(
    study_dir: str | os.PathLike,
    out_dir: str | os.PathLike,
    element_sets: Sequence[str] | None = None,
    kinds: Sequence[str] = KINDS,
    require: bool = False,
    inputs: Sequence[str | os.PathLike] | None = None,
    bootstrap: Bootstrap | None = None,
) -> list[Path]:
    """Write every quantile table of a study; returns the paths written.

    Parameters
    ----------
    study_dir
        ``results/{study}``.
    out_dir
        Where the tables go (``results/{study}/tables``).
    element_sets
        Sets to aggregate; default: every set with inputs.
    kinds
        ``equivariance`` and/or ``influence``.
    require
        Raise :class:`FileNotFoundError` when a requested (kind, set) has no input files
        (the workflow passes this so a missing stage cannot yield a silently absent table).
    inputs
        Exactly the per-job stores to read (the workflow's declared inputs); default: every
        store found under ``study_dir``, leftovers of earlier configurations included.
    bootstrap
        The interval settings (config ``analysis.bootstrap``); default :class:`Bootstrap`().
    """
    boot = bootstrap or Bootstrap()
    files = discover(study_dir, kinds) if inputs is None else parse_files(study_dir, inputs, kinds)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    sets = (
        list(element_sets)
        if element_sets is not None
        else sorted({f.element_set for f in files}, key=ELEMENT_SETS.index)
    )
    written: list[Path] = []
    for name in sets:
        for kind in kinds:
            members = [f for f in files if f.kind == kind and f.element_set == name]
            if not members:
                if require:
                    raise FileNotFoundError(
                        f"no {kind} stores for element set {name!r} under {study_dir}"
                    )
                continue
            if kind == "equivariance":
                tables = kinematic_tables if name in groups.TRANSITION_SETS else equivariance_tables
                summary, per_seed = tables(members, name, boot)
                written += _write_table(summary, out, table_stem(kind, name), kind, name, boot)
                stem = table_stem(kind, name, per_seed=True)
                written += _write_table(per_seed, out, stem, "equivariance_per_seed", name, boot)
            else:
                table = influence_table(members, name, boot)
                written += _write_table(table, out, table_stem(kind, name), kind, name, boot)
                bad = table[~table["converged"]]
                for (d, m), rows in bad.groupby(["dataset", "model"]):
                    logging.getLogger("symaudit.aggregate").warning(
                        f"{kind} {name} {d}/{m}: {len(rows)} element(s) rest on ket "
                        f"solves that did not converge (column 'converged')"
                    )
    return written
