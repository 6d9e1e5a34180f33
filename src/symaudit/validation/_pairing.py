"""Case 6: the NS pairing artefact, from the study's tables.

``equivariance_d4.csv`` beside ``equivariance_d4_swapped.csv``, and the influence tables; every
model of the NS group: the wrong pairing ``p*g*p`` against the correct g (statistics: the
tables' ``median`` columns, as in case 3).  Rows: the elements where the swapped error median
exceeds ``LARGE`` are exactly r, r3, s, sr2; there the swapped influence median is below the
correct one; for e, r2, sr, sr3 the swapped numbers equal the correct ones (exact algebra:
p*g*p = g, relative ``TOLERANCE``); the correct action has no error median above ``LARGE`` at
all.  Kinds: the equalities at e, r2, sr, sr3 are exact; the "failing" and "suppressed" rows
are descriptive (``LARGE`` is a chosen threshold, not a derived one).
"""

from __future__ import annotations

from pathlib import Path

from symaudit import groups

from ._rows import LARGE, TOLERANCE, medians, missing, num, read_table, row

CASE6 = "6 NS pairing artefact"
#: D4 elements whose matrices do not commute with the component exchange
NON_COMMUTING = tuple(g for g in groups.D4 if not groups.commutes_with_exchange(g))
COMMUTING = tuple(g for g in groups.D4 if g not in NON_COMMUTING)


def _num(x: float) -> str:
    return num(x, 4)


def _failing_text(failing: list[str], values: dict[str, float]) -> str:
    """The failing D4 elements and every element's error median, for one pairing."""
    listed = ", ".join(f"{g} {_num(values[g])}" for g in groups.D4)
    return f"failing: {', '.join(failing) or 'none'}; medians {listed}"


def _max_rel(a: dict[str, float], b: dict[str, float]) -> float:
    """max over the commuting elements of |a - b| / |b|."""
    return max(abs(a[g] - b[g]) / abs(b[g]) for g in COMMUTING)


def _error_rows(label: str, four: str, right: dict, swapped: dict) -> list[dict]:
    failing = [g for g in groups.D4 if swapped[g] > LARGE]
    correct_failing = [g for g in groups.D4 if right[g] > LARGE]
    return [
        row(
            f"{label} | swapped pairing: failing elements",
            f"error median > {LARGE:g} at exactly {four}",
            _failing_text(failing, swapped),
            failing == list(NON_COMMUTING),
            "descriptive",
        ),
        row(
            f"{label} | correct pairing: no failure",
            f"error median <= {LARGE:g} for every D4 element",
            _failing_text(correct_failing, right),
            not correct_failing,
            "descriptive",
        ),
        row(
            f"{label} | swapped = correct at {', '.join(COMMUTING)}",
            f"error medians equal within {TOLERANCE:g} relative (p*g*p = g exactly)",
            f"max relative difference {_max_rel(swapped, right):.3g}",
            bool(_max_rel(swapped, right) <= TOLERANCE),
        ),
    ]


def _influence_rows(label: str, four: str, i_right: dict, i_swap: dict) -> list[dict]:
    return [
        row(
            f"{label} | swapped pairing: influence suppressed at {four}",
            "influence median below the correct action's at each of them",
            ", ".join(f"{g} {_num(i_swap[g])} vs {_num(i_right[g])}" for g in NON_COMMUTING),
            all(i_swap[g] < i_right[g] for g in NON_COMMUTING),
            "descriptive",
        ),
        row(
            f"{label} | swapped influence = correct at {', '.join(COMMUTING)}",
            f"influence medians equal within {TOLERANCE:g} relative",
            f"max relative difference {_max_rel(i_swap, i_right):.3g}",
            bool(_max_rel(i_swap, i_right) <= TOLERANCE),
        ),
    ]


def case6_rows(tables: Path, datasets=("NS",)) -> list[dict]:
    """Case 6 rows for every model of ``equivariance_d4_swapped.csv`` on ``datasets``."""
    four = ", ".join(NON_COMMUTING)
    expected = f"wrong pairing fails at exactly {four}; the correct action does not"
    eq = read_table(tables, "equivariance_d4.csv")
    eq_s = read_table(tables, "equivariance_d4_swapped.csv")
    inf = read_table(tables, "influence_d4.csv")
    inf_s = read_table(tables, "influence_d4_swapped.csv")
    if eq is None or eq_s is None:
        return [missing(CASE6, expected, "no equivariance_d4.csv and equivariance_d4_swapped.csv")]
    pairs = sorted({(d, m) for d, m in zip(eq_s.dataset, eq_s.model, strict=True) if d in datasets})
    if not pairs:
        return [missing(CASE6, expected, f"no {'/'.join(datasets)} rows in d4_swapped tables")]
    rows: list[dict] = []
    for dataset, model in pairs:
        label = f"{CASE6} | {dataset} {model}"
        right = medians(eq, dataset=dataset, model=model)
        wrong = medians(eq_s, dataset=dataset, model=model)
        swapped = {g: wrong.get(f"p*{g}*p") for g in groups.D4}
        if any(v is None for v in swapped.values()) or not set(groups.D4) <= set(right):
            rows.append(missing(label, expected, "a D4 element absent from a table"))
            continue
        rows += _error_rows(label, four, right, swapped)
        i_right = medians(inf, dataset=dataset, model=model)
        i_wrong = medians(inf_s, dataset=dataset, model=model)
        if not set(groups.D4) <= set(i_right) or not all(f"p*{g}*p" in i_wrong for g in groups.D4):
            why = "no influence_d4(_swapped).csv" if inf is None or inf_s is None else "rows absent"
            rows.append(missing(f"{label} | influence", "influence beside the error", why))
            continue
        rows += _influence_rows(label, four, i_right, {g: i_wrong[f"p*{g}*p"] for g in groups.D4})
    return rows
