"""Kolmogorov-forced NS (validation case 3): the derived symmetry subgroup proved on the solver.

Oracles (the subgroup itself: tests/groups/test_kolmogorov.py): the solver commutes with every
sampled member of G(N, k) to <= 1e-12 relative and breaks equivariance by >= 1e-3 outside; the
laminar Kolmogorov profile from rest, u_x = A/(nu K^2) (1 - exp(-nu K^2 t)) sin(K y),
K = 2 pi k.  Budget ~10 s.
"""

from __future__ import annotations

import numpy as np
import pytest

from symaudit import cli, datasets, groups
from symaudit.data import _kolmogorov, _ns, generators
from symaudit.data._ic import grid
from symaudit.groups import kolmogorov as kol

FAMILY = "NS-Kolmogorov"
K = _kolmogorov.KOLMOGOROV_K


def test_solver_needs_a_grid_that_keeps_the_forcing():
    with pytest.raises(ValueError, match=r"k=4 .*N=12"):
        _kolmogorov.KolmogorovSolver(12)


@pytest.mark.parametrize("n", [16, 32])
def test_check_solver_exact_inside_violated_outside(n):
    dev = generators.check_solver(FAMILY, n, seed=1, t_end=1.0, frames=3)
    inside = kol.subgroup_sample(n)
    outside = kol.outside_sample(n)
    assert list(dev) == inside + outside
    members = set(kol.subgroup(n))
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
    assert [w for w, tag in rows.items() if tag == ["in", "G"]] == kol.subgroup_sample(16)
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
