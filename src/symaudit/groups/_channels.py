"""Channels by kind: how the linear part of a D4 element maps a store's channel list.

A channel is a mapping with ``kind`` and, for the components of a vector or a tensor, the name
of the object it belongs to (key ``vector`` or ``tensor``) and its component label ``axis``:

* ``scalar`` and ``pseudoscalar``: one channel each (a bare kind string is allowed for them);
* ``vector``: ``axis`` = ``x`` | ``y``; the channels with the same ``vector`` name are one
  vector, both components required;
* ``tensor`` (rank 2): ``axis`` = the index pair ``xx`` | ``xy`` | ``yx`` | ``yy``, first
  letter the row (first index), so T_xy is the channel labelled ``xy``; the channels with the
  same ``tensor`` name are one tensor, all four components required (a symmetric tensor is
  stored with both ``xy`` and ``yx``).  Stores list them in row-major order xx, xy, yx, yy (as a
  (2, 2) array flattened, the_well's ``t2_fields``), but, as for vectors, each component is
  found by its label, so any order works.

:func:`channel_map` turns an element's 2x2 signed-permutation matrix M into, for every output
channel, the input channel it is read from and a sign: scalar 1, pseudoscalar det(M), vector
component a: M[a, j] w_j, tensor component ab: M[a, k] M[b, l] T_kl (T' = M T M^T).  Swapping
(``p*g*p``) relabels every letter of every component label x <-> y before that.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import lru_cache

import numpy as np

from ._elements import Element, matrix

#: kinds with components: kind -> the component labels one object needs
COMPONENTS: dict[str, tuple[str, ...]] = {
    "vector": ("x", "y"),
    "tensor": ("xx", "xy", "yx", "yy"),
}
KINDS: tuple[str, ...] = ("scalar", "vector", "pseudoscalar", "tensor")

_NEEDS = {"vector": "both an x and a y component", "tensor": "all of xx, xy, yx, yy"}
_EXCHANGE = str.maketrans("xy", "yx")
_AXIS = {"x": 0, "y": 1}

#: (kind, object name, component label) of one channel
Kinds = tuple[tuple[str, str | None, str | None], ...]


def kinds(channels: Sequence[Mapping | str], swap: bool = False) -> Kinds:
    """(kind, object name, component label) per channel; ``swap`` pairs every component with
    the other axes (x <-> y in each label), which turns the action of g into P o g o P."""
    out = []
    for ch in channels:
        if isinstance(ch, str):  # a bare kind is allowed for scalars and pseudoscalars
            out.append((ch, None, None))
            continue
        kind, axis = ch["kind"], ch.get("axis")
        if swap and kind in COMPONENTS and isinstance(axis, str):
            axis = axis.translate(_EXCHANGE)
        out.append((kind, ch.get(kind) if kind in COMPONENTS else None, axis))
    return tuple(out)


def _objects(kinds: Kinds) -> dict[tuple[str, str], dict[str, int]]:
    """(kind, name) -> {component label: channel} of every vector and tensor, checked whole."""
    found: dict[tuple[str, str], dict[str, int]] = {}
    for c, (kind, name, axis) in enumerate(kinds):
        if kind in COMPONENTS:
            if axis not in COMPONENTS[kind] or name is None:
                labels = "|".join(COMPONENTS[kind])
                raise ValueError(
                    f"channel {c}: a {kind} component needs '{kind}' and axis {labels}"
                )
            found.setdefault((kind, name), {})[axis] = c
    for (kind, name), comps in found.items():
        if set(comps) != set(COMPONENTS[kind]):
            raise ValueError(f"{kind} {name!r} needs {_NEEDS[kind]}, got {sorted(comps)}")
    return found


def _source_label(m: np.ndarray, label: str) -> tuple[str, int]:
    """The component read into ``label`` and its sign: each index a reads M[a, j] (one
    nonzero j per row of a signed permutation)."""
    source, sign = "", 1
    for a in label:
        row = m[_AXIS[a]]
        j = int(np.flatnonzero(row)[0])
        source, sign = source + "xy"[j], sign * int(row[j])
    return source, sign


@lru_cache(maxsize=256)
def channel_map(element: Element, kinds: Kinds) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """For each output channel: (source channel, sign).  Encodes the linear part of the action."""
    m = matrix(element)
    det = int(round(np.linalg.det(m)))
    objects = _objects(kinds)
    source, sign = [], []
    for c, (kind, name, axis) in enumerate(kinds):
        if kind == "scalar":
            source.append(c), sign.append(1)
        elif kind == "pseudoscalar":
            source.append(c), sign.append(det)
        elif kind in COMPONENTS:
            label, s = _source_label(m, axis)
            source.append(objects[kind, name][label]), sign.append(s)
        else:
            raise ValueError(f"channel {c}: unknown kind {kind!r} ({'|'.join(KINDS)})")
    return tuple(source), tuple(sign)
