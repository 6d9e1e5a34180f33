"""Kolmogorov-forced NS (validation case 3): the derived symmetry subgroup, proved on the solver.

Oracles: the subgroup's order 4 N k (2 N k when 2k does not divide N, 2 N gcd(N, k) when k does
not divide N either); its members are EXACTLY the elements of D4 x translations that fix the
grid forcing field (exhaustive over all 8 N^2 elements); the solver commutes with every sampled
member to <= 1e-12 relative and breaks equivariance by >= 1e-3 outside; the laminar Kolmogorov
profile from rest, u_x = A/(nu K^2) (1 - exp(-nu K^2 t)) sin(K y), K = 2 pi k.  Budget ~10 s.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from symaudit import cli, datasets, groups
from symaudit.data import _kolmogorov, _ns, generators
from symaudit.data._ic import grid

FAMILY = "NS-Kolmogorov"
K = _kolmogorov.KOLMOGOROV_K


@pytest.mark.parametrize(
    ("n", "order"),
    [(16, 4 * 16 * K), (32, 4 * 32 * K), (20, 2 * 20 * K), (14, 2 * 14 * math.gcd(14, K))],
)
def test_subgroup_order(n, order):
    members = _kolmogorov.subgroup(n)
    assert len(members) == len(set(members)) == order
    assert members[0] == "e"


def test_subgroup_is_exactly_the_stabiliser_of_the_forcing():
    """Exhaustive over D4 x translations on 16^2: member <=> maps the force to itself."""
    n = 16
    members = set(_kolmogorov.subgroup(n))
    stabiliser = {
        _kolmogorov.word(h, dx, dy)
        for h in groups.D4
        for dy in range(n)
        for dx in range(n)
        if _kolmogorov.fixes_forcing(_kolmogorov.word(h, dx, dy), n)
    }
    assert stabiliser == members
    # the derivation's headline facts: pure D4 members are e and r2 only; s and sr2 need the
    # half-period y-shift N/(2k) = 2; no axis-exchanging element is ever a member
    assert {g for g in groups.D4 if g in members} == {"e", "r2"}
    assert {"s*t(0,2)", "sr2*t(0,2)", "t(0,4)", "t(5,0)"} <= members
    assert not {"t(0,2)", "r2*t(0,2)", "s*t(0,4)"} & members
    assert not any(w.split("*")[0] in ("r", "r3", "sr", "sr3") for w in members)


def test_forcing_survives_dealiasing_and_needs_fine_grid():
    with pytest.raises(ValueError, match=r"k=4 .*N=8"):
        _kolmogorov.subgroup(8)
    with pytest.raises(ValueError, match=r"k=4 .*N=12"):
        _kolmogorov.KolmogorovSolver(12)


@pytest.mark.parametrize("n", [16, 32])
def test_check_solver_exact_inside_violated_outside(n):
    dev = generators.check_solver(FAMILY, n, seed=1, t_end=1.0, frames=3)
    inside = _kolmogorov.subgroup_sample(n)
    outside = _kolmogorov.outside_sample(n)
    assert list(dev) == inside + outside
    members = set(_kolmogorov.subgroup(n))
    assert set(inside) <= members and not set(outside) & members
    # every D4 element is tested, inside (with the half-period shift) or outside
    assert {w.split("*")[0] for w in inside if not w.startswith("t(")} == {"e", "r2", "s", "sr2"}
    assert set(groups.D4) - {"e", "r2"} <= set(outside)
    for g in inside:
        assert dev[g] <= 1e-12, (g, dev[g])
    for g in outside:
        assert dev[g] >= 1e-3, (g, dev[g])
    assert generators.check_failures(FAMILY, n, dev) == []
    # the same deviations judged for an unforced family: every element must commute
    assert generators.check_failures("NS-Gauss", n, dev) == outside


def test_laminar_profile_from_rest():
    n, nu, amp = 32, 4e-4, _kolmogorov.KOLMOGOROV_AMPLITUDE
    solver = _kolmogorov.KolmogorovSolver(n, nu=nu)
    out = solver.solve(np.zeros((2, n, n)), [0.0, 0.5, 1.0])
    big_k = 2 * np.pi * K
    rate = nu * big_k**2
    profile = np.sin(big_k * grid(n))[:, None] * np.ones((1, n))
    for t, frame in zip([0.0, 0.5, 1.0], out, strict=True):
        exact = amp / rate * (1 - np.exp(-rate * t)) * profile
        assert np.max(np.abs(frame[0] - exact)) <= 1e-10
        assert np.max(np.abs(frame[1])) <= 1e-14


def test_registry_keeps_the_paper_groups():
    assert datasets.DATASETS == {
        "CE": ("CE-RP", "CE-CRP", "CE-RPUI"),
        "NS": ("NS-BB", "NS-Gauss", "NS-Sines"),
    }
    assert FAMILY not in datasets.FAMILIES and FAMILY not in generators.GENERATORS
    fam = datasets.family(FAMILY)
    assert (fam.dataset, fam.pde) == ("NSK", "incompressible_ns")
    assert datasets.channels_for("NSK") == datasets.channels_for("NS")
    info = generators.generator_info(FAMILY)
    assert info["parameters"]["forcing_k"] == K and "symmetry" in info


def test_cli_check_solver_kolmogorov(capsys):
    rc = cli.main(["check-solver", FAMILY, "--resolution", "16"])
    out = capsys.readouterr().out.splitlines()
    assert rc == 0, out
    rows = {line.split()[0]: line.split()[2:] for line in out[:-1]}
    assert [w for w, tag in rows.items() if tag == ["in", "G"]] == _kolmogorov.subgroup_sample(16)
    assert out[-1].startswith("PASS NS-Kolmogorov N=16")


def test_cli_check_solver_catches_a_missing_force(monkeypatch, capsys):
    """Without the force every element commutes: the 'outside' rows must fail the check."""
    monkeypatch.setattr(
        generators, "_forced_solver", lambda n, k: _ns.NSSolver(n, **generators._NS_PARAMS)
    )
    rc = cli.main(["check-solver", FAMILY, "--resolution", "16"])
    out = capsys.readouterr().out.splitlines()
    assert rc == 1
    assert out[-1].startswith("FAIL") and "exceeded by r, r3, s" in out[-1]


def test_simulate_store_self_test(tmp_path):
    from symaudit.data.generate import generate_store

    store = generate_store(
        FAMILY,
        tmp_path / "k.zarr",
        resolution=16,
        trajectories=2,
        seed=0,
        time_steps=3,
        cluster={"kind": "none"},
        progress=False,
    )
    test = store.attrs["equivariance_self_test"]
    assert test["passed"] is True
    assert store.attrs["dataset"] == "NSK" and store.shape == (2, 3, 2, 16, 16)
