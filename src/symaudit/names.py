"""The names and paths a study is made of, in one place: dataset groups, architectures, presets,
element sets, the source files of each stage and the output path of every per-run file.

The workflow (``workflow/rules/common.smk``: wildcard constraints, stage code, output paths),
the commands and the aggregation read them from here; ``tests/test_names.py`` checks that the
schema's enums (``workflow/schemas/config.schema.yaml``) list the same names.

Torch-free: the workflow's helpers import it.
"""

from __future__ import annotations

from pathlib import Path

from symaudit.datasets import ALL_DATASETS
from symaudit.datasets import DATASETS as _PAPER_GROUPS
from symaudit.datasets import VALIDATION_DATASETS as _VALIDATION_GROUPS
from symaudit.outputs import FINAL_CHECKPOINT

__all__ = [
    "ARCHITECTURES",
    "MODEL_LABELS",
    "CHECKPOINT",
    "COMMUTATOR",
    "CORE_CODE",
    "DATASETS",
    "DIAGNOSTICS",
    "ELEMENT_SETS",
    "EQUIVARIANCE",
    "EXTERNAL_DIR",
    "INFLUENCE",
    "LIE",
    "METRICS",
    "NOT_CODE",
    "PAPER_DATASETS",
    "PRESETS",
    "RUN_DIR",
    "SOLUTION",
    "SPLITS",
    "STAGE_CODE",
    "STORE",
    "TRAINING_CURVE",
    "TRANSITION_SETS",
    "TWIRL",
    "VALIDATION_DATASETS",
    "VALIDATION_SETS",
    "WILDCARDS",
    "stage_files",
]

#: dataset groups (``CE``, ``NS``: the paper's; ``NSK``, ``NSD``: the validation study's)
DATASETS: tuple[str, ...] = tuple(ALL_DATASETS)
PAPER_DATASETS: tuple[str, ...] = tuple(_PAPER_GROUPS)
VALIDATION_DATASETS: tuple[str, ...] = tuple(_VALIDATION_GROUPS)

#: the architectures a study's run may name (``twirled-*``: the D4-averaged control); the
#: conservation study's linear models (``symaudit.models.MODELS``) are not among them
ARCHITECTURES: tuple[str, ...] = ("unet", "vit", "twirled-unet", "twirled-vit")

#: how figures and captions name each architecture (a variant, e.g. ``unet-aug``, by its own name)
MODEL_LABELS: dict[str, str] = {
    "unet": "UNet",
    "vit": "ViT",
    "twirled-unet": "twirled UNet",
    "twirled-vit": "twirled ViT",
}

#: model sizes (the keys of ``symaudit.models.PRESETS``)
PRESETS: tuple[str, ...] = ("paper", "small", "tiny", "quick")

#: group element sets (``symaudit.groups.elements``): the grid's (``groups.ELEMENT_SETS``), then
#: those acting on transitions only (``groups.TRANSITION_SETS``: boosts, CE mass scalings, the
#: velocity negation)
ELEMENT_SETS: tuple[str, ...] = (
    "d4",
    "shift_x",
    "shift_y",
    "shift_box",
    "kolmogorov",
    "d4_swapped",
    "boost",
    "scale",
    "negation",
)
#: the sets whose elements act on (input, target) transitions: no twirl over them
TRANSITION_SETS: tuple[str, ...] = ("boost", "scale", "negation")
#: sets of the validation study only: tables and findings, no paper figure
VALIDATION_SETS: tuple[str, ...] = ("kolmogorov", "d4_swapped")

_FAMILY_PREFIXES = dict.fromkeys(f.split("-")[0] for fs in ALL_DATASETS.values() for f in fs)

#: the workflow's wildcard constraints (regular expressions)
WILDCARDS: dict[str, str] = {
    "study": r"[A-Za-z0-9_-]+",
    "dataset": "|".join(DATASETS),
    "family": rf"({'|'.join(_FAMILY_PREFIXES)})-[A-Za-z]+",
    "model": r"[a-z-]+",
    "seed": r"\d+",
    "batch": r"\d{2}",
    "set": "|".join(ELEMENT_SETS),
    "chunk": r"\d{3}",
    "external": r"[A-Za-z0-9_-]+",
}

# Per-run outputs, relative to results/{study}/; the fields are the workflow's wildcards
# (``str.format`` them, or use them as Snakemake patterns as they are).
#: a family's Zarr store
STORE = "data/{family}.zarr"
#: a training run's directory (checkpoints, splits.json, metrics.csv, config.yaml)
RUN_DIR = "models/{dataset}/{model}/seed{seed}"
CHECKPOINT = RUN_DIR + "/" + FINAL_CHECKPOINT
METRICS = RUN_DIR + "/metrics.csv"
SPLITS = RUN_DIR + "/splits.json"
TRAINING_CURVE = RUN_DIR + "/training_curve.png"
#: the ket solutions of one analysis batch (a directory)
SOLUTION = "influence/{dataset}/{model}/seed{seed}/batch{batch}/solution"
#: one chunk of an element set's influence / equivariance errors, every analysis batch (the
#: per-job NetCDF formats: symaudit.outputs)
INFLUENCE = "influence/{dataset}/{model}/seed{seed}/{set}_chunk{chunk}.nc"
EQUIVARIANCE = "equivariance/{dataset}/{model}/seed{seed}/{set}_chunk{chunk}.nc"
TWIRL = "equivariance/{dataset}/{model}/seed{seed}/twirl.nc"
#: Lie derivatives along x and y and the sub-cell profile (symaudit lie)
LIE = "equivariance/{dataset}/{model}/seed{seed}/lie.nc"
DIAGNOSTICS = "companion/{dataset}/{model}/seed{seed}/diagnostics.nc"
#: the generating solver's commutator c_g on one seed's analysis examples (model-free)
COMMUTATOR = "commutator/{dataset}/seed{seed}/commutator.nc"
#: an external model's audit (`external_models`): tables/ and report.html
EXTERNAL_DIR = "external/{external}"

# The library code each stage runs, relative to the package (globs): the workflow lists it as
# rule inputs, so that editing a stage's code reruns that stage and what follows it.  Only code
# that can change a stage's numbers: not the command dispatcher (cli.py), the package docstring
# (__init__.py), the file writer (_io.py), these names, the training front end
# (training/cli.py: arguments and help) or the model-info command (models/cli.py).
CORE_CODE: tuple[str, ...] = (
    "groups/*.py",
    "datasets.py",
    "store.py",
    "settings.py",
    "_store_meta.py",  # the stores' attrs: how every stage reads them (decode_attrs)
)
NOT_CODE: frozenset[str] = frozenset({"training/cli.py", "models/cli.py"})
STAGE_CODE: dict[str, tuple[str, ...]] = {
    "data": (*CORE_CODE, "dims.py", "data/*.py"),
    "train": (*CORE_CODE, "losses.py", "models/*.py", "runs.py", "training/*.py"),
    "influence": (*CORE_CODE, "losses.py", "outputs.py", "runs.py", "influence/*.py"),
    "equivariance": (
        *CORE_CODE,
        "losses.py",
        "outputs.py",
        "runs.py",
        "testing.py",
        "equivariance/*.py",
    ),
    "aggregate": (*CORE_CODE, "outputs.py", "aggregate/*.py"),
    # the solvers, the analysis examples (runs.py) and the splits training makes
    "commutator": (*CORE_CODE, "outputs.py", "runs.py", "data/*.py", "training/_data.py"),
    "audit": (
        *CORE_CODE,
        "baselines.py",
        "dims.py",
        "losses.py",
        "aggregate/*.py",
        "equivariance/*.py",
        "influence/*.py",
        "audit/*.py",
    ),
    "validation": (
        *CORE_CODE,
        "aggregate/_robustness.py",
        "validation/*.py",
        # case 7 (findings --kinematic) computes with the solvers, the statistics and a UNet
        "data/*.py",
        "losses.py",
        "models/*.py",
        "equivariance/*.py",
    ),
    "companion": (
        *CORE_CODE,
        "losses.py",
        "models/*.py",
        "outputs.py",
        "runs.py",
        "influence/*.py",
        "companion/*.py",
    ),
    "conservation": (
        *CORE_CODE,
        "losses.py",
        "models/*.py",
        "training/*.py",
        "equivariance/*.py",
        "conservation/*.py",
    ),
}


def stage_files(stage: str, package: Path | None = None) -> list[Path]:
    """The source files of a stage (:data:`STAGE_CODE` but :data:`NOT_CODE`) under ``package``
    (default: this package), each pattern's files sorted, in the patterns' order."""
    root = Path(__file__).parent if package is None else Path(package)
    files: list[Path] = []
    for pattern in STAGE_CODE[stage]:
        found = (p for p in root.glob(pattern) if p.relative_to(root).as_posix() not in NOT_CODE)
        files += sorted(found)
    return files
