"""Which axis of a foreign array is which: dimension NAMES, never their order.

A file's array (netCDF, HDF5, Zarr) has named dims; symaudit's canonical dims are
``trajectory``, ``time``, ``channel``, ``y`` and ``x`` (the store layout, docs/data.md §4).
:func:`resolve_dims` maps each name found to a canonical dim through :data:`ALIASES`
(case-insensitive), or through an explicit override (``--dims member=trajectory,lon=x``), and
refuses with ONE line naming the file and the dims it found when a dim is unknown, two dims
claim the same canonical one, or a required one is missing.  Nothing here imports torch.

The alias table (docs/data.md §1.4) lists only names whose meaning is unambiguous for 2-D fields
on a grid: ``i``/``j``, ``row``/``col``, ``dim_0`` (xarray's default names) or ``n`` are NOT
aliases (matrix and image conventions disagree on which is x); such files need the override.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from symaudit.errors import UserError

__all__ = ["ALIASES", "CANONICAL", "DimMap", "parse_override", "resolve_dims"]

#: symaudit's store layout (docs/data.md §4)
CANONICAL = ("trajectory", "time", "channel", "y", "x")

#: canonical dim -> the names (compared case-insensitively) that mean it
ALIASES: dict[str, tuple[str, ...]] = {
    "trajectory": ("trajectory", "sample", "samples", "member", "ensemble", "batch", "traj"),
    "time": ("time", "t", "times", "frame", "snapshot"),
    "channel": ("channel", "channels", "c", "field", "fields", "variable", "var"),
    "y": ("y", "lat", "latitude"),
    "x": ("x", "lon", "longitude"),
}

_LOOKUP = {alias: canon for canon, names in ALIASES.items() for alias in names}


@dataclass(frozen=True)
class DimMap:
    """The file's dims (``found``, in file order) and the file axis of each canonical dim."""

    found: tuple[str, ...]
    axis: dict[str, int]  # canonical -> file axis

    def name(self, canonical: str) -> str:
        """The file's name of the canonical dim ``canonical``."""
        return self.found[self.axis[canonical]]

    def perm(self, order: Sequence[str] = CANONICAL) -> tuple[int, ...]:
        """The file axes in ``order``: ``np.transpose(file_array, dm.perm(order))`` has the
        canonical dims of ``order``."""
        return tuple(self.axis[c] for c in order)


def parse_override(text: str | Mapping[str, str] | None) -> dict[str, str]:
    """``"member=trajectory,lon=x"`` (or a mapping, or None) -> ``{file dim: canonical}``;
    a bad entry is a one-line :class:`UserError`."""
    if not text:
        return {}
    items = text.items() if isinstance(text, Mapping) else _pairs(str(text))
    out = {}
    for name, canon in items:
        name, canon = str(name).strip(), str(canon).strip().lower()
        if canon not in CANONICAL:
            raise UserError(
                f"dims override {name}={canon}: {canon!r} is not one of {', '.join(CANONICAL)}"
            )
        out[name] = canon
    return out


def _pairs(text: str) -> Iterable[tuple[str, str]]:
    for part in filter(None, (p.strip() for p in text.split(","))):
        name, sep, canon = part.partition("=")
        if not sep or not name.strip() or not canon.strip():
            raise UserError(
                f"dims override {part!r}: expected FILE_DIM=CANONICAL (e.g. member=trajectory)"
            )
        yield name, canon


def resolve_dims(
    found: Sequence[str],
    where: str,
    override: Mapping[str, str] | str | None = None,
    required: Sequence[str] = CANONICAL,
) -> DimMap:
    """Map the dims ``found`` (file order) of ``where`` (``"FILE: variable 'v'"``) onto the
    canonical dims ``required``: the override first, then :data:`ALIASES`.  Every dim found
    must map to exactly one required canonical dim and every required one must be found, else
    one :class:`UserError` line names ``where``, the dims found and what is wrong."""
    found = tuple(str(d) for d in found)
    override = parse_override(override)
    shown = f"{where}: dims ({', '.join(found)})"
    unused = sorted(set(override) - set(found))
    if unused:
        raise UserError(f"{shown}: the dims override names {', '.join(unused)}, not among them")
    axis: dict[str, int] = {}
    for i, name in enumerate(found):
        canon = override.get(name) or _LOOKUP.get(name.lower())
        if canon is None or canon not in required:
            what = "an unknown dim name" if canon is None else f"a {canon} dim, not used here"
            raise UserError(
                f"{shown}: {name!r} is {what} (expected {', '.join(required)}; known aliases in "
                "docs/data.md §1.4; name it with the dims override, e.g. "
                f"{name}={required[0]})"
            )
        if canon in axis:
            raise UserError(
                f"{shown}: both {found[axis[canon]]!r} and {name!r} mean {canon}; say which "
                f"with the dims override (e.g. {name}=<another dim>)"
            )
        axis[canon] = i
    missing = [c for c in required if c not in axis]
    if missing:
        raise UserError(f"{shown}: no {', '.join(missing)} dim (expected {', '.join(required)})")
    return DimMap(found, axis)
