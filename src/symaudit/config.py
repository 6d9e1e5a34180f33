"""A study's configuration: the YAML files a user names, resolved into one checked config.

A config file is one study, wherever Snakemake starts.  The workflow (``workflow/rules/
common.smk``) resolves it here the same way from the repository root and with ``--directory``:

* the files given with ``--configfile`` are merged in order (a later file's keys win); with none,
  the workflow's default study ``config/config.yaml`` (the quick study);
* a file that is an overlay says so with a top-level ``extends: BASE``: BASE is resolved first
  (itself perhaps an overlay) and the file merged on top.  BASE is a path relative to the
  extending file's folder; a name not found there is looked up in the workflow's ``config/``
  folder (``extends: config.yaml`` from anywhere names the quick study);
* ``--config key=value`` overrides are merged last.

Merging is Snakemake's: mappings recursively, any other value replaced whole.  The resolved
config holds no ``extends``.  :func:`check_schema` then checks it against the workflow's JSON
schema and fills in the schema's defaults; every mistake, here and there, is ONE
:class:`~symaudit.errors.UserError` line naming the file and the key.

Torch-free: the workflow's helpers import it.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from symaudit.errors import UserError

__all__ = [
    "CHECKOUT",
    "DEFAULT_STUDY",
    "EXTENDS",
    "OVERRIDES",
    "SCHEMA",
    "Resolved",
    "check_schema",
    "load_layers",
    "merge",
    "parse_overrides",
    "resolve",
]

#: the top-level key by which a config file names the study it overlays
EXTENDS = "extends"
#: the study the workflow runs when no ``--configfile`` is given (in its ``config/`` folder)
DEFAULT_STUDY = "config.yaml"
#: how the ``--config key=value`` overrides are named in messages
OVERRIDES = "--config"
#: the workflow's schema (``workflow/schemas/config.schema.yaml``), as the package ships it
SCHEMA = Path(__file__).with_name("config.schema.yaml")
#: the checkout this package runs from (its ``config/``, ``workflow/``, ``bench/``), for the
#: commands that read them outside a Snakemake run (``symaudit cost``, ``symaudit check-config``)
CHECKOUT = Path(__file__).resolve().parents[2]

# a number that YAML 1.1 (PyYAML) reads as a string: an exponent without a dot in the mantissa
_DOTLESS_FLOAT = re.compile(r"^([+-]?\d+)([eE][+-]?\d+)$")


def merge(base: Mapping, override: Mapping) -> dict:
    """``base`` with ``override`` merged in: mappings recursively, any other value replaced
    whole (a list is not appended to).  Neither argument is modified."""
    out = copy.deepcopy(dict(base))
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def _read(path: Path) -> dict:
    """One YAML file as a mapping; a syntax error names the file and line."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise UserError(f"{_display(path)}: cannot read the config file ({err.strerror})") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as err:
        mark, context = getattr(err, "problem_mark", None), getattr(err, "context_mark", None)
        where = f"{_display(path)}:{mark.line + 1}" if mark is not None else _display(path)
        problem = getattr(err, "problem", None) or str(err).splitlines()[0]
        if context is not None and getattr(err, "context", None):
            problem = f"{err.context} at line {context.line + 1}: {problem}"
        raise UserError(f"{where}: not valid YAML ({problem})") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise UserError(
            f"{_display(path)}: a config file is a mapping of keys (study:, data:, ...), "
            f"not a {type(data).__name__}"
        )
    return data


def _base_of(path: Path, name, config_dir: Path) -> Path:
    if not isinstance(name, str) or not name:
        raise UserError(
            f"{_display(path)}: {EXTENDS}: expected the path of a config file, got {name!r}"
        )
    for folder in (path.parent, config_dir):
        candidate = (folder / name).resolve()
        if candidate.is_file():
            return candidate
    raise UserError(
        f"{_display(path)}: {EXTENDS}: {name!r} not found "
        f"(looked in {path.parent} and {config_dir})"
    )


def load_layers(path: Path, config_dir: Path, _chain: tuple[Path, ...] = ()) -> list[tuple]:
    """``[(file, mapping), ...]`` of one config file: the files it extends first (base first),
    itself last, each without its ``extends`` key."""
    path = Path(path).resolve()
    if path in _chain:
        loop = " -> ".join(str(p) for p in (*_chain, path))
        raise UserError(f"{path}: {EXTENDS}: the files extend each other in a loop ({loop})")
    data = _read(path)
    layers: list[tuple] = []
    if EXTENDS in data:
        base = _base_of(path, data.pop(EXTENDS), Path(config_dir))
        layers = load_layers(base, config_dir, (*_chain, path))
    return [*layers, (path, data)]


@dataclass
class Resolved:
    """A resolved config and the layers it was merged from (file or ``--config``, mapping),
    base first, to name the file a key came from."""

    config: dict
    layers: list[tuple] = field(default_factory=list)

    def origin(self, path: Sequence) -> str | None:
        """The last layer that sets the key at ``path`` (a file relative to the working
        directory where it can be, or ``--config``); None when none does (a default)."""
        for where, data in reversed(self.layers):
            node = data
            for part in path:
                if not isinstance(node, Mapping) or part not in node:
                    break
                node = node[part]
            else:
                return _display(where)
        return None

    def locate(self, message: str) -> str:
        """``message`` (one line that starts with a config key, ``train.split: ...``) prefixed
        with the file that sets that key, when one does."""
        key = re.match(r"[\w-]+(\.[\w-]+)*", message)
        where = self.origin(key[0].split(".")) if key else None
        return f"{where}: {message}" if where else message

    @property
    def sources(self) -> list[str]:
        """What was merged, base first: the files (relative to the working directory where they
        can be) and ``--config`` when overrides were given."""
        return [_display(where) for where, _ in self.layers]


def _display(where) -> str:
    if where == OVERRIDES:
        return OVERRIDES
    try:
        return str(Path(where).relative_to(Path.cwd()))
    except ValueError:
        return str(where)


def resolve(
    files: Sequence[Path | str], overrides: Mapping | None, config_dir: Path | str
) -> Resolved:
    """The study the workflow was given: ``files`` (``--configfile``, in order; none = the
    default study in ``config_dir``) each resolved through its ``extends``, merged, then the
    ``overrides`` (``--config``) on top.  Schema and cross-field checks come after."""
    config_dir = Path(config_dir)
    files = list(files) or [config_dir / DEFAULT_STUDY]
    layers: list[tuple] = []
    for f in files:
        layers += load_layers(Path(f), config_dir)
    if overrides:
        if EXTENDS in overrides:
            raise UserError(f"{OVERRIDES} {EXTENDS}=...: only a config file can extend another")
        layers.append((OVERRIDES, dict(overrides)))
    config: dict = {}
    for _, data in layers:
        config = merge(config, data)
    return Resolved(config, layers)


def parse_overrides(items: Sequence[str]) -> dict:
    """``--config`` items ``a.b=value`` (value read as YAML) as a nested mapping, as Snakemake
    reads them."""
    out: dict = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise UserError(f"--config {item!r}: expected KEY=VALUE (e.g. train.epochs=2)")
        *parents, last = key.split(".")
        node = out
        for name in parents:
            node = node.setdefault(name, {})
        node[last] = yaml.safe_load(value)
    return out


def _default_validator(schema: Mapping):
    """The 2020-12 validator that fills in each property's ``default`` as it validates (as
    Snakemake's ``validate`` does: jsonschema's FAQ recipe)."""
    from jsonschema import Draft202012Validator, validators

    validate_properties = Draft202012Validator.VALIDATORS["properties"]

    def set_defaults(validator, properties, instance, schema):
        for name, sub in properties.items():
            if "default" in sub and isinstance(instance, dict):
                instance.setdefault(name, copy.deepcopy(sub["default"]))
        yield from validate_properties(validator, properties, instance, schema)

    return validators.extend(Draft202012Validator, {"properties": set_defaults})(schema)


def check_schema(resolved: Resolved, schema: Path | str = SCHEMA) -> dict:
    """Check ``resolved.config`` against the workflow's schema and fill in its defaults (in
    place; returned); the most relevant violation is one line naming the file and the key."""
    from jsonschema.exceptions import best_match

    schema_doc = yaml.safe_load(Path(schema).read_text(encoding="utf-8"))
    errors = list(_default_validator(schema_doc).iter_errors(resolved.config))
    if errors:
        raise UserError(_describe(best_match(errors), resolved))
    return resolved.config


def _describe(error, resolved: Resolved) -> str:
    """One line for a jsonschema error: which key, what is wrong, and the file that set it."""
    path = list(error.absolute_path)
    value = error.instance
    if error.validator == "additionalProperties":
        known = sorted(error.schema.get("properties", {}))
        path.append(sorted(set(value) - set(known))[0])
        what = "unknown key" + (f"; known: {', '.join(known)}" if known else "")
    elif error.validator == "required":
        missing = re.search(r"'([^']+)' is a required property", error.message)
        path.append(missing[1] if missing else "?")
        what = "required, not set (a study needs it)"
    elif error.validator == "type" and isinstance(value, str) and _DOTLESS_FLOAT.match(value):
        fixed = _DOTLESS_FLOAT.sub(r"\1.0\2", value)
        what = (
            f"{value!r} is a string, not a number: YAML 1.1 (PyYAML) reads an exponent "
            f"without a dot as text; write {fixed}"
        )
    elif error.validator in ("oneOf", "anyOf"):
        shown = repr(value) if len(repr(value)) <= 60 else repr(value)[:57] + "..."
        what = f"{shown} has none of the allowed forms (the schema's description of this key)"
    else:
        what = error.message if len(error.message) <= 160 else error.message[:157] + "..."
    key = ".".join(str(p) for p in path) or "(top level)"
    return resolved.locate(f"{key}: {what}")
