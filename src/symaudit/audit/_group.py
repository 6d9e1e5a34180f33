"""The elements a grid and its boundaries allow (docs/audit.md §3).

* A non-square grid (ny != nx) admits only e, r2, s, sr2 of D4: r, r3, sr and sr3 exchange the
  axes, which maps an ny x nx grid onto an nx x ny one.
* An axis that is not periodic admits no translation along it: a roll wraps what leaves one
  side onto the other, which a wall or an open boundary does not do.

:func:`allowed` returns, per element set, the elements kept and, for each dropped one, the
reason: the audit logs one line per dropped element and repeats them in the report, instead of
failing or padding.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from symaudit import groups
from symaudit.errors import UserError

__all__ = ["DEFAULT_SETS", "Allowed", "allowed"]

#: the quick study's sets, the audit's default
DEFAULT_SETS = ("d4", "shift_x", "shift_y")


@dataclass
class Allowed:
    """Elements kept per set (set -> names, identity first) and dropped ones with reasons."""

    kept: dict[str, list[str]] = field(default_factory=dict)
    dropped: dict[str, list[tuple[str, str]]] = field(default_factory=dict)

    def lines(self) -> list[str]:
        """One line per dropped element: ``<set> <element>: <reason>``."""
        return [f"{s} {g}: {why}" for s, rows in self.dropped.items() for g, why in rows]


def _reason(name: str, shape: tuple[int, int], periodic: Mapping[str, bool], notes) -> str | None:
    g = groups.parse(name)
    ny, nx = shape
    if g.rotate % 2 and ny != nx:
        return f"the grid is {ny} x {nx} (ny x nx): {name} exchanges the axes of a non-square grid"
    for axis, step in (("x", g.dx % nx), ("y", g.dy % ny)):
        if step and not periodic.get(axis, False):
            why = notes.get(axis, "not periodic")
            return f"the {axis} axis is not periodic ({why}): no translation along it"
    return None


def allowed(
    sets: Sequence[str],
    shape: tuple[int, int],
    periodic: Mapping[str, bool],
    notes: Mapping[str, str] | None = None,
    shift_box_k: int | None = None,
) -> Allowed:
    """Elements of every set in ``sets`` that a ``shape = (ny, nx)`` grid with the ``periodic``
    axes allows.  The shift sets run over the length of their own axis (``shift_x``: nx)."""
    notes = notes or {}
    ny, nx = shape
    out = Allowed()
    for name in sets:
        if name not in groups.ELEMENT_SETS:
            raise UserError(
                f"--sets {name}: the audit measures {', '.join(groups.ELEMENT_SETS)} "
                "(boosts and scalings need channel roles and the frame spacing: the workflow)"
            )
        if name == "shift_y":
            members = groups.elements(name, ny)
        elif name in ("shift_x",):
            members = groups.elements(name, nx)
        else:
            members = groups.elements(name, min(ny, nx), shift_box_k)
        kept, dropped = [], []
        for g in members:
            why = _reason(g, shape, periodic, notes)
            (dropped.append((g, why)) if why else kept.append(g))
        out.kept[name] = kept
        if dropped:
            out.dropped[name] = dropped
    return out
