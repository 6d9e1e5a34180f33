"""One pass over a set of group elements: f(g x) for every g, with f(x) computed once.

Everything the stage needs falls out of the same forward passes:

* the numerators of the relative error, SMSE(f(g x), g y) per example (docs/algorithms.md §5.1),
  and of its normalised form ||g^-1 f(g x) - y||^2_w with the untransformed target's SMSE
  weights w (docs/algorithms.md §5.3; it differs from the raw statistic only for boosts and
  scalings, elements acting on transitions through :func:`symaudit.groups.act_transition`);
* the twisted predictions z_g = g^-1 f(g x) (twirling paper §2), folded into a running mean
  and a running sum of squared deviations (Welford), so the twirl decomposition needs
  O(batch) memory whatever the number of elements.

Layouts: inputs and targets ``(batch, channel, y, x)``.  The model runs in its own dtype and on
its own device; all losses and accumulators are float64.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import torch

from symaudit import groups
from symaudit.losses import rms_scale, smse

__all__ = ["SweepResult", "check_group", "evaluating", "is_identity", "placement", "sweep"]


def _reduced(element: str, shape: tuple[int, int]) -> groups.Element:
    """The element with its shift reduced modulo the grid (t(N,0) is the identity)."""
    g = groups.parse_transition(element)
    if not isinstance(g, groups.Element):
        raise ValueError(
            f"twirl: {g.name} is not an element of a finite group (boosts and scalings form "
            "infinite groups): there is no twirl over it"
        )
    h, w = shape
    return groups.Element(g.rotate, g.reflect, g.dx % w, g.dy % h, g.swap)


def is_identity(element: str, shape: tuple[int, int]) -> bool:
    """True when ``element`` acts as the identity on a ``shape = (y, x)`` periodic grid (the
    wrong-pairing ``p*e*p`` included: P e P = e; boost(0,0) and scale(1))."""
    k = groups.parse_transition(element)
    if isinstance(k, groups.Boost | groups.Scale | groups.Negate):
        return k in (groups.Boost(0, 0), groups.Scale(1.0))
    g = _reduced(element, shape)
    return (g.rotate, g.reflect, g.dx, g.dy) == (0, 0, 0, 0)


def check_group(elements: Sequence[str], shape: tuple[int, int]) -> None:
    """Raise ``ValueError`` unless ``elements`` is a finite group acting on a ``(y, x)`` grid.

    Accepted: subgroups of D4 (D4 itself, the rotations, {e, s}, ...) and subgroups of the
    periodic translations (shifts by multiples of k along x, y or both, with k dividing N).  The
    twirled prediction mu(x) is exactly equivariant only over a group, and the decomposition is a
    uniform average over it, so duplicates are rejected as well.  Boosts and scalings are
    refused: they are not elements of a finite group (no twirl over them).
    """
    reduced = [_reduced(g, shape) for g in elements]
    for g in reduced:
        if g.is_mixed or g.swap:
            raise ValueError(f"twirl: {g.name} is not supported (a product or p*g*p)")
    if not reduced:
        raise ValueError("twirl: the element set is empty")
    if len(set(reduced)) != len(reduced):
        raise ValueError(f"twirl: duplicate elements in {list(elements)} (modulo the grid)")
    if any(g.is_translation for g in reduced) and any(g.rotate or g.reflect for g in reduced):
        raise ValueError("twirl: mixing D4 elements and translations is not supported")
    members = set(reduced)
    h, w = shape
    for a in reduced:
        for b in reduced:
            if a.is_translation or b.is_translation:
                c = groups.Element(dx=(a.dx + b.dx) % w, dy=(a.dy + b.dy) % h)
            else:
                c = groups.parse(groups.compose(a, b))
            if c not in members:
                raise ValueError(
                    f"twirl: elements {[g.name for g in reduced]} do not form a group "
                    f"({a.name} o {b.name} = {c.name} is missing)"
                )


def placement(model, inputs: torch.Tensor) -> tuple[torch.device, torch.dtype]:
    """(device, dtype) the model computes in: those of its first parameter or buffer, else the
    inputs' own (a parameter-free callable)."""
    if isinstance(model, torch.nn.Module):
        for tensor in (*model.parameters(), *model.buffers()):
            if tensor.is_floating_point():
                return tensor.device, tensor.dtype
    return inputs.device, inputs.dtype


@contextlib.contextmanager
def evaluating(model):
    """Run ``model`` in eval mode without gradients; restore each submodule's mode after."""
    modes = [(m, m.training) for m in model.modules()] if isinstance(model, torch.nn.Module) else []
    try:
        for m, _ in modes:
            m.training = False
        with torch.no_grad():
            yield
    finally:
        for m, mode in modes:
            m.training = mode


@dataclass
class SweepResult:
    """What :func:`sweep` measured on one batch of n examples and E elements.

    Attributes
    ----------
    elements : list of str
        The element names, in the order of the first axis of ``errors``.
    baseline : torch.Tensor
        ``(n,)`` float64, SMSE(f(x), y) per example.
    errors : torch.Tensor
        ``(E, n)`` float64, SMSE(f(g x), g y) per example.
    pulled_back : torch.Tensor or None
        ``(E, n)`` float64, ||g^-1 f(g x) - y||^2_w per example with w the SMSE weights of the
        UNTRANSFORMED target y and g^-1 the inverse's target action (docs/algorithms.md §5.3).
        For D4 x translations it is ``errors`` itself (the pull-back permutes and negates, so
        it changes neither the weights nor the norm).
    twirl : dict or None
        When requested: per-example ``(n,)`` float64 tensors ``total``, ``mean``, ``equiv``
        (see :func:`symaudit.equivariance.twirl_decomposition`) and ``prediction``, the
        twirled prediction mu(x) of layout ``(batch, channel, y, x)`` in float64.
    """

    elements: list[str]
    baseline: torch.Tensor
    errors: torch.Tensor
    twirl: dict | None = field(default=None)
    pulled_back: torch.Tensor | None = field(default=None)

    @property
    def relative(self) -> torch.Tensor:
        """``(E, n)`` float64 relative errors SMSE(f(g x), g y) / SMSE(f(x), y): the paper's
        raw statistic (an exactly equivariant model scores alpha under scale(alpha), below 1
        under a boost)."""
        return self.errors / self.baseline

    @property
    def normalised(self) -> torch.Tensor:
        """``(E, n)`` float64 ||g^-1 f(g x) - y||^2_w / SMSE(f(x), y): exactly 1 for an
        exactly equivariant model under every element (docs/algorithms.md §5.3)."""
        numerators = self.errors if self.pulled_back is None else self.pulled_back
        return numerators / self.baseline


def _weighted_mean(sq: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """mean over (channel, y, x) of ``weight * sq``: the SMSE reduction with given weights."""
    return (sq * weight).mean(dim=(-3, -2, -1))


class _Welford:
    """Running mean and sum of squared deviations of the twisted predictions z_g over a group
    (Welford), which gives L_equiv without the cancellation of "E[z^2] - mu^2"; plus the running
    sum of the per-example losses ||z_g - y||_w^2.  Layout of z, y: ``(batch, channel, y, x)``,
    float64."""

    def __init__(self, y: torch.Tensor):
        self.y = y
        self.weight = 1.0 / rms_scale(y)  # the SMSE weights of the UNTRANSFORMED target
        self.mu = torch.zeros_like(y)
        self.m2 = torch.zeros_like(y)
        self.total = torch.zeros(y.shape[0], dtype=torch.float64, device=y.device)
        self.count = 0

    def add(self, z: torch.Tensor) -> None:
        self.total += _weighted_mean((z - self.y).square(), self.weight)
        self.count += 1
        delta = z - self.mu
        self.mu += delta / self.count
        self.m2 += delta * (z - self.mu)

    def result(self, group: list[str]) -> dict:
        """The ``twirl`` dict of :class:`SweepResult`."""
        return {
            "total": self.total / self.count,
            "mean": _weighted_mean((self.mu - self.y).square(), self.weight),
            "equiv": _weighted_mean(self.m2 / self.count, self.weight),
            "prediction": self.mu,
            "elements": group,
        }


def _outputs(model, x, fx, move, wanted, elements_per_batch):
    """Yield ``(g, f(g x))`` for every element of ``wanted``, ``elements_per_batch`` transformed
    copies of ``x`` per forward pass (``move(g, inputs, targets)``: the transition action);
    layout ``(batch, channel, y, x)``, float64."""
    n, shape = x.shape[0], tuple(x.shape[-2:])
    for start in range(0, len(wanted), elements_per_batch):
        chunk = wanted[start : start + elements_per_batch]
        # The identity reuses f(x): its ratio is then exactly 1, not 1 + the round-off of a
        # differently-sized batch.
        todo = [g for g in chunk if not is_identity(g, shape)]
        outs: dict[str, torch.Tensor] = {}
        if todo:
            stacked = torch.cat([move(g, x, None)[0] for g in todo])
            out = model(stacked).to(torch.float64)
            del stacked
            outs = dict(zip(todo, out.split(n), strict=True))
            del out  # the views in `outs` keep it alive until the end of the chunk
        for g in chunk:
            yield g, outs[g] if g in outs else fx
        del outs  # free this chunk's outputs before the next forward pass


def _validated(inputs, targets, elements, group, channels, twirl, move) -> None:
    """Every refusal before any forward pass: shapes, names, the twirl's group, and (boosts,
    scalings) the channel roles and the frame spacing, by acting on one input frame."""
    if inputs.ndim != 4 or inputs.shape != targets.shape:
        raise ValueError(
            f"inputs {tuple(inputs.shape)} and targets {tuple(targets.shape)} must both be "
            "(batch, channel, y, x) of the same shape"
        )
    for g in elements:
        if not isinstance(groups.parse_transition(g), groups.Element):
            move(g, inputs[:1], None)
    if twirl:
        check_group(group, tuple(inputs.shape[-2:]))


def _numerators(g, fgx, y, move) -> tuple[torch.Tensor, torch.Tensor]:
    """SMSE(f(g x), g y) and ||g^-1 f(g x) - y||^2_w = SMSE(g^-1 f(g x), y) (w: the
    untransformed target's weights; for D4 x translations the same number, module docstring)."""
    raw = smse(fgx, move(g, None, y)[1], reduction="per_example")
    if isinstance(groups.parse_transition(g), groups.Element):
        return raw, raw
    pulled = move(groups.inverse(g), None, fgx)[1]  # the inverse's TARGET action
    return raw, smse(pulled, y, reduction="per_example")


def sweep(
    model,
    inputs: torch.Tensor,
    targets: torch.Tensor,
    elements: Sequence[str],
    channels: Sequence[Mapping],
    *,
    elements_per_batch: int = 8,
    twirl: bool = False,
    twirl_elements: Sequence[str] | None = None,
    dt: float | None = None,
    extent: tuple[float, float] = (1.0, 1.0),
) -> SweepResult:
    """Evaluate ``model`` on g x for every element g (f(x) once), see the module docstring.

    Parameters
    ----------
    model : callable
        Maps ``(batch, channel, y, x)`` to the same layout (an ``nn.Module`` is put in eval mode
        for the call and restored after).
    inputs, targets : torch.Tensor
        ``(batch, channel, y, x)``; cast to the model's dtype and device (targets to float64).
    elements : sequence of str
        Element names (``groups.parse_transition``) whose relative errors are wanted.
    channels : sequence of dict
        The store's channel list (how components transform; roles for boosts and scalings).
    elements_per_batch : int
        Transformed copies of the batch stacked into one forward pass (memory vs speed).
    twirl : bool
        Also accumulate the twirl decomposition over ``twirl_elements`` (default: ``elements``),
        which must form a finite group (:func:`check_group`).  Elements in both lists share
        their forward pass.
    dt, extent : float, (float, float)
        The frame spacing and the domain's side lengths a boost needs
        (:func:`symaudit.groups.frame_geometry` of the store); unused otherwise.
    """
    if elements_per_batch < 1:
        raise ValueError(f"elements_per_batch must be >= 1, got {elements_per_batch}")

    def move(g, a, b):
        return groups.act_transition(g, a, b, channels, dt=dt, extent=extent)

    elements = [str(g) for g in elements]
    group = [str(g) for g in (twirl_elements if twirl_elements is not None else elements)]
    _validated(inputs, targets, elements, group, channels, twirl, move)
    device, dtype = placement(model, inputs)
    x = inputs.to(device=device, dtype=dtype)
    # the targets and every loss in float64: the ratios and the decomposition are compared at
    # the 1e-10 level, far below float32 round-off of the model itself
    y = targets.to(device=device, dtype=torch.float64)

    # The union of both lists, each evaluated once.
    wanted = list(dict.fromkeys(elements + (group if twirl else [])))
    errors = torch.empty(len(elements), x.shape[0], dtype=torch.float64, device=device)
    pulled_back = torch.empty_like(errors)
    rows: dict[str, list[int]] = {}
    for i, g in enumerate(elements):  # a repeated name fills every row it names
        rows.setdefault(g, []).append(i)
    in_group = set(group) if twirl else set()
    running = _Welford(y) if twirl else None

    with evaluating(model):
        fx = model(x).to(torch.float64)
        baseline = smse(fx, y, reduction="per_example")
        for g, fgx in _outputs(model, x, fx, move, wanted, elements_per_batch):
            if g in rows:
                errors[rows[g]], pulled_back[rows[g]] = _numerators(g, fgx, y, move)
            if g in in_group:
                running.add(groups.act(groups.inverse(g), fgx, channels))  # twisted prediction

    result = SweepResult(elements, baseline, errors, pulled_back=pulled_back)
    if twirl:
        result.twirl = running.result(group)
    return result
