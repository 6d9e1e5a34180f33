# Helpers shared by the rules (and only helpers: no rules in this file).
import json
import os
import shlex
import sys
from pathlib import Path

from snakemake.utils import validate

# The helpers below import symaudit from THIS checkout (not whichever copy is installed), as
# the rules' jobs do (PYTHONPATH below).
sys.path.insert(0, str(Path(workflow.basedir) / "src"))

from symaudit import aggregate as symaudit_aggregate
from symaudit import companion as symaudit_companion
from symaudit import datasets as symaudit_datasets
from symaudit import groups as symaudit_groups
from symaudit import names as symaudit_names
from symaudit import settings as symaudit_settings

validate(config, schema="../schemas/config.schema.yaml")


# the influence rules the schema cannot express, checked here so that nothing runs first
symaudit_settings.check_influence(config.get("influence", {}))

#: the architectures a run may name directly (symaudit.names)
ARCHITECTURES = symaudit_names.ARCHITECTURES


def _study_models():
    """``models`` as {dataset: [model, ...]}: a list means every dataset.  Every name must be an
    architecture or a ``variants`` entry; a mapping must name exactly the study's datasets."""
    variants = config.get("variants", {})
    for name, variant in variants.items():
        if name in ARCHITECTURES:
            raise ValueError(f"variants.{name}: the name of an architecture cannot be a variant")
        if variant["model"] not in ARCHITECTURES:
            raise ValueError(
                f"variants.{name}.model {variant['model']!r} is not an architecture "
                f"({', '.join(ARCHITECTURES)})"
            )
    raw = config["models"]
    if isinstance(raw, dict):
        unknown = [d for d in raw if d not in config["datasets"]]
        missing = [d for d in config["datasets"] if d not in raw]
        if unknown or missing:
            raise ValueError(
                f"models: the mapping must name exactly the datasets {config['datasets']}; "
                + (f"not a dataset of the study: {', '.join(unknown)}" if unknown else "")
                + ("; " if unknown and missing else "")
                + (f"missing: {', '.join(missing)}" if missing else "")
            )
        per_dataset = {d: list(raw[d]) for d in config["datasets"]}
    else:
        per_dataset = {d: list(raw) for d in config["datasets"]}
    known = list(ARCHITECTURES) + list(variants)
    for d, names in per_dataset.items():
        for name in names:
            if name not in known:
                key = f"models.{d}" if isinstance(raw, dict) else "models"
                raise ValueError(f"{key}: unknown model {name!r}; known: {', '.join(known)}")
    return per_dataset


MODELS = _study_models()

STUDY = config["study"]
RESULTS = f"results/{STUDY}"


def result(template, **fields):
    """results/{study}/ + a per-run path of symaudit.names (STORE, CHECKPOINT, INFLUENCE, ...)
    with its fields filled in; rules use the templates as they are, as wildcard patterns."""
    return f"{RESULTS}/{template.format(**fields)}"


SRC = Path(workflow.basedir) / "src" / "symaudit"
# Rules run `python -m symaudit` from THIS checkout with the interpreter running Snakemake (a
# --sdm conda environment puts its own python first instead).  Jobs inherit the environment,
# locally and through sbatch, so no install is needed in a conda environment.
os.environ.update(
    PYTHONPATH=os.pathsep.join(filter(None, [str(SRC.parent), os.environ.get("PYTHONPATH")])),
    PATH=os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]),
)
# One thread per job unless the user says otherwise: jobs already run side by side on the cores
# Snakemake schedules, and a CPU reduction's rounding depends on the thread count, so results
# are bitwise the same wherever a job runs (locally or in a Slurm allocation).
os.environ.setdefault("OMP_NUM_THREADS", "1")
# Site settings of workflow/profiles/slurm (docs/slurm.md), read by its resource expressions when
# each job's resources are evaluated: unset means "the cluster's default" (an empty account or
# partition is left out of sbatch), not a literal "$SYMAUDIT_SLURM_ACCOUNT".  Optional settings,
# hence no `envvars:` directive (it demands them).
_GPU_OPTION = "SYMAUDIT_SLURM_GPU_OPTION"
for _site_variable in (
    "SYMAUDIT_SLURM_ACCOUNT",
    "SYMAUDIT_SLURM_CPU_PARTITION",
    "SYMAUDIT_SLURM_GPU_PARTITION",
    _GPU_OPTION,
):
    os.environ.setdefault(_site_variable, "")
if os.environ[_GPU_OPTION] not in ("", "gpus", "gres"):
    raise ValueError(
        f"{_GPU_OPTION}={os.environ[_GPU_OPTION]!r}: "
        "expected gpus (sbatch --gpus=N, the default) or gres (sbatch --gres=gpu:N)"
    )
# The quality gate reaches the stage CLIs (their warnings) through the environment, not as a
# rule parameter (it changes no number, so changing it must rerun nothing but the report).
os.environ.update(SYMAUDIT_MAX_PERSISTENCE_RATIO=str(config["quality"]["max_persistence_ratio"]))


wildcard_constraints:
    **symaudit_names.WILDCARDS,


def stage_code(stage):
    """The sorted source files of a stage (symaudit.names.STAGE_CODE: the library code that
    can change its numbers; rule inputs, so that editing it reruns the stage), relative to the
    working directory (so a moved or copied checkout keeps its provenance and reruns nothing)."""
    return [os.path.relpath(p) for p in symaudit_names.stage_files(stage, SRC)]


# keys that steer the DAG, not a stage's numbers: kept out of the CLIs' --settings (and so out
# of the rules' params, whose change reruns a rule)
WORKFLOW_ONLY_KEYS = symaudit_settings.WORKFLOW_ONLY


def section(name):
    """A config section as compact JSON for a CLI's --settings (defaults filled by the schema)."""
    settings = {
        key: value
        for key, value in config.get(name, {}).items()
        if key not in WORKFLOW_ONLY_KEYS.get(name, ())
    }
    return json.dumps(settings, sort_keys=True, separators=(",", ":"))


def solution_output(path):
    """The influence solutions of one batch: temporary unless influence.keep_solutions."""
    if config["influence"].get("keep_solutions", True):
        return directory(path)
    return temp(directory(path))


def architecture(model):
    """The architecture a run's model name builds (a variant's ``model``, else the name)."""
    return config.get("variants", {}).get(model, {}).get("model", model)


def run_epochs(epochs, dataset, model, key="train.epochs"):
    """``train.epochs`` for one run: an integer, or a mapping keyed by model or dataset (the
    model's key first, then a variant's architecture: ``unet-aug`` takes the UNet's epochs, so
    both take the same optimiser steps), nested at most twice."""
    if not isinstance(epochs, dict):
        return epochs
    for name in dict.fromkeys((model, architecture(model), dataset)):
        if name in epochs:
            return run_epochs(epochs[name], dataset, model, f"{key}.{name}")
    raise ValueError(f"{key} names no value for dataset {dataset} / model {model}")


def _merged(base, override):
    """``base`` with ``override`` merged in, mappings recursively (a variant's train keys)."""
    out = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merged(out[key], value)
        else:
            out[key] = value
    return out


def run_train(dataset, model):
    """The train section for one run: a variant's ``train`` merged into the study's, then
    ``epochs`` resolved to the run's value."""
    train = _merged(
        config.get("train", {}), config.get("variants", {}).get(model, {}).get("train", {})
    )
    if "epochs" in train:
        train["epochs"] = run_epochs(train["epochs"], dataset, model)
    return train


def train_settings(wildcards):
    """The run's train section as compact JSON (the CLI's --settings)."""
    return json.dumps(
        run_train(wildcards.dataset, wildcards.model), sort_keys=True, separators=(",", ":")
    )


def family_stores(wildcards):
    """The three class stores of a dataset group, in the paper's class order."""
    return [
        result(symaudit_names.STORE, family=family)
        for family in symaudit_datasets.ALL_DATASETS[wildcards.dataset]
    ]


def model_dir(wildcards):
    w = wildcards
    return result(symaudit_names.RUN_DIR, dataset=w.dataset, model=w.model, seed=w.seed)


def run_sets(dataset):
    """The element sets analysed for one dataset group: ``analysis.element_sets_by_dataset``'s
    list when it names the group, else ``analysis.element_sets``."""
    analysis = config["analysis"]
    return analysis.get("element_sets_by_dataset", {}).get(dataset, analysis["element_sets"])


def study_sets():
    """Every element set some dataset group of the study analyses (first appearance order)."""
    return list(dict.fromkeys(name for d in config["datasets"] for name in run_sets(d)))


def set_elements(set_name):
    analysis = config["analysis"]
    names = symaudit_groups.elements(
        set_name, config["data"]["resolution"], analysis.get("shift_box_K")
    )
    keep = (config.get("rehearsal") or {}).get("elements_per_set")
    if keep and len(names) > keep:  # a rehearsal's sample: the identity first, evenly spaced
        names = [names[(i * (len(names) - 1)) // (keep - 1)] for i in range(keep)]
    return names


def element_chunks(set_name):
    """The chunks of one element set, each a list of element names (one job per chunk)."""
    names = set_elements(set_name)
    size = config["analysis"]["chunk_size"]
    return [names[i : i + size] for i in range(0, len(names), size)]


def chunk_elements(wildcards):
    """The element names of one chunk, shell-quoted (names such as t(3,0) need quotes)."""
    return shlex.join(element_chunks(wildcards.set)[int(wildcards.chunk)])


def runs():
    """(dataset, model, seed) of every trained model (``models``: a list, or per dataset)."""
    return [(d, m, s) for d in config["datasets"] for m in MODELS[d] for s in config["seeds"]]


def all_model_names():
    """Every model name of the study, in first-seen order over the datasets."""
    return list(dict.fromkeys(m for d in config["datasets"] for m in MODELS[d]))


def analysis_batches():
    return [f"{k:02d}" for k in range(config["analysis"]["batches"])]


def chunk_ids(set_name):
    return [f"{c:03d}" for c in range(len(element_chunks(set_name)))]


def all_stores():
    return [
        result(symaudit_names.STORE, family=family)
        for dataset in config["datasets"]
        for family in symaudit_datasets.ALL_DATASETS[dataset]
    ]


def run_files(template):
    """A per-run path of symaudit.names (CHECKPOINT, METRICS, ...) for every run, in runs()
    order."""
    return [result(template, dataset=d, model=m, seed=s) for d, m, s in runs()]


def all_models():
    return run_files(symaudit_names.CHECKPOINT)


def all_influence():
    return [
        result(symaudit_names.INFLUENCE, dataset=d, model=m, seed=s, set=name, chunk=c)
        for d, m, s in runs()
        for name in run_sets(d)
        for c in chunk_ids(name)
    ]


def all_equivariance():
    files = [
        result(symaudit_names.EQUIVARIANCE, dataset=d, model=m, seed=s, set=name, chunk=c)
        for d, m, s in runs()
        for name in run_sets(d)
        for c in chunk_ids(name)
    ]
    return files + run_files(symaudit_names.TWIRL)


def quality_equivariance_files():
    """Per run, the first equivariance output (it holds the analysis-batch SMSEs)."""
    files = []
    for d, m, s in runs():
        first = run_sets(d)[0]
        chunk = chunk_ids(first)[0]
        files.append(
            result(symaudit_names.EQUIVARIANCE, dataset=d, model=m, seed=s, set=first, chunk=chunk)
        )
    return files


def quality_run_arguments(wildcards, input):
    """``--run DATASET MODEL SEED METRICS EQUIVARIANCE`` for every run, in input order."""
    return " ".join(
        f"--run {d} {m} {s} {metrics} {equivariance}"
        for (d, m, s), metrics, equivariance in zip(
            runs(), input.metrics, input.equivariance, strict=True
        )
    )


def pdegym_files(wildcards):
    """The PDEGym netCDF chunk files of one family (config key `pdegym_dir`)."""
    if not config.get("pdegym_dir"):
        raise ValueError("data.source is 'pdegym' but config key 'pdegym_dir' is not set")
    family_dir = Path(config["pdegym_dir"]) / wildcards.family
    files = sorted(family_dir.glob("*.nc"))
    if not files:
        raise ValueError(f"pdegym_dir: no *.nc files in {family_dir}")
    return [str(f) for f in files]


def expected_tables():
    return symaudit_aggregate.expected_tables(study_sets())


def twirl_tables():
    """The D4 twirl-decomposition table (CSV only), when the study analyses D4."""
    return ["twirl_d4"] if "d4" in study_sets() else []


def findings_enabled():
    """True when the study builds tables/findings.csv (config findings.enabled)."""
    return bool(config.get("findings", {}).get("enabled", False))


def findings_augmented_argument():
    """``--augmented VARIANT=BASE ...`` for the study's augmented variants (case 4): those whose
    train section switches on augment.d4 or augment.shifts; empty when there are none."""
    pairs = [
        f"{name}={variant['model']}"
        for name, variant in config.get("variants", {}).items()
        if name in all_model_names()
        and any(variant.get("train", {}).get("augment", {}).get(k) for k in ("d4", "shifts"))
    ]
    return "--augmented " + " ".join(pairs) if pairs else ""


def damping_path():
    """True when the study solves a damping path (influence.damping.values)."""
    return "values" in config.get("influence", {}).get("damping", {})


def robustness_figures():
    """One robustness figure per (dataset, model, element set) of a damping-path study."""
    if not damping_path():
        return []
    return [
        f"robustness_{name}_{m}_{d}"
        for d in config["datasets"]
        for m in MODELS[d]
        for name in run_sets(d)
    ]


def expected_figures():
    """Figure stems over the datasets, each with its own models and element sets (line
    figures once per dataset, shift-box heatmaps per model)."""
    stems = []
    for d in config["datasets"]:
        stems += symaudit_aggregate.expected_figures([d], MODELS[d], run_sets(d))
    return sorted(dict.fromkeys(stems))


def companion_enabled():
    """True when the study builds the companion diagnostics (config companion.enabled)."""
    return bool(config.get("companion", {}).get("enabled", False))


def companion_influence_file(dataset, model, seed):
    """The influence output holding a run's identity element: chunk 0 of the dataset's first
    element set (every set lists its identity, e or t(0,0), first)."""
    first = run_sets(dataset)[0]
    return result(
        symaudit_names.INFLUENCE, dataset=dataset, model=model, seed=seed, set=first, chunk="000"
    )


def companion_run_arguments(wildcards, input):
    """``--run DATASET MODEL SEED INFLUENCE RUN_DIR DIAGNOSTICS`` for every run, in input
    order."""
    return " ".join(
        f"--run {d} {m} {s} {influence} {Path(metrics).parent} {diagnostics}"
        for (d, m, s), influence, metrics, diagnostics in zip(
            runs(), input.influence, input.metrics, input.diagnostics, strict=True
        )
    )


def companion_epochs(dataset, model):
    """The configured ``companion.epochs`` measured for a run: those before its last epoch
    (the last is final.pt, whose influence the influence stage computes; later ones do not
    exist for this run).  Each must be an epoch training keeps a checkpoint of (1, every
    ``train.checkpoint_every``), else a one-line error before anything runs."""
    last = run_epochs(config["train"]["epochs"], dataset, model)
    every = config["train"]["checkpoint_every"]
    chosen = []
    for epoch in config.get("companion", {}).get("epochs", []):
        if epoch >= last:
            continue
        if epoch != 1 and epoch % every:
            raise ValueError(
                f"companion.epochs: {dataset} {model} keeps no checkpoint of epoch {epoch} "
                f"(training keeps epoch 1, every train.checkpoint_every = {every} and the last)"
            )
        chosen.append(epoch)
    return chosen


def companion_outputs():
    """The companion tables and figures when enabled (the report waits for them), else []."""
    if not companion_enabled():
        return []
    return [f"{RESULTS}/tables/{name}.csv" for name in symaudit_companion.TABLES] + [
        f"{RESULTS}/figures/{stem}.png" for stem in symaudit_companion.FIGURES
    ]
