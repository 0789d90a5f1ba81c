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
    errors += _scaling_errors(config)
    errors += _stationary_errors(config)
    errors += _phases_heavy_tails_errors(config)
    errors += _tracking_errors(config)
    return errors


def _scaling_errors(config: dict) -> list[str]:
    """Cross-key checks of the ``scaling`` and ``scaling_mlp`` sections: every delta list holds
    the reference 1; losses are saved on a grid of samples that every batch size delta*B
    divides."""
    errors = []

    def check_samples(where, sub, batch_size):
        if 1 not in sub["deltas"]:
            errors.append(f"config key '{where}.deltas': {sub['deltas']} must include 1 "
                          "(the reference batch size)")
        if sub["samples"] % sub["save_samples"]:
            errors.append(f"config key '{where}.samples': {sub['samples']} is not a multiple "
                          f"of save_samples {sub['save_samples']}")
        for d in sub["deltas"]:
            if sub["save_samples"] % (d * batch_size):
                errors.append(f"config key '{where}.save_samples': {sub['save_samples']} is "
                              f"not a multiple of delta*batch_size = {d}*{batch_size}")

    sec = config.get("scaling")
    if isinstance(sec, dict) and "grid" in sec and "curves" in sec:
        g = sec["grid"]
        if 1 not in g["deltas"]:
            errors.append(f"config key 'scaling.grid.deltas': {g['deltas']} must include 1 "
                          "(the reference batch size)")
        if g["iterations"] % g["save_every"]:
            errors.append(f"config key 'scaling.grid.iterations': {g['iterations']} is not a "
                          f"multiple of save_every {g['save_every']}")
        check_samples("scaling.curves", sec["curves"], sec.get("batch_size", 1))
    sec = config.get("scaling_mlp")
    if isinstance(sec, dict) and "deltas" in sec:
        check_samples("scaling_mlp", sec, sec["batch_size"])
    return errors


def _stationary_errors(config: dict) -> list[str]:
    """Cross-key checks of the ``stationary`` section: a 2-D problem, sigmas spanning at least
    two decades, ``burn_in < iterations`` and ``scatter_sigma`` one of ``sigmas``."""
    errors = []
    sec = config.get("stationary")
    if not isinstance(sec, dict) or "sigmas" not in sec:
        return errors
    if sec["problem"]["d"] != 2:
        errors.append(f"config key 'stationary.problem.d': {sec['problem']['d']} must be 2 "
                      "(the figure scatters 2-D iterates)")
    if max(sec["sigmas"]) < 100 * min(sec["sigmas"]):
        errors.append(f"config key 'stationary.sigmas': {sec['sigmas']} must span at least two "
                      "decades (max >= 100 * min)")
    if sec["burn_in"] >= sec["iterations"]:
        errors.append(f"config key 'stationary.burn_in': {sec['burn_in']} must be less than "
                      f"iterations {sec['iterations']}")
    if sec["scatter_sigma"] not in sec["sigmas"]:
        errors.append(f"config key 'stationary.scatter_sigma': {sec['scatter_sigma']} is not one "
                      f"of sigmas {sec['sigmas']}")
    return errors

def _phases_heavy_tails_errors(config: dict) -> list[str]:
    """Cross-key checks of ``signsgd_phases`` (d >= 2, one x0 per coordinate, every coordinate
    starting in Phase 1: |Y_i(0)| = lambda_i |x0_i| sqrt(B) / (sqrt(2) sigma) >= 3/2) and
    ``heavy_tails`` (SGD stable: eta * lambda_max < 2)."""
    import math

    errors = []
    sec = config.get("signsgd_phases")
    if isinstance(sec, dict) and "problem" in sec and "x0" in sec:
        p = sec["problem"]
        if p["d"] < 2:
            errors.append(f"config key 'signsgd_phases.problem.d': {p['d']} must be at least 2")
        x0 = sec["x0"] if isinstance(sec["x0"], list) else [sec["x0"]] * p["d"]
        if len(x0) != p["d"]:
            errors.append(f"config key 'signsgd_phases.x0': {len(x0)} values but problem.d is "
                          f"{p['d']}")
        else:
            from adasde.problems import quadratic_spectrum

            lam = quadratic_spectrum(p["d"], p["lambda_min"], p["lambda_max"],
                                     p.get("spacing", "linear"))
            s = sec["sigma"] / math.sqrt(sec.get("batch_size", 1))
            y0 = min(abs(li * xi) / (math.sqrt(2.0) * s) for li, xi in zip(lam, x0, strict=True))
            if y0 < 1.5:
                errors.append(f"config key 'signsgd_phases.x0': the smallest initial SNR "
                              f"|Y_i(0)| = {y0:.3g} is below 3/2, so not every coordinate "
                              "starts in Phase 1; start farther from the minimum")
    sec = config.get("heavy_tails")
    if isinstance(sec, dict) and "problem" in sec and "optimizers" in sec:
        eta = sec["optimizers"]["sgd"]["eta"]
        if eta * sec["problem"]["lambda_max"] >= 2:
            errors.append(f"config key 'heavy_tails.optimizers.sgd.eta': {eta} * lambda_max = "
                          f"{eta * sec['problem']['lambda_max']:g} must be below 2 (SGD diverges)")
    return errors


_TRACKING_DATASETS = {"mlp": ("digits", "breast_cancer"), "cnn": ("digits",),
                      "resnet": ("digits",), "transformer": ("sequence",)}
_TRACKING_NET_KEYS = {"mlp": ("widths", "activation"), "cnn": ("channels",),
                      "resnet": ("channels", "n_blocks"),
                      "transformer": ("d_model", "num_heads", "n_blocks", "d_hidden")}
_TRACKING_DATA_KEYS = {"digits": ("test_fraction", "n_train"),
                       "breast_cancer": ("test_fraction", "n_train"),
                       "sequence": ("n_train", "n_test", "seq_len", "vocab")}


def _tracking_errors(config: dict) -> list[str]:
    """Cross-key checks of ``sde_tracking``: per architecture, ``iterations`` a multiple of
    ``save_every``, a dataset the network takes, and network/data keywords that apply to it."""
    errors = []
    sec = config.get("sde_tracking")
    if not isinstance(sec, dict) or not isinstance(sec.get("archs"), dict):
        return errors
    for name, a in sec["archs"].items():
        where = f"sde_tracking.archs.{name}"
        if a["iterations"] % a["save_every"]:
            errors.append(f"config key '{where}.iterations': {a['iterations']} is not a multiple "
                          f"of save_every {a['save_every']}")
        if a["dataset"] not in _TRACKING_DATASETS[a["arch"]]:
            errors.append(f"config key '{where}.dataset': {a['dataset']!r} does not fit arch "
                          f"{a['arch']!r}; allowed: {', '.join(_TRACKING_DATASETS[a['arch']])}")
        for key in a.get("net", {}):
            if key not in _TRACKING_NET_KEYS[a["arch"]]:
                errors.append(f"config key '{where}.net.{key}': not a parameter of arch "
                              f"{a['arch']!r}; allowed: {', '.join(_TRACKING_NET_KEYS[a['arch']])}")
        net = a.get("net", {})
        if "d_model" in net or "num_heads" in net:
            d, h = net.get("d_model", 32), net.get("num_heads", 2)
            if d % h:
                errors.append(f"config key '{where}.net.d_model': {d} is not divisible by "
                              f"num_heads {h}")
        for key in a.get("data", {}):
            if key not in _TRACKING_DATA_KEYS[a["dataset"]]:
                errors.append(f"config key '{where}.data.{key}': not a parameter of dataset "
                              f"{a['dataset']!r}; allowed: "
                              f"{', '.join(_TRACKING_DATA_KEYS[a['dataset']])}")
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
