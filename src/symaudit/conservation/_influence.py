"""The influence Π of a linear periodic convolution in closed form (docs/algorithms.md §6.7).

For f(u) = K * u (:class:`~symaudit.models.LinearConv`, kernel ``(out, in, y, x)`` on the full
N x N grid) the outputs are linear in θ = K, so the Jacobian of a metric batch u_1 .. u_B is a
stack of circulant operators and the unnormalised 2-D DFT diagonalises the Gauss–Newton metric
M = JᵀJ / D wave-vector by wave-vector:

    (M v)^_o(k) = S(k) v^_o(k) / D,      S(k)_{ii'} = sum_b conj(u^_{b,i}(k)) u^_{b,i'}(k),

one Hermitian ``(in, in)`` matrix S(k) per wave-vector k, the same for every output channel o
(the metric has no o-o' coupling).  By Parseval (a^ᵀ b = sum_k a^(k)^H b^(k) / N^2 for real
fields) the influence of two parameter-space gradients a, g is

    Π(a, g) = aᵀ (M + λI)⁻¹ g = (1/N^2) sum_k sum_o a^_o(k)^H (S(k)/D + λI)⁻¹ g^_o(k),

an ``(in, in)`` solve per wave-vector instead of a P x P one (P = out * in * N^2).  The
per-example SMSE gradient (the kets' and the SMSE bras' C) is exact in the same basis:
g^_{o,i}(k) = r^_o(k) conj(u^_i(k)) with r = ∂C/∂f(u) = 2 (f(u) - y) / (rms(y)_o · out · N^2).

Everything is float64 / complex128 and exact up to round-off: nothing is iterated, estimated or
truncated.  λ is ABSOLUTE here; the workflow's relative damping is v · λ_max(M) with λ_max a
Lanczos estimate, so compare at the λ a solve actually used (``KetSolution.damping``) — or
resolve v against the exact :func:`linear_lambda_max`.
"""

from __future__ import annotations

import torch

from symaudit.losses import rms_scale

__all__ = [
    "linear_influence",
    "linear_lambda_max",
    "linear_metric_spectrum",
    "linear_smse_gradients",
]

_NORMALIZATIONS = ("per_output", "per_example", "none")


def _spectra(fields: torch.Tensor) -> torch.Tensor:
    """``(batch, channel, y, x)`` -> ``(batch, channel, ky, kx)`` complex128 (``fft2``)."""
    return torch.fft.fft2(fields.to(torch.float64))


def linear_metric_spectrum(
    metric_inputs: torch.Tensor, out_channels: int | None = None, normalization: str = "per_output"
) -> torch.Tensor:
    """S(k) / D of the metric batch, ``(ky, kx, in, in)`` complex128 Hermitian.

    ``metric_inputs`` ``(batch, in, y, x)``; D as in
    :class:`~symaudit.influence.GaussNewtonOperator`: batch · out · N^2 (``"per_output"``, the
    number of scalar outputs; ``out_channels`` defaults to ``in``), batch (``"per_example"``)
    or 1 (``"none"``).
    """
    if normalization not in _NORMALIZATIONS:
        raise ValueError(f"unknown normalization {normalization!r}: {' | '.join(_NORMALIZATIONS)}")
    b, c, ny, nx = metric_inputs.shape
    out = c if out_channels is None else int(out_channels)
    d = {"per_output": b * out * ny * nx, "per_example": b, "none": 1}[normalization]
    u = _spectra(metric_inputs)
    return torch.einsum("biyx,bjyx->yxij", u.conj(), u) / d


def linear_lambda_max(
    metric_inputs: torch.Tensor, out_channels: int | None = None, normalization: str = "per_output"
) -> float:
    """λ_max(M) exactly: the largest eigenvalue of S(k)/D over all wave-vectors."""
    spec = linear_metric_spectrum(metric_inputs, out_channels, normalization)
    return float(torch.linalg.eigvalsh(spec).max())


def linear_smse_gradients(
    kernel: torch.Tensor, inputs: torch.Tensor, targets: torch.Tensor
) -> torch.Tensor:
    """∇_K SMSE(K * u_j, y_j) for every example, ``(n, out, in, y, x)`` float64, in Fourier
    space (the module docstring; :func:`symaudit.losses.smse` with ``reduction="sum"`` per
    example).  ``kernel`` ``(out, in, y, x)``, ``inputs`` ``(n, in, y, x)``, ``targets``
    ``(n, out, y, x)``.  Flattened row-wise they are the rows of
    :func:`~symaudit.influence.per_example_gradients` for a :class:`LinearConv`."""
    k_hat = _spectra(kernel)
    u_hat = _spectra(inputs)
    y = targets.to(torch.float64)
    pred = torch.fft.ifft2(torch.einsum("oiyx,biyx->boyx", k_hat, u_hat)).real
    out, (ny, nx) = y.shape[1], y.shape[-2:]
    r = 2.0 * (pred - y) / (rms_scale(y) * out * ny * nx)
    g_hat = torch.einsum("boyx,biyx->boiyx", _spectra(r), u_hat.conj())
    return torch.fft.ifft2(g_hat).real


def linear_influence(
    metric_inputs: torch.Tensor,
    bra_gradients: torch.Tensor,
    ket_gradients: torch.Tensor,
    damping: float,
    *,
    normalization: str = "per_output",
) -> torch.Tensor:
    """Π[i, j] = a_iᵀ (JᵀJ/D + λI)⁻¹ g_j for a linear periodic convolution, in closed form.

    Parameters
    ----------
    metric_inputs : Tensor (batch, in, y, x)
        The metric batch (the inputs u_b; the metric does not depend on K or on targets).
    bra_gradients, ket_gradients : Tensor (n, out, in, y, x), or rows (n, P)
        Parameter-space gradients a_i and g_j; rows are the flattened kernel (the layout of
        :class:`~symaudit.influence.ParameterSpace` for a :class:`LinearConv`).
    damping : float
        λ, ABSOLUTE (see the module docstring), > 0.
    normalization : {"per_output", "per_example", "none"}
        D as in :func:`linear_metric_spectrum`.

    Returns
    -------
    Tensor (n_bra, n_ket) float64, exact up to round-off.
    """
    if not damping > 0:
        raise ValueError(f"linear_influence needs a positive absolute damping, got {damping}")
    _, c, ny, nx = metric_inputs.shape

    def kernels(g: torch.Tensor) -> torch.Tensor:
        g = g.to(torch.float64)
        if g.ndim == 2:
            g = g.reshape(g.shape[0], -1, c, ny, nx)
        if tuple(g.shape[2:]) != (c, ny, nx):
            raise ValueError(f"gradients {tuple(g.shape)} do not fit inputs {(c, ny, nx)}")
        return g

    a, g = kernels(bra_gradients), kernels(ket_gradients)
    if a.shape[1] != g.shape[1]:
        raise ValueError(f"bra and ket gradients differ in out channels: {a.shape} vs {g.shape}")
    spec = linear_metric_spectrum(metric_inputs, a.shape[1], normalization)
    eye = torch.eye(c, dtype=spec.dtype)
    a_hat = _spectra(a).permute(3, 4, 2, 0, 1)  # (ky, kx, in, bra, out)
    g_hat = _spectra(g).permute(3, 4, 2, 0, 1)  # (ky, kx, in, ket, out)
    h_hat = torch.linalg.solve(spec + damping * eye, g_hat.flatten(-2)).unflatten(-1, g.shape[:2])
    pi = torch.einsum("yxian,yxikn->ak", a_hat.conj(), h_hat)
    return pi.real / (ny * nx)
