"""The emulators: the reference UNet and ViT, their D4-twirled controls, presets and checkpoints.

Layout everywhere ``(batch, channel, y, x)``; every model maps s_t -> s_{t+1} with the same shape
and works in float32 and float64.  Names (config ``model:``) are the keys of :data:`MODELS`:
``unet``, ``vit``, ``twirled-unet``, ``twirled-vit``, and the linear periodic convolutions
``linear`` (f = K * u), ``twirled-linear`` and ``linear2`` (f = K2 * (K1 * u)) of the
conservation study.  Sizes are the keys of :data:`PRESETS`: ``paper`` (the reference sizes:
13 875 081 / 4 504 913 parameters for CE), ``small`` and ``tiny`` (CPU-friendly, for tests and
the quick study); the linear models have one size under every preset.

Checkpoints (:func:`save_checkpoint`, :func:`load_checkpoint`) hold only tensors, dicts, lists,
tuples, strings, numbers, booleans and None, so they load with ``torch.load(weights_only=True)``:
no pickled code ever runs when a checkpoint is read.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import torch
from torch import nn

from symaudit._io import atomic_path
from symaudit.errors import UserError
from symaudit.models._increment import Increment, input_normalisation
from symaudit.models._layers import fused_attention, reset_parameters
from symaudit.models._linear import LinearConv, TwoLayerLinearConv
from symaudit.models._twirl import Twirled, twirled
from symaudit.models._unet import UNet
from symaudit.models._vit import ViT, unpatchify

__all__ = [
    "MODELS",
    "LinearConv",
    "TwoLayerLinearConv",
    "PRESETS",
    "Increment",
    "Twirled",
    "UNet",
    "UnreadableCheckpoint",
    "ViT",
    "build",
    "count_parameters",
    "fused_attention",
    "input_normalisation",
    "load_checkpoint",
    "read_checkpoint",
    "save_checkpoint",
    "twirled",
    "unpatchify",
]

CHECKPOINT_FORMAT = "symaudit-checkpoint"
CHECKPOINT_VERSION = 1

#: preset -> base architecture -> constructor keywords
PRESETS: dict[str, dict[str, dict[str, int]]] = {
    # the reference code's sizes (docs/algorithms.md §2.1, §2.2)
    "paper": {"unet": {"chs": 24}, "vit": {"chs": 256, "depth": 8, "heads": 8}},
    # ~1/9 of the UNet width, a quarter-width half-depth ViT: GPU-minutes per epoch on small data
    "small": {"unet": {"chs": 8}, "vit": {"chs": 64, "depth": 4, "heads": 4}},
    # CPU-friendly: ~1e4-1e5 parameters, a 32^2 batch of 48 in a fraction of a second
    "tiny": {"unet": {"chs": 2}, "vit": {"chs": 32, "depth": 2, "heads": 2}},
    # the embedded quick study: the tiny UNet and a wide, shallow ViT.  At 32^2 the reference's
    # scrambled unpatchify makes every token write a half-row strip up to 16 px outside its own
    # patch; the narrow tiny ViT (32 wide, 2 heads) never learns such a non-local routing of a
    # local map and stays at persistence, while 96 wide with 12 heads does (docs/training.md)
    "quick": {"unet": {"chs": 2}, "vit": {"chs": 96, "depth": 2, "heads": 12}},
}
# the linear emulators of the conservation study have one size whatever the preset
for _sizes in PRESETS.values():
    _sizes.update({"linear": {}, "linear2": {"hidden": 4}})


def _unet(in_channels: int, resolution: int, **kw) -> nn.Module:
    return UNet(in_channels, **kw)


def _vit(in_channels: int, resolution: int, **kw) -> nn.Module:
    return ViT(in_channels, resolution=resolution, **kw)


def _linear(in_channels: int, resolution: int, **kw) -> nn.Module:
    return LinearConv(in_channels, resolution, **kw)


def _linear2(in_channels: int, resolution: int, **kw) -> nn.Module:
    return TwoLayerLinearConv(in_channels, resolution, **kw)


#: config name -> (base architecture, constructor(in_channels, resolution, **preset), twirled?)
MODELS: dict[str, tuple[str, Callable[..., nn.Module], bool]] = {
    "unet": ("unet", _unet, False),
    "vit": ("vit", _vit, False),
    "twirled-unet": ("unet", _unet, True),
    "twirled-vit": ("vit", _vit, True),
    "linear": ("linear", _linear, False),
    "linear2": ("linear2", _linear2, False),
    "twirled-linear": ("linear", _linear, True),
}

_DTYPES = {"float32": torch.float32, "float64": torch.float64}


def build(
    name: str,
    preset: str,
    in_channels: int,
    channels: Sequence[Mapping] | None = None,
    *,
    resolution: int = 128,
    generator: torch.Generator | None = None,
    dtype: torch.dtype = torch.float32,
    increment: bool = False,
) -> nn.Module:
    """Build model ``name`` at size ``preset`` for ``in_channels`` field channels.

    Parameters
    ----------
    name : str
        A key of :data:`MODELS` (``unet``, ``vit``, ``twirled-unet``, ``twirled-vit``).
    preset : str
        A key of :data:`PRESETS` (``paper``, ``small``, ``tiny``).
    in_channels : int
        F, the number of channels of the ``(batch, F, N, N)`` fields (4 for CE, 2 for NS).
    channels : list of dict, optional
        The store's channel list; required by ``twirled-*`` (it fixes how vector components
        transform) and checked against ``in_channels`` when given.
    resolution : int
        N.  The ViT's token grid and positional embedding are fixed by it; the UNet accepts any
        N divisible by 16 and only records it.
    generator : torch.Generator, optional
        Source of the initial weights (reference / Lux initialisation); the global RNG is used
        when omitted.  The same generator state always gives the same weights.
    dtype : torch.dtype
        float32 (training) or float64 (exact checks).
    increment : bool
        Predict the change over one step: the model is x -> x + net(x) (:class:`Increment`)
        instead of the reference's direct map x -> net(x).  Twirling wraps the whole map.
    """
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}; known: {', '.join(MODELS)}")
    if preset not in PRESETS:
        raise ValueError(f"unknown preset {preset!r}; known: {', '.join(PRESETS)}")
    if not isinstance(in_channels, int) or in_channels < 1:
        raise ValueError(f"in_channels must be a positive integer, got {in_channels!r}")
    if channels is not None and len(channels) != in_channels:
        raise ValueError(
            f"channel list names {len(channels)} channels but in_channels={in_channels}"
        )
    base, make, is_twirled = MODELS[name]
    if base == "unet" and (resolution % UNet.stride or resolution < UNet.stride):
        raise ValueError(
            f"UNet resolution {resolution} must be a positive multiple of {UNet.stride} "
            "(four stride-2 levels)"
        )
    if is_twirled and channels is None:
        raise ValueError(f"model {name!r} needs the store's channel list (channels=...)")
    kwargs = PRESETS[preset][base]
    model = make(in_channels, resolution, **kwargs)
    reset_parameters(model, generator)
    if increment:
        model = Increment(model, in_channels)
    if is_twirled:
        model = twirled(model, channels)
    model = model.to(dtype)
    # everything load_checkpoint needs to rebuild the architecture (plain JSON-able values)
    model.symaudit_spec = {
        "name": name,
        "preset": preset,
        "in_channels": in_channels,
        "channels": [dict(c) for c in channels] if channels is not None else None,
        "resolution": int(resolution),
        "dtype": str(dtype).removeprefix("torch."),
        "increment": bool(increment),
    }
    return model


def count_parameters(model: nn.Module) -> int:
    """Number of trainable scalars (buffers such as the fixed pooling stencils excluded)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def _unwrap(model: nn.Module) -> nn.Module:
    # DistributedDataParallel / torch.compile wrappers keep the real module inside
    while not hasattr(model, "symaudit_spec") and hasattr(model, "module"):
        model = model.module
    return model


def _check_plain(value, where: str) -> None:
    """Refuse anything ``torch.load(weights_only=True)`` could not read back."""
    if value is None or isinstance(value, bool | int | float | str | torch.Tensor):
        return
    if isinstance(value, dict):
        for k, v in value.items():
            if not isinstance(k, str | int):
                raise TypeError(f"checkpoint {where}: key {k!r} is not a str or int")
            _check_plain(v, f"{where}.{k}")
        return
    if isinstance(value, list | tuple):
        for i, v in enumerate(value):
            _check_plain(v, f"{where}[{i}]")
        return
    raise TypeError(
        f"checkpoint {where}: {type(value).__name__} cannot be stored (weights_only load); "
        "use tensors, dicts, lists, str, int, float, bool or None"
    )


def save_checkpoint(path: str | os.PathLike, model: nn.Module, meta: Mapping, **state) -> Path:
    """Write ``model``'s weights, ``meta`` and extra ``state`` to ``path`` atomically.

    The file is written to a temporary name in the same directory and moved into place with
    ``os.replace``, so a reader (or a resumed run after a kill) never sees half a checkpoint.
    ``model`` must come from :func:`build` (possibly wrapped in DDP).  ``meta`` and ``state``
    may hold only tensors, dicts, lists, tuples, str, int, float, bool and None.
    """
    path = Path(path)
    inner = _unwrap(model)
    spec = getattr(inner, "symaudit_spec", None)
    if spec is None:
        raise ValueError("save_checkpoint: the model was not made by symaudit.models.build")
    payload = {
        "format": CHECKPOINT_FORMAT,
        "version": CHECKPOINT_VERSION,
        "model": dict(spec),
        "state_dict": {k: v.detach().cpu() for k, v in inner.state_dict().items()},
        "meta": dict(meta),
        "state": dict(state),
    }
    _check_plain(payload, path.name)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path, fsync=True) as tmp:
        torch.save(payload, tmp)
    return path


def read_checkpoint(path: str | os.PathLike, map_location="cpu") -> dict:
    """The raw checkpoint dict (``format``, ``version``, ``model``, ``state_dict``, ``meta``,
    ``state``), read with ``weights_only=True``."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"checkpoint {path} does not exist")
    try:
        payload = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as err:  # a truncated or foreign file: say which one
        reason = " ".join(f"{type(err).__name__}: {err}".split()).split(". ")[0][:160]
        raise UnreadableCheckpoint(f"checkpoint {path}: cannot be read ({reason})") from None
    if not isinstance(payload, dict) or payload.get("format") != CHECKPOINT_FORMAT:
        raise ValueError(f"checkpoint {path}: not a symaudit checkpoint")
    version = payload.get("version")
    if version != CHECKPOINT_VERSION:
        newer = isinstance(version, int) and version > CHECKPOINT_VERSION
        raise UserError(
            f"checkpoint {path}: format version {version!r}, but this symaudit reads version "
            f"{CHECKPOINT_VERSION}"
            + ("; it was written by a newer symaudit - upgrade" if newer else "")
        )
    return payload


class UnreadableCheckpoint(UserError):
    """A checkpoint file that ``torch.load`` cannot read (truncated, not a torch file)."""


def _load_weights(model: nn.Module, payload: Mapping, path) -> None:
    """``model.load_state_dict`` with a one-line error naming the checkpoint when the weights
    do not fit the architecture its metadata describes."""
    try:
        model.load_state_dict(payload["state_dict"])
    except (RuntimeError, KeyError, TypeError) as err:
        spec, have = payload["model"], set(payload.get("state_dict") or {})
        want = set(model.state_dict())
        missing, extra = sorted(want - have), sorted(have - want)
        detail = (
            f"{len(missing)} weights missing (e.g. {missing[0]}), {len(extra)} unexpected "
            f"(e.g. {extra[0] if extra else '-'})"
            if missing
            else " ".join(str(err).split())[:160]
        )
        raise UserError(
            f"checkpoint {path}: its weights do not fit the {spec.get('name')!r} model (preset "
            f"{spec.get('preset')!r}) its metadata describes: {detail}"
        ) from None


def load_checkpoint(path: str | os.PathLike, map_location="cpu") -> tuple[nn.Module, dict]:
    """Rebuild the model stored in ``path`` and load its weights.

    Returns ``(model, meta)``: the model in eval mode, in the dtype it was saved in, and the
    saved ``meta`` with the architecture spec added under ``"model"`` (name, preset,
    in_channels, channels, resolution, dtype).
    """
    payload = read_checkpoint(path, map_location)
    spec = payload["model"]
    model = build(
        spec["name"],
        spec["preset"],
        spec["in_channels"],
        spec["channels"],
        resolution=spec["resolution"],
        dtype=_DTYPES[spec["dtype"]],
        increment=spec.get("increment", False),
    )
    _load_weights(model, payload, path)
    if isinstance(map_location, str | torch.device):
        model.to(map_location)
    meta = dict(payload["meta"])
    meta["model"] = dict(spec)
    return model.eval(), meta
