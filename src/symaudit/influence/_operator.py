"""The Gauss–Newton (empirical-NTK) metric of one batch as a matrix-free operator.

M = Jᵀ J / D, with J the Jacobian of the model's outputs over the metric batch with respect to
the flattened trainable parameters θ ∈ R^P and D the number of scalar outputs of the batch
(``normalization="per_output"``, the reference code's 1/D).  ``"per_example"`` divides by the
number of examples instead and ``"none"`` gives Jᵀ J.

Why it is built the way it is (docs/algorithms.md §6.2):

* ``torch.func.linearize`` traces the JVP once and a ``torch.func.vjp`` closure is built once, so
  a product is jvp_fn(v) followed by vjp_fn(·) and never re-runs the primal forward pass
  (1.5× a forward+backward, against 2.2–2.7× for jvp + a fresh vjp).
* Products with several vectors go through ``vmap`` in chunks: batching raises arithmetic
  intensity, but one very wide vmap was 3–4× slower per vector on CPU.
* Vectors are laid out as ROWS: a block of k vectors is a ``(k, P)`` tensor, so chunks are
  contiguous and vmap runs over the leading axis.

Two guards around ``linearize`` (torch 2.13):

* ``F.pad(..., mode="circular")`` is mis-traced: its decomposition writes into ``new_empty``
  memory that the constant folder then freezes, so the linearized JVP is silently wrong.
  While tracing, circular padding is therefore rewritten as an equivalent ``torch.cat`` of
  slices (:class:`_CircularPadAsCat`); the models of this project pad exactly that way.
* After tracing, the linearized JVP is compared once with a fresh ``torch.func.jvp`` on a random
  vector; on a mismatch the operator warns and falls back to ``mode="jvp"`` (a fresh JVP per
  product, still with the cached vjp closure), so an unknown mis-traced op can cost speed but
  never correctness.
"""

from __future__ import annotations

import contextlib
import hashlib
import math
import time
import warnings
from collections.abc import Callable, Iterator, Sequence

import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call, jvp, linearize, vjp, vmap
from torch.overrides import TorchFunctionMode

__all__ = ["GaussNewtonOperator", "ParameterSpace", "gram", "row_norms"]

NORMALIZATIONS = ("per_output", "per_example", "none")


# --- small fp64 reductions on fp32 (or fp64) row blocks ----------------------------------------

_GRAM_CHUNK = 1 << 18  # columns converted to fp64 at a time: bounds the temporary memory


def gram(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """fp64 ``a @ b.T`` for row blocks ``a`` (k, P) and ``b`` (m, P); returns (k, m) float64.

    The products of the solver stay in the model's precision, but every inner product that
    feeds a scalar or a small Gram matrix is accumulated in float64 (docs/algorithms.md §6.3,
    "Precision"); the conversion is done in column chunks so no fp64 copy of a block exists.
    """
    if a.shape[-1] != b.shape[-1]:
        raise ValueError(f"gram: length mismatch {tuple(a.shape)} vs {tuple(b.shape)}")
    out = torch.zeros(a.shape[0], b.shape[0], dtype=torch.float64, device=a.device)
    for start in range(0, a.shape[-1], _GRAM_CHUNK):
        sl = slice(start, start + _GRAM_CHUNK)
        out += a[:, sl].double() @ b[:, sl].double().T
    return out


def row_norms(a: torch.Tensor) -> torch.Tensor:
    """fp64 Euclidean norm of every row of ``a`` (k, P); returns (k,) float64."""
    out = torch.zeros(a.shape[0], dtype=torch.float64, device=a.device)
    for start in range(0, a.shape[-1], _GRAM_CHUNK):
        out += a[:, start : start + _GRAM_CHUNK].double().square().sum(dim=1)
    return out.sqrt()


# --- parameters as one flat vector --------------------------------------------------------------


class ParameterSpace:
    """The trainable parameters of ``model`` as one flat vector θ ∈ R^P.

    Parameters with ``requires_grad=False`` and all buffers are held fixed (passed to
    ``functional_call`` as constants).  ``unflatten`` returns VIEWS of the flat vector, so a
    function of θ differentiates straight into a flat gradient (the split's backward is a cat).
    A complex parameter (neuraloperator's spectral weights) enters θ as real pairs (its
    ``torch.view_as_real``: real and imaginary part of each entry side by side), so θ, the
    Jacobian and the Gauss-Newton metric are real: M = JᵀJ over (Re w, Im w).  ``shapes`` are
    the parameters' own shapes; ``numels`` count real entries.
    """

    def __init__(self, model: nn.Module):
        named = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
        if not named:
            raise ValueError("influence: the model has no trainable parameters")
        self.model = model
        self.names: list[str] = [n for n, _ in named]
        self.shapes: list[tuple[int, ...]] = [tuple(p.shape) for _, p in named]
        self.complex: list[bool] = [p.is_complex() for _, p in named]
        real = [torch.view_as_real(p.detach()) if p.is_complex() else p.detach() for _, p in named]
        self._real_shapes: list[tuple[int, ...]] = [tuple(r.shape) for r in real]
        self._real_dtypes: list[torch.dtype] = [r.dtype for r in real]  # cat promotes mixed
        self.numels: list[int] = [r.numel() for r in real]
        self.size: int = sum(self.numels)
        frozen = {n: p.detach() for n, p in model.named_parameters() if not p.requires_grad}
        self.constants: dict[str, torch.Tensor] = {**frozen, **dict(model.named_buffers())}
        self.theta: torch.Tensor = torch.cat([r.reshape(-1) for r in real])

    @property
    def dtype(self) -> torch.dtype:
        return self.theta.dtype

    @property
    def device(self) -> torch.device:
        return self.theta.device

    def unflatten(self, theta: torch.Tensor) -> dict[str, torch.Tensor]:
        """Flat (P,) -> ``{name: view}`` with the parameters' shapes (complex ones through
        ``torch.view_as_complex`` of their real pairs)."""
        parts = theta.split(self.numels)
        out = {}
        meta = (self.names, parts, self._real_shapes, self._real_dtypes, self.complex)
        for n, t, s, dt, c in zip(*meta, strict=True):
            t = t.view(s) if t.dtype == dt else t.view(s).to(dt)
            out[n] = torch.view_as_complex(t) if c else t
        return out

    def call(self, theta: torch.Tensor, inputs: torch.Tensor) -> torch.Tensor:
        """The model evaluated at parameters ``theta`` (flat) on ``inputs``."""
        return functional_call(self.model, (self.unflatten(theta), self.constants), (inputs,))

    def digest(self) -> str:
        """A short hash of names, shapes and values: ties a stored solution to its parameters."""
        h = hashlib.sha256()
        for name, shape in zip(self.names, self.shapes, strict=True):
            h.update(f"{name}:{shape};".encode())
        h.update(self.theta.detach().to("cpu", torch.float64).numpy().tobytes())
        return h.hexdigest()[:16]

    def describe(self) -> dict:
        """Plain-data description (names, shapes, size, digest) for stored solutions."""
        return {
            "names": list(self.names),
            "shapes": [list(s) for s in self.shapes],
            "size": int(self.size),
            "digest": self.digest(),
        }


# --- the torch 2.13 linearize guard -------------------------------------------------------------


def _circular_pad_as_cat(x: torch.Tensor, pad: Sequence[int]) -> torch.Tensor:
    """``F.pad(x, pad, mode="circular")`` as concatenated slices (same values, exact)."""
    for i in range(len(pad) // 2):
        left, right = int(pad[2 * i]), int(pad[2 * i + 1])
        dim = x.ndim - 1 - i
        n = x.shape[dim]
        if left > n or right > n or left < 0 or right < 0:
            raise ValueError(f"circular padding {tuple(pad)} invalid for shape {tuple(x.shape)}")
        parts = [x.narrow(dim, n - left, left)] if left else []
        parts.append(x)
        if right:
            parts.append(x.narrow(dim, 0, right))
        x = torch.cat(parts, dim) if len(parts) > 1 else x
    return x


class _CircularPadAsCat(TorchFunctionMode):
    """Rewrites circular ``F.pad`` calls into slice concatenations (see the module docstring)."""

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if func is F.pad:
            mode = kwargs.get("mode", args[2] if len(args) > 2 else "constant")
            if mode == "circular":
                pad = kwargs.get("pad", args[1] if len(args) > 1 else None)
                return _circular_pad_as_cat(args[0], pad)
        return func(*args, **kwargs)


# --- the operator -------------------------------------------------------------------------------


@contextlib.contextmanager
def _no_tf32(device: torch.device) -> Iterator[None]:
    """Products in true fp32 on CUDA: TF32 carries a ~1e-3 relative mantissa, which would
    floor the attainable residual far above the usual rtol (docs/algorithms.md §6.3)."""
    if device.type != "cuda":
        yield
        return
    previous = torch.backends.cuda.matmul.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = False
    try:
        with torch.backends.cudnn.flags(allow_tf32=False):
            yield
    finally:
        torch.backends.cuda.matmul.allow_tf32 = previous


#: how :class:`GaussNewtonOperator` forms J v (config ``influence.operator_mode``)
OPERATOR_MODES = ("linearize", "jvp")


class GaussNewtonOperator:
    """Matrix-free M = Jᵀ J / D of one metric batch (see the module docstring).

    Parameters
    ----------
    model : nn.Module
        Any module mapping ``inputs`` to an output tensor; evaluated functionally at its current
        trainable parameters (flattened, P of them).  Its train/eval mode is used as is.
    inputs : Tensor, shape (N, ...)
        The metric batch.
    normalization : {"per_output", "per_example", "none"}
        Divide Jᵀ J by D = number of scalar outputs, by N, or not at all.
    chunk_size : int
        Vectors per ``vmap`` call in :meth:`mm` (8–16 is best on CPU).
    mode : {"linearize", "jvp"}
        ``"linearize"`` traces the JVP once (fastest products); ``"jvp"`` runs a fresh forward-mode
        JVP per product (slower, nothing traced).  Both reuse one vjp closure.
    check : bool
        Compare the linearized JVP with a fresh one once, and fall back to ``"jvp"`` on a mismatch.
    patch_circular_pad : bool
        Evaluate the model with circular padding rewritten as concatenation (the linearize guard).

    Attributes
    ----------
    size : int
        P, the number of parameters (the operator is P × P).
    num_outputs : int
        D, the number of scalar outputs of the metric batch.
    scale : float
        The normalisation factor (1/D, 1/N or 1).
    matvecs : int
        Running count of products with single vectors (a k-column block counts k).
    product_seconds : float
        Running wall time spent inside :meth:`mv` / :meth:`mm` / :meth:`jvp_mm`.
    setup_seconds : float
        Time spent building the closures (tracing included).
    """

    def __init__(
        self,
        model: nn.Module,
        inputs: torch.Tensor,
        *,
        normalization: str = "per_output",
        chunk_size: int = 8,
        mode: str = "linearize",
        check: bool = True,
        patch_circular_pad: bool = True,
    ):
        if normalization not in NORMALIZATIONS:
            raise ValueError(
                f"unknown normalization {normalization!r}: {' | '.join(NORMALIZATIONS)}"
            )
        if mode not in OPERATOR_MODES:
            raise ValueError(f"unknown operator mode {mode!r}: linearize | jvp")
        if chunk_size < 1:
            raise ValueError(f"chunk_size must be >= 1, got {chunk_size}")
        t0 = time.perf_counter()
        self.space = ParameterSpace(model)
        self.inputs = inputs
        self.normalization = normalization
        self.chunk_size = int(chunk_size)
        self.patch_circular_pad = patch_circular_pad
        self.matvecs = 0
        self.jvps = 0
        self.product_seconds = 0.0
        theta = self.space.theta

        self._f: Callable[[torch.Tensor], torch.Tensor] = self._make_function()
        self.mode = mode
        self._jvp_fn = None
        with warnings.catch_warnings():
            # torch-internal noise: the constant folder warns about the attributes it creates,
            # and forward-mode AD's first use loads decompositions through torch.jit.script
            warnings.filterwarnings("ignore", message="Attempted to insert a get_attr Node")
            warnings.filterwarnings("ignore", message=".*torch.jit.script.* is deprecated")
            if mode == "linearize":
                out, self._jvp_fn = linearize(self._f, theta)
            else:  # (loads the decompositions here, quietly)
                out = jvp(self._f, (theta,), (torch.zeros_like(theta),))[0]
        # the vjp closure holds the metric batch's activations (ViT 128^2: ~0.65 GB per
        # example): built on the first product that needs it, never by JVP-only users (the
        # bras' Galerkin reference: Gram matrices of J v alone)
        self._vjp_closure = None
        self.output = out.detach()
        self.output_shape = tuple(self.output.shape)
        self.num_outputs = int(self.output.numel())
        self.num_examples = int(inputs.shape[0])
        self.scale = self.scale_of(normalization)
        self.linearize_check: float | None = None
        if self.mode == "linearize" and check:
            self.linearize_check = self._check_linearize()
        self.setup_seconds = time.perf_counter() - t0

    def scale_of(self, normalization: str) -> float:
        """The factor of M = scale · JᵀJ for ``normalization`` on this batch (1/D per output,
        1/N per example, 1 for none): another normalisation of the same Jacobian products."""
        return {
            "per_output": 1.0 / self.num_outputs,
            "per_example": 1.0 / self.num_examples,
            "none": 1.0,
        }[normalization]

    # -- construction helpers

    def _make_function(self) -> Callable[[torch.Tensor], torch.Tensor]:
        space, inputs, patch = self.space, self.inputs, self.patch_circular_pad

        def f(theta: torch.Tensor) -> torch.Tensor:
            if patch:
                with _CircularPadAsCat():
                    return space.call(theta, inputs)
            return space.call(theta, inputs)

        return f

    def _check_linearize(self) -> float:
        """Relative difference between the linearized and a fresh JVP on one random vector."""
        gen = torch.Generator(device="cpu").manual_seed(1234)
        v = torch.randn(self.size, generator=gen, dtype=torch.float64)
        v = v.to(dtype=self.dtype, device=self.device)
        lin = self._jvp_fn(v)
        ref = jvp(self._f, (self.space.theta,), (v,))[1]
        err = float((lin - ref).double().norm() / ref.double().norm().clamp_min(1e-300))
        tol = 1e-10 if self.dtype == torch.float64 else 1e-4
        if self.patch_circular_pad:  # the rewritten padding must not change the model itself
            with torch.no_grad():
                plain = self.space.call(self.space.theta, self.inputs)
            diff = float((plain - self.output).double().norm() / plain.double().norm())
            if not diff <= tol:
                raise RuntimeError(f"circular-pad rewrite changed the model output by {diff:.2e}")
        if not math.isfinite(err) or err > tol:
            warnings.warn(
                f"torch.func.linearize mis-traced this model (relative JVP error {err:.2e}); "
                "falling back to a fresh JVP per product (correct, slower)",
                RuntimeWarning,
                stacklevel=3,
            )
            self.mode = "jvp"
            self._jvp_fn = None
        return err

    # -- properties

    @property
    def size(self) -> int:
        return self.space.size

    @property
    def dtype(self) -> torch.dtype:
        return self.space.dtype

    @property
    def device(self) -> torch.device:
        return self.space.device

    # -- products

    def _pullback(self) -> Callable:
        """u -> (Jᵀ u,), the vjp closure of the metric batch (built once, on first use)."""
        if self._vjp_closure is None:
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", message="Attempted to insert a get_attr Node")
                _, self._vjp_closure = vjp(self._f, self.space.theta)
        return self._vjp_closure

    def _jvp_single(self, v: torch.Tensor) -> torch.Tensor:
        if self._jvp_fn is not None:
            return self._jvp_fn(v)
        return jvp(self._f, (self.space.theta,), (v,))[1]

    def _mv_single(self, v: torch.Tensor) -> torch.Tensor:
        return self._pullback()(self._jvp_single(v))[0]

    def jvp(self, v: torch.Tensor) -> torch.Tensor:
        """J v for one flat vector (P,); returns the output-shaped tangent."""
        self.jvps += 1
        return self._jvp_single(v)

    def vjp(self, u: torch.Tensor) -> torch.Tensor:
        """Jᵀ u for one output-shaped cotangent; returns (P,)."""
        return self._pullback()(u)[0]

    def mv(self, v: torch.Tensor) -> torch.Tensor:
        """M v for one flat vector (P,)."""
        self.matvecs += 1
        t0 = time.perf_counter()
        with torch.no_grad(), _no_tf32(self.device):
            out = self._mv_single(v) * self.scale
        self.product_seconds += time.perf_counter() - t0
        return out

    def _chunked(self, fn, V: torch.Tensor) -> list[torch.Tensor]:
        if V.ndim != 2 or V.shape[1] != self.size:
            raise ValueError(f"expected a (k, {self.size}) block of vectors, got {tuple(V.shape)}")
        V = V.to(dtype=self.dtype, device=self.device)
        outs = []
        for start in range(0, V.shape[0], self.chunk_size):
            chunk = V[start : start + self.chunk_size]
            outs.append(fn(chunk[0])[None] if chunk.shape[0] == 1 else vmap(fn)(chunk))
        return outs

    def mm(self, V: torch.Tensor) -> torch.Tensor:
        """M Vᵀ for a row block V (k, P); returns (k, P) (row i = M V[i])."""
        if V.shape[0] == 0:
            return torch.empty_like(V)
        t0 = time.perf_counter()
        with torch.no_grad(), _no_tf32(self.device):
            out = torch.cat(self._chunked(self._mv_single, V)).mul_(self.scale)
        self.matvecs += V.shape[0]
        self.product_seconds += time.perf_counter() - t0
        return out

    def jvp_mm(self, V: torch.Tensor) -> torch.Tensor:
        """J Vᵀ for a row block V (k, P); returns (k, *output_shape)."""
        t0 = time.perf_counter()
        with torch.no_grad(), _no_tf32(self.device):
            out = torch.cat(self._chunked(self._jvp_single, V))
        self.jvps += V.shape[0]
        self.product_seconds += time.perf_counter() - t0
        return out

    def vjp_mm(self, U: torch.Tensor) -> torch.Tensor:
        """Jᵀ U for a block of output-shaped cotangents U (k, *output_shape) or (k, D); returns
        (k, P).  No normalisation (M V = scale · Jᵀ (J V))."""
        U = U.reshape(U.shape[0], *self.output_shape).to(dtype=self.dtype, device=self.device)
        if U.shape[0] == 0:
            return torch.empty(0, self.size, dtype=self.dtype, device=self.device)
        t0 = time.perf_counter()

        vjp_fn = self._pullback()

        def one(u):
            return vjp_fn(u)[0]

        outs = []
        with torch.no_grad(), _no_tf32(self.device):
            for start in range(0, U.shape[0], self.chunk_size):
                chunk = U[start : start + self.chunk_size]
                outs.append(one(chunk[0])[None] if chunk.shape[0] == 1 else vmap(one)(chunk))
        self.product_seconds += time.perf_counter() - t0
        return torch.cat(outs)

    def dense(self) -> torch.Tensor:
        """The dense P × P matrix (tests and tiny models only: P products)."""
        if self.size > 20_000:
            raise ValueError(f"dense(): P = {self.size} is too large for a dense metric")
        eye = torch.eye(self.size, dtype=self.dtype, device=self.device)
        return self.mm(eye).T.contiguous()
