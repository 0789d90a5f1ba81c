"""Configuration: load a YAML config, validate it against ``config/schema.yaml`` and fill
defaults, failing before any compute with messages that name the offending key.

Checks that JSON schema cannot express (e.g. ``lambda_min <= lambda_max``, ``iterations`` a
multiple of ``save_every``) are in :func:`semantic_errors`.
"""

from __future__ import annotations

from pathlib import Path

import jsonschema
import yaml


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
                    instance.setdefault(prop, sub["default"])
        yield from validate_properties(validator, properties, instance, schema)

    return jsonschema.validators.extend(validator_class, {"properties": set_defaults})


_Validator = _with_defaults(jsonschema.Draft7Validator)


def key_path(path) -> str:
    return ".".join(str(p) for p in path) or "<root>"


def validate(config: dict, schema_path: str | Path) -> dict:
    """Validate ``config`` in place (defaults filled) and return it; raise :class:`ConfigError`
    naming every offending key."""
    schema = yaml.safe_load(Path(schema_path).read_text())
    errors = sorted(_Validator(schema).iter_errors(config), key=lambda e: list(e.absolute_path))
    messages = [f"config key '{key_path(e.absolute_path)}': {_describe(e)}" for e in errors]
    if not messages:
        messages = semantic_errors(config)
    if messages:
        raise ConfigError("invalid configuration:\n  " + "\n  ".join(messages))
    return config


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
    """Cross-key checks, run after the schema passes."""
    errors = []
    for name, section in config.items():
        if not isinstance(section, dict):
            continue
        problem = section.get("problem")
        if isinstance(problem, dict) and "lambda_min" in problem:
            if problem["lambda_min"] > problem["lambda_max"]:
                errors.append(f"config key '{name}.problem.lambda_min': {problem['lambda_min']} "
                              f"exceeds lambda_max {problem['lambda_max']}")
        if "iterations" in section and "save_every" in section:
            if section["iterations"] % section["save_every"]:
                errors.append(f"config key '{name}.iterations': {section['iterations']} is not a "
                              f"multiple of save_every {section['save_every']}")
    return errors


def load(config_path: str | Path, schema_path: str | Path) -> dict:
    """Read and validate a YAML config file; errors name the file and the key."""
    config_path = Path(config_path)
    if not config_path.exists():
        raise ConfigError(f"config file {config_path} does not exist")
    try:
        config = yaml.safe_load(config_path.read_text())
    except yaml.YAMLError as e:
        raise ConfigError(f"config file {config_path} is not valid YAML: {e}") from e
    if not isinstance(config, dict):
        raise ConfigError(f"config file {config_path} must hold a mapping at top level")
    try:
        return validate(config, schema_path)
    except ConfigError as e:
        raise ConfigError(f"{config_path}: {e}") from None
