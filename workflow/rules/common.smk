# Set-up shared by the rules and one-line input functions over the study plan (symaudit.study:
# runs, element sets, chunks, the files each stage produces); no rules in this file.
import json
import os
import shlex
import sys
from pathlib import Path

# symaudit from THIS checkout (not whichever copy is installed), as the rules' jobs (PYTHONPATH)
sys.path.insert(0, str(Path(workflow.basedir) / "src"))

from symaudit.errors import UserError
from symaudit.study import Study


def _refuse(message):  # a mistake: one line, exit code 2, before anything runs
    sys.stderr.write(f"symaudit config: {message}\n")
    sys.exit(2)


# One config file is one study, the same from any directory (symaudit.study.Study.load): the
# --configfile files (none: config/config.yaml, the quick study), each through its `extends`,
# then --config; the schema's defaults filled in; the cross-field rules checked.
try:
    PLAN = Study.load(
        workflow.overwrite_configfiles, workflow.config_settings.config, workflow.basedir
    )
except UserError as _err:
    _refuse(_err)
config.clear()
config.update(PLAN.config)
sys.stderr.write(f"{PLAN.summary()}\n")  # the resolved study: a dry run's first line

from symaudit import aggregate as symaudit_aggregate
from symaudit import companion as symaudit_companion
from symaudit import names as symaudit_names
from symaudit import settings as symaudit_settings

STUDY = PLAN.name
RESULTS = PLAN.results
SRC = Path(workflow.basedir) / "src" / "symaudit"
# Jobs run `python -m symaudit` from THIS checkout with Snakemake's interpreter (--sdm conda:
# its own), locally and through sbatch.  One thread per job unless set: a CPU reduction's
# rounding depends on the thread count, so results are bitwise the same wherever a job runs.
# The quality gate reaches the CLIs' warnings through the environment (it changes no number).
os.environ.update(
    PYTHONPATH=os.pathsep.join(filter(None, [str(SRC.parent), os.environ.get("PYTHONPATH")])),
    PATH=os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]),
    SYMAUDIT_MAX_PERSISTENCE_RATIO=str(config["quality"]["max_persistence_ratio"]),
)
os.environ.setdefault("OMP_NUM_THREADS", "1")
# Site settings of workflow/profiles/slurm (docs/slurm.md): unset means the cluster's default
# (left out of sbatch); optional, hence no `envvars:` directive (it demands them).
_GPU_OPTION = "SYMAUDIT_SLURM_GPU_OPTION"
for _site in ("ACCOUNT", "CPU_PARTITION", "GPU_PARTITION", "GPU_OPTION"):
    os.environ.setdefault(f"SYMAUDIT_SLURM_{_site}", "")
if os.environ[_GPU_OPTION] not in ("", "gpus", "gres"):
    _refuse(
        f"{_GPU_OPTION}={os.environ[_GPU_OPTION]!r}: "
        "expected gpus (sbatch --gpus=N, the default) or gres (sbatch --gres=gpu:N)"
    )


wildcard_constraints:
    **symaudit_names.WILDCARDS,


def stage_code(stage):
    """A stage's source files (names.STAGE_CODE: editing one reruns the stage), relative to the
    working directory (a moved or copied checkout keeps its provenance and reruns nothing)."""
    return [os.path.relpath(p) for p in symaudit_names.stage_files(stage, SRC)]


def section(name):
    """A config section as compact JSON for a CLI's --settings, less the keys that steer only
    the DAG (settings.WORKFLOW_ONLY: a rule param's change reruns the rule)."""
    drop = symaudit_settings.WORKFLOW_ONLY.get(name, ())
    return _json({k: v for k, v in config.get(name, {}).items() if k not in drop})


def _json(value):  # compact, sorted: the same text for the same settings (rule params)
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def solution_output(path):
    """The influence solutions of one batch: temporary unless influence.keep_solutions."""
    keep = config["influence"].get("keep_solutions", True)
    return directory(path) if keep else temp(directory(path))


# --- one-line input functions over the plan (wildcards: the rule's dataset, model, seed, set)
def train_settings(w):  # the run's train section: the CLI's --settings
    return _json(PLAN.run_train(w.dataset, w.model))


def family_stores(w):  # the three class stores of a dataset group, in the paper's order
    return PLAN.family_stores(w.dataset)


def model_dir(w):
    return PLAN.run_dir(w.dataset, w.model, w.seed)


# glibc returns the forward pass's large float64 buffers to the kernel and maps them afresh at
# every element (measured, NS UNet equivariance job in float64: 33 s user + 64 s system CPU;
# with both thresholds raised 33 s + 1 s, peak RSS 0.8 -> 1.6 GB); no number changes.
MALLOC_KEEP = "MALLOC_MMAP_THRESHOLD_=4294967296 MALLOC_TRIM_THRESHOLD_=4294967296 "


def analysis_malloc():  # the forward-pass rules' environment prefix (float64 only)
    return MALLOC_KEEP if config["analysis"]["dtype"] == "float64" else ""


def train_threads(w):  # train.threads: part of a CPU run's numbers, so the config's, not a default
    return PLAN.run_train(w.dataset, w.model)["threads"]


def train_malloc(w):  # the same for a run trained in float64: its training and its solves
    return MALLOC_KEEP if PLAN.run_train(w.dataset, w.model)["dtype"] == "float64" else ""


def chunk_elements(w):  # shell-quoted: names such as t(3,0) need quotes
    return shlex.join(PLAN.chunks(w.set)[int(w.chunk)])


def pdegym_files(w):  # the PDEGym netCDF files of one family (config key pdegym_dir)
    return PLAN.pdegym_files(w.family)


def quality_run_arguments(wildcards, input):  # --run DATASET MODEL SEED METRICS EQUIVARIANCE
    return PLAN.run_arguments(input.metrics, input.equivariance)


def companion_run_arguments(wildcards, input):  # --run D M SEED INFLUENCE RUN_DIR DIAGNOSTICS
    run_dirs = [Path(m).parent for m in input.metrics]
    return PLAN.run_arguments(input.influence, run_dirs, input.diagnostics)


def expected_tables():  # symaudit.aggregate's tables of the study's element sets
    return symaudit_aggregate.expected_tables(PLAN.study_sets())


def twirl_tables():  # the D4 twirl-decomposition table (CSV only), when the study analyses D4
    return ["twirl_d4"] if "d4" in PLAN.study_sets() else []


def expected_figures():  # figure stems per dataset and model with its own element sets
    stems = (
        symaudit_aggregate.expected_figures([d], [m], PLAN.sets(d, m))
        for d in PLAN.datasets
        for m in PLAN.models[d]
    )
    return sorted({stem for per_dataset in stems for stem in per_dataset})


def companion_outputs():  # the companion tables and figures when enabled (the report waits)
    tables = [f"{RESULTS}/tables/{name}.csv" for name in symaudit_companion.TABLES]
    figures = [f"{RESULTS}/figures/{stem}.png" for stem in symaudit_companion.FIGURES]
    return tables + figures if PLAN.companion_enabled() else []


def findings_augmented_argument():  # --augmented VARIANT=BASE ... (validation case 4)
    pairs = [f"{variant}={base}" for variant, base in PLAN.augmented_pairs()]
    return "--augmented " + " ".join(pairs) if pairs else ""


def commutator_arguments(w):  # --split-train F --split-val F --set NAME ELEMENT ... (quoted)
    return PLAN.commutator_arguments(w.dataset, w.seed)


def commutator_outputs():  # the law and fingerprint tables when analysis.commutator (findings wait)
    tables = ("commutator_law", "pairing_fingerprints")
    return [f"{RESULTS}/tables/{t}.csv" for t in tables] if PLAN.commutator_files() else []


def lie_outputs():  # the Lie-derivative tables and figure when analysis.lie (the report waits)
    tables = [f"{RESULTS}/tables/{name}.csv" for name in ("lie_derivative", "lie_profile")]
    return tables + [f"{RESULTS}/figures/subcell_profile.png"] if PLAN.lie_enabled() else []
