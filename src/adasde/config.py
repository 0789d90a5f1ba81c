"""Configuration: load a YAML config safely, validate it against ``config/schema.yaml`` and
fill defaults, failing before any compute with messages that name the offending key.

* The loader is strict: a safe YAML loader that refuses duplicate keys, Python and other
  non-standard tags, and Snakemake's YTE templates (``__use_yte__``), which would execute code.
* The schema types integers strictly (``runs: 8.0`` is refused), bounds every size key, and
  every float must be finite (NaN and +/-inf are refused anywhere).
* Checks that JSON schema cannot express (e.g. ``lambda_min <= lambda_max``, ``iterations`` a
  multiple of ``save_every``, the memory a job would need) live with their experiment: each
  module of :data:`EXPERIMENTS` has ``check(section) -> [message]``, looped over by
  :func:`semantic_errors`.
"""

from __future__ import annotations

import copy
import importlib
import math
from pathlib import Path

import jsonschema
import yaml

from adasde.limits import memory_errors, memory_limit_bytes  # noqa: F401 (re-exported)

# Section -> the experiment module whose ``check(section)`` validates it across keys.
EXPERIMENTS = {
    "noise_resilience": "adasde.experiments.noise_resilience",
    "scaling": "adasde.experiments.scaling",
    "scaling_mlp": "adasde.experiments.scaling_mlp",
    "bounds": "adasde.experiments.bounds",
    "stationary": "adasde.experiments.stationary",
    "signsgd_phases": "adasde.experiments.signsgd_phases",
    "heavy_tails": "adasde.experiments.heavy_tails",
    "sde_tracking": "adasde.experiments.tracking",
    "scaling_lm": "adasde.experiments.scaling_lm",
}


class ConfigError(ValueError):
    """A configuration that fails validation; the message lists every offending key."""


def _with_defaults(validator_class):
    validate_properties = validator_class.VALIDATORS["properties"]

    def set_defaults(validator, properties, instance, schema):
        if isinstance(instance, dict):
            for prop, sub in properties.items():
                if isinstance(sub, dict) and "$ref" in sub:
                    sub = validator._resolver.lookup(sub["$ref"]).contents
                if isinstance(sub, dict) and "default" in sub:
                    instance.setdefault(prop, copy.deepcopy(sub["default"]))
        yield from validate_properties(validator, properties, instance, schema)

    return jsonschema.validators.extend(validator_class, {"properties": set_defaults})


def _strict_integer(checker, instance) -> bool:
    """An integer is an ``int`` (not a bool, not a float such as 8.0)."""
    return isinstance(instance, int) and not isinstance(instance, bool)


_Strict = jsonschema.validators.extend(
    jsonschema.Draft7Validator,
    type_checker=jsonschema.Draft7Validator.TYPE_CHECKER.redefine("integer", _strict_integer))
_Validator = _with_defaults(_Strict)


def key_path(path) -> str:
    return ".".join(str(p) for p in path) or "<root>"


def validate(config: dict, schema_path: str | Path) -> dict:
    """Validate ``config`` in place (defaults filled) and return it; raise :class:`ConfigError`
    naming every offending key."""
    schema = yaml.safe_load(Path(schema_path).read_text())
    messages = nonfinite_errors(config)
    if not messages:
        errors = sorted(_Validator(schema).iter_errors(config),
                        key=lambda e: [str(p) for p in e.absolute_path])
        messages = [f"config key '{key_path(e.absolute_path)}': {_describe(e)}" for e in errors]
    if not messages:
        messages = semantic_errors(config)
    if len(messages) == 1:
        raise ConfigError(f"invalid configuration: {messages[0]}")
    if messages:
        raise ConfigError("invalid configuration:\n  " + "\n  ".join(messages))
    return config


def nonfinite_errors(config, path=()) -> list[str]:
    """Every NaN or +/-inf value anywhere in the config (YAML ``.nan``/``.inf``, JSON ``NaN``)."""
    if isinstance(config, float) and not math.isfinite(config):
        return [f"config key '{key_path(path)}': {config!r} is not a finite number"]
    if isinstance(config, dict):
        return [m for k, v in config.items() for m in nonfinite_errors(v, (*path, k))]
    if isinstance(config, list):
        return [m for i, v in enumerate(config) for m in nonfinite_errors(v, (*path, i))]
    return []


def _describe(e) -> str:
    if e.validator == "additionalProperties":
        allowed = sorted(e.schema.get("properties", {}))
        return f"{e.message}; allowed keys: {', '.join(allowed)}"
    if e.validator == "required":
        return e.message
    if e.validator in ("exclusiveMinimum", "minimum", "exclusiveMaximum", "maximum"):
        return f"{e.instance!r} is out of range ({e.validator} {e.validator_value})"
    if e.validator == "enum":
        return f"{e.instance!r} is not one of {e.validator_value}"
    return e.message


def semantic_errors(config: dict) -> list[str]:
    """Cross-key checks, run after the schema passes: each section's experiment module checks
    its own section (``check(section) -> [message]``, messages naming the key)."""
    errors = []
    for name, module in EXPERIMENTS.items():
        if isinstance(config.get(name), dict):
            errors += importlib.import_module(module).check(config[name])
    return errors


class _StrictLoader(yaml.SafeLoader):
    """A safe loader that refuses duplicate keys (YAML's last-wins would hide a mistake)."""


def _mapping(loader, node, deep=False):
    loader.flatten_mapping(node)
    seen = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r} (first on line {seen[key]})",
                key_node.start_mark)
        seen[key] = key_node.start_mark.line + 1
    return loader.construct_mapping(node, deep=deep)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping)


def _one_line(e: yaml.YAMLError) -> str:
    mark = getattr(e, "problem_mark", None)
    where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
    problem = getattr(e, "problem", None) or str(e).splitlines()[0]
    if "could not determine a constructor for the tag" in str(problem):
        problem = (f"{problem}: adasde configs are plain data; Python and other tags are "
                   "not allowed")
    return f"{where}{problem}"


def read_yaml(config_path: str | Path):
    """Parse a config file as plain data, refusing what a config must not hold; every error is
    one line naming the file (a missing file, a YAML error with its line, a duplicate key, a
    tag, a YTE template)."""
    config_path = Path(config_path)
    if not config_path.is_file():
        raise ConfigError(f"config file {config_path} does not exist")
    try:
        text = config_path.read_text()
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"config file {config_path} cannot be read: {e}") from None
    try:
        config = yaml.load(text, Loader=_StrictLoader)  # noqa: S506 (a SafeLoader subclass)
    except yaml.YAMLError as e:
        raise ConfigError(f"config file {config_path}: {_one_line(e)}") from None
    if isinstance(config, dict) and "__use_yte__" in config:
        raise ConfigError(f"config file {config_path}: '__use_yte__' is not allowed: adasde "
                          "configs are plain data, and a YTE template would run code")
    return config


def load(config_path: str | Path, schema_path: str | Path) -> dict:
    """Read (:func:`read_yaml`) and validate a YAML config file; errors name the file and the
    key."""
    config_path = Path(config_path)
    config = read_yaml(config_path)
    if not isinstance(config, dict):
        raise ConfigError(f"config file {config_path} must hold a mapping at top level")
    try:
        return validate(config, schema_path)
    except ConfigError as e:
        raise ConfigError(f"{config_path}: {e}") from None
