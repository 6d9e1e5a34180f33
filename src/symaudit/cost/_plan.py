"""What a study's workflow runs, counted from its config alone (torch-free, no data needed).

The same counts the workflow's ``common.smk`` derives (runs, element sets and chunks, analysis
batches, λ path), kept in one small class so that ``symaudit cost`` can price the paper study on a
machine that has none of its data.  ``tests/cost`` checks it against a Snakemake dry run.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from symaudit import datasets, groups
from symaudit.config import CHECKOUT, load_layers, merge
from symaudit.settings import DEFAULTS, analysed_sets, per_run, set_groups

#: samples per family in the real PDEGym files (docs/data.md §1.1)
PDEGYM_SAMPLES = {"CE": 10_000, "NS": 20_000}
#: channels per family in a store and in a PDEGym file
FILE_CHANNELS = {"CE": 5, "NS": 3}
#: bra observables per dataset: SMSE, and for CE the mass and energy drifts (influence-bras)
OBSERVABLES = {"CE": 3, "NS": 1}


def equations(dataset: str) -> str:
    """The equations (``CE`` | ``NS``) of a dataset group: NSK's families are NS flows."""
    pde = datasets.family(datasets.ALL_DATASETS[dataset][0]).pde
    return "CE" if pde == "compressible_euler" else "NS"


#: Lanczos steps of the λ_max estimate (influence.SolveOptions.lanczos_steps)
LANCZOS_STEPS = 30


#: where a config's ``extends`` is looked for when not beside the file: the checkout's config/
CONFIG_DIR = CHECKOUT / "config"


def load_config(files: Sequence[str | Path], overrides: Mapping | None = None) -> dict:
    """The study of ``files`` (later ones merged over earlier ones; a top-level ``extends:
    BASE`` merges the file over BASE, relative to its folder, else the checkout's ``config/``:
    :func:`symaudit.config.load_layers`) with every section's defaults
    (``symaudit.settings.DEFAULTS``) below it, ``overrides`` last."""
    cfg: dict = {name: copy.deepcopy(section) for name, section in DEFAULTS.items()}
    for f in files:
        study: dict = {}
        for _, layer in load_layers(Path(f), CONFIG_DIR):  # the file's bases first
            study = merge(study, layer)
        cfg = merge(cfg, study)
    return merge(cfg, overrides or {})


@dataclass(frozen=True)
class Run:
    dataset: str
    model: str
    seed: int
    architecture: str
    epochs: int
    #: train.max_trajectories of the run (a variant's, else the study's; None = all)
    max_trajectories: int | None = None


class Plan:
    """The jobs of one study, per rule, and the sizes that price them."""

    def __init__(self, cfg: Mapping):
        self.cfg = cfg
        self.study = cfg.get("study", "study")
        self.resolution = int(cfg["data"]["resolution"])
        self.preset = cfg["preset"]
        self.rehearsal = cfg.get("rehearsal") or {}

    # -- runs and data

    def _models(self, dataset: str) -> list[str]:
        raw = self.cfg["models"]
        return list(raw[dataset] if isinstance(raw, Mapping) else raw)

    def architecture(self, model: str) -> str:
        return self.cfg.get("variants", {}).get(model, {}).get("model", model)

    def runs(self) -> list[Run]:
        out = []
        for d in self.cfg["datasets"]:
            for m in self._models(d):
                variant = self.cfg.get("variants", {}).get(m, {})
                train = merge(self.cfg["train"], variant.get("train", {}))
                arch = self.architecture(m)
                epochs = int(per_run(train["epochs"], (m, arch, d), "train.epochs"))
                k = train.get("max_trajectories")
                for s in self.cfg["seeds"]:
                    out.append(Run(d, m, int(s), arch, epochs, k))
        return out

    def families(self) -> list[str]:
        return [f for d in self.cfg["datasets"] for f in datasets.ALL_DATASETS[d]]

    def trajectories(self, dataset: str) -> int:
        """Trajectories per family: generated, rehearsal look-alikes, or the real files."""
        data = self.cfg["data"]
        if data["source"] == "generated":
            return int(data["trajectories"])
        if self.rehearsal:
            return int(self.rehearsal["trajectories"])
        return PDEGYM_SAMPLES[dataset]

    def split(self, dataset: str) -> tuple[int, int]:
        """(train, val) trajectories per family (:func:`symaudit.datasets.split_sizes`)."""
        frac = self.cfg["train"]["split"]
        return datasets.split_sizes(self.trajectories(dataset), frac["train"], frac["val"])

    # -- analysis

    def sets(self, dataset: str, model: str | None = None) -> list[str]:
        return analysed_sets(self.cfg["analysis"], dataset, model)

    def set_groups(self) -> list[tuple[str, str, list[str]]]:
        """(dataset, group name, models) of the per-run analysis rules (the workflow's)."""
        return set_groups(self.cfg["analysis"], {d: self._models(d) for d in self.cfg["datasets"]})

    def elements(self, set_name: str) -> list[str]:
        names = groups.elements(set_name, self.resolution, self.cfg["analysis"].get("shift_box_K"))
        keep = self.rehearsal.get("elements_per_set")
        if keep and len(names) > keep:
            names = [names[(i * (len(names) - 1)) // (keep - 1)] for i in range(keep)]
        return names

    def chunks(self, set_name: str) -> list[int]:
        """Elements per chunk of one set (one influence_bras / equivariance_errors job each)."""
        n, size = len(self.elements(set_name)), int(self.cfg["analysis"]["chunk_size"])
        return [min(size, n - start) for start in range(0, n, size)]

    @property
    def per_run(self) -> bool:
        """``analysis.jobs: per_run``: one bras and one equivariance job per run, named per
        group of runs with the same element sets (``influence_bras_{group}``,
        ``equivariance_{group}``: :meth:`set_groups`)."""
        return self.cfg["analysis"].get("jobs", "per_run") == "per_run"

    def per_run_rules(self) -> dict[str, tuple[str, list[Run]]]:
        """Every per-run analysis rule: name -> (``influence_bras`` or ``equivariance``, its
        runs), one rule per stage and :meth:`set_groups` group."""
        runs = self.runs()
        return {
            f"{stage}_{name}": (stage, [r for r in runs if r.dataset == d and r.model in models])
            for stage in ("influence_bras", "equivariance")
            for d, name, models in self.set_groups()
        }

    def per_run_rule(self, rule: str) -> tuple[str, list[Run]] | None:
        """(``influence_bras`` or ``equivariance``, its runs) of a per-run analysis rule."""
        return self.per_run_rules().get(rule)

    @property
    def batches(self) -> int:
        return int(self.cfg["analysis"]["batches"])

    @property
    def influence_batches(self) -> int:
        """The influence stage's batches (``analysis.influence_batches``; null = all)."""
        return int(self.cfg["analysis"].get("influence_batches") or self.batches)

    @property
    def examples(self) -> int:
        """Examples per analysis batch: time_steps per class x 3 classes (runs.analysis_batch)."""
        return 3 * int(self.cfg["analysis"]["time_steps"])

    @property
    def dampings(self) -> int:
        damping = self.cfg["influence"].get("damping") or {}
        return len(damping["values"]) if isinstance(damping, Mapping) and "values" in damping else 1

    def companion_epochs(self, run: Run) -> int:
        """Checkpoints the companion stage measures before the last (companion.epochs)."""
        comp = self.cfg.get("companion", {})
        return sum(1 for e in comp.get("epochs", []) if e < run.epochs)

    # -- the rules

    def jobs(self) -> dict[str, int]:
        """Jobs per rule, as a dry run of ``all`` plans them (target rules left out)."""
        runs = self.runs()
        analysed = sum(len(self.chunks(s)) for r in runs for s in self.sets(r.dataset, r.model))
        jobs: dict[str, int] = {}
        families = len(self.families())
        if self.cfg["data"]["source"] == "generated":
            jobs["simulate_family"] = families
        else:
            if self.rehearsal:
                per_file = int(self.rehearsal["per_file"])
                parts = math.ceil(int(self.rehearsal["trajectories"]) / per_file)
                jobs["pdegym_lookalike"] = families * parts
            jobs["ingest_family"] = families
        jobs["study_config"] = 1
        jobs["train_model"] = len(runs)
        jobs["influence_solve"] = len(runs) * self.influence_batches
        if self.per_run:
            jobs.update({rule: len(runs_) for rule, (_, runs_) in self.per_run_rules().items()})
        else:
            jobs["influence_bras"] = analysed
            jobs["equivariance_errors"] = analysed
            jobs["twirl_decomposition"] = len(runs) if "d4" in self.study_sets() else 0
        if self.cfg["analysis"].get("lie"):  # workflow/rules/lie.smk
            jobs["lie_derivative"] = len(runs)
            jobs["lie_tables"] = 1
        commutator = self.cfg["analysis"].get("commutator") or {}
        if commutator.get("enabled") and self.cfg["data"]["source"] == "generated":
            wanted = set(commutator.get("element_sets", []))
            groups_ = [d for d in self.cfg["datasets"] if wanted & set(self.sets(d))]
            if groups_:  # workflow/rules/commutator.smk: one job per dataset group and seed
                jobs["commutator"] = len(groups_) * len(self.cfg["seeds"])
                jobs["commutator_law"] = 1
        if self.cfg.get("companion", {}).get("enabled"):
            jobs["companion_run"] = len(runs)
            jobs["companion_tables"] = 1
        jobs.update(model_quality=1, aggregate_tables=1)
        if self.dampings > 1:
            jobs["influence_robustness"] = 1
        jobs["figures"] = 1
        if self.cfg.get("findings", {}).get("enabled"):
            jobs["findings"] = 1
        jobs["cost_table"] = 1
        jobs["report_html"] = 1
        return {rule: n for rule, n in jobs.items() if n}

    def study_sets(self) -> list[str]:
        return list(dict.fromkeys(s for r in self.runs() for s in self.sets(r.dataset, r.model)))
