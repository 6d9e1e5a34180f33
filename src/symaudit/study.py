"""The study plan: what a resolved config asks for, computed once, in the library.

:meth:`Study.from_config` takes a config resolved and filled in by :mod:`symaudit.config` and
answers what the workflow (``workflow/rules/common.smk``), the commands and the tests ask: the
runs (dataset, model, architecture, seed and the run's own train section: a variant's keys
merged in, per-model epochs resolved), the element sets of each dataset group and their chunks,
the files each stage must produce (paths of :mod:`symaudit.names` under ``results/{study}/``),
the augmented variant pairs of the findings and the companion epochs of each run.

It also checks what the schema cannot express, before any job runs (:mod:`symaudit._study_checks`):
each mistake is one :class:`~symaudit.errors.UserError` line naming the config key.

Torch-free: the workflow's helpers import it.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from symaudit import _study_checks, groups, names, settings
from symaudit import config as _config
from symaudit.config import merge
from symaudit.datasets import ALL_DATASETS
from symaudit.datasets import family as family_of
from symaudit.errors import UserError

__all__ = ["Run", "Study"]


#: CPU-seconds per training epoch at the quick preset, one thread (docs/training.md; the
#: twirled UNet's measured at 7.4 x the UNet's at 32^2, 145 vs 19.5 s; the twirled ViT's not
#: measured: 8 forward passes, 8 x the ViT's); only the ORDER of the training jobs uses them
#: (:meth:`Study.train_priority`), never a number of the study
EPOCH_SECONDS: dict[str, float] = {"unet": 13, "vit": 5.3, "twirled-unet": 96, "twirled-vit": 42}

#: the element sets an external model is audited on by default: ``symaudit.audit.DEFAULT_SETS``,
#: stated here because the audit package imports torch (tests/workflow/test_external.py checks)
AUDIT_DEFAULT_SETS: tuple[str, ...] = ("d4", "shift_x", "shift_y")


@dataclass(frozen=True)
class Run:
    """One training run: the (dataset, model, seed) triple, the architecture its model name
    builds, and its resolved ``train`` section (what ``symaudit train --settings`` receives)."""

    dataset: str
    model: str
    seed: int
    architecture: str
    train: Mapping

    @property
    def key(self) -> tuple[str, str, int]:
        return self.dataset, self.model, self.seed


class Study:
    """The plan of one study (its config: resolved, schema defaults filled in)."""

    def __init__(self, config: Mapping):
        self.config = config
        self.name: str = config["study"]
        #: where the study's outputs go (relative to the working directory)
        self.results = f"results/{self.name}"
        self.datasets: list[str] = list(config["datasets"])
        self.variants: Mapping = config.get("variants", {})
        self.resolution: int = config["data"]["resolution"]
        self._elements: dict[str, list[str]] = {}
        #: what the config was merged from (files, ``--config``), when :meth:`load` read it
        self.sources: list[str] = []

    @classmethod
    def from_config(cls, config: Mapping) -> Study:
        """The plan of ``config``, checked: every cross-field rule (models, variants, epochs,
        grid, time steps, splits, element sets, damping, companion epochs) holds, else one
        :class:`~symaudit.errors.UserError` line naming the key."""
        study = cls(config)
        study._check()
        return study

    def _check(self) -> None:
        """Every cross-field rule of the config (:mod:`symaudit._study_checks`) on what the
        plan computes; the first violation raises one line."""
        _study_checks.check_sources(self.datasets, self.external_models)
        _study_checks.check_variants(self.variants)
        self.models  # noqa: B018 (the models mapping and its names, checked as it is built)
        settings.check_influence(self.config.get("influence", {}))
        _study_checks.check_grid(
            self.resolution, {m: self.architecture(m) for m in self.model_names()}
        )
        for run in self.runs:  # resolves every run's epochs (a mapping may name no value)
            _study_checks.check_split(run, self.variants)
        _study_checks.check_time_steps(self.config, self.runs)
        _study_checks.check_max_trajectories(self.config, self.runs, self.variants)
        _study_checks.check_batches(self.config["analysis"])
        _study_checks.check_element_sets(self.resolution, self.study_sets(), self.elements)
        _study_checks.check_scale_sets(
            {d: self.sets(d) for d in self.datasets},
            self.config["analysis"].get("element_sets_by_dataset", {}),
        )
        _study_checks.check_model_sets(
            self.config["analysis"].get("element_sets_by_model", {}),
            {d: self.sets(d) for d in self.datasets},
            self.models,
        )
        for run in self.runs:
            self.companion_epochs(run.dataset, run.model)

    @classmethod
    def load(cls, files: Sequence, overrides: Mapping | None, workflow_dir: Path | str) -> Study:
        """The study Snakemake was given: ``files`` (``--configfile``; none = the workflow's
        ``config/config.yaml``) resolved through their ``extends`` with ``overrides``
        (``--config``) last (:func:`symaudit.config.resolve`), checked against the workflow's
        schema with its defaults filled in, then by the cross-field rules.  A mistake is one
        :class:`~symaudit.errors.UserError` line naming the key and the file that set it."""
        workflow_dir = Path(workflow_dir)
        resolved = _config.resolve(files, overrides, workflow_dir / "config")
        schema = workflow_dir / "workflow" / "schemas" / "config.schema.yaml"
        cfg = _config.check_schema(resolved, schema)
        try:
            study = cls.from_config(cfg)
        except UserError as err:
            raise UserError(resolved.locate(str(err))) from None
        study.sources = resolved.sources
        return study

    # --- runs ------------------------------------------------------------------------------

    @cached_property
    def models(self) -> dict[str, list[str]]:
        """``models`` as {dataset: [model, ...]}: a list means every dataset."""
        return _study_checks.models_per_dataset(self.config, self.variants)

    def architecture(self, model: str) -> str:
        """The architecture a run's model name builds (a variant's ``model``, else the name)."""
        return self.variants.get(model, {}).get("model", model)

    def run_train(self, dataset: str, model: str) -> dict:
        """The train section for one run: a variant's ``train`` merged into the study's, then
        the per-run values (``epochs``, ``dtype``: :func:`symaudit.settings.per_run`) resolved
        to the run's."""
        variant = self.variants.get(model, {}).get("train", {})
        train = merge(self.config.get("train", {}), variant)
        names = (model, self.architecture(model), dataset)
        for name in settings.PER_RUN_TRAIN_KEYS:
            if name in train:
                train[name] = settings.per_run(train[name], names, f"train.{name}")
        return train

    @cached_property
    def runs(self) -> list[Run]:
        """Every training run, datasets outermost, then the dataset's models, then seeds."""
        return [
            Run(d, m, s, self.architecture(m), self.run_train(d, m))
            for d in self.datasets
            for m in self.models[d]
            for s in self.config["seeds"]
        ]

    def train_priority(self, dataset: str, model: str) -> int:
        """A training job's Snakemake priority: its estimated CPU-seconds (epochs x
        :data:`EPOCH_SECONDS` of its architecture), at least 1.  The longest runs start first
        and every training job before any analysis job (priority 0): the critical path."""
        epochs = self.run_train(dataset, model).get("epochs", 1)
        cost = EPOCH_SECONDS.get(self.architecture(model), max(EPOCH_SECONDS.values()))
        return max(1, round(epochs * cost))

    def data_priority(self, family: str) -> int:
        """A store's job priority: above every training job's (every store before any
        training), then the highest of the training jobs that read it.  Not merely the
        latter: a store job takes ``data.cluster.workers`` cores, so once a training job holds
        one of two cores it cannot start, and the stores of the groups trained last waited
        for every training and analysis job before them (the validation study's CE and NSK
        stores were written 27 min into a 46-min run, the quick study's CE stores after 5 of
        its 10)."""
        top = max((self.train_priority(r.dataset, r.model) for r in self.runs), default=0)
        return top + max(
            (self.train_priority(r.dataset, r.model) for r in self.runs
             if family in ALL_DATASETS[r.dataset]),
            default=0,
        )  # fmt: skip

    def model_names(self) -> list[str]:
        """Every model name of the study, in first-seen order over the datasets."""
        return list(dict.fromkeys(m for d in self.datasets for m in self.models[d]))

    def augmented_pairs(self) -> list[tuple[str, str]]:
        """(variant, base) for the study's augmented variants (validation case 4): those whose
        train section switches on ``augment.d4`` or ``augment.shifts``; the base of ``X-aug``
        is the study's model ``X`` when it has one (``unet-few-aug`` -> the variant
        ``unet-few``), else the variant's architecture (``unet-aug`` -> ``unet``)."""
        used = self.model_names()
        pairs = []
        for name, variant in self.variants.items():
            augment = variant.get("train", {}).get("augment", {})
            if name not in used or not any(augment.get(k) for k in ("d4", "shifts")):
                continue
            stem = name.removesuffix("-aug")
            pairs.append((name, stem if stem != name and stem in used else variant["model"]))
        return pairs

    def companion_epochs(self, dataset: str, model: str) -> list[int]:
        """The configured ``companion.epochs`` measured for a run: those before its last epoch
        (the last is final.pt, whose influence the influence stage computes; later ones do not
        exist for this run).  Each must be an epoch training keeps a checkpoint of (1, every
        ``train.checkpoint_every``), else a one-line error."""
        train = self.run_train(dataset, model)
        last, every = train["epochs"], train["checkpoint_every"]
        chosen = []
        for epoch in self.config.get("companion", {}).get("epochs", []):
            if epoch >= last:
                continue
            if epoch != 1 and epoch % every:
                raise UserError(
                    f"companion.epochs: {dataset} {model} keeps no checkpoint of epoch {epoch} "
                    f"(training keeps epoch 1, every train.checkpoint_every = {every} and the "
                    "last)"
                )
            chosen.append(epoch)
        return chosen

    # --- element sets and chunks -----------------------------------------------------------

    def sets(self, dataset: str, model: str | None = None) -> list[str]:
        """The element sets analysed by the runs of ``dataset`` (and ``model``):
        :func:`symaudit.settings.analysed_sets` of the config's ``analysis`` section."""
        return settings.analysed_sets(self.config["analysis"], dataset, model)

    def study_sets(self) -> list[str]:
        """Every element set some run of the study analyses (first appearance order)."""
        return list(
            dict.fromkeys(name for d in self.datasets for m in self.models[d]
                          for name in self.sets(d, m))
        )  # fmt: skip

    def set_groups(self) -> list[tuple[str, str, list[str]]]:
        """(dataset, group name, models) of the per-run analysis rules
        (:func:`symaudit.settings.set_groups`; :meth:`model_pattern` constrains a rule's
        ``model`` wildcard to its group's models)."""
        return settings.set_groups(self.config["analysis"], self.models)

    @staticmethod
    def model_pattern(models: Sequence[str]) -> str:
        """The ``model`` wildcard's constraint for exactly ``models`` (a regex alternation)."""
        return "|".join(re.escape(m) for m in models)

    def elements(self, set_name: str) -> list[str]:
        """The element names of a set on the study's grid (:func:`symaudit.groups.elements`); a
        rehearsal keeps `rehearsal.elements_per_set` of them, evenly spaced from the identity."""
        if set_name not in self._elements:
            k = self.config["analysis"].get("shift_box_K")
            names = groups.elements(set_name, self.resolution, k)
            keep = (self.config.get("rehearsal") or {}).get("elements_per_set")
            if keep and len(names) > keep:  # a rehearsal's sample: the identity first, evenly
                names = [names[(i * (len(names) - 1)) // (keep - 1)] for i in range(keep)]
            self._elements[set_name] = names
        return self._elements[set_name]

    def chunks(self, set_name: str) -> list[list[str]]:
        """The chunks of one element set, each a list of element names (one job per chunk)."""
        names_ = self.elements(set_name)
        size = self.config["analysis"]["chunk_size"]
        return [names_[i : i + size] for i in range(0, len(names_), size)]

    def chunk_ids(self, set_name: str) -> list[str]:
        return [f"{c:03d}" for c in range(len(self.chunks(set_name)))]

    def analysis_batches(self) -> list[str]:
        return [f"{k:02d}" for k in range(self.config["analysis"]["batches"])]

    def influence_batches(self) -> list[str]:
        """The influence stage's batches: the first ``analysis.influence_batches`` (all when
        null); the cheap forward-pass stages use every analysis batch."""
        wanted = self.config["analysis"].get("influence_batches")
        return self.analysis_batches()[: wanted or None]

    def damping_path(self) -> bool:
        """True when the study solves a damping path (``influence.damping.values``)."""
        return "values" in (self.config.get("influence", {}).get("damping") or {})

    def findings_enabled(self) -> bool:
        """True when the study builds tables/findings.csv (``findings.enabled``)."""
        return bool(self.config.get("findings", {}).get("enabled", False))

    def companion_enabled(self) -> bool:
        """True when the study builds the companion diagnostics (``companion.enabled``)."""
        return bool(self.config.get("companion", {}).get("enabled", False))

    def lie_enabled(self) -> bool:
        """True when the study computes Lie derivatives and sub-cell profiles (``analysis.lie``)."""
        return bool(self.config["analysis"].get("lie", False))

    def commutator_sets(self, dataset: str) -> list[str]:
        """The element sets of ``dataset`` whose solver commutator is computed
        (``analysis.commutator``): none unless enabled and the data are generated (the
        generating solver known), else those of :meth:`sets` the config lists."""
        settings_ = self.config["analysis"].get("commutator") or {}
        if not settings_.get("enabled") or self.config["data"].get("source") != "generated":
            return []
        wanted = settings_.get("element_sets", [])
        return [name for name in self.sets(dataset) if name in wanted]

    def commutator_files(self) -> list[str]:
        """The commutator stage's outputs: one per dataset group (with sets) and seed."""
        return [
            self.result(names.COMMUTATOR, dataset=d, seed=s)
            for d in self.datasets
            if self.commutator_sets(d)
            for s in self.config["seeds"]
        ]

    def commutator_arguments(self, dataset: str, seed) -> str:
        """``symaudit commutator``'s ``--split-train/--split-val`` (the split of the dataset's
        first run of the seed: every run of a seed with the same fractions has the same test
        trajectories; the findings check each run's splits.json) and ``--set NAME ELEMENT ...``
        per set, shell-quoted."""
        run = next(r for r in self.runs if r.dataset == dataset and r.seed == int(seed))
        split = {**settings.TRAIN["split"], **run.train.get("split", {})}
        args = ["--split-train", str(split["train"]), "--split-val", str(split["val"])]
        for name in self.commutator_sets(dataset):
            args += ["--set", name, *self.elements(name)]
        return shlex.join(args)

    # --- files -----------------------------------------------------------------------------

    def result(self, template: str, **fields) -> str:
        """results/{study}/ + a per-run path of :mod:`symaudit.names` with its fields filled."""
        return f"{self.results}/{template.format(**fields)}"

    def family_stores(self, dataset: str) -> list[str]:
        """The three class stores of a dataset group, in the paper's class order."""
        return [self.result(names.STORE, family=f) for f in ALL_DATASETS[dataset]]

    def stores(self) -> list[str]:
        return [s for d in self.datasets for s in self.family_stores(d)]

    def run_keys(self) -> list[tuple[str, str, int]]:
        """(dataset, model, seed) of every run, in :attr:`runs` order."""
        return [run.key for run in self.runs]

    def run_dir(self, dataset: str, model: str, seed) -> str:
        return self.result(names.RUN_DIR, dataset=dataset, model=model, seed=seed)

    def run_files(self, template: str) -> list[str]:
        """A per-run path of :mod:`symaudit.names` (CHECKPOINT, METRICS, ...) for every run."""
        return [self.result(template, dataset=d, model=m, seed=s) for d, m, s in self.run_keys()]

    def chunk_files(self, template: str) -> list[str]:
        """INFLUENCE or EQUIVARIANCE for every run, element set of its dataset and chunk."""
        return [
            self.result(template, dataset=d, model=m, seed=s, set=name, chunk=c)
            for d, m, s in self.run_keys()
            for name in self.sets(d, m)
            for c in self.chunk_ids(name)
        ]

    def run_chunks(
        self, dataset: str, model: str | None = None
    ) -> list[tuple[str, str, list[str]]]:
        """(set, chunk id, elements) of every chunk a run of (``dataset``, ``model``) analyses,
        in :meth:`chunk_files` order (a per-run job's ``--task`` list)."""
        return [
            (name, c, chunk)
            for name in self.sets(dataset, model)
            for c, chunk in zip(self.chunk_ids(name), self.chunks(name), strict=True)
        ]

    def run_chunk_files(self, template: str, dataset: str, model: str | None = None) -> list[str]:
        """A per-run job's outputs: ``template`` (INFLUENCE or EQUIVARIANCE) for every chunk of
        :meth:`run_chunks`, set and chunk filled, ``{dataset}``/``{model}``/``{seed}`` left as
        the rule's wildcards (``model``: any model of the rule's :meth:`set_groups` group)."""
        keep = {"dataset": "{dataset}", "model": "{model}", "seed": "{seed}"}
        return [
            self.result(template, **keep, set=s, chunk=c)
            for s, c, _ in self.run_chunks(dataset, model)
        ]

    def task_arguments(self, dataset: str, files: Sequence[str], model: str | None = None) -> str:
        """``--task SET CHUNK OUT ELEMENT ...`` per chunk of a run of (``dataset``, ``model``),
        shell-quoted (element names such as ``t(3,0)`` need quotes); ``files`` in
        :meth:`run_chunks` order."""
        chunks = self.run_chunks(dataset, model)
        return " ".join(
            f"--task {shlex.join([name, c, out, *elements])}"
            for (name, c, elements), out in zip(chunks, files, strict=True)
        )

    def per_run_jobs(self) -> bool:
        """True when a run's chunks are measured by one job per stage (``analysis.jobs``)."""
        return self.config["analysis"].get("jobs", "per_run") == "per_run"

    def influence_files(self) -> list[str]:
        """The influence stage's outputs: every run, element set and chunk."""
        return self.chunk_files(names.INFLUENCE)

    def equivariance_files(self) -> list[str]:
        """The equivariance stage's outputs: every chunk, then every run's twirl file."""
        return self.chunk_files(names.EQUIVARIANCE) + self.run_files(names.TWIRL)

    def first_chunk(self, template: str, dataset: str, model: str, seed) -> str:
        """Chunk 0 of the dataset's first element set: it holds the identity (every set lists
        it, e or t(0,0), first) and the analysis-batch SMSEs."""
        first = self.sets(dataset, model)[0]
        return self.result(
            template, dataset=dataset, model=model, seed=seed, set=first, chunk="000"
        )

    def quality_equivariance_files(self) -> list[str]:
        """Per run, the first equivariance output (the quality gate reads its SMSEs)."""
        return [self.first_chunk(names.EQUIVARIANCE, *key) for key in self.run_keys()]

    def companion_influence_file(self, dataset: str, model: str, seed) -> str:
        """The influence output holding a run's identity element (the companion tables)."""
        return self.first_chunk(names.INFLUENCE, dataset, model, seed)

    def pdegym_files(self, family: str) -> list[str]:
        """The PDEGym netCDF chunk files of one family (``pdegym_dir/{family}/*.nc``, sorted; a
        rehearsal's look-alike files by the names its ``pdegym_lookalike`` rule writes)."""
        if not self.config.get("pdegym_dir"):
            raise UserError("pdegym_dir: data.source is 'pdegym' but pdegym_dir is not set")
        family_dir = Path(self.config["pdegym_dir"]) / family
        lookalike = self.config.get("rehearsal") or {}
        if lookalike:  # written by the rule pdegym_lookalike: named before they exist
            variable = family_of(family).netcdf_variable
            parts = -(-lookalike["trajectories"] // lookalike["per_file"])
            return [f"{family_dir}/{variable}_{part}.nc" for part in range(parts)]
        files = sorted(str(f) for f in family_dir.glob("*.nc"))
        if not files:
            raise UserError(f"pdegym_dir: no *.nc files in {family_dir}")
        return files

    def run_arguments(self, *files: Sequence) -> str:
        """``--run DATASET MODEL SEED FILE ...`` for every run: the command line by which the
        quality and companion commands get the runs, ``files`` listing one file per run each
        (in :meth:`run_keys` order)."""
        per_run = zip(self.run_keys(), *files, strict=True)
        return " ".join("--run " + " ".join(map(str, (*key, *fs))) for key, *fs in per_run)

    def robustness_figures(self) -> list[str]:
        """One robustness figure per (dataset, model, element set) of a damping-path study."""
        if not self.damping_path():
            return []
        return [
            f"robustness_{name}_{m}_{d}"
            for d in self.datasets
            for m in self.models[d]
            for name in self.sets(d, m)
        ]

    # --- external models (symaudit audit as workflow jobs, docs/audit.md §9) ----------------

    @property
    def external_models(self) -> dict[str, dict]:
        """``external_models``: name -> its entry (spec, data, audit options), config order."""
        return dict(self.config.get("external_models") or {})

    def external_dir(self, name: str) -> str:
        """results/{study}/external/{name}/: the audit's tables/ and report.html."""
        return self.result(names.EXTERNAL_DIR, external=name)

    def external_files(self) -> list[str]:
        """Every external model's report.html and tables/ folder (stage_audit's targets)."""
        return [
            f"{self.external_dir(name)}/{leaf}"
            for name in self.external_models
            for leaf in ("report.html", "tables")
        ]

    def external_inputs(self, name: str) -> dict[str, str]:
        """The files an external model's audit reads: its data and, if given, its weights."""
        entry = self.external_models[name]
        return {k: entry[k] for k in ("data", "weights") if entry.get(k)}

    def external_arguments(self, name: str) -> str:
        """The ``symaudit audit`` options of an external model besides --model, --data and
        --out, shell-quoted (the entry's keys; unset ones take the CLI's defaults; --weights
        names the same file as the rule's ``weights`` input)."""
        entry = self.external_models[name]
        args = ["--layout", entry.get("layout", "b c y x")]
        args += ["--history", str(entry.get("history", 1))]
        args += ["--sets", ",".join(entry.get("sets", AUDIT_DEFAULT_SETS))]
        for key in ("outputs", "channels", "trajectories", "time_steps", "periodic", "dims"):
            if entry.get(key) is not None:
                args += [f"--{key.replace('_', '-')}", str(entry[key])]
        if entry.get("variable"):
            args += ["--variable", entry["variable"]]
        if entry.get("influence"):
            args.append("--influence")
        if entry.get("weights"):
            args += ["--weights", entry["weights"]]
        return shlex.join(args)

    # --- the one-line account --------------------------------------------------------------

    def summary(self) -> str:
        """The study in one line: name, datasets, seeds, each run's epochs, predict, damping,
        grid, preset and what the config was merged from."""
        merged = f" [{' + '.join(self.sources)}]" if self.sources else ""
        external = ", ".join(self.external_models)
        if not self.datasets:
            return f"study {self.name}: external models {external} (no datasets){merged}"
        audited = f"; external models {external}" if external else ""
        return self._summary() + audited + merged

    def _summary(self) -> str:
        if self.config.get("conservation", {}).get("standalone"):
            c = self.config["conservation"]
            return (
                f"study {self.name}: the conservation study alone (targets "
                f"{', '.join(c['targets'])}; arms {', '.join(c['arms'])}; {c['steps']} steps)"
            )
        epochs = "; ".join(
            f"{d} " + ", ".join(f"{m} {self.run_train(d, m)['epochs']}" for m in self.models[d])
            for d in self.datasets
        )
        predict = sorted({run.train.get("predict", "state") for run in self.runs})
        return (
            f"study {self.name}: datasets {', '.join(self.datasets)}; seeds "
            f"{', '.join(map(str, self.config['seeds']))}; epochs {epochs}; predict "
            f"{'/'.join(predict)}; damping {self._damping()}; {self.resolution}^2 grid, "
            f"preset {self.config['preset']}"
        )

    def _damping(self) -> str:
        influence = self.config.get("influence", {})
        damping = influence.get("damping") or settings.DAMPING_BY_METHOD.get(
            influence.get("method"), settings.DAMPING_BY_METHOD[None]
        )
        if "values" in damping:
            values = ", ".join(
                f"{v:g}" + (" (primary)" if v == damping.get("primary") else "")
                for v in damping["values"]
            )
            text = f"{damping['mode']} path {values}"
        else:
            text = f"{damping['mode']} {damping['value']:g}"
        return text + (" + Galerkin reference" if influence.get("galerkin_reference") else "")
