"""Case 6's control: a diagonal anisotropy of the DATA under the CORRECT pairing (descriptive).

{r, r3, s, sr2}, where the paper's NS failures sit and where a wrongly paired action is g o neg,
is also the coset of {e, r2, sr, sr3}, the stabiliser of the diagonal: data with a preferred
diagonal (<u_x u_y> != 0) are mapped to their mirror image by exactly those four elements.
The control family ``NS-Diagonal`` (group NSD, :data:`symaudit.datasets.DATA_SUBGROUP`) has
such data and the unforced NS solver, which commutes with all of D4: c_g = 0, so the law
R_g ~ 1 + c_g / rho predicts R = 1 at every element of the correct action, and whatever fails
there is the model's extrapolation to the mirrored data.  Rows, per model of every such
dataset (none when a study has none: other studies' findings are unchanged), all
**descriptive** (no known answer: whether and how much a trained model extrapolates is what
the control measures):

* **correct pairing: elements above LARGE** -- the D4 elements whose error median (the tables'
  ``median``, as case 6's rows) exceeds :data:`._rows.LARGE`; ``holds``: exactly r, r3, s, sr2
  (the control reproduces the paper's pattern without any pairing error);
* **wrong pairing: elements above LARGE** -- the same under ``p*g*p``, beside it;
* **the law at r, r3, s, sr2** -- c_g / persistence (0 to round-off: the solver commutes) and
  the measured median R against R_hat = 1 (``commutator_law.csv``); ``holds``: every median R
  within 1 +- :data:`._law.LAW_TOL` (the law's band: no failure beyond what it allows);
* **fingerprint (a) with the correct pairing** -- median (R - 1) rho at the four (the correct
  action, pooled) over the model-free c_neg / persistence (``pairing_fingerprints.csv``,
  statistics ``kappa_correct``, ``kappa_ratio_correct``, ``c_pair``): the pairing error's
  fingerprint is this ratio = 1 (within :data:`._pairing.KAPPA_TOL`); ``holds``: the control
  shows it too (an anisotropy would then be indistinguishable from a pairing error by it).

A row whose input is absent says ``not measured`` and why (``_rows.missing``).
"""

from __future__ import annotations

from pathlib import Path

from symaudit import groups
from symaudit.datasets import DATA_SUBGROUP

from ._law import LAW_TOL
from ._pairing import CASE6, KAPPA_TOL, NON_COMMUTING, _failing_text
from ._rows import LARGE, medians, missing, num, read_table, row, select

FOUR = ", ".join(NON_COMMUTING)


def _num(x) -> str:
    return num(x, 4)


def _pattern(label: str, which: str, values: dict) -> dict:
    failing = [g for g in groups.D4 if values[g] > LARGE]
    return row(
        f"{label} | {which} pairing: elements above {LARGE:g}",
        f"reported: the D4 elements whose error median exceeds {LARGE:g} on data with a "
        f"preferred diagonal (holds: exactly {FOUR}, the paper's pattern)",
        _failing_text(failing, values),
        failing == list(NON_COMMUTING),
        "descriptive",
    )


def _law_row(label: str, law, dataset: str, model: str) -> dict:
    what = f"{label} | the law at {FOUR}: c_g = 0, R_hat = 1"
    expected = (
        f"reported: c_g/persistence 0 to round-off (the solver commutes) and median R against "
        f"R_hat = 1 (holds: every median R within 1 +- {LAW_TOL:g})"
    )
    if law is None:
        return missing(what, expected, "no commutator_law.csv (analysis.commutator)", "descriptive")
    sub = select(law, dataset=dataset, model=model, element_set="d4")
    got = {str(r.element): r for r in sub.itertuples(index=False)}
    if not all(g in got for g in NON_COMMUTING):
        why = f"no d4 rows of {dataset} {model} in commutator_law.csv"
        return missing(what, expected, why, "descriptive")
    c_max = max(float(got[g].c_max) for g in NON_COMMUTING)
    listed = ", ".join(
        f"{g} R {_num(got[g].R_median)} vs R_hat {_num(got[g].Rhat_median)} "
        f"(R/R_hat {_num(got[g].ratio_median)} [{_num(got[g].ratio_median_lo)}, "
        f"{_num(got[g].ratio_median_hi)}])"
        for g in NON_COMMUTING
    )
    commutes = all(bool(got[g].commutes) for g in NON_COMMUTING)
    within = all(abs(float(got[g].R_median) - 1.0) <= LAW_TOL for g in NON_COMMUTING)
    return row(
        what,
        expected,
        f"max c_g/persistence {c_max:.3g} (solver commutes: {commutes}); {listed}",
        commutes and within,
        "descriptive",
    )


def _fingerprint_row(label: str, fp, dataset: str, model: str) -> dict:
    what = f"{label} | fingerprint (a) with the correct pairing: (R-1)*rho vs c_neg/persistence"
    expected = (
        f"reported: median (R-1)*rho at {FOUR} of the correct action / model-free median "
        f"c_neg/persistence (the pairing error's fingerprint: 1 within {KAPPA_TOL:g}; "
        "holds: the control shows it too)"
    )
    if fp is None:
        why = "no pairing_fingerprints.csv (symaudit commutator-law --fingerprints)"
        return missing(what, expected, why, "descriptive")
    part = select(fp, dataset=dataset)
    get = {(r.model, r.statistic): r for r in part.itertuples(index=False)}
    need = [get.get((model, "kappa_correct")), get.get((model, "kappa_ratio_correct"))]
    c_pair, c_correct = get.get(("*", "c_pair")), get.get(("*", "c_correct"))
    if c_pair is None or c_correct is None or any(r is None for r in need):
        why = f"no kappa_correct/c_pair rows of {dataset} {model} (d4 and d4_swapped with c_g)"
        return missing(what, expected, why, "descriptive")
    kappa, ratio = need

    def interval(r) -> str:
        return f"{_num(r.value)} [{_num(r.lo)}, {_num(r.hi)}]"

    return row(
        what,
        expected,
        f"ratio {interval(ratio)}; (R-1)*rho {interval(kappa)}; c_neg/persistence "
        f"{interval(c_pair)}; c_g/persistence of the correct action {float(c_correct.value):.3g}",
        bool(abs(float(ratio.value) - 1.0) <= KAPPA_TOL),
        "descriptive",
        ratio.lo,
        ratio.hi,
    )


def control_rows(tables: Path) -> list[dict]:
    """The control's rows for every model of a :data:`DATA_SUBGROUP` dataset in
    ``equivariance_d4.csv`` (module docstring); [] when the study has none."""
    eq = read_table(tables, "equivariance_d4.csv")
    if eq is None:
        return []
    found = zip(eq.dataset, eq.model, strict=True)
    pairs = sorted({(d, m) for d, m in found if d in DATA_SUBGROUP})
    eq_s = read_table(tables, "equivariance_d4_swapped.csv")
    law = read_table(tables, "commutator_law.csv")
    fp = read_table(tables, "pairing_fingerprints.csv")
    rows: list[dict] = []
    for dataset, model in pairs:
        label = f"{CASE6} | control {dataset} {model}"
        right = medians(eq, dataset=dataset, model=model)
        if not set(groups.D4) <= set(right):
            why = "a D4 element absent from equivariance_d4.csv"
            rows.append(missing(f"{label} | correct pairing", "the D4 errors", why, "descriptive"))
        else:
            rows.append(_pattern(label, "correct", right))
        wrong = medians(eq_s, dataset=dataset, model=model)
        swapped = {g: wrong.get(f"p*{g}*p") for g in groups.D4}
        if any(v is None for v in swapped.values()):
            why = f"no {dataset} {model} rows in equivariance_d4_swapped.csv (set d4_swapped)"
            rows.append(missing(f"{label} | wrong pairing", "the p*g*p errors", why, "descriptive"))
        else:
            rows.append(_pattern(label, "wrong", swapped))
        rows.append(_law_row(label, law, dataset, model))
        rows.append(_fingerprint_row(label, fp, dataset, model))
    return rows
