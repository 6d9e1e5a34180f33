"""The reference code's standardisation of influence matrices (docs/algorithms.md §6.5)."""

from __future__ import annotations

import warnings

import numpy as np
import torch

__all__ = ["STANDARDISE_EPS", "standardise"]

#: the reference adds 1e-6 to the row standard deviation ([old] did not)
STANDARDISE_EPS = 1e-6


def standardise(values, *, ket_ndim: int = 1, eps: float = STANDARDISE_EPS, ket_mask=None):
    """Divide every bra row by the sample std of its ket entries (no centring).

    Π̃[bra, ket] = Π[bra, ket] / (std_ket Π[bra, ·] + eps), std with the n − 1 denominator
    (Julia ``std``), the diagonal included — the reference's ``normalization = :standard``.

    Parameters
    ----------
    values : Tensor or ndarray, shape (..., *ket_shape)
        Raw influence; the LAST ``ket_ndim`` axes index the kets (1 for an (n_bra, n_ket)
        matrix, 2 for a (bra_transition, bra_class, ket_transition, ket_class) array).
    ket_ndim : int
        Number of trailing ket axes.
    eps : float
        Added to the standard deviation.
    ket_mask : array of bool, shape broadcastable to ``values``, optional
        Kets to keep (numpy input only): the others become NaN and leave the row's standard
        deviation (the workflow's unconverged kets); None keeps every ket.

    Returns
    -------
    Same type and shape as ``values`` (float64 for torch input).
    """
    if ket_ndim < 1 or ket_ndim > values.ndim:
        raise ValueError(f"ket_ndim={ket_ndim} invalid for an array of {values.ndim} dims")
    axes = tuple(range(values.ndim - ket_ndim, values.ndim))
    n = int(np.prod([values.shape[a] for a in axes]))
    if n < 2:
        raise ValueError("standardise needs at least two ket entries per bra row")
    if isinstance(values, torch.Tensor):
        v = values.to(torch.float64)
        std = v.std(dim=axes, correction=1, keepdim=True)
        return v / (std + eps)
    v = np.asarray(values, dtype=np.float64)
    if ket_mask is not None:
        v = np.where(np.broadcast_to(ket_mask, v.shape), v, np.nan)
        with warnings.catch_warnings():  # a row with < 2 kept kets is NaN, not an error
            warnings.simplefilter("ignore", RuntimeWarning)
            std = np.nanstd(v, axis=axes, ddof=1, keepdims=True)
        return v / (std + eps)
    std = v.std(axis=axes, ddof=1, keepdims=True)
    return v / (std + eps)
