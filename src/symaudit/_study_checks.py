"""The rules of a study config that its schema cannot express, checked before any job runs.

Each rule relates two or more keys: the models a study names and its variants and datasets,
the grid and the architectures (the UNet's four stride-2 levels, the ViT's patch stride), the
time steps of the data and what training and the analysis read, the split fractions, the
element sets and the grid, the damping path and the method, the companion epochs and the kept
checkpoints.  Every violation is ONE :class:`~symaudit.errors.UserError` line that starts with
the offending key.  Each rule takes plain data (the config, mappings, the runs, a callable);
:meth:`symaudit.study.Study.from_config` runs them all, in order, on what the plan computes.

Torch-free: the grid multiples are stated here and checked against the models by
``tests/test_study.py``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence

from symaudit import names
from symaudit.errors import UserError

__all__ = [
    "GRID_MULTIPLE",
    "KOLMOGOROV_GRID_MULTIPLE",
    "check_batches",
    "check_element_sets",
    "check_grid",
    "check_scale_sets",
    "check_sources",
    "check_max_trajectories",
    "check_split",
    "check_time_steps",
    "check_variants",
    "models_per_dataset",
]

#: base architecture -> the grid sizes N it can take are the multiples of this number:
#: the UNet's total stride (``models.UNet.stride``: four stride-2 levels) and the ViT's patch
#: stride (``models._vit.PATCH``)
GRID_MULTIPLE: dict[str, int] = {"unet": 16, "vit": 4}

#: the ``kolmogorov`` element set's grid sizes are multiples of 2k (forcing wavenumber k = 4,
#: ``groups.kolmogorov.KOLMOGOROV_K``): its sample shifts by the forcing's period N/k and half
#: period N/(2k), which must be whole cells
KOLMOGOROV_GRID_MULTIPLE = 8


def check_sources(datasets: list, external_models: Mapping) -> None:
    """datasets: a study audits a dataset group or an external model."""
    if not datasets and not external_models:
        raise UserError(
            "datasets: empty and no external_models: a study needs a dataset group or an "
            "external model to audit"
        )


def check_variants(variants: Mapping) -> None:
    """variants: no variant takes an architecture's name; each builds an architecture."""
    for name, variant in variants.items():
        if name in names.ARCHITECTURES:
            raise UserError(f"variants.{name}: the name of an architecture cannot be a variant")
        if variant["model"] not in names.ARCHITECTURES:
            raise UserError(
                f"variants.{name}.model {variant['model']!r} is not an architecture "
                f"({', '.join(names.ARCHITECTURES)})"
            )


def models_per_dataset(cfg: Mapping, variants: Mapping) -> dict[str, list[str]]:
    """``models`` as {dataset: [model, ...]}: a list means every dataset.  Every name must be an
    architecture or a ``variants`` entry; a mapping must name exactly the study's datasets."""
    raw, datasets = cfg["models"], list(cfg["datasets"])
    if isinstance(raw, Mapping):
        unknown = [d for d in raw if d not in datasets]
        missing = [d for d in datasets if d not in raw]
        if unknown or missing:
            raise UserError(
                f"models: the mapping must name exactly the datasets {datasets}; "
                + (f"not a dataset of the study: {', '.join(unknown)}" if unknown else "")
                + ("; " if unknown and missing else "")
                + (f"missing: {', '.join(missing)}" if missing else "")
            )
        per_dataset = {d: list(raw[d]) for d in datasets}
    else:
        per_dataset = {d: list(raw) for d in datasets}
    known = list(names.ARCHITECTURES) + list(variants)
    for d, models in per_dataset.items():
        for name in models:
            if name not in known:
                key = f"models.{d}" if isinstance(raw, Mapping) else "models"
                raise UserError(f"{key}: unknown model {name!r}; known: {', '.join(known)}")
    return per_dataset


def check_grid(resolution: int, architectures: Mapping[str, str]) -> None:
    """data.resolution: a grid size every architecture of the study can take
    (``architectures``: model name -> the architecture it builds)."""
    n = resolution
    for base, multiple in GRID_MULTIPLE.items():
        models = [m for m, arch in architectures.items() if arch.endswith(base)]
        if models and n % multiple:
            why = "its four stride-2 levels" if base == "unet" else "its patch stride"
            raise UserError(
                f"data.resolution {n}: the {names.MODEL_LABELS[base]} ({', '.join(models)}) "
                f"needs a multiple of {multiple} ({why})"
            )


def check_split(run, variants: Mapping) -> None:
    """train.split (or a variant's) of one run (its ``model`` and resolved ``train``): the
    train and validation fractions leave the test trajectories (the analysis batches)."""
    split = run.train.get("split", {})
    total = split.get("train", 0) + split.get("val", 0)
    if total > 1:
        variant = variants.get(run.model, {}).get("train", {})
        where = f"variants.{run.model}.train.split" if "split" in variant else "train.split"
        raise UserError(
            f"{where}: train {split.get('train')} + val {split.get('val')} = {total:g} "
            "exceeds 1 (the rest are the test trajectories the analysis batches come from)"
        )


def check_max_trajectories(cfg: Mapping, runs: Iterable, variants: Mapping) -> None:
    """train.max_trajectories (or a variant's) of each run fits the train split of the
    generated data's data.trajectories per class (PDEGym files: checked when training starts)."""
    from symaudit.datasets import split_sizes
    from symaudit.settings import TRAIN

    data = cfg["data"]
    if data.get("source", "generated") != "generated":
        return
    for run in runs:
        k = run.train.get("max_trajectories")
        if k is None:
            continue
        split = {**TRAIN["split"], **run.train.get("split", {})}
        n_train, _ = split_sizes(int(data["trajectories"]), split["train"], split["val"])
        if k > n_train:
            variant = variants.get(run.model, {}).get("train", {})
            where = "variants." + run.model + ".train" if "max_trajectories" in variant else "train"
            raise UserError(
                f"{where}.max_trajectories {k}: more than the {n_train} train trajectories per "
                f"class of the split (data.trajectories {data['trajectories']}, train.split "
                f"{split['train']:g}) for {run.dataset} {run.model}"
            )


def check_time_steps(cfg: Mapping, runs: Iterable) -> None:
    """train.time_steps (frames read) and analysis.time_steps (transitions, so one frame more)
    at analysis.time_stride (the last target frame (time_steps - 1) * time_stride + 1) fit the
    generated data's data.time_steps frames (PDEGym files are checked on ingest)."""
    data = cfg["data"]
    if data.get("source", "generated") != "generated":
        return
    frames = data["time_steps"]
    for run in runs:
        read = run.train.get("time_steps")
        if read is not None and read > frames:
            raise UserError(
                f"train.time_steps {read}: longer than the data (data.time_steps = {frames} "
                f"frames, {frames - 1} transitions) for {run.dataset} {run.model}"
            )
    analysed, stride = cfg["analysis"]["time_steps"], cfg["analysis"].get("time_stride", 1)
    if stride == 1 and analysed > frames - 1:
        raise UserError(
            f"analysis.time_steps {analysed}: longer than the data (data.time_steps = {frames} "
            f"frames, {frames - 1} transitions)"
        )
    last = (analysed - 1) * stride + 1  # the last target frame (outputs.transition_frames)
    if last > frames - 1:
        raise UserError(
            f"analysis.time_stride {stride} with analysis.time_steps {analysed}: the last "
            f"transition's target is frame {last}, beyond the data (data.time_steps = {frames} "
            f"frames, 0 .. {frames - 1})"
        )


def check_batches(analysis: Mapping) -> None:
    """analysis.influence_batches is a subset of the analysis batches (their first ones)."""
    wanted, batches = analysis.get("influence_batches"), analysis["batches"]
    if wanted is not None and wanted > batches:
        raise UserError(
            f"analysis.influence_batches {wanted}: more than analysis.batches = {batches} "
            "(the influence stage uses the first of the analysis batches)"
        )


def check_element_sets(
    resolution: int, set_names: Iterable[str], elements: Callable[[str], list]
) -> None:
    """Every element set of the study exists on the grid (analysis.shift_box_K within it, the
    kolmogorov set's shifts whole cells); its elements (``elements(name)``) are computed here
    once."""
    n = resolution
    for name in set_names:
        if name == "kolmogorov" and n % KOLMOGOROV_GRID_MULTIPLE:
            raise UserError(
                f"analysis.element_sets: kolmogorov needs data.resolution divisible by "
                f"{KOLMOGOROV_GRID_MULTIPLE} (shifts by the forcing's period N/4 and half "
                f"period N/8), got {n}"
            )
        try:
            elements(name)
        except ValueError as err:
            key = "analysis.shift_box_K" if name == "shift_box" else "analysis.element_sets"
            raise UserError(f"{key}: {err}") from None


def check_model_sets(
    by_model: Mapping[str, Sequence[str]],
    sets: Mapping[str, Sequence[str]],
    models: Mapping[str, Sequence[str]],
) -> None:
    """``analysis.element_sets_by_model``: every model it names is one of the study's, every
    set it lists is analysed by a dataset group the model runs on, and the group's first set
    (the identity and the SMSEs the quality gate reads) is kept.  ``sets`` = dataset -> the
    group's element sets, ``models`` = dataset -> its models."""
    for model, wanted in by_model.items():
        key = f"analysis.element_sets_by_model.{model}"
        datasets = [d for d, ms in models.items() if model in ms]
        if not datasets:
            known = sorted({m for ms in models.values() for m in ms})
            raise UserError(f"{key}: {model!r} is no model of this study (models: {known})")
        for name in wanted:
            if not any(name in sets[d] for d in datasets):
                raise UserError(
                    f"{key}: element set {name!r} is analysed by none of its dataset groups "
                    f"({', '.join(f'{d}: {list(sets[d])}' for d in datasets)})"
                )
        for d in datasets:
            if sets[d][0] not in wanted:
                raise UserError(
                    f"{key}: must keep {sets[d][0]!r}, the first element set of {d} (it holds "
                    "the identity and the SMSEs the quality gate reads)"
                )


def check_scale_sets(sets: Mapping[str, Sequence[str]], by_dataset: Mapping) -> None:
    """``scale`` (mass scaling) only for compressible Euler: ``sets`` = dataset -> its element
    sets; ``by_dataset`` = ``analysis.element_sets_by_dataset`` (names the key at fault)."""
    for dataset, names_ in sets.items():
        if "scale" in names_ and dataset != "CE":
            key = (
                f"analysis.element_sets_by_dataset.{dataset}"
                if dataset in by_dataset
                else "analysis.element_sets"
            )
            raise UserError(
                f"{key}: element set 'scale' for dataset {dataset!r}: mass scaling is exact for "
                "compressible Euler only (list it in analysis.element_sets_by_dataset.CE)"
            )
