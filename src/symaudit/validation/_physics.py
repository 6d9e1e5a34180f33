"""Case 3: symmetry broken by the physics (the Kolmogorov forcing), from the study's tables.

Statistics read (``symaudit aggregate``): the equivariance tables' ``median`` column (median over
seeds of the per-seed Q3 of the per-example relative error, the reference's statistic) and the
influence tables' ``median`` (pooled median of the standardised self-influence diagonal).

``equivariance_kolmogorov.csv``, ``influence_kolmogorov.csv``; every model of a Kolmogorov
group (``NSK``): each element of the set is a member of the derived subgroup G(N, k) or not
(:func:`symaudit.groups.kolmogorov.fixes_forcing`; N is inferred from the table's element list,
see :func:`kolmogorov_resolution`).  Rows: the median over members of the element medians is
1 +- ``INSIDE_TOL`` and every member's median is below every non-member's (which all exceed
1 + ``INSIDE_TOL``); the median over non-members of the influence medians is below the members';
the Spearman rank correlation between the element medians of error and influence over the whole
set (expected negative).  These four are descriptive: the thresholds (``INSIDE_TOL``, the
clean separation) are not derived (the law R_g ~ 1 + c_g / rho would decide them; not built).
Derived rows: reciprocity for the members of G, which preserve the data distribution
(:mod:`._reciprocity`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from symaudit import groups
from symaudit.groups.kolmogorov import fixes_forcing

from ._reciprocity import reciprocity_rows
from ._rows import INSIDE_TOL, as_descriptive, medians, missing, num, read_table, row

CASE3 = "3 symmetry broken by the physics"


def _num(x: float) -> str:
    return num(x, 4)


def kolmogorov_resolution(names) -> int | None:
    """The grid size N whose ``kolmogorov`` element set is exactly ``names`` (the set's words
    depend on N), trying N = 16, 32, ..., 1024; ``None`` when none matches."""
    wanted = set(names)
    for n in (2**p for p in range(4, 11)):
        if set(groups.elements("kolmogorov", n)) == wanted:
            return n
    return None


def _error_rows(label: str, n: int, errors: dict, inside: list, outside: list) -> list[dict]:
    e_in = np.array([errors[g] for g in inside])
    e_out = np.array([errors[g] for g in outside])
    typical = float(np.median(e_in))
    worst_in = inside[int(np.argmax(e_in))]
    best_out = outside[int(np.argmin(e_out))]
    return [
        row(
            f"{label} | error inside G",
            f"median over the {len(inside)} sampled members of G({n}, 4) of the error "
            f"medians within 1 +- {INSIDE_TOL:g}",
            f"{_num(typical)} (members range {_num(e_in.min())}..{_num(e_in.max())}, "
            f"largest at {worst_in})",
            bool(abs(typical - 1.0) <= INSIDE_TOL),
        ),
        row(
            f"{label} | error outside G",
            f"every non-member's error median > 1 + {INSIDE_TOL:g} and > every member's",
            f"non-members {_num(e_out.min())} ({best_out}) .. {_num(e_out.max())} "
            f"(median {_num(np.median(e_out))}) vs members up to {_num(e_in.max())}",
            bool(e_out.min() > max(1.0 + INSIDE_TOL, e_in.max())),
        ),
    ]


def _influence_rows(label: str, errors: dict, influence: dict, inside: list, outside: list):
    from scipy.stats import spearmanr

    i_in = np.array([influence[g] for g in inside])
    i_out = np.array([influence[g] for g in outside])
    names = list(errors)
    rho, p = spearmanr([errors[g] for g in names], [influence[g] for g in names])
    return [
        row(
            f"{label} | influence suppressed outside G",
            "median over non-members of the influence medians < the members'",
            f"outside {_num(np.median(i_out))} vs inside {_num(np.median(i_in))} "
            f"(identity {_num(influence.get('e', float('nan')))})",
            bool(np.median(i_out) < np.median(i_in)),
        ),
        row(
            f"{label} | Spearman(error, influence)",
            "rank correlation of the element medians over the set: reported (expected < 0)",
            f"rho = {_num(rho)} over {len(names)} elements (p = {_num(p)})",
            bool(np.isfinite(rho) and rho < 0),
        ),
    ]


def case3_rows(tables: Path, resolution: int | None = None) -> list[dict]:
    """Case 3 rows for every (dataset, model) of ``equivariance_kolmogorov.csv``."""
    expected = "error ~1 inside G(N, k), > 1 outside; influence suppressed outside"
    eq = read_table(tables, "equivariance_kolmogorov.csv")
    inf = read_table(tables, "influence_kolmogorov.csv")
    if eq is None or eq.empty:
        why = "no equivariance_kolmogorov.csv (dataset NSK)"
        return [missing(CASE3, expected, why, "descriptive")]
    rows: list[dict] = []
    for (dataset, model), sub in eq.groupby(["dataset", "model"], sort=True):
        label = f"{CASE3} | {dataset} {model}"
        n = resolution or kolmogorov_resolution(sub.element)
        if n is None:
            why = "the element list is no kolmogorov set of any N"
            rows.append(missing(label, expected, why, "descriptive"))
            continue
        errors = medians(eq, dataset=dataset, model=model)
        inside = [g for g in errors if fixes_forcing(g, n)]
        outside = [g for g in errors if g not in inside]
        if not inside or not outside:
            why = "members or non-members of G absent"
            rows.append(missing(label, expected, why, "descriptive"))
            continue
        rows += as_descriptive(_error_rows(label, n, errors, inside, outside))
        rows += reciprocity_rows(tables, "kolmogorov", dataset, model, inside, label, n)
        influence = medians(inf, dataset=dataset, model=model)
        if not set(errors) <= set(influence):
            why = "no influence_kolmogorov.csv" if inf is None else "elements absent"
            what = f"{label} | influence"
            rows.append(missing(what, "influence beside the error", why, "descriptive"))
            continue
        rows += as_descriptive(_influence_rows(label, errors, influence, inside, outside))
    return rows
