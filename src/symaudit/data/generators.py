"""Exactly equivariant look-alike data generators for the six PDEGym families.

Public API (all arrays float64, layout ``(channel, y, x)`` or ``(time, channel, y, x)``, x the
LAST axis, channels as in :func:`symaudit.datasets.channels_for`):

* :data:`GENERATORS` -- family name -> :class:`Generator` (the six names of
  :data:`symaudit.datasets.FAMILIES`);
* :data:`VALIDATION_GENERATORS` -- the generated-only families of
  :data:`symaudit.datasets.VALIDATION_FAMILIES` (``NS-Kolmogorov``: forced NS, equivariant only
  under the subgroup :func:`symaudit.groups.kolmogorov.subgroup`; ``NS-Diagonal``: the unforced
  NS solver, equivariant under all of D4, on initial conditions with a preferred diagonal);
* :func:`initial_condition` ``(family, resolution, seed) -> (C, N, N)``;
* :func:`solve` ``(family, x0, times) -> (T, C, N, N)``;
* :func:`simulate` ``(family, resolution, seed, time_steps=21) -> (T, C, N, N)`` on [0, 1];
* :func:`check_solver` -> ``{element name: max relative deviation}``;
* :func:`check_failures` -- the elements whose deviation contradicts the family's symmetry;
* :data:`TOLERANCE` -- per PDE, the largest deviation :func:`check_solver` may report;
* :func:`generator_info` -- provenance dict for stores.

Equivariance guarantees (checked by :func:`check_solver` and the tests): for every D4 element
and integer translation g, ``solve(g . x0) == g . solve(x0)`` BITWISE for compressible Euler and
to FFT round-off (about 1e-14 relative) for incompressible NS.  See the solver modules for why.
A forced family is equivariant (to the same round-off) only for g in its subgroup, and
violates equivariance by at least :data:`VIOLATION` (relative) for the checked g outside it.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

from .. import datasets, groups
from ..datasets import FAMILIES, VALIDATION_FAMILIES, channels_for
from . import _euler, _ic, _kolmogorov, _ns

__all__ = [
    "DASK_WORKER_CONFIG",
    "GENERATORS",
    "GENERATOR_VERSION",
    "SHIFTS",
    "TOLERANCE",
    "VALIDATION_GENERATORS",
    "VIOLATION",
    "Generator",
    "check_failures",
    "check_solver",
    "expected_symmetric",
    "generator_info",
    "initial_condition",
    "simulate",
    "solve",
]

#: bump when any generator's output for a given (family, resolution, seed) changes
GENERATOR_VERSION = "1.0.0"

#: largest max-relative deviation check_solver may report, per PDE
TOLERANCE: dict[str, float] = {"compressible_euler": 0.0, "incompressible_ns": 1e-10}

#: smallest max-relative deviation a forced family must show OUTSIDE its symmetry subgroup
VIOLATION = 1e-3

#: translations checked besides the 8 D4 elements (cells along x, y)
SHIFTS: tuple[str, ...] = ("t(3,0)", "t(0,5)", "t(7,-3)")

#: dask config for a ``distributed.LocalCluster`` (or any nanny-based cluster) that runs the
#: generators.  WHY: the solvers allocate many short-lived numpy temporaries of >= 128 KiB (one
#: 128^2 float64 field, a 4 x 64^2 CE stack).  dask's nanny sets MALLOC_TRIM_THRESHOLD_=65536
#: in its workers, which also freezes glibc's adaptive mmap threshold, so every such temporary
#: is mmap'ed and unmapped: measured ~300k page faults and 2.5x the CPU time per CE-RP 64^2
#: trajectory.  Large fixed thresholds (32 MiB mmap, the glibc maximum; 64 MiB trim) remove the
#: faults entirely (the workers' memory is small, so not returning it to the OS costs nothing).
#: Usage: ``with dask.config.set(DASK_WORKER_CONFIG): cluster = LocalCluster(...)``.  The OS
#: environment overrides this config, and a nanny started earlier in the same process has
#: already copied its variables into ``os.environ``: pop MALLOC_TRIM_THRESHOLD_ and
#: MALLOC_MMAP_THRESHOLD_ from ``os.environ`` first.
DASK_WORKER_CONFIG: dict = {
    "distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": "67108864",
    "distributed.nanny.pre-spawn-environ.MALLOC_MMAP_THRESHOLD_": "33554432",
}

_NS_PARAMS = {"nu": 4e-4, "viscosity": "constant", "cfl": 0.5}
_EULER_PARAMS = {"gamma": _euler.GAMMA, "cfl": 0.4, "flux": "rusanov", "rk": 2}


@dataclass(frozen=True)
class Generator:
    """One family's look-alike generator: an IC family plus its PDE solver.

    Attributes
    ----------
    family : str
        Family name (``"CE-RP"``, ..., ``"NS-Sines"``).
    pde : str
        ``"compressible_euler"`` or ``"incompressible_ns"``.
    name : str
        Generator name recorded in store provenance.
    scheme : str
        One-line description of the numerical scheme.
    parameters : dict
        Solver parameters (JSON-serialisable).
    ic : callable
        ``(n, rng, ns_solver_or_None) -> (C, n, n)`` float64.
    ic_parameters : dict
        The IC family's constants (JSON-serialisable).
    forcing_k : int
        0: unforced (D4 x translations).  k > 0: Kolmogorov forcing A (sin(2 pi k y), 0), the
        solver :class:`symaudit.data._kolmogorov.KolmogorovSolver`.
    """

    family: str
    pde: str
    name: str
    scheme: str
    parameters: dict
    ic: Callable = field(repr=False)
    ic_parameters: dict = field(default_factory=dict)
    forcing_k: int = 0

    def solver(self, n: int):
        """The (cached) solver instance for an n x n grid."""
        if self.forcing_k:
            return _forced_solver(n, self.forcing_k)
        return _solver(self.pde, n)

    def symmetry(self, n: int) -> list[str] | None:
        """The words of the solver's symmetry subgroup on an n x n grid; None = all of D4 x T."""
        return groups.kolmogorov.subgroup(n, self.forcing_k) if self.forcing_k else None

    def initial_condition(self, resolution: int, seed: int) -> np.ndarray:
        rng = np.random.default_rng(seed)
        ns = self.solver(resolution) if self.pde == "incompressible_ns" else None
        return np.asarray(self.ic(resolution, rng, ns), dtype=np.float64)

    def solve(self, x0: np.ndarray, times: Sequence[float]) -> np.ndarray:
        x0 = np.asarray(x0)
        if x0.ndim != 3 or x0.shape[-1] != x0.shape[-2]:
            raise ValueError(
                f"{self.family}: x0 must have layout (channel, y, x) on a square grid, "
                f"got shape {x0.shape}"
            )
        return self.solver(x0.shape[-1]).solve(x0, times)


@lru_cache(maxsize=16)
def _solver(pde: str, n: int):
    if pde == "incompressible_ns":
        return _ns.NSSolver(n, **_NS_PARAMS)
    params = {k: v for k, v in _EULER_PARAMS.items() if k != "gamma"}
    return _euler.EulerSolver(n, **params)


@lru_cache(maxsize=16)
def _forced_solver(n: int, k: int):
    return _kolmogorov.KolmogorovSolver(
        n, **_NS_PARAMS, k=k, amplitude=_kolmogorov.KOLMOGOROV_AMPLITUDE
    )


_NS_SCHEME = (
    "pseudo-spectral vorticity-streamfunction, square 2/3 dealias mask |kx|,|ky| <= (N-1)//3 "
    "(Nyquist removed, applied to the IC), integrating-factor RK4 (viscosity and the mean "
    "flow's advection exact), step count per output interval ceil(dt_out max(|u_x - F_x| + "
    "|u_y - F_y|) / (cfl h)) from the input field, F its mean flow rounded to 2^-20, float64"
)
_EULER_SCHEME = (
    "unsplit finite volume, MUSCL on primitives with MC limiter and pointwise first-order "
    "positivity fallback, Rusanov flux, SSP-RK2, dt = cfl h / max((|u|+c)+(|v|+c)) clipped "
    "to output times, float64"
)

_IC_PARAMETERS = {
    "NS-BB": {
        "velocity_spectrum": "|k|^-1.5",
        "coefficients": "U[-1,1] cos/sin",
        "amplitude": _ic.BB_AMPLITUDE,
        "pre_evolution": [-_ic.BB_PRE_TIME, 0.0],
        "random_offset": True,
    },
    "NS-Gauss": {"count": 100, "alpha": [-1.0, 1.0], "sigma": [0.01, 0.1], "wrapped": True},
    "NS-Sines": {
        "p": _ic.SINES_P,
        "alpha": [-1.0, 1.0],
        "phases": [0.0, 2 * np.pi],
        "projection": "divergence-free (curl / streamfunction)",
    },
    "CE-RP": {"partition": "2x2 periodic, random split point"},
    "CE-CRP": {
        "partition": "2x2 periodic, curved, random split point",
        "p": _ic.CRP_P,
        "alpha": [-_ic.CRP_AMPLITUDE, _ic.CRP_AMPLITUDE],
        "sigma": "sin(2 pi (i x + s j y) + beta), s = +-1",
    },
    "CE-RPUI": {
        "partition": "2x2 periodic, perturbed interfaces, random split point",
        "p": _ic.RPUI_P,
        "alpha": [-_ic.RPUI_AMPLITUDE, _ic.RPUI_AMPLITUDE],
        "wavenumber_offset": 2 * _ic.RPUI_P**2,
    },
}
for _name, _ranges in _ic.CE_STATE_RANGES.items():
    _IC_PARAMETERS[_name]["state_ranges"] = {k: list(v) for k, v in _ranges.items()}


def _make(name: str) -> Generator:
    pde = FAMILIES[name].pde
    ns = pde == "incompressible_ns"
    return Generator(
        family=name,
        pde=pde,
        name="symaudit.ns_spectral" if ns else "symaudit.euler_fv",
        scheme=_NS_SCHEME if ns else _EULER_SCHEME,
        parameters=dict(_NS_PARAMS if ns else _EULER_PARAMS),
        ic=_ic.IC_FAMILIES[name],
        ic_parameters=_IC_PARAMETERS[name],
    )


#: family name -> Generator, in the registry's order
GENERATORS: dict[str, Generator] = {name: _make(name) for name in FAMILIES}

_KOLMOGOROV_SCHEME = _NS_SCHEME + (
    "; Kolmogorov body force A (sin(2 pi k y), 0): vorticity source -2 pi k A cos(2 pi k y) "
    "on modes (+-k, 0), written analytically, added to every RK4 stage; step bound adds A"
)

#: generated-only validation families (symaudit.datasets.VALIDATION_FAMILIES)
VALIDATION_GENERATORS: dict[str, Generator] = {
    "NS-Kolmogorov": Generator(
        family="NS-Kolmogorov",
        pde=VALIDATION_FAMILIES["NS-Kolmogorov"].pde,
        name="symaudit.ns_spectral_kolmogorov",
        scheme=_KOLMOGOROV_SCHEME,
        parameters={
            **_NS_PARAMS,
            "forcing": "A (sin(2 pi k y), 0)",
            "forcing_k": _kolmogorov.KOLMOGOROV_K,
            "forcing_amplitude": _kolmogorov.KOLMOGOROV_AMPLITUDE,
        },
        ic=_ic.IC_FAMILIES["NS-Gauss"],
        ic_parameters={"as": "NS-Gauss", **_IC_PARAMETERS["NS-Gauss"]},
        forcing_k=_kolmogorov.KOLMOGOROV_K,
    ),
    # case 6's control: the unforced NS solver (D4-equivariant) on data with a preferred diagonal
    "NS-Diagonal": Generator(
        family="NS-Diagonal",
        pde=VALIDATION_FAMILIES["NS-Diagonal"].pde,
        name="symaudit.ns_spectral",
        scheme=_NS_SCHEME,
        parameters=dict(_NS_PARAMS),
        ic=_ic.VALIDATION_IC_FAMILIES["NS-Diagonal"],
        ic_parameters={
            "as": "NS-Gauss",
            **_IC_PARAMETERS["NS-Gauss"],
            "anisotropy": "vorticity spectrum times exp(-beta kx ky / |k|^2) / I0(beta)^(1/2)",
            "beta": _ic.DIAGONAL_BETA,
            "distribution_symmetry": (
                "{e, r2, sr, sr3} x translations (the stabiliser of the diagonal x = y); "
                "r, r3, s, sr2 map it to the mirrored family (<u_x u_y> < 0)"
            ),
        },
    ),
}


def _generator(family: str) -> Generator:
    """The generator of a family of :func:`symaudit.datasets.family` (which names the unknown)."""
    name = datasets.family(family).name
    return GENERATORS.get(name) or VALIDATION_GENERATORS[name]


def initial_condition(family: str, resolution: int, seed: int) -> np.ndarray:
    """A seeded initial condition of a family, ``(channel, y, x)`` float64.

    Parameters
    ----------
    family : str
        One of :data:`GENERATORS`.
    resolution : int
        N, grid points per side of the periodic unit square.
    seed : int
        Seed of ``numpy.random.default_rng``; the result is a pure function of the arguments.

    Returns
    -------
    ndarray, shape (C, N, N)
        NS: velocity (u_x, u_y), dealiased and divergence-free.  CE: conservative
        (rho, m_x, m_y, E) with rho > 0, p > 0.
    """
    if int(resolution) < 8:
        raise ValueError(f"resolution must be at least 8, got {resolution}")
    return _generator(family).initial_condition(int(resolution), int(seed))


def solve(family: str, x0: np.ndarray, times: Sequence[float]) -> np.ndarray:
    """Evolve ``x0`` (at ``times[0]``) with the family's solver.

    Parameters
    ----------
    family : str
        One of :data:`GENERATORS`.
    x0 : ndarray, shape (C, N, N) = (channel, y, x)
        Initial state in the family's channels (any float dtype; computed in float64).
    times : 1-D strictly increasing sequence
        Output times in the PDE's time units (the unit square domain, T = 1 per trajectory).

    Returns
    -------
    ndarray, shape (T, C, N, N), float64
        Frame 0 is ``x0`` (CE: bitwise; NS: after the dealias/divergence-free projection).
    """
    return _generator(family).solve(x0, times)


def simulate(
    family: str, resolution: int, seed: int, time_steps: int = 21, t_end: float = 1.0
) -> np.ndarray:
    """One trajectory on ``time_steps`` uniform times in [0, t_end]: ``(T, C, N, N)`` float64."""
    if int(time_steps) < 1:
        raise ValueError(f"time_steps must be >= 1, got {time_steps}")
    times = np.linspace(0.0, float(t_end), int(time_steps))
    return solve(family, initial_condition(family, resolution, seed), times)


def check_solver(
    family: str,
    resolution: int,
    seed: int = 0,
    t_end: float = 1.0,
    frames: int = 3,
    elements: Sequence[str] | None = None,
) -> dict[str, float]:
    """Measure the solver's equivariance error for D4 and a few translations.

    For each element g: ``max|solve(g . x0) - g . solve(x0)| / max|solve(x0)|`` over all
    ``frames`` output times in [0, t_end] and all channels (x0 = the family's IC).  The action
    is :func:`symaudit.groups.act` with the family's channel kinds; a product ``"s*t(0,2)"``
    (s o t(0,2), see :mod:`symaudit.groups.kolmogorov`) shifts first.

    Returns
    -------
    dict
        element name -> max relative deviation (float), the 8 D4 elements then :data:`SHIFTS`
        (a forced family: a sample of its subgroup, then a sample outside it).  Judge with
        :func:`check_failures`.
    """
    gen = _generator(family)
    channels = channels_for(family)
    if gen.forcing_k:
        if elements is None:
            n = int(resolution)
            elements = groups.kolmogorov.subgroup_sample(n, gen.forcing_k)
            elements += groups.kolmogorov.outside_sample(n, gen.forcing_k)
        return _check_words(gen, channels, resolution, seed, t_end, frames, list(elements))
    elements = list(groups.D4) + list(SHIFTS) if elements is None else list(elements)
    found = _check_words(gen, channels, resolution, seed, t_end, frames, elements)
    return {groups.parse(name).name: deviation for name, deviation in found.items()}


def _check_words(gen, channels, resolution, seed, t_end, frames, words) -> dict[str, float]:
    """max |S(g x0) - g S(x0)| / max |S(x0)| over ``frames`` times on [0, t_end], per element
    name or word as given."""
    times = np.linspace(0.0, float(t_end), max(int(frames), 2))
    x0 = gen.initial_condition(int(resolution), int(seed))
    reference = gen.solve(x0, times)
    scale = float(np.max(np.abs(reference)))
    result = {}
    for name in words:
        moved = gen.solve(groups.act(name, x0, channels), times)
        expected = groups.act(name, reference, channels)
        result[name] = float(np.max(np.abs(moved - expected)) / scale)
    return result


def expected_symmetric(family: str, resolution: int, element: str) -> bool:
    """Whether the family's solver should commute with ``element`` (a name or word) at N."""
    gen = _generator(family)
    if not gen.forcing_k:
        return True  # the unforced solvers commute with all of D4 x translations
    return str(element).replace(" ", "") in set(gen.symmetry(int(resolution)))


def check_failures(family: str, resolution: int, deviations: dict[str, float]) -> list[str]:
    """Elements of a :func:`check_solver` result that contradict the family's symmetry: above
    ``TOLERANCE`` although symmetric, or below :data:`VIOLATION` although not (NaN fails)."""
    gen = _generator(family)
    tol = TOLERANCE[gen.pde]
    failed = []
    for name, dev in deviations.items():
        if expected_symmetric(family, resolution, name):
            if not dev <= tol:
                failed.append(name)
        elif not dev >= VIOLATION:
            failed.append(name)
    return failed


def generator_info(family: str) -> dict:
    """Provenance of a family's generator (JSON-serialisable): name, version, scheme, params."""
    gen = _generator(family)
    return {
        "generator": gen.name,
        "version": GENERATOR_VERSION,
        "family": gen.family,
        "pde": gen.pde,
        "scheme": gen.scheme,
        "parameters": dict(gen.parameters),
        "initial_condition": copy.deepcopy(gen.ic_parameters),
        "equivariance_tolerance": TOLERANCE[gen.pde],
        **(
            {
                "symmetry": "G(N, k): {e, r2} o t(dx, m N/k) u {s, sr2} o t(dx, N/(2k) + m N/k)",
                "violation_outside": VIOLATION,
            }
            if gen.forcing_k
            else {}
        ),
        "seeding": "numpy.random.default_rng(seed)",
        "dtype": "float64",
    }
