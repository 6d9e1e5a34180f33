"""Per-rule cost of a study: jobs (``_plan``) x per-job seconds from measured unit costs.

Unit costs (``bench/unit_costs.py`` -> ``bench/unit_costs.json``) are seconds PER EXAMPLE of
one architecture at one preset and resolution: ``forward``, ``optimiser_step``,
``per_example_gradients``, ``setup_linearize`` (building the Gauss–Newton operator), and per
vector: ``matvec_linearize`` (M v), ``jvp_linearize`` (J v) -- a product over a metric batch of n
examples costs n times its per-example value.  The formulas, per job (n = examples per analysis
batch, B = analysis batches, L = λ values, E = elements of the chunk, I = CG iterations):

* ``train_model``: epochs x (trained transitions x optimiser_step + val transitions x forward)
* ``influence_solve``: n·setup + n·gradient + (30 Lanczos + rank + L·(I + 1)·n)·n·matvec
* ``influence_bras``: B·E·n·obs·gradient, + with the Galerkin reference
  B·(n·setup + (E + 1)·(n·gradient + n²·jvp))
* ``equivariance_errors``: B·(E + 1)·n·forward; ``twirl_decomposition``: B·8·n·forward
* per run (``analysis.jobs: per_run``): ``influence_bras_{dataset}`` the sum of its chunks'
  ``influence_bras``, ``equivariance_{dataset}`` its chunks' ``equivariance_errors`` plus the
  ``twirl_decomposition`` (each chunk is measured as its own invocation would)
* ``companion_run``: (earlier epochs + 1)·(n·setup + 30·n·matvec) + earlier epochs·(rank +
  (I + 1)·n)·n·matvec on one batch (spectra and the epoch's solve)
* data and aggregation rules: not modelled (I/O and seconds); their time and memory come from a
  run's benchmark files (``--benchmarks``).

Hours are labelled with the device the unit costs were measured on: CPU-measured numbers are
CPU-hours of the kernels as this machine ran them, not GPU-hours.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path

from symaudit.cost._plan import (
    FILE_CHANNELS,
    LANCZOS_STEPS,
    OBSERVABLES,
    Plan,
    Run,
    equations,
)
from symaudit.datasets import channels_for

GB = 1e9
#: Slurm groups of the workflow's rules (workflow/rules/*.smk ``group:``)
GROUPS = {
    "influence_bras": "influence",
    "equivariance_errors": "equivariance",
    "twirl_decomposition": "equivariance",
    "lie_derivative": "equivariance",
}
COLUMNS = [
    "rule",
    "jobs",
    "device",
    "hours_per_job",
    "total_hours",
    "measured_on",
    "profile_runtime_min",
    "profile_mem_mb",
    "max_rss_mb",
    "scratch_gb_per_job",
    "scratch_gb_total",
    "submissions",
    "basis",
]


@dataclass
class Row:
    rule: str
    jobs: int
    device: str = "local"
    hours_per_job: float | None = None
    total_hours: float | None = None
    measured_on: str = "not modelled"
    profile_runtime_min: float | None = None
    profile_mem_mb: float | None = None
    max_rss_mb: float | None = None
    scratch_gb_per_job: float = 0.0
    scratch_gb_total: float = 0.0
    submissions: int = 0
    basis: str = ""


def unit_key(architecture: str, preset: str, resolution: int) -> str:
    return f"{architecture}/{preset}/{resolution}"


class Costs:
    """Seconds and bytes per job of every modelled rule of ``plan``."""

    def __init__(self, plan: Plan, units: Mapping, cg_iterations: int | None = None):
        self.plan = plan
        self.units = units.get("costs", units)
        influence = plan.cfg["influence"]
        self.iterations = int(cg_iterations or influence["max_iterations"])
        self.rank = int(influence.get("preconditioner_rank") or 0)

    def unit(self, run: Run) -> Mapping | None:
        """The run's unit costs; a ``twirled-`` model costs 8 of its base architecture."""
        key = unit_key(run.architecture, self.plan.preset, self.plan.resolution)
        if key in self.units:
            return self.units[key]
        base = run.architecture.removeprefix("twirled-")
        key = unit_key(base, self.plan.preset, self.plan.resolution)
        if base != run.architecture and key in self.units:
            return {k: 8 * v if isinstance(v, float) else v for k, v in self.units[key].items()}
        return None

    def parameters(self, run: Run) -> int:
        u = self.unit(run)
        return int(u["parameters"]) if u else 0

    # -- seconds per job, one function per rule (None: no unit cost for this run)

    def train_model(self, run: Run) -> float | None:
        u, p = self.unit(run), self.plan
        if u is None:
            return None
        train = p.cfg["train"]
        n_train, n_val = p.split(run.dataset)
        if run.max_trajectories is not None:  # the first k of the train split
            n_train = min(n_train, int(run.max_trajectories))
        per_traj = int(train["time_steps"]) - 1
        transitions = 3 * n_train * per_traj
        steps = math.ceil(transitions / int(train["batch_size"]))
        if train.get("max_batches_per_epoch"):
            steps = min(steps, int(train["max_batches_per_epoch"]))
        trained = min(transitions, steps * int(train["batch_size"]))
        val = 3 * n_val * per_traj
        return run.epochs * (trained * u["optimiser_step"] + val * u["forward"])

    def _solve(self, u: Mapping, n: int, dampings: int) -> float:
        products = dampings * (self.iterations + 1) * n + self.rank
        return products * n * u["matvec_linearize"]

    def influence_solve(self, run: Run) -> float | None:
        u, n = self.unit(run), self.plan.examples
        if u is None:
            return None
        setup = n * (u["setup_linearize"] + u["per_example_gradients"])
        lanczos = LANCZOS_STEPS * n * u["matvec_linearize"]
        return setup + lanczos + self._solve(u, n, self.plan.dampings)

    def influence_bras(self, run: Run, elements: int) -> float | None:
        u, n, b = self.unit(run), self.plan.examples, self.plan.influence_batches
        if u is None:
            return None
        seconds = (
            b * elements * n * OBSERVABLES[equations(run.dataset)] * u["per_example_gradients"]
        )
        if self.plan.cfg["influence"].get("galerkin_reference"):
            per_set = n * u["per_example_gradients"] + n * n * u["jvp_linearize"]
            seconds += b * (n * u["setup_linearize"] + (elements + 1) * per_set)
        return seconds

    def equivariance_errors(self, run: Run, elements: int) -> float | None:
        u = self.unit(run)
        return (
            None
            if u is None
            else self.plan.batches * (elements + 1) * self.plan.examples * u["forward"]
        )

    def twirl_decomposition(self, run: Run) -> float | None:
        u = self.unit(run)
        return None if u is None else self.plan.batches * 8 * self.plan.examples * u["forward"]

    def run_analysis(self, stage: str, run: Run) -> tuple[float | None, float]:
        """(seconds, scratch bytes) of one per-run job: ``stage`` is ``influence_bras`` or
        ``equivariance`` (its chunks and the twirl)."""
        chunk_rule = "influence_bras" if stage == "influence_bras" else "equivariance_errors"
        chunks = [e for s in self.plan.sets(run.dataset, run.model) for e in self.plan.chunks(s)]
        parts = [getattr(self, chunk_rule)(run, e) for e in chunks]
        scratch = sum(self.scratch(chunk_rule, run, e) for e in chunks)
        if stage == "equivariance":
            parts.append(self.twirl_decomposition(run))
            scratch += self.scratch("twirl_decomposition", run)
        seconds = None if any(p is None for p in parts) else sum(parts)
        return seconds, scratch

    def companion_run(self, run: Run) -> float | None:
        u, n = self.unit(run), self.plan.examples
        if u is None:
            return None
        earlier = self.plan.companion_epochs(run)
        spectra = (earlier + 1) * (
            n * u["setup_linearize"] + LANCZOS_STEPS * n * u["matvec_linearize"]
        )
        return spectra + earlier * self._solve(u, n, 1)

    # -- bytes per job

    def scratch(self, rule: str, run: Run | None = None, elements: int = 0) -> float:
        p, n = self.plan, self.plan.examples
        grid = p.resolution**2 * 4 * int(p.cfg["data"]["time_steps"])
        if rule in ("simulate_family", "ingest_family"):
            return sum(
                p.trajectories(d) * len(channels_for(d)) * grid * len(_families(d))
                for d in p.cfg["datasets"]
            ) / len(p.families())
        if rule == "pdegym_lookalike":
            per_file = int(p.rehearsal["per_file"])
            return sum(FILE_CHANNELS[d] * per_file * grid for d in p.cfg["datasets"]) / len(
                p.cfg["datasets"]
            )
        if run is None:
            return 0.0
        params = self.parameters(run)
        if rule == "train_model":  # kept checkpoints: weights + AdamW's two moments, fp32
            every = int(p.cfg["train"]["checkpoint_every"])
            return (2 + run.epochs // every) * 3 * params * 4
        if rule == "influence_solve":  # the solutions of every λ, fp32 rows of length P
            return p.dampings * n * params * 4
        if rule == "influence_bras":  # Π per element, batch, ket and bra (float64 variables)
            return (
                elements
                * p.influence_batches
                * n
                * n
                * 8
                * 2
                * (OBSERVABLES[equations(run.dataset)] + p.dampings)
            )
        return 0.0


def _families(dataset: str) -> list[str]:
    from symaudit import datasets

    return list(datasets.ALL_DATASETS[dataset])


def _per_job(costs: Costs, rule: str) -> list[tuple[float | None, float]]:
    """(seconds, scratch bytes) of every job of ``rule``."""
    plan = costs.plan
    split = plan.per_run_rule(rule)
    if split is not None:
        stage, runs = split
        return [costs.run_analysis(stage, r) for r in runs]
    per_run = {"train_model", "twirl_decomposition", "companion_run"}
    if rule in per_run:
        return [(getattr(costs, rule)(r), costs.scratch(rule, r)) for r in plan.runs()]
    if rule == "influence_solve":
        one = [(costs.influence_solve(r), costs.scratch(rule, r)) for r in plan.runs()]
        return one * plan.influence_batches
    if rule in ("influence_bras", "equivariance_errors"):
        return [
            (getattr(costs, rule)(r, e), costs.scratch(rule, r, e))
            for r in plan.runs()
            for s in plan.sets(r.dataset, r.model)
            for e in plan.chunks(s)
        ]
    return [(None, costs.scratch(rule))] * plan.jobs()[rule]


def build_table(
    plan: Plan,
    units: Mapping,
    profile: Mapping | None = None,
    benchmarks: Mapping[str, Mapping[str, float]] | None = None,
    cg_iterations: int | None = None,
) -> list[Row]:
    """One row per rule of ``plan.jobs()`` (see the module docstring for the formulas)."""
    from symaudit.cost._profile import rule_resources

    costs = Costs(plan, units, cg_iterations)
    machine = units.get("machine", {})
    device = machine.get("device", "cpu")
    label = f"{device.upper()}-measured ({machine.get('threads', '?')} thread(s))"
    rows = []
    for rule, jobs in plan.jobs().items():
        row = Row(rule, jobs)
        pairs = _per_job(costs, rule)
        seconds = [s for s, _ in pairs]
        if seconds and all(s is not None for s in seconds):
            row.total_hours = sum(seconds) / 3600
            row.hours_per_job = row.total_hours / len(seconds)
            row.measured_on = label
        row.scratch_gb_total = sum(b for _, b in pairs) / GB
        row.scratch_gb_per_job = row.scratch_gb_total / max(1, len(pairs))
        res = rule_resources(profile or {}, rule)
        row.device, row.profile_runtime_min, row.profile_mem_mb = res
        if row.device != "local":
            group = GROUPS.get(rule)
            size = int((profile or {}).get("group-components", {}).get(group, 1)) if group else 1
            row.submissions = math.ceil(jobs / size)
        if benchmarks and rule in benchmarks:
            row.max_rss_mb = benchmarks[rule]["max_rss_mb"]
        split = plan.per_run_rule(rule)
        if split is not None:
            row.basis = PER_RUN_BASIS[split[0]]
        else:
            row.basis = BASIS.get(rule, "not modelled")
        if rule in ("influence_solve", "companion_run"):
            row.basis += f"; I = {costs.iterations} CG iterations per λ, rank {costs.rank}"
        rows.append(row)
    return rows


BASIS = {
    "train_model": "epochs x (train transitions x optimiser_step + val transitions x forward)",
    "influence_solve": "setup + kets' gradients + Lanczos 30 + Nyström rank + L(I+1)n mat-vecs",
    "influence_bras": "B·E·n·obs gradients (+ Galerkin: setup, (E+1)(n gradients + n² JVPs))",
    "equivariance_errors": "B·(E+1)·n forwards",
    "twirl_decomposition": "B·8·n forwards",
    "companion_run": "per checkpoint: setup + Lanczos 30; per earlier epoch one solve",
}


PER_RUN_BASIS = {
    "influence_bras": "per run: the sum of its chunks' influence_bras",
    "equivariance": "per run: the sum of its chunks' equivariance_errors + twirl_decomposition",
}


def write_csv(rows: list[Row], path: str | Path) -> Path:
    from symaudit._io import atomic_path

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp, open(tmp, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=COLUMNS)
        writer.writeheader()
        for row in rows:
            writer.writerow({k: _fmt(v) for k, v in asdict(row).items()})
    return path


def _fmt(value):
    if isinstance(value, float):
        return f"{value:.6g}"
    return "" if value is None else value
