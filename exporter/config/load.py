"""Read the YAML config into validated dataclasses, failing early with the key path of a problem."""

from __future__ import annotations

import os
from collections.abc import Mapping

from exporter.config.document import parse_yaml, read_yaml_text
from exporter.config.features import FEATURE_KEYS
from exporter.config.measures import (
    BOUNDS_KEYS,
    DRIFT_KEYS,
    DRIFT_SPEC_KEYS,
    MULTIVARIATE_KEYS,
    PERFORMANCE_METRICS,
)
from exporter.config.model import Config, RedisConfig
from exporter.config.models_section import (
    DEFAULTS_KEYS,
    MODEL_KEYS,
    REFERENCE_KEYS,
    STREAMS_KEYS,
    parse_defaults,
    parse_models,
)
from exporter.config.sections import (
    LABELS_KEYS,
    REDIS_KEYS,
    SCHEDULE_KEYS,
    SLO_KEYS,
    TLS_KEYS,
    WEB_KEYS,
    WINDOW_KEYS,
    parse_redis,
    parse_web,
)
from exporter.config.values import ConfigError, expand_env, mapping, optional, required, string

__all__ = ["SECTION_KEYS", "TOP_LEVEL_KEYS", "ConfigError", "load_config", "load_config_text"]

TOP_LEVEL_KEYS = ("redis", "web", "log_level", "defaults", "models")
LOG_LEVELS = ("debug", "info", "warning", "error")

# The keys the loader accepts in each mapping, by the config/schema.json $defs entry describing it
# ("config" is the schema's root); tests compare the two so they cannot drift apart.
SECTION_KEYS: Mapping[str, tuple[str, ...]] = {
    "config": TOP_LEVEL_KEYS,
    "redis": REDIS_KEYS,
    "tls": TLS_KEYS,
    "web": WEB_KEYS,
    "defaults": DEFAULTS_KEYS,
    "model": MODEL_KEYS,
    "feature": FEATURE_KEYS,
    "streams": STREAMS_KEYS,
    "reference": REFERENCE_KEYS,
    "window": WINDOW_KEYS,
    "schedule": SCHEDULE_KEYS,
    "slo": SLO_KEYS,
    "labels": LABELS_KEYS,
    "drift": DRIFT_KEYS,
    "multivariate": MULTIVARIATE_KEYS,
    "drift_spec": DRIFT_SPEC_KEYS,
    "performance": tuple(PERFORMANCE_METRICS),
    "bounds": BOUNDS_KEYS,
}


def log_level(value: object, path: str) -> str:
    """One of LOG_LEVELS, case-insensitive, returned in lower case."""
    text = string(value, path).lower()
    if text not in LOG_LEVELS:
        raise ConfigError(path, f"must be one of: {', '.join(LOG_LEVELS)} (got {value!r})")
    return text


def build_config(document: object, base_dir: str) -> Config:
    """A Config from an env-expanded YAML document."""
    raw = mapping(document, "", TOP_LEVEL_KEYS)
    defaults = parse_defaults(raw.get("defaults"), "defaults")
    return Config(
        redis=optional(raw, "", "redis", lambda v, p: parse_redis(v, p, base_dir), RedisConfig()),
        web=parse_web(raw.get("web"), "web"),
        models=required(raw, "", "models", lambda v, p: parse_models(v, p, defaults, base_dir)),
        log_level=optional(raw, "", "log_level", log_level, Config.log_level),
    )


def load_config_text(
    text: str,
    environ: Mapping[str, str] | None = None,
    base_dir: str = ".",
    source: str = "<config>",
) -> Config:
    """Validate config text; relative paths resolve against base_dir; source names it in errors."""
    document = parse_yaml(text, source)
    if document is None:
        document = {}
    expanded = expand_env(document, "", os.environ if environ is None else environ)
    return build_config(expanded, base_dir)


def load_config(path: str, environ: Mapping[str, str] | None = None) -> Config:
    """Read and validate the config file; relative paths in it resolve against its directory.

    The file must be a regular file within the limits of exporter.config.document.
    """
    text = read_yaml_text(path, "config file")
    base_dir = os.path.dirname(os.path.abspath(path))
    return load_config_text(text, environ, base_dir=base_dir, source=path)
