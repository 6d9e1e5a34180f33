"""The ingestion self-checks: which netCDF axis the velocity component u points along, from
physics on the first K trajectories of every file (docs/data.md §1.3), plus the CE equation of
state and the duplicated-endpoint test; the figures themselves are in
:mod:`symaudit.data._residuals`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from symaudit.data._pdegym import (
    CE,
    CONTINUITY_MODES,
    DUPLICATE_TOLERANCE,
    GAMMA,
    NETCDF_AXIS,
    NS,
    REFERENCE_X_AXIS,
    SourceFile,
    _open,
    _read,
    _variable,
)
from symaudit.data._residuals import (
    continuity_residuals,
    divergence_residuals,
    endpoint_gaps,
    eos_sums,
)

# --------------------------------------------------------------------------------------------
# the decision


def _num(value) -> float | None:
    """A JSON-safe float (attrs are JSON: no NaN/inf)."""
    value = float(value)
    return value if np.isfinite(value) else None


def _median(values: np.ndarray) -> float:
    values = np.asarray(values, dtype=np.float64).ravel()
    values = values[np.isfinite(values)]
    return float(np.median(values)) if values.size else float("nan")


def _ratio(best: float, other: float) -> float:
    if not (np.isfinite(best) and np.isfinite(other)):
        return float("nan")
    if best == other:
        return 1.0
    return other / max(best, np.finfo(np.float64).tiny)


@dataclass
class _Residuals:
    """What the per-file pass over the first K trajectories collects."""

    units: dict  # "x"/"y" -> per-file arrays of per-unit relative residuals
    pooled: dict  # sums of squares: sq_x, sq_y, sq_scale
    per_file: list  # one evidence entry per file
    gaps: list  # endpoint_gaps per file
    eos_per_file: list  # (relative EOS residual, source) per file (CE)
    eos_total: dict  # pooled EOS sums (CE)


def _gather_residuals(sources, pde: str, k: int, dt: float, progress) -> _Residuals:
    """Both pairings' residuals, endpoint gaps and (CE) EOS sums, file by file."""
    n_times = sources[0].n_times
    units = {"x": [], "y": []}
    pooled = {"sq_x": 0.0, "sq_y": 0.0, "sq_scale": 0.0}
    per_file, gaps_all, eos_all = [], [], []
    eos_total = dict.fromkeys(("sq_residual", "sq_energy", "p_eint", "p_p"), 0.0)
    for src in sources:
        with _open(src.path) as ds:
            raw = _read(_variable(ds, src), src, pde, 0, min(k, src.n_samples))
        gaps = endpoint_gaps(raw)
        dup = {a: gaps[a] <= DUPLICATE_TOLERANCE for a in ("x", "y")}
        # a duplicated endpoint column is not part of the periodic grid: drop it before the
        # spectral tests, whose derivatives would otherwise see a spurious jump at the seam
        trimmed = raw[..., : src.n - int(dup["x"]), : src.n - int(dup["y"])]
        res = None
        if pde == NS:
            res = divergence_residuals(trimmed)
        elif n_times >= 2:
            res = continuity_residuals(trimmed, dt)
        entry = {"file": str(src.path), "trajectories": int(raw.shape[0]), "endpoint_gap": gaps}
        if res is not None:
            for c in ("x", "y"):
                units[c].append(res[c].ravel())
                entry[c] = _num(_median(res[c]))
            for key in pooled:
                pooled[key] += float(res[key].sum())
        if pde == CE:
            sums = eos_sums(raw)
            for key in eos_total:
                eos_total[key] += sums[key]
            rel = np.sqrt(sums["sq_residual"] / max(sums["sq_energy"], 1e-300))
            entry["eos_relative_residual"] = float(rel)
            eos_all.append((rel, src))
        gaps_all.append(gaps)
        per_file.append(entry)
        progress(f"checked {src.path} ({raw.shape[0]} trajectories)")
    return _Residuals(units, pooled, per_file, gaps_all, eos_all, eos_total)


def _check_eos(r: _Residuals, thresholds: Mapping[str, float]) -> dict:
    """CE: the EOS tells whether the channels are [rho, u, v, p, E] with gamma = 1.4."""
    eos_total = r.eos_total
    rel = float(np.sqrt(eos_total["sq_residual"] / max(eos_total["sq_energy"], 1e-300)))
    gamma_fit = (
        1.0 + eos_total["p_p"] / eos_total["p_eint"] if eos_total["p_eint"] else float("nan")
    )
    eos = {
        "gamma": GAMMA,
        "relative_residual": rel,
        "gamma_fit": _num(gamma_fit),
        "tolerance": thresholds["eos"],
        "formula": "||E - (p/(gamma-1) + rho(u^2+v^2)/2)|| / ||E||",
    }
    worst, src = max(r.eos_per_file, key=lambda t: t[0])
    if worst > thresholds["eos"]:
        raise ValueError(
            f"{src.path}: the energy channel does not match E = p/(gamma-1) + rho|v|^2/2 "
            f"with gamma = {GAMMA} (relative residual {worst:.3g} > {thresholds['eos']:g}, "
            f"best-fit gamma {gamma_fit:.4g}); expected channels [rho, u, v, p, E]"
        )
    return eos


@dataclass
class _AxisDecision:
    medians: dict  # "x"/"y" -> median relative residual with u along that netCDF dim
    preferred: str
    other: str
    ratio: float
    wins: float | None  # fraction of units in which the preferred pairing fits better
    chosen: str
    decided_by: str


def _decide_axis(r: _Residuals) -> _AxisDecision:
    """The pairing the residuals prefer (``chosen`` and ``decided_by`` are set by the caller)."""
    units = r.units
    medians = {
        c: _median(np.concatenate(units[c])) if units[c] else float("nan") for c in ("x", "y")
    }
    preferred = "x" if not medians["y"] < medians["x"] else "y"
    other = "y" if preferred == "x" else "x"
    ratio = _ratio(medians[preferred], medians[other])
    # fraction of (trajectory, frame) units in which the preferred pairing fits better
    mine = np.concatenate(units[preferred]) if units[preferred] else np.empty(0)
    theirs = np.concatenate(units[other]) if units[other] else np.empty(0)
    valid = np.isfinite(mine) & np.isfinite(theirs)
    wins = float(np.mean(mine[valid] < theirs[valid])) if valid.any() else None
    return _AxisDecision(medians, preferred, other, ratio, wins, preferred, "")


def _require_clear_pairing(
    a: _AxisDecision,
    r: _Residuals,
    where: str,
    pde: str,
    n_times: int,
    thresholds: Mapping[str, float],
) -> None:
    """``x_axis="auto"``: refuse unusable, poor, ambiguous or file-by-file mixed pairings."""
    medians, preferred, other = a.medians, a.preferred, a.other
    hint = "pass --x-axis x|y to decide explicitly"
    if not np.isfinite(medians[preferred]):
        need = " (needs at least 2 frames)" if pde == CE and n_times < 2 else ""
        raise ValueError(f"{where}: no usable frames to decide the axis pairing{need}; {hint}")
    figures = (
        f"median relative residual {medians['x']:.3g} with u along netCDF dim 'x' "
        f"vs {medians['y']:.3g} along 'y'"
    )
    if medians[preferred] > thresholds["max_best"]:
        raise ValueError(
            f"{where}: neither axis pairing fits ({figures}; need <= "
            f"{thresholds['max_best']:g}); check the channel order, units and grid, or {hint}"
        )
    if a.ratio < thresholds["min_ratio"]:
        raise ValueError(
            f"{where}: ambiguous axis pairing ({figures}; ratio {a.ratio:.3g} < "
            f"{thresholds['min_ratio']:g}); {hint}"
        )
    for entry in r.per_file:  # every file must agree: mixed conventions are not supported
        best_f, other_f = entry.get(preferred), entry.get(other)
        if best_f is None or other_f is None:
            continue
        if other_f <= thresholds["max_best"] and _ratio(other_f, best_f) >= thresholds["min_ratio"]:
            raise ValueError(
                f"{entry['file']}: its first trajectories pair u with netCDF dim {other!r} "
                f"(residual {other_f:.3g} vs {best_f:.3g}) but the files together pair it "
                f"with {preferred!r}; files with mixed conventions are not supported"
            )


def _evidence(
    r: _Residuals,
    a: _AxisDecision,
    pde: str,
    test: str,
    k: int,
    n_times: int,
    thresholds: Mapping[str, float],
) -> dict:
    """The figures behind the decision, recorded in the store's attrs."""
    medians, pooled = a.medians, r.pooled
    evidence = {
        "test": test,
        "candidates_key": "netCDF dim (as PDEGym names it) taken to be x, i.e. paired with u",
        "statistic": (
            "median over (trajectory, frame) of the relative residual"
            if pde == NS
            else "median over (trajectory, 3-frame window) of the relative residual"
        ),
        "candidates": {
            c: {
                "median": _num(medians[c]),
                "pooled": _num(np.sqrt(pooled[f"sq_{c}"] / pooled["sq_scale"]))
                if pooled["sq_scale"] > 0
                else None,
            }
            for c in ("x", "y")
        },
        "preferred": a.preferred if np.isfinite(medians[a.preferred]) else None,
        "ratio": _num(a.ratio),
        "wins": a.wins,
        "thresholds": {"max_best": thresholds["max_best"], "min_ratio": thresholds["min_ratio"]},
        "trajectories_per_file": int(k),
        "per_file": r.per_file,
    }
    if pde == NS:
        evidence["formula"] = (
            "||d_a u + d_b v|| / ||grad(u, v)|| (spectral, Nyquist zeroed; a = the axis taken as x)"
        )
    else:
        evidence["formula"] = (
            "low Fourier modes of rho(t+2) - rho(t) + int div(rho v) dt, "
            "relative (see symaudit.data.ingest.continuity_residuals)"
        )
        evidence["modes"] = CONTINUITY_MODES
        evidence["dt"] = _num(1.0 / (n_times - 1) if n_times > 1 else float("nan"))
        evidence["time_rule"] = "simpson" if n_times >= 3 else "trapezoid"
    return evidence


def _self_check(
    sources: Sequence[SourceFile],
    pde: str,
    family: str,
    k: int,
    x_axis: str,
    thresholds: Mapping[str, float],
    progress: Callable[[str], None],
) -> dict:
    """Run the checks on the first ``k`` samples of every file; return ``axis_convention``."""
    n_times = sources[0].n_times
    dt = 1.0 / (n_times - 1) if n_times > 1 else float("nan")
    test = "spectral_divergence" if pde == NS else "mass_continuity"
    r = _gather_residuals(sources, pde, k, dt, progress)
    eos = _check_eos(r, thresholds) if pde == CE else None

    where = (
        f"{family}: first {k} trajectories of each of {len(sources)} file(s), "
        f"{test.replace('_', ' ')}"
    )
    a = _decide_axis(r)
    if x_axis == "auto":
        _require_clear_pairing(a, r, where, pde, n_times, thresholds)
        a.chosen, a.decided_by = a.preferred, test
    else:
        a.chosen, a.decided_by = x_axis, "override"

    chosen = a.chosen
    y_name = "y" if chosen == "x" else "x"
    max_gap = {ax: max(g[ax] for g in r.gaps) for ax in ("x", "y")}
    duplicate = {ax: all(g[ax] <= DUPLICATE_TOLERANCE for g in r.gaps) for ax in ("x", "y")}
    evidence = _evidence(r, a, pde, test, k, n_times, thresholds)
    convention = {
        "x_axis": {
            "netcdf_dim": chosen,
            "netcdf_axis": NETCDF_AXIS[chosen],
            "file_dim_name": sources[0].dims[NETCDF_AXIS[chosen]],
        },
        "y_axis": {
            "netcdf_dim": y_name,
            "netcdf_axis": NETCDF_AXIS[y_name],
            "file_dim_name": sources[0].dims[NETCDF_AXIS[y_name]],
        },
        "transposed": chosen == "x",
        "rule": "x = the netCDF spatial axis paired with channel u; stored as the last axis",
        "decided_by": a.decided_by,
        "agrees_with_evidence": (
            None if evidence["preferred"] is None else evidence["preferred"] == chosen
        ),
        "reference_pdehats_x_axis": REFERENCE_X_AXIS,
        "agrees_with_reference": chosen == REFERENCE_X_AXIS,
        "evidence": evidence,
        "periodicity": {
            "max_relative_endpoint_gap": {f"netcdf_{ax}": max_gap[ax] for ax in ("x", "y")},
            "duplicate_endpoint": {"x": duplicate[chosen], "y": duplicate[y_name]},
            "tolerance": DUPLICATE_TOLERANCE,
            "formula": "max over channels of max|f[..., 0] - f[..., -1]| / max|f| per axis",
        },
    }
    if eos is not None:
        convention["eos"] = eos
    return convention


def _endpoint_decision(convention: Mapping, endpoint: str) -> bool:
    """Whether to drop a duplicated periodic endpoint; a one-line error when it must be refused
    (``endpoint="refuse"``, one axis only, or files that disagree)."""
    per_file = convention["evidence"]["per_file"]
    flags = [{a: e["endpoint_gap"][a] <= DUPLICATE_TOLERANCE for a in ("x", "y")} for e in per_file]
    for a in ("x", "y"):
        have = [f[a] for f in flags]
        if any(have) and not all(have):
            odd = per_file[have.index(not have[0])]["file"]
            raise ValueError(
                f"{odd}: its first trajectories {'do' if not have[0] else 'do not'} repeat the "
                f"first grid point at the end of netCDF dim {a!r} but {per_file[0]['file']}'s "
                f"{'do not' if not have[0] else 'do'}; files with different grids are not "
                "supported"
            )
    dup = flags[0]
    if not (dup["x"] or dup["y"]):
        return False
    gaps = convention["periodicity"]["max_relative_endpoint_gap"]
    figures = ", ".join(f"{k} {v:.3g}" for k, v in gaps.items())
    if dup["x"] != dup["y"]:
        one = "x" if dup["x"] else "y"
        raise ValueError(
            f"{per_file[0]['file']}: the last grid point repeats the first along netCDF dim "
            f"{one!r} only (relative endpoint gaps {figures}); a non-square periodic grid is "
            "not supported"
        )
    if endpoint == "refuse":
        raise ValueError(
            f"{per_file[0]['file']}: duplicated periodic endpoint (the last grid point repeats "
            f"the first, relative endpoint gaps {figures} <= {DUPLICATE_TOLERANCE:g}): shifts "
            "and flips would be off by one cell; use --endpoint drop to drop it"
        )
    return True
