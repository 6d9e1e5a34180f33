"""A foreign model's tensor layout, in einops-like notation, and the adapter that gives it
symaudit's.

symaudit hands every model ``(batch, channel, y, x)`` with x the last axis; with ``history``
K > 1 the channel axis holds the K input frames stacked frame-major (oldest first: channels
``[frame t-K+1: c0..c(C-1), ..., frame t: c0..c(C-1)]``).  ``layout`` names the axes of the
tensor the model itself expects, a permutation of ``b c y x`` or, when the model takes its
history on an axis of its own, of ``b t c y x``:

* ``"b c y x"`` -- symaudit's own (the default);
* ``"b c x y"`` -- neuraloperator's FNO on data whose first spatial axis is x;
* ``"b x y c"`` -- the_well's raw arrays (channels last, x before y);
* ``"b t x y c"`` -- the_well's benchmark models with their time axis.

The model's output is read in the same layout (a ``t`` axis of length 1).  :class:`Adapter`
wraps the model so that it maps symaudit's layout to symaudit's layout; the group acts only on
symaudit's side, so a model never sees anything but its own layout.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from symaudit.errors import UserError

__all__ = ["Adapter", "Layout", "parse_layout"]

_PLAIN = ("b", "c", "y", "x")
_TIMED = ("b", "t", "c", "y", "x")


@dataclass(frozen=True)
class Layout:
    """The model's axis names in order (``axes``) and whether it has a time axis."""

    axes: tuple[str, ...]

    @property
    def timed(self) -> bool:
        return "t" in self.axes

    @property
    def canonical(self) -> tuple[str, ...]:
        return _TIMED if self.timed else _PLAIN

    def to_model(self) -> tuple[int, ...]:
        """Permutation taking the canonical order to the model's."""
        return tuple(self.canonical.index(a) for a in self.axes)

    def from_model(self) -> tuple[int, ...]:
        """Permutation taking the model's order back to the canonical one."""
        return tuple(self.axes.index(a) for a in self.canonical)

    def __str__(self) -> str:
        return " ".join(self.axes)


def parse_layout(text: str) -> Layout:
    """``"b x y c"`` -> :class:`Layout`; anything but a permutation of ``b c y x`` or
    ``b t c y x`` is one :class:`UserError` line."""
    axes = tuple(str(text).replace(",", " ").split())
    if sorted(axes) not in (sorted(_PLAIN), sorted(_TIMED)):
        raise UserError(
            f"layout {text!r}: expected the axes b c y x (or b t c y x) in the model's order, "
            "e.g. 'b c y x' (symaudit), 'b c x y' (neuraloperator), 'b x y c' (the_well)"
        )
    return Layout(axes)


class Adapter(torch.nn.Module):
    """``model`` seen in symaudit's layout: ``(b, K*C, y, x) -> (b, C_out, y, x)``.

    ``history`` = K frames of C channels each; with a ``t`` axis the input is reshaped to
    ``(b, K, C, y, x)`` before the permutation and the output's ``t`` axis (length 1) dropped.
    """

    def __init__(self, model: torch.nn.Module, layout: Layout, history: int = 1):
        super().__init__()
        self.model = model
        self.layout = layout
        self.history = int(history)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, kc, ny, nx = x.shape
        if self.layout.timed:
            x = x.reshape(b, self.history, kc // self.history, ny, nx)
        out = self.model(x.permute(self.layout.to_model()))
        if not isinstance(out, torch.Tensor):
            raise UserError(
                f"the model returned a {type(out).__name__}, not one tensor (wrap it in a "
                "python: factory that returns the prediction)"
            )
        if out.ndim != len(self.layout.axes):
            raise UserError(
                f"the model returned shape {tuple(out.shape)}, not a tensor of layout "
                f"'{self.layout}'"
            )
        out = out.permute(self.layout.from_model())
        if self.layout.timed:
            if out.shape[1] != 1:
                raise UserError(
                    f"the model returned {out.shape[1]} frames on its t axis; the audit needs 1"
                )
            out = out[:, 0]
        if out.shape[-2:] != (ny, nx):
            raise UserError(
                f"the model returned a {tuple(out.shape[-2:])} grid for a ({ny}, {nx}) input "
                f"(is --layout '{self.layout}' the model's own?)"
            )
        return out
