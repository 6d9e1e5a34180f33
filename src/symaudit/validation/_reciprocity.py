"""Reciprocity on symmetric data (derived rows) and the UNet's period (exact rows).

**Reciprocity.**  Let g preserve the distribution of the data (D4 x translations on the
look-alike families, docs/data.md §2; only the members of G(N, k) on Kolmogorov flow, their
reciprocity rows in case 3; only {e, r2, sr, sr3} x translations on NS-Diagonal, NSD).  The
per-example relative error R_g(x) = SMSE(f(g x), g y) / SMSE(f(x), y) then satisfies
R_{g^-1}(g x) = 1 / R_g(x), and g x is distributed as x, so R_{g^-1} is distributed as 1/R_g:
Q_p(R_{g^-1}) = 1 / Q_{1-p}(R_g) for the population quantiles.  Hence median R_g = 1 for an
involution (g^-1 = g) and Q3(R_g) Q1(R_{g^-1}) = 1 for a pair (g, g^-1), for ANY model f.
The statistic is per seed, over that seed's examples: the per-seed table
``equivariance_{set}_per_seed.csv`` (columns ``median``, ``q1``, ``q3`` and their ``_lo``/``_hi``,
the cluster bootstrap over the seed's analysis batches, docs/algorithms.md §7.1), never the
over-seeds columns.  Rows are derived and judged by their interval (``_rows.verdict``, equality
with 1 within ``EQUAL_TOL``).  The product's interval is [Q3_lo Q1_lo, Q3_hi Q1_hi], the product
of the two tables' intervals (both factors positive): it covers with probability at least
1 - 2(1 - confidence) (Bonferroni), since the tables give no joint replicates.

**Period** (case 2, exact).  A UNet of total stride s is exactly equivariant under shifts by
multiples of s, so R_{t(k + s)}(x) = R_{t(k)}(x) for every example (t(k + s) = t(k) t(s) and the
model commutes with t(s)), and the same for the influence.  The tables hold quantiles, not
examples: the rows compare every per-seed quantile (Q1, median, Q3, min, max) of the two shifts,
and the influence table's (Q1, median, Q3, min, max), within the exact tolerance (the errors':
that of the precision the per-seed table records, :func:`._rows.exact_tolerance`; the
influence's: ``tol``) -- equal quantiles are necessary for, not proof of, equal per-example
values.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from symaudit import datasets, groups

from ._rows import (
    EQUAL_TOL,
    NAN,
    TOLERANCE,
    by_element,
    exact_tolerance,
    missing,
    num,
    read_table,
    row,
    verdict,
)

CASE_R = "2r reciprocity on symmetric data"
#: element sets whose every element preserves the distribution of the look-alike families
SYMMETRIC_SETS = ("d4", "shift_x", "shift_y", "shift_box")
#: datasets whose data are not D4 x translation symmetric (their reciprocity rows: case 3)
BROKEN = ("NSK",)
#: datasets whose data keep only a subgroup of D4 (x translations): dataset -> its D4 elements
#: (NSD, case 6's control: the diagonal's stabiliser e, r2, sr, sr3); reciprocity is stated
#: for those elements alone
DATA_SUBGROUP = datasets.DATA_SUBGROUP
QUANTILES = ("q1", "median", "q3", "min", "max")


def _signature(g: str, n: int) -> bytes:
    """The index permutation of ``g`` on an n x n grid (a scalar field of distinct values)."""
    x = np.arange(n * n, dtype=np.float64).reshape(1, n, n)
    return np.asarray(groups.act(g, x, ["scalar"])).tobytes()


def _d4_part(g: str) -> str:
    """The name of g's D4 part (a translation keeps every family's distribution)."""
    e = groups.parse(g)
    return groups.Element(e.rotate, e.reflect).name


def _product_signature(a: str, b: str, n: int) -> bytes:
    """The permutation of a o b (b first)."""
    x = np.arange(n * n, dtype=np.float64).reshape(1, n, n)
    return np.asarray(groups.act(a, groups.act(b, x, ["scalar"]), ["scalar"])).tobytes()


def inverse_pairs(elements: Sequence[str], n: int) -> tuple[list[str], list[tuple[str, str]]]:
    """The involutions among ``elements`` (not e) and the pairs (g, g^-1) both in ``elements``
    (g first in their order), identified by their action on an n x n grid."""
    identity = _signature("e", n)
    involutions, pairs, seen = [], [], set()
    for i, g in enumerate(elements):
        if _signature(g, n) == identity:
            continue
        if _product_signature(g, g, n) == identity:
            involutions.append(g)
            continue
        for h in elements[i + 1 :]:
            if h not in seen and _product_signature(h, g, n) == identity:
                pairs.append((g, h))
                seen.add(h)
                break
    return involutions, pairs


def _get(r, name: str) -> float:
    return float(getattr(r, name, NAN))


def _note(r) -> str:
    """The table's ``ci_note`` (why the interval is NaN, or what it does not cover), if any."""
    note = getattr(r, "ci_note", None)
    return f" ({note})" if isinstance(note, str) and note else ""


def _equals_one(case: str, expected: str, measured: str, value: float, lo, hi) -> dict:
    """A derived row stating ``value`` = 1: the point within ``EQUAL_TOL`` in ``holds``, the
    interval [lo, hi] judged as an equivalence (``_rows.verdict``)."""
    return row(
        case,
        expected,
        measured,
        bool(abs(value - 1.0) <= EQUAL_TOL),
        "derived",
        lo,
        hi,
        verdict("derived", False, lo, hi, equal=1.0),
    )


def _involution_row(label: str, g: str, r) -> dict:
    m, lo, hi = float(r.median), _get(r, "median_lo"), _get(r, "median_hi")
    return _equals_one(
        f"{label} | seed {r.seed} | median R at {g}",
        f"median R = 1 ({g} an involution preserving the data distribution; "
        f"holds within 1 +- {EQUAL_TOL:g})",
        f"median {num(m, 5)} [{num(lo, 4)}, {num(hi, 4)}]{_note(r)}",
        m,
        lo,
        hi,
    )


def _pair_row(label: str, g: str, h: str, rg, rh) -> dict:
    p = float(rg.q3) * float(rh.q1)
    lo = _get(rg, "q3_lo") * _get(rh, "q1_lo")
    hi = _get(rg, "q3_hi") * _get(rh, "q1_hi")
    return _equals_one(
        f"{label} | seed {rg.seed} | Q3 R at {g} x Q1 R at {h}",
        f"Q3(R_g) Q1(R_g^-1) = 1 (g = {g}, g^-1 = {h}; holds within 1 +- {EQUAL_TOL:g})",
        f"{num(float(rg.q3), 5)} x {num(float(rh.q1), 5)} = {num(p, 5)} "
        f"[{num(lo, 4)}, {num(hi, 4)}]{_note(rg)}",
        p,
        lo,
        hi,
    )


def reciprocity_rows(tables: Path, set_name, dataset, model, members, label, n) -> list[dict]:
    """Reciprocity rows of one (dataset, model, element set), per seed, for the elements of
    ``members`` (those that preserve the data distribution) on an n x n grid."""
    df = read_table(tables, f"equivariance_{set_name}_per_seed.csv")
    expected = "reciprocity on symmetric data (per seed)"
    if df is None:
        why = f"no equivariance_{set_name}_per_seed.csv"
        return [missing(f"{label} | reciprocity", expected, why, "derived")]
    involutions, pairs = inverse_pairs(list(members), n)
    rows = []
    for seed in sorted(df.seed.unique()):
        per = by_element(df, dataset=dataset, model=model, seed=seed)
        rows += [_involution_row(label, g, per[g]) for g in involutions if g in per]
        rows += [_pair_row(label, g, h, per[g], per[h]) for g, h in pairs if g in per and h in per]
    return rows


def grid_size(tables: Path, default: int | None = None) -> int:
    """The grid N: the number of shifts of ``shift_x`` (or ``shift_y``; all N shifts, at least
    the largest offset + 1), else ``default``, else 32 (D4 acts on any square grid; shifts need
    N to wrap)."""
    for set_name in ("shift_x", "shift_y"):
        df = read_table(tables, f"equivariance_{set_name}.csv")
        if df is not None and not df.empty:
            offsets = [max(groups.parse(g).dx, groups.parse(g).dy) for g in df.element.unique()]
            return max(int(df.element.nunique()), max(offsets) + 1)
    return int(default or 32)


def symmetric_rows(tables: Path, resolution: int | None = None) -> list[dict]:
    """Reciprocity rows of every model on every dataset with symmetric data, every set of
    :data:`SYMMETRIC_SETS` that has a per-seed table (grid: :func:`grid_size`)."""
    rows: list[dict] = []
    n = grid_size(tables, resolution)
    for set_name in SYMMETRIC_SETS:
        df = read_table(tables, f"equivariance_{set_name}_per_seed.csv")
        if df is None:
            continue
        for (dataset, model), sub in df.groupby(["dataset", "model"], sort=True):
            if dataset in BROKEN:
                continue
            elements = list(dict.fromkeys(sub.element))
            if dataset in DATA_SUBGROUP:  # only the elements that keep the data distribution
                elements = [g for g in elements if _d4_part(g) in DATA_SUBGROUP[dataset]]
            label = f"{CASE_R} | {dataset} {model} {set_name}"
            rows += reciprocity_rows(tables, set_name, dataset, model, elements, label, n)
    if not rows:
        why = f"no equivariance_{{{','.join(SYMMETRIC_SETS)}}}_per_seed.csv rows"
        return [missing(CASE_R, "reciprocity on symmetric data", why, "derived")]
    return rows


def _rel(a: float, b: float) -> float:
    if a == b:
        return 0.0
    return abs(a - b) / abs(b) if b != 0 else float("inf")


def _same_quantiles(what: str, ra, rb) -> tuple[float, str]:
    names = [q for q in QUANTILES if hasattr(ra, q) and hasattr(rb, q)]
    dev = max((_rel(float(getattr(ra, q)), float(getattr(rb, q))) for q in names), default=NAN)
    return dev, f"{what}: max relative difference {dev:.3g} over {', '.join(names)}"


def period_rows(label, eq_seed, inf, dataset, model, elements, stride, n, tol=TOLERANCE):
    """Exact rows: R and Pi at t(k) and t(k + stride) (each axis) have the same quantiles
    (per-seed error quantiles from ``eq_seed``, influence quantiles from ``inf``, each within
    the tolerance of the precision its table records, :func:`._rows.exact_tolerance`)."""
    if eq_seed is None:
        why = "no equivariance per-seed table (the period is compared per seed)"
        return [missing(f"{label} | period", f"R(k + {stride}) = R(k)", why)]
    rows = []
    sig = {g: _signature(g, n) for g in elements}
    by_sig = {s: g for g, s in sig.items()}
    infs = by_element(inf, dataset=dataset, model=model)
    for g in elements:
        d = groups.parse(g)
        if d.dx % stride == 0 and d.dy % stride == 0:
            continue
        for step in (f"t({stride},0)", f"t(0,{stride})"):
            h = by_sig.get(_product_signature(step, g, n))
            if h is None or elements.index(h) < elements.index(g):
                continue
            excess, texts, error_tol, bra_tol = [], [], {}, {}  # deviation / its tolerance
            for seed in sorted(eq_seed.seed.unique()):
                per = by_element(eq_seed, dataset=dataset, model=model, seed=seed)
                if g in per and h in per:
                    dev, text = _same_quantiles(f"error seed {seed}", per[g], per[h])
                    limit, precision = exact_tolerance(per[g], tol)
                    error_tol[precision] = limit
                    excess.append(dev / limit)
                    texts.append(text)
            if g in infs and h in infs:
                dev, text = _same_quantiles("influence", infs[g], infs[h])
                limit, precision = exact_tolerance(infs[g], tol)
                bra_tol[precision] = limit
                excess.append(dev / limit)
                texts.append(text)
            if not excess:
                continue
            worst = max(excess)
            errors = ", ".join(f"{t:g} ({p} forward passes)" for p, t in error_tol.items())
            errors = errors or f"{tol:g}"
            bras = ", ".join(f"{t:g} ({p} bras)" for p, t in bra_tol.items()) or f"{tol:g}"
            rows.append(
                row(
                    f"{label} | period {g} = {h}",
                    f"R and Pi at {h} = at {g} per example (stride {stride}): every quantile "
                    f"equal, R's within {errors} relative, Pi's within {bras}",
                    "; ".join(texts),
                    bool(np.isfinite(worst) and worst <= 1.0),
                )
            )
    return rows
