"""Continuous translations (docs/algorithms.md §9): the band-limited sub-cell shift, the Lie
derivative of a model along x and y translations (Gruver et al. 2023, "The Lie derivative for
measuring learned equivariance"), and the sub-cell profile of the relative error.

* :func:`shift_subcell` — T_eps, the periodic shift by eps cells (any real eps) through the
  Fourier shift theorem, the Nyquist mode dropped;
* :func:`lie_derivative` — || d/deps T_-eps f(T_eps x) at eps = 0 || / || f(x) || per example,
  one forward-mode JVP (``torch.func.jvp``);
* :func:`subcell_profile` — R(eps) = SMSE(f(T_eps x), T_eps y) / SMSE(f(x), y) over a grid of
  eps, the relative error of docs/algorithms.md §5.1 with a sub-cell shift as the element.

Layout everywhere: ``(batch, channel, y, x)``, x the LAST axis; direction ``"x"`` shifts along
the last axis, ``"y"`` along the one before.  Translations move every channel alike and never
mix vector components, so the channel kinds (scalar, vector, pseudoscalar) do not enter: the
``channels`` arguments are only checked against the channel count, for the same call shape as
:func:`symaudit.equivariance.relative_error`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import torch

from symaudit.equivariance._sweep import evaluating, placement
from symaudit.losses import smse

__all__ = ["DIRECTIONS", "PROFILE_SHIFTS", "lie_derivative", "shift_subcell", "subcell_profile"]

#: direction name -> tensor axis of layout (batch, channel, y, x)
DIRECTIONS: dict[str, int] = {"x": -1, "y": -2}

#: the default eps grid of :func:`subcell_profile`: eighths of a cell in [0, 1)
PROFILE_SHIFTS: tuple[float, ...] = tuple(i / 8 for i in range(8))


def shift_subcell(x: torch.Tensor, eps, axis: int) -> torch.Tensor:
    """Band-limited periodic shift T_eps by ``eps`` cells along ``axis``.

    (T_eps x)[j] = sum_k xhat_k exp(2 pi i k (j - eps) / n) over the modes |k| < n / 2: the
    trigonometric interpolant of x, moved by eps cells toward higher indices (the direction of
    ``torch.roll(x, k, axis)`` for eps = k) and sampled on the grid.  Differentiable in both x
    and eps (a tensor eps may carry forward-mode tangents).

    The Nyquist mode k = n/2 (even n) is dropped for every eps, eps = 0 included: on the grid it
    is cos(pi j), and its shift cos(pi (j - eps)) = cos(pi eps) cos(pi j) + sin(pi eps)
    sin(pi j) needs sin(pi j), which vanishes on every grid point, so its shifted coefficient
    exp(-i pi eps) is not real-valued and a real grid function cannot carry it.  Without it T
    is a unitary group action, T_a T_b = T_{a + b}, and T_k equals ``torch.roll`` by k cells for
    integer k (to round-off) on inputs without Nyquist content; T_0 is the projection that
    removes that content (the identity on such inputs, e.g. the dealiased NS stores).

    Parameters
    ----------
    x : torch.Tensor
        Real, any layout; ``axis`` indexes the periodic dimension (n cells, spacing one cell).
    eps : float or torch.Tensor
        The shift in cells (a 0-d tensor or a float); any real value.
    axis : int
        The axis to shift along (``-1`` = x, ``-2`` = y for ``(batch, channel, y, x)``).

    Returns
    -------
    torch.Tensor
        Same shape and dtype as ``x``.
    """
    if x.is_complex() or not x.is_floating_point():
        raise ValueError(f"shift_subcell needs a real floating tensor, got {x.dtype}")
    n = x.shape[axis]
    spectrum = torch.fft.rfft(x, dim=axis)
    eps = torch.as_tensor(eps, dtype=x.dtype, device=x.device)
    k = torch.arange(spectrum.shape[axis], dtype=x.dtype, device=x.device)
    keep = (2 * k < n).to(x.dtype)  # drops k = n/2 (even n) only
    angle = (-2.0 * math.pi / n) * k * eps
    phase = torch.complex(keep * torch.cos(angle), keep * torch.sin(angle))
    shape = [1] * x.ndim
    shape[axis] = -1
    return torch.fft.irfft(spectrum * phase.reshape(shape), n=n, dim=axis)


def _checked(inputs: torch.Tensor, channels: Sequence[Mapping], direction: str) -> int:
    """The axis of ``direction`` after checking the layout and the channel list."""
    if direction not in DIRECTIONS:
        raise ValueError(f"direction must be one of {sorted(DIRECTIONS)}, got {direction!r}")
    if inputs.ndim != 4:
        raise ValueError(f"inputs must be (batch, channel, y, x), got shape {tuple(inputs.shape)}")
    if len(channels) != inputs.shape[1]:
        raise ValueError(
            f"the channel list names {len(channels)} channels, the inputs have {inputs.shape[1]}"
        )
    return DIRECTIONS[direction]


def lie_derivative(
    model, inputs: torch.Tensor, channels: Sequence[Mapping], direction: str
) -> torch.Tensor:
    """Normalised Lie derivative of ``model`` along x or y translations, per example.

    L f(x) = d/deps [T_-eps f(T_eps x)] at eps = 0 (Gruver et al. 2023), T_eps the band-limited
    shift of :func:`shift_subcell` (eps in cells, Nyquist mode dropped), computed by one
    forward-mode JVP (``torch.func.jvp``) with the tangent deps = 1.  Returned per example n:

        ||L f(x_n)||_2 / ||f(x_n)||_2

    both norms the Euclidean norm over all (channel, y, x) entries (no weights), so the value is
    dimensionless per cell of shift (multiply by N for per unit length of the unit square).
    It is 0 for every f that commutes with all sub-cell shifts (a Fourier multiplier, e.g. a
    periodic convolution; the dealiased pseudo-spectral NS step) up to round-off, and non-zero
    for a model exact only under integer shifts (a pointwise nonlinearity on the grid creates
    harmonics beyond the band) or only under multiples of its stride (the UNet).  Channel kinds
    do not enter: translations never mix vector components.

    One eps is shared by the batch, so the tangent of example n is its own derivative only if
    the model treats examples independently (every symaudit model does in eval mode, which this
    function sets).

    Parameters
    ----------
    model : callable
        ``(batch, channel, y, x) -> (batch, channel, y, x)``, differentiable by forward-mode AD;
        runs in its own dtype and on its own device (an ``nn.Module`` in eval mode).
    inputs : torch.Tensor
        ``(batch, channel, y, x)``; cast to the model's dtype and device.
    channels : sequence of dict
        The store's channel list (only its length is checked, see above).
    direction : {"x", "y"}
        ``"x"``: shifts along the last axis; ``"y"``: along the one before.

    Returns
    -------
    torch.Tensor
        ``(batch,)`` float64 on the model's device; NaN where f(x) = 0.
    """
    axis = _checked(inputs, channels, direction)
    device, dtype = placement(model, inputs)
    x = inputs.to(device=device, dtype=dtype)

    def moved(eps: torch.Tensor) -> torch.Tensor:
        return shift_subcell(model(shift_subcell(x, eps, axis)), -eps, axis)

    zero = torch.zeros((), dtype=dtype, device=device)
    with evaluating(model):  # forward-mode AD is not disabled by no_grad
        _, tangent = torch.func.jvp(moved, (zero,), (torch.ones_like(zero),))
        fx = model(x)
    size = tangent.to(torch.float64).flatten(1).norm(dim=1)
    return size / fx.to(torch.float64).flatten(1).norm(dim=1)


def subcell_profile(
    model,
    inputs: torch.Tensor,
    targets: torch.Tensor,
    channels: Sequence[Mapping],
    direction: str,
    shifts: Sequence[float] = PROFILE_SHIFTS,
    *,
    shifts_per_batch: int = 8,
) -> torch.Tensor:
    """Relative error under sub-cell shifts: R(eps) = SMSE(f(T_eps x), T_eps y) / SMSE(f(x), y).

    The statistic of :func:`symaudit.equivariance.relative_error` (each SMSE scaled by the RMS of
    its own target, :func:`symaudit.losses.smse`) with the element replaced by the band-limited
    shift T_eps of :func:`shift_subcell` (eps in cells).  For integer eps and inputs and targets
    without Nyquist content it is the relative error of the integer shift t(eps, 0) or
    t(0, eps); on data with Nyquist content T_0 removes it, so R(0) measures that projection
    (R(0) = 1 on the dealiased NS stores).  A model commuting with every sub-cell shift gives
    R = 1 for all eps on such data; a strided UNet gives a profile repeating with its stride.

    Parameters
    ----------
    model : callable
        ``(batch, channel, y, x) -> (batch, channel, y, x)``; runs in its own dtype/device.
    inputs, targets : torch.Tensor
        ``(batch, channel, y, x)``; inputs cast to the model's dtype, targets to float64.
    channels : sequence of dict
        The store's channel list (length checked; kinds do not enter).
    direction : {"x", "y"}
        The axis of the shifts (x the last).
    shifts : sequence of float
        The eps grid in cells; default eighths of a cell in [0, 1).
    shifts_per_batch : int
        Shifted copies of the batch per forward pass (memory vs speed).

    Returns
    -------
    torch.Tensor
        ``(len(shifts), batch)`` float64; NaN where f(x) = y.
    """
    axis = _checked(inputs, channels, direction)
    if inputs.shape != targets.shape:
        raise ValueError(f"inputs {tuple(inputs.shape)} and targets {tuple(targets.shape)} differ")
    if shifts_per_batch < 1:
        raise ValueError(f"shifts_per_batch must be >= 1, got {shifts_per_batch}")
    device, dtype = placement(model, inputs)
    x = inputs.to(device=device, dtype=dtype)
    y = targets.to(device=device, dtype=torch.float64)
    shifts = [float(e) for e in shifts]
    rows = []
    with evaluating(model):
        baseline = smse(model(x).to(torch.float64), y, reduction="per_example")
        for start in range(0, len(shifts), shifts_per_batch):
            chunk = shifts[start : start + shifts_per_batch]
            stacked = torch.cat([shift_subcell(x, e, axis) for e in chunk])
            out = model(stacked).to(torch.float64).split(x.shape[0])
            for e, pred in zip(chunk, out, strict=True):
                moved = shift_subcell(y, e, axis)
                rows.append(smse(pred, moved, reduction="per_example") / baseline)
    return torch.stack(rows) if rows else torch.empty(0, x.shape[0], dtype=torch.float64)
