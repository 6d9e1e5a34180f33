"""Foreign models from a SPEC string (docs/audit.md §1).

* ``python:pkg.module:factory`` -- a callable returning an ``nn.Module``; ``weights`` (a state
  dict file) is loaded with ``weights_only=True``.
* ``torchscript:FILE`` -- ``torch.jit.load``.
* ``export:FILE`` -- a ``torch.export`` program (``torch.export.load(...).module()``).
* ``the_well:CLASS:FOLDER`` -- one of the_well's benchmark models (``the_well.benchmark.models``,
  e.g. ``UNetClassic``, ``FNO``) from a local folder in its Hugging Face format
  (``CLASS.from_pretrained(FOLDER)``: ``config.json`` and safetensors weights, no pickle).  the_well
  is not an extra of symaudit (it pins an fsspec older than symaudit's dependencies allow):
  install it beside symaudit where it fits.
* ``neuraloperator:FOLDER/NAME`` -- neuraloperator's own checkpoint pair
  ``FOLDER/NAME_metadata.pkl`` (the constructor's keyword arguments, ``_name`` the model class)
  and ``FOLDER/NAME_state_dict.pt``; both are read with ``weights_only=True`` (the metadata
  through an allowlist of the activations and layer classes such files hold).

Every failure is one :class:`UserError` line naming the SPEC; a loader whose package is missing
names the extra that provides it (``pip install symaudit[neuraloperator]``).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path

import torch

from symaudit.errors import UserError

__all__ = ["KINDS", "LoadedModel", "load_model"]

KINDS = ("python", "torchscript", "export", "neuraloperator", "the_well")


@dataclass
class LoadedModel:
    """A model and what the audit says about it: ``name`` (for tables), ``kind`` (the SPEC's
    prefix) and whether ``torch.func`` can differentiate it (TorchScript cannot)."""

    module: torch.nn.Module
    name: str
    kind: str

    @property
    def functional(self) -> bool:
        return self.kind != "torchscript"


def _split(spec: str) -> tuple[str, str]:
    kind, sep, rest = spec.partition(":")
    if not sep or kind not in KINDS or not rest:
        raise UserError(
            f"model {spec!r}: expected one of python:pkg.module:factory, torchscript:FILE, "
            "export:FILE, neuraloperator:FOLDER/NAME, the_well:CLASS:FOLDER"
        )
    return kind, rest


def _existing(spec: str, path: str | Path) -> Path:
    path = Path(path)
    if not path.is_file():
        raise UserError(f"model {spec!r}: no file {path}")
    return path


def _state_dict(spec: str, path: Path) -> dict:
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # noqa: BLE001 (any unreadable file is the same one line)
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise UserError(f"model {spec!r}: cannot read weights {path}: {first}") from None
    if isinstance(state, dict) and isinstance(state.get("state_dict"), dict):
        state = state["state_dict"]
    if not isinstance(state, dict):
        raise UserError(f"model {spec!r}: {path} holds a {type(state).__name__}, not a state dict")
    return state


def _python(spec: str, target: str, weights: str | None) -> torch.nn.Module:
    module_name, sep, attr = target.rpartition(":")
    if not sep or not module_name or not attr:
        raise UserError(f"model {spec!r}: expected python:pkg.module:factory")
    try:
        factory = getattr(importlib.import_module(module_name), attr)
    except ModuleNotFoundError as err:
        raise UserError(f"model {spec!r}: cannot import {err.name!r}") from None
    except AttributeError:
        raise UserError(f"model {spec!r}: {module_name} has no {attr!r}") from None
    model = factory()
    if not isinstance(model, torch.nn.Module):
        raise UserError(f"model {spec!r}: the factory returned a {type(model).__name__}")
    if weights is not None:
        state = _state_dict(spec, _existing(spec, weights))
        try:
            model.load_state_dict(state)
        except RuntimeError as err:
            raise UserError(f"model {spec!r}: weights {weights} do not fit: {err}") from None
    return model


def _torchscript(spec: str, target: str) -> torch.nn.Module:
    path = _existing(spec, target)
    try:
        return torch.jit.load(str(path), map_location="cpu")
    except Exception as err:  # noqa: BLE001
        raise UserError(f"model {spec!r}: not a TorchScript file: {type(err).__name__}") from None


def _export(spec: str, target: str) -> torch.nn.Module:
    path = _existing(spec, target)
    try:
        program = torch.export.load(str(path))
    except Exception as err:  # noqa: BLE001
        raise UserError(
            f"model {spec!r}: not a torch.export program: {type(err).__name__}"
        ) from None
    module, batch = program.module(), _static_batch(program)
    return module if batch is None else _Chunked(module, batch)


def _static_batch(program) -> int | None:
    """The batch size an exported program was traced with when it is static (an int, not a
    symbol), else None."""
    inputs = set(program.graph_signature.user_inputs)
    for node in program.graph.nodes:
        if node.op == "placeholder" and node.name in inputs:
            val = node.meta.get("val")
            size = val.shape[0] if val is not None and val.ndim else None
            return size if isinstance(size, int) else None
    return None


class _Chunked(torch.nn.Module):
    """An exported program with a static batch size ``batch``, called on ``batch`` examples at a
    time (the audit stacks transformed copies into larger batches)."""

    def __init__(self, module: torch.nn.Module, batch: int):
        super().__init__()
        self.module, self.batch = module, batch

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[0] % self.batch:
            raise UserError(
                f"the exported program was traced with batch {self.batch}, which does not "
                f"divide {x.shape[0]}: export it with a dynamic batch (torch.export.Dim) or "
                "pass --batch-size a multiple"
            )
        return torch.cat([self.module(c) for c in x.split(self.batch)])


def _neuraloperator_globals() -> list:
    """What neuraloperator's metadata pickles may reference: torch activations and the
    library's layer classes (its constructors take them as keyword arguments)."""
    import torch.nn.functional as F  # noqa: N812

    allowed = [torch._C._nn.gelu, F.gelu, F.relu, F.silu, F.tanh, torch.tanh, F.leaky_relu]
    for name in ("spectral_convolution", "spherical_convolution"):
        try:
            mod = importlib.import_module(f"neuralop.layers.{name}")
        except ImportError:
            continue
        allowed += [v for v in vars(mod).values() if isinstance(v, type)]
    return allowed


def _neuraloperator(spec: str, target: str, map_location: str = "cpu") -> torch.nn.Module:
    try:
        from neuralop.models.base_model import BaseModel
    except ImportError:
        raise UserError(
            f"model {spec!r} needs neuraloperator: pip install 'symaudit[neuraloperator]'"
        ) from None
    folder, name = Path(target).parent, Path(target).name
    meta_path = _existing(spec, folder / f"{name}_metadata.pkl")
    weights = _existing(spec, folder / f"{name}_state_dict.pt")
    try:
        with torch.serialization.safe_globals(_neuraloperator_globals()):
            kwargs = torch.load(meta_path, map_location=map_location, weights_only=True)
    except Exception as err:  # noqa: BLE001
        text = str(err)
        hint = (
            text[text.find("Unsupported global") :].splitlines()[0] if "Unsupported" in text else ""
        )
        raise UserError(f"model {spec!r}: cannot read {meta_path} safely {hint}".strip()) from None
    kwargs = dict(kwargs)
    kwargs.pop("_version", None)
    cls_name = kwargs.pop("_name", None)
    cls = BaseModel._models.get(str(cls_name).lower())
    if cls is None:
        raise UserError(f"model {spec!r}: {meta_path} names no known model ({cls_name!r})")
    args = kwargs.pop("args", ())
    model = cls(*args, **kwargs)
    with torch.serialization.safe_globals(_neuraloperator_globals()):
        state = _state_dict(spec, weights)  # it holds the init kwargs too (``_metadata``)
    # the checkpoint records no dtype: every tensor takes its weights' own (float64 weights, a
    # float64 model; complex128 spectral weights stay complex128)
    for name, tensor in [*model.named_parameters(), *model.named_buffers()]:
        saved = state.get(name)
        if torch.is_tensor(saved) and saved.dtype != tensor.dtype:
            tensor.data = tensor.data.to(saved.dtype)
    model.load_state_dict(state)
    return model


def _the_well(spec: str, target: str) -> torch.nn.Module:
    cls_name, sep, folder = target.partition(":")
    if not sep or not cls_name or not folder:
        raise UserError(f"model {spec!r}: expected the_well:CLASS:FOLDER (e.g. UNetClassic:ckpt)")
    if not (Path(folder) / "config.json").is_file():
        raise UserError(f"model {spec!r}: {folder} is not a local folder with config.json")
    try:
        models = importlib.import_module("the_well.benchmark.models")
    except ImportError:
        raise UserError(
            f"model {spec!r} needs the_well (pip install the_well, beside symaudit; not an "
            "extra: it pins an older fsspec)"
        ) from None
    cls = getattr(models, cls_name, None)
    if cls is None or not hasattr(cls, "from_pretrained"):
        raise UserError(f"model {spec!r}: the_well.benchmark.models has no model {cls_name!r}")
    return cls.from_pretrained(folder)


def load_model(spec: str, weights: str | None = None) -> LoadedModel:
    """The model a SPEC names (module docstring), on the CPU, in eval mode."""
    kind, target = _split(spec)
    if weights is not None and kind != "python":
        raise UserError(f"model {spec!r}: --weights applies to python: factories only")
    if kind == "python":
        module = _python(spec, target, weights)
        name = target.rpartition(":")[2]
    elif kind == "torchscript":
        module, name = _torchscript(spec, target), Path(target).stem
    elif kind == "export":
        module, name = _export(spec, target), Path(target).stem
    elif kind == "the_well":
        module, name = _the_well(spec, target), target.partition(":")[0]
    else:
        module, name = _neuraloperator(spec, target), Path(target).name
    if kind != "export":  # an exported program's module has no train/eval switch
        module.eval()
    return LoadedModel(module, name, kind)
