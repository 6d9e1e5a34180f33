"""Findings of validation cases 3 and 6 (symmetry broken by the physics; the NS pairing
artefact), from the study's own tables; registered by :mod:`symaudit.aggregate._findings`.

Statistics read (``symaudit aggregate``): the equivariance tables' ``median`` column (median over
seeds of the per-seed Q3 of the per-example relative error, the reference's statistic) and the
influence tables' ``median`` (pooled median of the standardised self-influence diagonal).

* case 3 (``equivariance_kolmogorov.csv``, ``influence_kolmogorov.csv``; every model of a
  Kolmogorov group, ``NSK``): each element of the set is a member of the derived subgroup
  G(N, k) or not (:func:`symaudit.groups.kolmogorov.fixes_forcing`; N is inferred from the
  table's element list, see :func:`kolmogorov_resolution`).  Rows: the median over members of
  the element medians is 1 +- :data:`INSIDE_TOL` and every member's median is below every
  non-member's (which all exceed 1 + :data:`INSIDE_TOL`); the median over non-members of the
  influence medians is below the members'; the Spearman rank correlation between the element
  medians of error and influence over the whole set (expected negative).
* case 6 (``equivariance_d4.csv`` beside ``equivariance_d4_swapped.csv``, and the influence
  tables; every model of the NS group): the wrong pairing ``p*g*p`` against the correct g.
  Rows: the elements where the swapped error median exceeds :data:`LARGE` are exactly
  r, r3, s, sr2; there the swapped influence median is below the correct one; for e, r2, sr,
  sr3 the swapped numbers equal the correct ones (exact algebra: p*g*p = g, relative
  :data:`TOLERANCE`); the correct action has no error median above :data:`LARGE` at all.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from symaudit import groups

from ._findings_rows import missing as _missing
from ._findings_rows import read_table as _read
from ._findings_rows import row as _row

__all__ = ["INSIDE_TOL", "LARGE", "case3_rows", "case6_rows", "kolmogorov_resolution"]

#: case 3: "error ~ 1 inside G" means the median over members of the element medians lies in
#: 1 +- INSIDE_TOL (a trained, not an exactly equivariant, model: the UNet alone is off by a few
#: percent at shifts that are not multiples of its stride, docs/validation.md case 2)
INSIDE_TOL = 0.1
#: case 6: a "failure" is an error median above LARGE (the error at least doubles; the paper's NS
#: failures are 1e2-1e4)
LARGE = 2.0
TOLERANCE = 1e-6

CASE3 = "3 symmetry broken by the physics"
CASE6 = "6 NS pairing artefact"
#: D4 elements whose matrices do not commute with the component exchange
NON_COMMUTING = tuple(g for g in groups.D4 if not groups.commutes_with_exchange(g))


def _failing_text(failing: list[str], medians: dict[str, float]) -> str:
    """The failing D4 elements and every element's error median, for one pairing."""
    listed = ", ".join(f"{g} {_num(medians[g])}" for g in groups.D4)
    return f"failing: {', '.join(failing) or 'none'}; medians {listed}"


def _num(x: float) -> str:
    return f"{float(x):.4g}"


def _medians(df: pd.DataFrame | None, dataset: str, model: str) -> dict[str, float]:
    if df is None:
        return {}
    sub = df[(df.dataset == dataset) & (df.model == model)]
    return {str(r.element): float(r.median) for r in sub.itertuples(index=False)}


# --- case 3 ---------------------------------------------------------------------------------


def kolmogorov_resolution(names) -> int | None:
    """The grid size N whose ``kolmogorov`` element set is exactly ``names`` (the set's words
    depend on N), trying N = 16, 32, ..., 1024; ``None`` when none matches."""
    wanted = set(names)
    for n in (2**p for p in range(4, 11)):
        if set(groups.elements("kolmogorov", n)) == wanted:
            return n
    return None


def case3_rows(tables: Path, resolution: int | None = None) -> list[dict]:
    """Case 3 rows for every (dataset, model) of ``equivariance_kolmogorov.csv``."""
    from scipy.stats import spearmanr

    from symaudit.groups.kolmogorov import fixes_forcing

    expected = "error ~1 inside G(N, k), > 1 outside; influence suppressed outside"
    eq = _read(tables, "equivariance_kolmogorov.csv")
    inf = _read(tables, "influence_kolmogorov.csv")
    if eq is None or eq.empty:
        return [_missing(CASE3, expected, "no equivariance_kolmogorov.csv (dataset NSK)")]
    rows: list[dict] = []
    for (dataset, model), sub in eq.groupby(["dataset", "model"], sort=True):
        label = f"{CASE3} | {dataset} {model}"
        n = resolution or kolmogorov_resolution(sub.element)
        if n is None:
            rows.append(_missing(label, expected, "the element list is no kolmogorov set of any N"))
            continue
        errors = _medians(eq, dataset, model)
        inside = [g for g in errors if fixes_forcing(g, n)]
        outside = [g for g in errors if g not in inside]
        if not inside or not outside:
            rows.append(_missing(label, expected, "members or non-members of G absent"))
            continue
        e_in = np.array([errors[g] for g in inside])
        e_out = np.array([errors[g] for g in outside])
        typical = float(np.median(e_in))
        worst_in = inside[int(np.argmax(e_in))]
        best_out = outside[int(np.argmin(e_out))]
        rows.append(
            _row(
                f"{label} | error inside G",
                f"median over the {len(inside)} sampled members of G({n}, 4) of the error "
                f"medians within 1 +- {INSIDE_TOL:g}",
                f"{_num(typical)} (members range {_num(e_in.min())}..{_num(e_in.max())}, "
                f"largest at {worst_in})",
                bool(abs(typical - 1.0) <= INSIDE_TOL),
            )
        )
        rows.append(
            _row(
                f"{label} | error outside G",
                f"every non-member's error median > 1 + {INSIDE_TOL:g} and > every member's",
                f"non-members {_num(e_out.min())} ({best_out}) .. {_num(e_out.max())} "
                f"(median {_num(np.median(e_out))}) vs members up to {_num(e_in.max())}",
                bool(e_out.min() > max(1.0 + INSIDE_TOL, e_in.max())),
            )
        )
        influence = _medians(inf, dataset, model)
        if not set(errors) <= set(influence):
            why = "no influence_kolmogorov.csv" if inf is None else "elements absent"
            rows.append(_missing(f"{label} | influence", "influence beside the error", why))
            continue
        i_in = np.array([influence[g] for g in inside])
        i_out = np.array([influence[g] for g in outside])
        rows.append(
            _row(
                f"{label} | influence suppressed outside G",
                "median over non-members of the influence medians < the members'",
                f"outside {_num(np.median(i_out))} vs inside {_num(np.median(i_in))} "
                f"(identity {_num(influence.get('e', float('nan')))})",
                bool(np.median(i_out) < np.median(i_in)),
            )
        )
        names = list(errors)
        rho, p = spearmanr([errors[g] for g in names], [influence[g] for g in names])
        rows.append(
            _row(
                f"{label} | Spearman(error, influence)",
                "rank correlation of the element medians over the set: reported (expected < 0)",
                f"rho = {_num(rho)} over {len(names)} elements (p = {_num(p)})",
                bool(np.isfinite(rho) and rho < 0),
            )
        )
    return rows


# --- case 6 ---------------------------------------------------------------------------------


def case6_rows(tables: Path, datasets=("NS",)) -> list[dict]:
    """Case 6 rows for every model of ``equivariance_d4_swapped.csv`` on ``datasets``."""
    four = ", ".join(NON_COMMUTING)
    expected = f"wrong pairing fails at exactly {four}; the correct action does not"
    eq, eq_s = _read(tables, "equivariance_d4.csv"), _read(tables, "equivariance_d4_swapped.csv")
    inf, inf_s = _read(tables, "influence_d4.csv"), _read(tables, "influence_d4_swapped.csv")
    if eq is None or eq_s is None:
        return [_missing(CASE6, expected, "no equivariance_d4.csv and equivariance_d4_swapped.csv")]
    rows: list[dict] = []
    pairs = sorted({(d, m) for d, m in zip(eq_s.dataset, eq_s.model, strict=True) if d in datasets})
    if not pairs:
        return [_missing(CASE6, expected, f"no {'/'.join(datasets)} rows in d4_swapped tables")]
    for dataset, model in pairs:
        label = f"{CASE6} | {dataset} {model}"
        right, wrong = _medians(eq, dataset, model), _medians(eq_s, dataset, model)
        swapped = {g: wrong.get(f"p*{g}*p") for g in groups.D4}
        if any(v is None for v in swapped.values()) or not set(groups.D4) <= set(right):
            rows.append(_missing(label, expected, "a D4 element absent from a table"))
            continue
        failing = [g for g in groups.D4 if swapped[g] > LARGE]
        rows.append(
            _row(
                f"{label} | swapped pairing: failing elements",
                f"error median > {LARGE:g} at exactly {four}",
                _failing_text(failing, swapped),
                failing == list(NON_COMMUTING),
            )
        )
        correct_failing = [g for g in groups.D4 if right[g] > LARGE]
        rows.append(
            _row(
                f"{label} | correct pairing: no failure",
                f"error median <= {LARGE:g} for every D4 element",
                _failing_text(correct_failing, right),
                not correct_failing,
            )
        )
        commuting = [g for g in groups.D4 if g not in NON_COMMUTING]
        dev = max(abs(swapped[g] - right[g]) / abs(right[g]) for g in commuting)
        rows.append(
            _row(
                f"{label} | swapped = correct at {', '.join(commuting)}",
                f"error medians equal within {TOLERANCE:g} relative (p*g*p = g exactly)",
                f"max relative difference {dev:.3g}",
                bool(dev <= TOLERANCE),
            )
        )
        i_right, i_wrong = _medians(inf, dataset, model), _medians(inf_s, dataset, model)
        if not set(groups.D4) <= set(i_right) or not all(f"p*{g}*p" in i_wrong for g in groups.D4):
            why = "no influence_d4(_swapped).csv" if inf is None or inf_s is None else "rows absent"
            rows.append(_missing(f"{label} | influence", "influence beside the error", why))
            continue
        i_swap = {g: i_wrong[f"p*{g}*p"] for g in groups.D4}
        rows.append(
            _row(
                f"{label} | swapped pairing: influence suppressed at {four}",
                "influence median below the correct action's at each of them",
                ", ".join(f"{g} {_num(i_swap[g])} vs {_num(i_right[g])}" for g in NON_COMMUTING),
                all(i_swap[g] < i_right[g] for g in NON_COMMUTING),
            )
        )
        dev = max(abs(i_swap[g] - i_right[g]) / abs(i_right[g]) for g in commuting)
        rows.append(
            _row(
                f"{label} | swapped influence = correct at {', '.join(commuting)}",
                f"influence medians equal within {TOLERANCE:g} relative",
                f"max relative difference {dev:.3g}",
                bool(dev <= TOLERANCE),
            )
        )
    return rows
