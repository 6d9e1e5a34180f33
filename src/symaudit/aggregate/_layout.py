"""Names of every table and figure the aggregation stage writes, and which paper figure is which.

The Snakemake rules name their outputs from :func:`expected_tables` and
:func:`expected_figures`, so these two functions and the plotting code share ONE registry
(:data:`LINE_FIGURES`, :data:`BOX_FIGURES`) and can never disagree about a file name.

Paper figure numbers (influence-symmetry paper, captions of Figs. 1-20):

======  ==========================================  =======================================
 fig     statistic / element set                     dataset (model)
======  ==========================================  =======================================
 1, 9    D4 relative-SMSE error (Q3)                 NS, CE
 2, 10   D4 standardised self-influence              NS, CE
 3, 13   horizontal shift error (shift_x)            CE, NS
 4, 12   vertical shift error (shift_y)              CE, NS
 5, 11   horizontal shift influence                  CE, NS
 6, 14   vertical shift influence                    CE, NS
 7, 16   shift-box error heatmap                     CE (ViT), CE (UNet)
 17, 20  shift-box error heatmap                     NS (UNet), NS (ViT)
 8, 18   shift-box influence heatmap                 CE (ViT), CE (UNet)
 15, 19  shift-box influence heatmap                 NS (UNet), NS (ViT)
======  ==========================================  =======================================

Line figures (D4, shifts) show every model of the study side by side in one axis; box heatmaps
are one figure per model, as in the paper.  A twirled model (``twirled-unet``) gets the number
of its base architecture with its own name in the stem.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from symaudit import names

__all__ = [
    "BOX_FIGURES",
    "ELEMENT_SETS",
    "FIGURE_SUFFIXES",
    "KINDS",
    "LINE_FIGURES",
    "PAPER_RANGES",
    "TABLE_SUFFIXES",
    "VALIDATION_DATASETS",
    "VALIDATION_SETS",
    "FigureSpec",
    "expected_figures",
    "expected_tables",
    "figure_specs",
    "table_stem",
]

#: the two measured quantities; ``equivariance`` = relative SMSE, ``influence`` = Pi-tilde diagonal
KINDS: tuple[str, ...] = ("equivariance", "influence")
#: element sets and dataset groups (:mod:`symaudit.names`); ``DATASETS`` = the paper's groups,
#: the validation study's own sets and groups have tables, no paper figure
ELEMENT_SETS: tuple[str, ...] = names.ELEMENT_SETS
DATASETS: tuple[str, ...] = names.PAPER_DATASETS
VALIDATION_SETS: tuple[str, ...] = names.VALIDATION_SETS
VALIDATION_DATASETS: tuple[str, ...] = names.VALIDATION_DATASETS
TABLE_SUFFIXES: tuple[str, ...] = (".csv", ".nc")
FIGURE_SUFFIXES: tuple[str, ...] = (".png", ".pdf")

#: (kind, element set, dataset) -> paper figure number; all models in one figure
LINE_FIGURES: dict[tuple[str, str, str], int] = {
    ("equivariance", "d4", "NS"): 1,
    ("equivariance", "d4", "CE"): 9,
    ("influence", "d4", "NS"): 2,
    ("influence", "d4", "CE"): 10,
    ("equivariance", "shift_x", "CE"): 3,
    ("equivariance", "shift_x", "NS"): 13,
    ("equivariance", "shift_y", "CE"): 4,
    ("equivariance", "shift_y", "NS"): 12,
    ("influence", "shift_x", "CE"): 5,
    ("influence", "shift_x", "NS"): 11,
    ("influence", "shift_y", "CE"): 6,
    ("influence", "shift_y", "NS"): 14,
}

#: (kind, dataset, base model) -> paper figure number; one shift_box heatmap per model
BOX_FIGURES: dict[tuple[str, str, str], int] = {
    ("equivariance", "CE", "vit"): 7,
    ("equivariance", "CE", "unet"): 16,
    ("equivariance", "NS", "unet"): 17,
    ("equivariance", "NS", "vit"): 20,
    ("influence", "CE", "vit"): 8,
    ("influence", "CE", "unet"): 18,
    ("influence", "NS", "unet"): 15,
    ("influence", "NS", "vit"): 19,
}

#: (kind, set, dataset) -> (lo, hi, scale) of the reference's y axis (colour range for the box)
PAPER_RANGES: dict[tuple[str, str, str], tuple[float, float, str] | None] = {
    ("equivariance", "d4", "NS"): (0.5, 1e4, "log"),
    ("equivariance", "d4", "CE"): (0.925, 1.25, "linear"),
    ("influence", "d4", "NS"): (-2.0, 6.25, "linear"),
    ("influence", "d4", "CE"): (-2.0, 6.25, "linear"),
    **{
        ("equivariance", s, d): (0.995, 1.0815, "linear")
        for s in ("shift_x", "shift_y", "shift_box")
        for d in ("CE", "NS")
    },
    ("influence", "shift_x", "CE"): (0.75, 6.1, "linear"),
    ("influence", "shift_y", "CE"): (0.75, 6.1, "linear"),
    ("influence", "shift_x", "NS"): (1.2, 5.2, "linear"),
    ("influence", "shift_y", "NS"): (1.2, 5.2, "linear"),
    ("influence", "shift_box", "CE"): None,  # reference: automatic colour range
    ("influence", "shift_box", "NS"): None,
}

_WHAT = {"equivariance": "error", "influence": "influence"}


def base_model(model: str) -> str:
    """``twirled-unet`` -> ``unet``: the architecture whose paper figure a model maps onto."""
    return model.removeprefix("twirled-")


@dataclass(frozen=True)
class FigureSpec:
    """One output figure: which table it reads and which paper figure it reproduces.

    ``model`` is ``None`` for line figures (every model of the study in one axis) and the model
    name for shift-box heatmaps.
    """

    number: int
    kind: str
    element_set: str
    dataset: str
    model: str | None = None

    @property
    def stem(self) -> str:
        """File stem, ``figNN_<set>_<error|influence>[_<model>]_<dataset>``."""
        model = f"_{self.model}" if self.model else ""
        return f"fig{self.number:02d}_{self.element_set}_{_WHAT[self.kind]}{model}_{self.dataset}"

    @property
    def table(self) -> str:
        """Stem of the table the figure is drawn from."""
        return table_stem(self.kind, self.element_set)

    @property
    def is_variant(self) -> bool:
        """True for a figure the paper does not have (a twirled model's heatmap)."""
        return self.model is not None and self.model != base_model(self.model)


def table_stem(kind: str, element_set: str, per_seed: bool = False) -> str:
    """``equivariance_d4``, ``influence_shift_box``, ``equivariance_d4_per_seed``."""
    if kind not in KINDS:
        raise ValueError(f"unknown table kind {kind!r}; known: {', '.join(KINDS)}")
    if element_set not in ELEMENT_SETS:
        raise ValueError(f"unknown element set {element_set!r}; known: {', '.join(ELEMENT_SETS)}")
    if per_seed and kind != "equivariance":
        raise ValueError("only equivariance tables have a per-seed companion")
    return f"{kind}_{element_set}" + ("_per_seed" if per_seed else "")


def expected_tables(element_sets: Iterable[str], kinds: Sequence[str] = KINDS) -> list[str]:
    """Stems of the tables ``symaudit aggregate`` writes (each as ``.csv`` and ``.nc``).

    Tables are tidy over datasets and models (those are columns), so only the element sets
    and kinds decide the file list.  Equivariance tables come with a ``*_per_seed`` companion
    holding the per-seed Q3 the headline statistic is taken over.

    Examples
    --------
    >>> expected_tables(["d4"])
    ['equivariance_d4', 'equivariance_d4_per_seed', 'influence_d4']
    """
    stems = []
    for name in element_sets:
        for kind in kinds:
            stems.append(table_stem(kind, name))
            if kind == "equivariance":
                stems.append(table_stem(kind, name, per_seed=True))
    return stems


def figure_specs(
    datasets: Iterable[str],
    models: Iterable[str],
    element_sets: Iterable[str],
    kinds: Sequence[str] = KINDS,
) -> list[FigureSpec]:
    """Every figure a study with these datasets, models, sets and kinds yields, by number.

    The validation study's own sets (:data:`VALIDATION_SETS`) and dataset groups
    (:data:`VALIDATION_DATASETS`) have tables and findings but no paper figure: they are skipped,
    and so are boosts and scalings (their figures ``boost_error``/``scale_error``, not paper
    figures, come from :mod:`._kinematic`).
    """
    datasets, models, element_sets = list(datasets), list(models), list(element_sets)
    for d in datasets:
        if d not in DATASETS + VALIDATION_DATASETS:
            known = ", ".join(DATASETS + VALIDATION_DATASETS)
            raise ValueError(f"unknown dataset {d!r}; known: {known}")
    datasets = [d for d in datasets if d in DATASETS]
    specs = []
    for kind in kinds:
        for name in element_sets:
            table_stem(kind, name)  # validates both
            if name in VALIDATION_SETS or name in names.TRANSITION_SETS:
                continue  # no paper figure (boosts, scalings: figures {set}_error, _kinematic)
            for d in datasets:
                if name == "shift_box":
                    for m in models:
                        number = BOX_FIGURES.get((kind, d, base_model(m)))
                        if number is not None:
                            specs.append(FigureSpec(number, kind, name, d, m))
                elif models:
                    specs.append(FigureSpec(LINE_FIGURES[kind, name, d], kind, name, d))
    return sorted(specs, key=lambda s: (s.number, s.stem))


def expected_figures(
    datasets: Iterable[str],
    models: Iterable[str],
    element_sets: Iterable[str],
    kinds: Sequence[str] = KINDS,
) -> list[str]:
    """File stems of the figures ``symaudit figures`` writes for a study (each ``.png``+``.pdf``):
    the paper's, then ``boost_error`` / ``scale_error`` for those sets (:mod:`._kinematic`).

    Examples
    --------
    >>> expected_figures(["NS"], ["unet", "vit"], ["d4", "shift_box"])
    ... # doctest: +NORMALIZE_WHITESPACE
    ['fig01_d4_error_NS', 'fig02_d4_influence_NS', 'fig15_shift_box_influence_unet_NS',
     'fig17_shift_box_error_unet_NS', 'fig19_shift_box_influence_vit_NS',
     'fig20_shift_box_error_vit_NS']
    """
    element_sets = list(element_sets)
    stems = [s.stem for s in figure_specs(datasets, models, element_sets, kinds)]
    # boosts and scalings: one figure per set, raw and normalised errors (not paper figures)
    extra = [f"{name}_error" for name in names.TRANSITION_SETS if name in element_sets]
    return stems + (extra if "equivariance" in kinds and list(models) else [])
