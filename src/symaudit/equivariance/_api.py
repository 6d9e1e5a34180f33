"""The public functions: relative errors (docs/algorithms.md §5.1; normalised, §5.3) and the
twirl decomposition (docs/algorithms.md §5.2; the twirling paper §2, Proposition 1), thin
layers over :func:`._sweep.sweep`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch

from symaudit.equivariance._sweep import sweep
from symaudit.losses import smse

__all__ = [
    "normalised_relative_error",
    "relative_error",
    "relative_errors",
    "twirl_decomposition",
]


def relative_error(
    model,
    inputs: torch.Tensor,
    targets: torch.Tensor,
    element: str,
    channels: Sequence[Mapping],
    *,
    dt: float | None = None,
    extent: tuple[float, float] = (1.0, 1.0),
) -> torch.Tensor:
    """Relative SMSE of one group element, per example: the paper's RAW statistic.

    R_g(n) = SMSE(f(g x_n), g y_n) / SMSE(f(x_n), y_n), where SMSE is
    :func:`symaudit.losses.smse` (each term scaled by the RMS of ITS OWN target, as the
    reference does) and (g x, g y) is :func:`symaudit.groups.act_transition`.  This is the
    prediction error on the transformed pair relative to the untransformed one, not
    |f(g x) - g f(x)|.  An exactly equivariant model scores 1 under D4 x translations, but
    about alpha under ``scale(alpha)`` (the unsquared RMS normaliser scales by alpha, the
    squared error by alpha^2) and, under a boost, a value set by RMS(y + U) != RMS(y); for
    those use :func:`normalised_relative_error` (docs/algorithms.md §5.3).

    Parameters
    ----------
    model : callable
        ``(batch, channel, y, x) -> (batch, channel, y, x)``; runs in its own dtype/device.
    inputs, targets : torch.Tensor
        ``(batch, channel, y, x)``.
    element : str
        A D4 name (``e r r2 r3 s sr sr2 sr3``), a shift ``t(dx,dy)``, ``boost(m,n)`` or
        ``scale(alpha)`` (:mod:`symaudit.groups`).
    channels : sequence of dict
        The store's channel list (with roles for boosts and scalings).
    dt, extent : float, (float, float)
        A boost's frame spacing and domain (:func:`symaudit.groups.frame_geometry`).

    Returns
    -------
    torch.Tensor
        ``(batch,)`` float64.  Exactly 1 for the identity (f(x) is reused); NaN where f(x) = y.
    """
    return relative_errors(model, inputs, targets, [element], channels, dt=dt, extent=extent)[0]


def normalised_relative_error(
    model,
    inputs: torch.Tensor,
    targets: torch.Tensor,
    element: str,
    channels: Sequence[Mapping],
    *,
    dt: float | None = None,
    extent: tuple[float, float] = (1.0, 1.0),
) -> torch.Tensor:
    """The relative error normalised so that an exactly equivariant model scores exactly 1
    under every element, per example (docs/algorithms.md §5.3)::

        Rn_g(n) = ||g^-1 f(g x_n) - y_n||^2_w / SMSE(f(x_n), y_n),   w_c = 1 / (RMS_c(y_n) + 1e-6)

    with g^-1 the inverse element's TARGET action and w the SMSE weights of the UNTRANSFORMED
    target (the twirl's convention).  Equal to :func:`relative_error` for D4 x translations;
    ``scale(alpha)``: R / alpha up to the normaliser's 1e-6; NS boosts: SMSE(f(g x), g y) with
    the untransformed target's weights.  Arguments and result as :func:`relative_error`.
    """
    result = sweep(model, inputs, targets, [element], channels, dt=dt, extent=extent)
    return result.normalised[0]


def relative_errors(
    model,
    inputs: torch.Tensor,
    targets: torch.Tensor,
    elements: Sequence[str],
    channels: Sequence[Mapping],
    *,
    elements_per_batch: int = 8,
    dt: float | None = None,
    extent: tuple[float, float] = (1.0, 1.0),
    normalised: bool = False,
) -> torch.Tensor:
    """:func:`relative_error` (or, with ``normalised``, :func:`normalised_relative_error`) for
    many elements with f(x) computed once.  Both from the same forward passes:
    :func:`symaudit.equivariance.sweep`'s ``relative`` and ``normalised``.

    ``elements_per_batch`` transformed copies of the batch go through the model in one forward
    pass (a batch of ``elements_per_batch * batch`` examples): larger is faster on a GPU and
    costs proportionally more memory.

    Returns
    -------
    torch.Tensor
        ``(len(elements), batch)`` float64.
    """
    result = sweep(
        model,
        inputs,
        targets,
        elements,
        channels,
        elements_per_batch=elements_per_batch,
        dt=dt,
        extent=extent,
    )
    return result.normalised if normalised else result.relative


def _summary(per_example: Mapping[str, torch.Tensor]) -> dict[str, float]:
    """Dataset-level values: means over examples; percent as the ratio of the means (the
    paper's L_equiv / L), not the mean of per-example ratios."""
    out = {k: float(v.mean()) for k, v in per_example.items() if k != "percent"}
    out["percent"] = 100.0 * out["equiv"] / out["total"] if out["total"] > 0 else float("nan")
    return out


def twirl_decomposition(
    model,
    inputs: torch.Tensor,
    targets: torch.Tensor,
    elements: Sequence[str],
    channels: Sequence[Mapping],
    *,
    elements_per_batch: int = 8,
    return_prediction: bool = False,
) -> dict:
    """Split the group-averaged loss into twirled-prediction error and equivariance error.

    Only over a FINITE group of D4 x translations: boosts and scalings form infinite groups, so
    there is no twirl over them (refused).

    With the twisted predictions z_g(x) = g^-1 f(g x) over a finite group G (``elements``: D4,
    a subgroup of it, or a group of periodic shifts such as the multiples of k) and the twirled
    prediction mu(x) = mean_g z_g(x) (exactly G-equivariant), per example::

        total  = mean_g ||y - z_g||_w^2                    (the loss of f, averaged over G)
        mean   = ||y - mu||_w^2                            (L_mean, the twirled-prediction error)
        equiv  = mean_g ||z_g - mu||_w^2                   (L_equiv, the equivariance error)
        total  = mean + equiv                              (exact: Proposition 1)
        percent = 100 * equiv / total

    where ||d||_w^2 = mean over (channel, y, x) of w_c d^2 with w_c = 1 / (RMS_c(y) + 1e-6),
    the SMSE weights of the UNTRANSFORMED target y.  Why these weights: Proposition 1 is a
    bias-variance identity and holds exactly only for a loss that is a fixed quadratic form in
    the prediction; fixing w from y makes every term a weighted MSE with the same weights.
    Because an element only permutes and sign-flips channels and pixels, RMS(g y) is the RMS of
    y permuted the same way, so ||y - z_g||_w^2 = SMSE(f(g x), g y): ``total`` IS the plain
    SMSE averaged over the group, i.e. total = SMSE(f(x), y) * mean_g R_g with R_g the
    :func:`relative_error` (equal to round-off; checked by the tests).

    Test-time twirling replaces f by mu.  ``twirled_loss`` = SMSE(mu(x), y) (equal to ``mean``
    by construction) and ``plain`` = SMSE(f(x), y).  Jensen's inequality guarantees
    twirled_loss <= total for every example; twirled_loss <= plain holds only in expectation
    over a G-invariant data distribution, not per example.

    Parameters
    ----------
    model : callable
        ``(batch, channel, y, x) -> (batch, channel, y, x)``; runs in its own dtype/device.
    inputs, targets : torch.Tensor
        ``(batch, channel, y, x)``.
    elements : sequence of str
        The group G; must be closed under composition on the grid (checked).
    channels : sequence of dict
        The store's channel list.
    elements_per_batch : int
        Transformed copies of the batch per forward pass.
    return_prediction : bool
        Also return mu(x), ``(batch, channel, y, x)`` float64, under ``"prediction"``.

    Returns
    -------
    dict
        ``total``, ``mean``, ``equiv``, ``twirled_loss``, ``plain`` (floats: means over the
        examples), ``percent`` (100 * equiv / total of those means), ``per_example`` (a dict of
        the same keys, each ``(batch,)`` float64, percent per example) and ``elements``.
    """
    result = sweep(
        model,
        inputs,
        targets,
        [],
        channels,
        elements_per_batch=elements_per_batch,
        twirl=True,
        twirl_elements=elements,
    )
    return decomposition(result, targets, return_prediction=return_prediction)


def decomposition(result, targets: torch.Tensor, return_prediction: bool = False) -> dict:
    """The twirl dictionary of :func:`twirl_decomposition` from a sweep run with ``twirl``."""
    tw = result.twirl
    y = targets.to(device=tw["prediction"].device, dtype=torch.float64)
    per_example = {
        "total": tw["total"],
        "mean": tw["mean"],
        "equiv": tw["equiv"],
        "twirled_loss": smse(tw["prediction"], y, reduction="per_example"),
        "plain": result.baseline,
    }
    per_example["percent"] = 100.0 * per_example["equiv"] / per_example["total"]
    out: dict = _summary(per_example)
    out["per_example"] = per_example
    out["elements"] = list(tw["elements"])
    if return_prediction:
        out["prediction"] = tw["prediction"]
    return out
