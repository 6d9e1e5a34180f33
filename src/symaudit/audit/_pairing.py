"""A physics check of the declared component pairing (docs/audit.md §2): the spectral
divergence of every vector of the data under the declared pairing and under the exchanged one,
with the figures of ``symaudit ingest``'s check (:func:`symaudit.data._residuals.
divergence_residuals`, docs/data.md §1.3).

The audit never decides the pairing from this (a compressible flow is not divergence-free): it
reports both numbers, and warns when the data are divergence-free only with the components the
other way round: components stored in an order that contradicts the declared dims.  A file
whose declared dim names are both exchanged (arrays unchanged) is NOT caught here: exchanging the
labels of the axes and of the components together is a diagonal reflection of the data, still
divergence-free; what breaks is the agreement with the model's own convention, which the audit's
failures at exactly r, r3, s, sr2 show.  Periodic axes only (spectral derivatives).
"""

from __future__ import annotations

import numpy as np

__all__ = ["pairing_lines"]

#: the exchanged pairing "wins" when its divergence is below this and this fraction of the
#: declared pairing's
SMALL, RATIO = 1e-3, 0.1


def _vectors(channels) -> dict[str, dict[str, int]]:
    found: dict[str, dict[str, int]] = {}
    for i, ch in enumerate(channels):
        if ch.get("kind") == "vector":
            found.setdefault(ch["vector"], {})[ch["axis"]] = i
    return {k: v for k, v in found.items() if set(v) == {"x", "y"}}


def pairing_lines(fields: np.ndarray, channels, periodic) -> tuple[list[str], list[str]]:
    """(info lines, warning lines) for the vectors of ``fields`` ``(traj, time, channel, y,
    x)``; nothing unless both axes are periodic."""
    from symaudit.data._residuals import divergence_residuals

    info, warn = [], []
    if not (periodic.get("x") and periodic.get("y")):
        return info, warn
    for name, comp in _vectors(channels).items():
        # channel 0 goes along axis a (= y), channel 1 along b (= x): candidate "x" is declared
        raw = fields[:, :, [comp["y"], comp["x"]]]
        res = divergence_residuals(raw)
        scale = res["sq_scale"].sum()
        if scale <= 0:
            continue
        declared = float(np.sqrt(res["sq_x"].sum() / scale))
        exchanged = float(np.sqrt(res["sq_y"].sum() / scale))
        info.append(
            f"{name}: relative divergence {declared:.2e} as declared, {exchanged:.2e} with the "
            "components exchanged"
        )
        if exchanged < SMALL and exchanged < RATIO * declared:
            warn.append(
                f"{name} is divergence-free only with its components paired the other way round "
                f"({exchanged:.1e} against {declared:.1e}): check the file's declared dims "
                "(--dims, --channels)"
            )
    return info, warn
