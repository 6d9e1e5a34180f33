"""The files passed between stages, declared once: their dims, variables and attributes, how to
read one (checked against its declaration, its identity taken from its attributes), the example
order of the analysis batches, and the names of a run's checkpoints.

Per-job NetCDF files (paths: :mod:`symaudit.names`, under ``results/{study}/``)::

    influence     influence/{dataset}/{model}/seed{s}/{set}_chunk{c}.nc   influence-bras
    equivariance  equivariance/{dataset}/{model}/seed{s}/{set}_chunk{c}.nc equivariance --out
    twirl         equivariance/{dataset}/{model}/seed{s}/twirl.nc         equivariance --twirl-out
    lie           equivariance/{dataset}/{model}/seed{s}/lie.nc           lie
    diagnostics   companion/{dataset}/{model}/seed{s}/diagnostics.nc      companion run
    commutator    commutator/{dataset}/seed{s}/commutator.nc              commutator

``commutator`` is model-free (the generating solver's c_g on a seed's analysis examples, the
seed's splits): its identity is (dataset, seed), its ``model`` empty.

Each format (:data:`FORMATS`) lists every variable a writer may write with its dims
(:class:`Variable`; ``required=False``: only in some studies, e.g. CE's drift bras or a damping
path) and the attributes every file carries; :func:`read` refuses a file that breaks its
declaration (or cannot be read at all) with ONE :class:`~symaudit.errors.UserError` line naming
the file.  A file's identity (:class:`Identity`: dataset, model, seed, element set, chunk) comes
from its attributes, never from its path.  docs/architecture.md ("Files between stages") is
generated from these declarations (:func:`markdown`; tests/test_outputs.py checks it).

Analysis examples are ordered n = t + T · class (T transitions per class, C classes):
:func:`per_class` turns ``(..., n)`` into ``(..., transition, class)`` and :func:`to_grid` turns
``(..., n, n)`` (bra rows, ket columns) into
``(..., bra_transition, bra_class, ket_transition, ket_class)``.  ``transition`` (and its bra /
ket twins) is the integer index t of an example's transition within the analysis window, not
physical time (the data stores' ``time`` is physical): its input frame is t · s and its target
frame t · s + 1, s = ``analysis.time_stride`` (default 1: frames t -> t+1;
:func:`transition_frames`, the one place the frames are computed).  Each writer gives these
dims their coordinate (:func:`transition_coords`, attributes :data:`TRANSITION_DIMS`, with a
stride s > 1 also ``time_stride`` and ``input_frame``) and records ``time_stride`` in the file's
attributes; a file written before they were named so (``time``, ``bra_time``, ``ket_time``) is
renamed on read (:func:`upgrade_dims`).

Torch-free (the workflow's helpers and the aggregation import it).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from symaudit.errors import UserError

__all__ = [
    "COMMUTATOR",
    "DIAGNOSTICS",
    "EQUIVARIANCE",
    "EXAMPLE_DIMS",
    "EXAMPLE_ORDER",
    "FINAL_CHECKPOINT",
    "FORMATS",
    "INFLUENCE",
    "KET_DIMS",
    "LIE",
    "NORMALISED",
    "PI_DIMS",
    "TRANSITION_DIMS",
    "TWIRL",
    "Format",
    "Identity",
    "Output",
    "Variable",
    "checkpoint_epoch",
    "checkpoint_name",
    "identify",
    "markdown",
    "per_class",
    "read",
    "to_grid",
    "transition_coords",
    "transition_frames",
    "upgrade_dims",
]

_WINDOW = "within the analysis window (input frame t -> t+1)"
#: the per-job files' transition dims and the attributes of their coordinates: the integer
#: index t of an example's transition (not physical time, the stores' ``time``)
TRANSITION_DIMS: dict[str, dict[str, str]] = {
    "transition": {"long_name": f"transition index {_WINDOW}", "units": "1"},
    "bra_transition": {"long_name": f"transition index of the bra example {_WINDOW}", "units": "1"},
    "ket_transition": {"long_name": f"transition index of the ket example {_WINDOW}", "units": "1"},
}
#: the influence matrix of one element set chunk: (element, batch, bra_transition, bra_class,
#: ket_transition, ket_class); bra = the transformed example's loss, ket = the perturbing example
PI_DIMS: tuple[str, ...] = (
    "element",
    "batch",
    "bra_transition",
    "bra_class",
    "ket_transition",
    "ket_class",
)
#: one value per ket solve of an analysis batch
KET_DIMS: tuple[str, ...] = ("batch", "ket_transition", "ket_class")
#: one value per analysis example (equivariance, twirl, lie)
EXAMPLE_DIMS: tuple[str, ...] = ("batch", "transition", "class")
#: the ``example_order`` attribute of the equivariance, influence and lie files
EXAMPLE_ORDER = "n = transition + time_steps * class"
#: the per-job dims as files written before the transition rename name them -> their names now
#: (:func:`upgrade_dims`, applied by :func:`read`: an old study's files still aggregate)
_LEGACY_DIMS = {"time": "transition", "bra_time": "bra_transition", "ket_time": "ket_transition"}


def transition_frames(time_steps: int, time_stride: int = 1) -> np.ndarray:
    """The input frames of the analysis window's transitions: transition t (0 .. time_steps - 1)
    goes from frame t · time_stride to frame t · time_stride + 1 (``analysis.time_stride``; 1:
    frames 0 .. time_steps - 1, the window of every study before the key).  The ONE place the
    frames are computed (the analysis batches, the commutator, the companion's rollouts and
    input distances).  int64 numpy; the last target frame is ``frames[-1] + 1``."""
    for name, value in (("time_steps", time_steps), ("time_stride", time_stride)):
        if isinstance(value, bool) or int(value) != value or value < 1:
            raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
    return np.arange(int(time_steps), dtype=np.int64) * int(time_stride)


def transition_coords(time_steps: int, *dims: str, time_stride: int = 1) -> dict[str, tuple]:
    """The coordinates of a per-job file's transition ``dims`` (default ``transition``; names
    from :data:`TRANSITION_DIMS`): ``{dim: (dim, 0 .. time_steps - 1, its attributes)}``.  With
    ``time_stride`` s > 1 the attributes say so: the ``long_name`` names the frames t·s ->
    t·s+1 and ``time_stride`` and ``input_frame`` (the :func:`transition_frames`) are added; at
    s = 1 they are :data:`TRANSITION_DIMS`' own (the files of every study before the key)."""
    frames = transition_frames(time_steps, time_stride)

    def attrs(d: str) -> dict:
        out = dict(TRANSITION_DIMS[d])
        if time_stride != 1:
            s = int(time_stride)
            window = f"(input frame {s}t -> {s}t+1)"
            out["long_name"] = out["long_name"].replace("(input frame t -> t+1)", window)
            out |= {"time_stride": s, "input_frame": frames}
        return out

    return {
        d: (d, np.arange(time_steps, dtype=np.int64), attrs(d)) for d in dims or ("transition",)
    }


def upgrade_dims(ds):
    """``ds`` (a per-job ``xarray.Dataset``) with the dims of a file written before the
    transition rename (``time``, ``bra_time``, ``ket_time``) renamed to theirs now
    (``transition``, ...), closing the file it was opened from when closed; a current file is
    returned as it is."""
    old = {k: v for k, v in _LEGACY_DIMS.items() if k in ds.dims and v not in ds.variables}
    if not old:
        return ds
    renamed = ds.rename(old)
    renamed.set_close(ds.close)  # a renamed copy does not hold the file's closer by itself
    return renamed


#: the finished run's checkpoint in its run directory (``names.CHECKPOINT``)
FINAL_CHECKPOINT = "final.pt"
_CHECKPOINT_PREFIX, _CHECKPOINT_SUFFIX = "ckpt_epoch", ".pt"


def checkpoint_name(epoch: int) -> str:
    """The kept checkpoint of ``epoch`` in a run directory: ``ckpt_epoch{E:04d}.pt``."""
    return f"{_CHECKPOINT_PREFIX}{int(epoch):04d}{_CHECKPOINT_SUFFIX}"


def checkpoint_epoch(name: str) -> int | None:
    """The epoch of a kept checkpoint's file name (:func:`checkpoint_name`), else None."""
    digits = name.removeprefix(_CHECKPOINT_PREFIX).removesuffix(_CHECKPOINT_SUFFIX)
    if len(digits) == len(name) - len(_CHECKPOINT_PREFIX) - len(_CHECKPOINT_SUFFIX):
        if len(digits) >= 4 and digits.isascii() and digits.isdigit():
            return int(digits)
    return None


@dataclass(frozen=True)
class Variable:
    """One data variable of a format: its name, dims and meaning; ``required=False`` marks a
    variable only some studies write (CE's drift bras, a damping path, Galerkin)."""

    name: str
    dims: tuple[str, ...]
    description: str
    required: bool = True


@dataclass(frozen=True)
class Format:
    """One per-job file format: ``name`` (the stage's word for it), its writer (the CLI), its
    variables, the attributes its writer records (``attrs``) and, among them, the ``identity``:
    the attributes that say which job wrote it (required by :func:`read`)."""

    name: str
    writer: str
    variables: tuple[Variable, ...]
    attrs: tuple[str, ...]
    identity: tuple[str, ...] = ("dataset", "model", "seed")

    @property
    def template(self) -> str:
        """The :mod:`symaudit.names` constant of its path: the name in capitals."""
        return self.name.upper()

    @property
    def dims(self) -> dict[str, tuple[str, ...]]:
        """Variable name -> its declared dims."""
        return {v.name: v.dims for v in self.variables}

    def check(self, ds, path: Path) -> None:
        """Raise a one-line :class:`UserError` naming ``path`` unless ``ds`` (an
        ``xarray.Dataset``) has every required variable and identity attribute, every variable
        with its declared dims, and no undeclared variable."""
        declared = self.dims
        missing = [v.name for v in self.variables if v.required and v.name not in ds.data_vars]
        missing_attrs = [a for a in self.identity if a not in ds.attrs]
        if missing or missing_attrs:
            what = [f"variable {m}" for m in missing] + [f"attribute {a}" for a in missing_attrs]
            raise UserError(f"{path}: not a complete {self.name} file (no {', '.join(what)})")
        for name, var in ds.data_vars.items():
            if name not in declared:
                raise UserError(f"{path}: {self.name} file with an undeclared variable {name!r}")
            if tuple(var.dims) != declared[name]:
                raise UserError(
                    f"{path}: {self.name} variable {name!r} has dims {tuple(var.dims)}, "
                    f"declared {declared[name]}"
                )


def _pi(prefix: str, what: str, required: bool = True, lead: tuple[str, ...] = ()):
    """The raw and standardised pair ``{prefix}_raw``/``{prefix}_std`` of an influence."""
    return (
        Variable(f"{prefix}_raw", lead + PI_DIMS, f"raw {what}", required),
        Variable(
            f"{prefix}_std",
            lead + PI_DIMS,
            f"{what}, each bra row divided by the std of its ket entries (unconverged kets "
            "NaN unless include_unconverged)",
            required,
        ),
    )


INFLUENCE = Format(
    name="influence",
    writer="influence-bras",
    variables=(
        *_pi("pi", "influence Π^g of the SMSE bras at (g x, g y)"),
        *_pi("pi_mass", "influence of the mass drift at g x (CE)", False),
        *_pi("pi_energy", "influence of the energy drift at g x (CE)", False),
        Variable("pi_error_bound", ("element", "batch"), "max_ij ‖g_bra,i‖ ‖r_j‖ / λ"),
        Variable("ket_converged", KET_DIMS, "the ket's solve reached rtol"),
        Variable("ket_true_relres", KET_DIMS, "true relative residual of the ket's solve"),
        Variable("damping", ("batch",), "absolute λ of the solve (no damping path)", False),
        Variable("lambda_primary", ("batch",), "absolute primary λ (a damping path)", False),
        Variable("lambda_max", ("batch",), "Lanczos estimate of λ_max(M) (NaN: none)"),
        *_pi("pi_path", "SMSE influence at every λ of the path", False, ("damping",)),
        Variable("ket_converged_path", ("damping", *KET_DIMS), "ket_converged at every λ", False),
        Variable("damping_absolute", ("damping", "batch"), "absolute λ of the path", False),
        *_pi("pi_galerkin", "the reference's Galerkin influence (galerkin_reference)", False),
        Variable(
            "pi_galerkin_primary_raw",
            PI_DIMS,
            "galerkin_reference's Π in the same subspaces at the primary λ and normalisation",
            False,
        ),
        Variable(
            "self_influence_raw",
            KET_DIMS,
            "galerkin_reference: raw Π(x, x) = g_jᵀ x_j of the primary solve (float64)",
            False,
        ),
        Variable(
            "self_influence_bound",
            KET_DIMS,
            "galerkin_reference: ‖g_j‖ ‖r_j‖ / λ, the primary solve's bound on Π(x, x)",
            False,
        ),
        Variable(
            "self_influence_galerkin_raw",
            KET_DIMS,
            "galerkin_reference: raw Galerkin Π_G(x, x) in span(G_ket) at the primary λ",
            False,
        ),
        Variable(
            "self_influence_galerkin_eps_raw",
            KET_DIMS,
            "galerkin_reference: raw Galerkin Π_G(x, x) in span(G_ket) at ε = 1e-6 on JᵀJ/D",
            False,
        ),
        Variable(
            "ket_full_space_relres",
            ("element", *KET_DIMS),
            "Galerkin: full-space relative residual of the ket's solution",
            False,
        ),
        Variable("galerkin_rank", ("element", "batch"), "Galerkin: subspace rank", False),
    ),
    attrs=(
        "dataset",
        "model",
        "seed",
        "set_name",
        "chunk",
        "rtol",
        "method",
        "normalization",
        "standardisation",
        "include_unconverged",
        "damping_mode",
        "damping_primary",
        "galerkin_reference_epsilon",
        "example_order",
        "time_stride",
        "model_dtype",
        "analysis_dtype",
    ),
    identity=("dataset", "model", "seed", "set_name", "chunk"),
)

#: the normalised relative error of a boost or a scaling (docs/algorithms.md §5.3)
NORMALISED = "SMSE(g_out^-1 f(g_in x), y) / SMSE(f(x), y): 1 for an exactly equivariant model"

_RUN_ATTRS = (
    "dataset",
    "model",
    "seed",
    "set_name",
    "checkpoint",
    "model_dtype",
    "analysis_dtype",
    "device",
    "elements_per_batch",
    "example_order",
    "time_stride",
    "symaudit_version",
    "git_revision",
)

EQUIVARIANCE = Format(
    name="equivariance",
    writer="equivariance --out",
    variables=(
        Variable("relative_error", ("element", *EXAMPLE_DIMS), "SMSE(f(g x), g y) / SMSE(f(x), y)"),
        Variable("smse_transformed", ("element", *EXAMPLE_DIMS), "SMSE(f(g x), g y)"),
        Variable("smse", EXAMPLE_DIMS, "SMSE(f(x), y)"),
        Variable("persistence_smse", EXAMPLE_DIMS, "SMSE(x, y): predicting no change"),
        Variable(
            "normalised_error",
            ("element", *EXAMPLE_DIMS),
            f"{NORMALISED} (boost and scale sets only; elsewhere it equals relative_error)",
            False,
        ),
    ),
    attrs=(*_RUN_ATTRS, "chunk"),
    identity=("dataset", "model", "seed", "set_name", "chunk"),
)

LIE = Format(
    name="lie",
    writer="lie",
    variables=(
        Variable(
            "lie_derivative",
            ("direction", *EXAMPLE_DIMS),
            "‖d/dε T_−ε f(T_ε x)‖ / ‖f(x)‖ at ε = 0, per cell (T: band-limited shift)",
        ),
        Variable(
            "subcell_profile",
            ("direction", "shift", *EXAMPLE_DIMS),
            "R(ε) = SMSE(f(T_ε x), T_ε y) / SMSE(f(x), y), ε in cells",
        ),
    ),
    attrs=(
        "dataset",
        "model",
        "seed",
        "checkpoint",
        "model_dtype",
        "analysis_dtype",
        "device",
        "example_order",
        "time_stride",
        "symaudit_version",
    ),
)

_TWIRL_PARTS = {
    "total": "the loss L",
    "mean": "L_mean, the twirled model's part",
    "equiv": "L_equiv = L - L_mean",
    "twirled_loss": "the loss of the twirled model",
    "plain": "the untwirled loss as computed beside it",
}

TWIRL = Format(
    name="twirl",
    writer="equivariance --twirl-out",
    variables=(
        *(
            Variable(k, ("batch", "class"), f"{v}, mean over transitions")
            for k, v in _TWIRL_PARTS.items()
        ),
        Variable("percent", ("batch", "class"), "100 mean(equiv) / mean(total)"),
        *(Variable(f"example_{k}", EXAMPLE_DIMS, v) for k, v in _TWIRL_PARTS.items()),
    ),
    attrs=(*_RUN_ATTRS, "twirl_elements", "weights", "aggregation"),
)

DIAGNOSTICS = Format(
    name="diagnostics",
    writer="companion run",
    variables=(
        Variable(
            "rollout_error",
            ("batch", "class", "start", "horizon"),
            "cumulative one-step SMSE of final.pt's rollout from the true state at start",
        ),
        Variable("eigenvalue", ("epoch", "batch", "mode"), "Gauss-Newton spectrum, NaN past rank"),
        Variable("rank", ("epoch", "batch"), "rank of the gradient span"),
        Variable("lambda_max", ("epoch", "batch"), "largest eigenvalue"),
        Variable(
            "pi_raw",
            ("influence_epoch", *PI_DIMS[1:]),
            "raw identity influence of the earlier epochs' checkpoints",
            False,
        ),
        Variable(
            "ket_converged", ("influence_epoch", *KET_DIMS), "the earlier epochs' ket solves", False
        ),
    ),
    attrs=(
        "dataset",
        "model",
        "seed",
        "train_transitions",
        "last_epoch",
        "damping",
        "time_stride",
    ),
)

COMMUTATOR = Format(
    name="commutator",
    writer="commutator",
    variables=(
        Variable(
            "commutator",
            ("element", *EXAMPLE_DIMS),
            "c_g = SMSE(Φ(g x), g Φ(x)), Φ the store's generating solver over one frame interval",
        ),
        Variable("resolve_smse", EXAMPLE_DIMS, "SMSE(Φ(x), y): the store's own consistency"),
        Variable("persistence_smse", EXAMPLE_DIMS, "SMSE(x, y): predicting no change"),
        Variable("trajectory", ("batch", "class"), "the class store's trajectory of the batch"),
    ),
    attrs=(
        "dataset",
        "seed",
        "element_sets",
        "split",
        "frame_dt",
        "extent",
        "solvers",
        "example_order",
        "time_stride",
        "symaudit_version",
        "git_revision",
    ),
    identity=("dataset", "seed"),
)

#: every per-job format by name
FORMATS: dict[str, Format] = {
    f.name: f for f in (INFLUENCE, EQUIVARIANCE, TWIRL, DIAGNOSTICS, LIE, COMMUTATOR)
}


@dataclass(frozen=True, order=True)
class Identity:
    """Which job wrote a file, from its attributes: ``kind`` (a :data:`FORMATS` name),
    ``element_set`` and ``chunk`` None where the format has none (twirl, diagnostics),
    ``model`` empty where it has none (commutator: model-free)."""

    kind: str
    dataset: str
    model: str
    seed: int
    element_set: str | None = None
    chunk: int | None = None


@dataclass
class Output:
    """One per-job file, opened lazily (``dataset``: an ``xarray.Dataset``) and checked;
    close it (or use it as a context manager) before the file is opened again."""

    path: Path
    format: Format
    identity: Identity
    dataset: object = field(repr=False)

    def close(self) -> None:
        self.dataset.close()

    def __enter__(self) -> Output:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _open(path: Path):
    import xarray as xr

    if not path.is_file():
        raise UserError(f"{path}: no such file")
    if path.stat().st_size == 0:
        raise UserError(f"{path}: empty file, not a netCDF file")
    try:
        return xr.open_dataset(path)
    except Exception as err:  # netCDF4/HDF5 say it in many ways: one line, the file named
        reason = (str(err).splitlines() or [type(err).__name__])[0].split(". ")[0][:160]
        raise UserError(f"{path}: not a readable netCDF file ({reason})") from None


def _guess(ds, path: Path) -> Format:
    """The format most of whose required variables ``ds`` holds (its check then names what is
    missing); a file with none of any format's is foreign."""
    present = set(ds.data_vars)
    score = {
        f.name: sum(v.name in present for v in f.variables if v.required) for f in FORMATS.values()
    }
    best = max(score, key=score.get)
    if not score[best]:
        raise UserError(f"{path}: not a symaudit per-job file ({', '.join(FORMATS)})")
    return FORMATS[best]


def _identity(fmt: Format, attrs: dict, path: Path) -> Identity:
    try:
        return Identity(
            kind=fmt.name,
            dataset=str(attrs["dataset"]),
            model=str(attrs["model"]) if "model" in fmt.identity else "",
            seed=int(attrs["seed"]),
            element_set=str(attrs["set_name"]) if "set_name" in fmt.identity else None,
            chunk=int(attrs["chunk"]) if "chunk" in fmt.identity else None,
        )
    except (TypeError, ValueError) as err:
        raise UserError(f"{path}: {fmt.name} file with a malformed identity ({err})") from None


def read(path: str | os.PathLike, kind: str | None = None) -> Output:
    """Open the per-job file ``path`` (lazily), check it against its format (``kind``, a
    :data:`FORMATS` name; None: the one its variables fit) and return it with its identity from
    its attributes.  A missing, truncated, corrupt or foreign file is one :class:`UserError`
    line naming it.  A file written before the transition rename is read with today's dims
    (:func:`upgrade_dims`)."""
    path = Path(path)
    if kind is not None and kind not in FORMATS:
        raise ValueError(f"unknown per-job format {kind!r}; known: {', '.join(FORMATS)}")
    ds = _open(path)
    try:
        ds = upgrade_dims(ds)
        fmt = FORMATS[kind] if kind is not None else _guess(ds, path)
        fmt.check(ds, path)
        identity = _identity(fmt, ds.attrs, path)
    except BaseException:
        ds.close()
        raise
    return Output(path, fmt, identity, ds)


def analysis_precision(attrs) -> str:
    """The precision a per-job file's forward passes ran in: its ``analysis_dtype`` attribute
    (config ``analysis.dtype``), else its ``model_dtype`` (files written before the record: the
    model computed in its own dtype), else float32."""
    return str(attrs.get("analysis_dtype", attrs.get("model_dtype", "float32")))


def identify(path: str | os.PathLike, kind: str | None = None) -> Identity:
    """The identity of a per-job file (:func:`read`, then closed)."""
    with read(path, kind) as out:
        return out.identity


def per_class(values, time_steps: int, n_classes: int, dtype=np.float64) -> np.ndarray:
    """``(..., n)`` with n = t + time_steps * class -> ``(..., transition, class)`` numpy (a torch
    tensor is detached and moved to the CPU); ``dtype`` None keeps the values' own."""
    if hasattr(values, "detach"):  # a torch tensor, without importing torch
        values = values.detach().cpu().numpy()
    v = np.asarray(values, dtype=dtype)
    v = v.reshape(*v.shape[:-1], n_classes, time_steps)
    return np.swapaxes(v, -1, -2)


def to_grid(values, time_steps: int, n_classes: int) -> np.ndarray:
    """``(..., n, n)`` (bra example rows, ket example columns, n = t + time_steps * class)
    -> ``(..., bra_transition, bra_class, ket_transition, ket_class)``, a view of ``values``."""
    v = np.asarray(values)
    grid = v.reshape(*v.shape[:-2], n_classes, time_steps, n_classes, time_steps)
    return np.swapaxes(np.swapaxes(grid, -4, -3), -2, -1)


def markdown() -> str:
    """The "Files between stages" tables of docs/architecture.md, from :data:`FORMATS`."""
    lines = []
    for fmt in FORMATS.values():
        lines += [
            f"**{fmt.name}** (`names.{fmt.template}`, written by `symaudit {fmt.writer}`; "
            f"identity: {', '.join(fmt.identity)}; attributes: {', '.join(fmt.attrs)})",
            "",
            "| variable | dims | meaning |",
            "|---|---|---|",
        ]
        for v in fmt.variables:
            optional = "" if v.required else " (optional)"
            lines.append(f"| `{v.name}`{optional} | ({', '.join(v.dims)}) | {v.description} |")
        lines.append("")
    return "\n".join(lines)
