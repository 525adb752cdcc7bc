"""The top-level keys, and load_config: YAML text to the validated Config the daemon reads."""

import os
import re
from collections.abc import Mapping
from typing import Annotated

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field
from redis.crc import key_slot

from exporter.config.keys import ConfigError, Section, describe, validate
from exporter.config.models import DefaultsKeys, ModelConfig, ModelKeys, resolve
from exporter.config.redis_web import RedisConfig, WebConfig
from exporter.config.scalars import ExpandedWord, Text
from exporter.yamlfile import BoolWord, NumberWord, parse_yaml, read_yaml_text

LOG_LEVELS = ("debug", "info", "warning", "error")
_LEVEL_ALIASES = {"warn": "warning"}  # --log.level's own spelling
_NAME = r"[A-Za-z_][A-Za-z0-9_]*"
_REFERENCE = re.compile(r"\$\$|\$\{([^}]*)\}|\$\{")
_VARIABLE = re.compile(rf"({_NAME})(?::-(.*))?", re.DOTALL)


def _any_case(words: list[str]) -> str:
    """A schema pattern matching words in any case: JSON schema regexes take no flags."""
    return "^(?:{})$".format("|".join("".join(f"[{c}{c.upper()}]" for c in w) for w in words))


_LEVELS = [*LOG_LEVELS, *_LEVEL_ALIASES]
# the names to complete, as an editor offers them; any case, or a variable, as the loader reads
_LEVEL_SCHEMA = {
    "anyOf": [{"enum": _LEVELS}, {"pattern": _any_case(_LEVELS)}, {"pattern": r"\$\{"}]
}


def read_log_level(value: str) -> str:
    """Case-insensitive, as users type it; stored in lower case."""
    level = _LEVEL_ALIASES.get(value.lower(), value.lower())
    if level not in LOG_LEVELS:
        raise ConfigError("", f"must be one of: {', '.join(LOG_LEVELS)} (got {value!r})")
    return level


def some_models(value: object) -> object:
    """The list is checked as a tuple; only its emptiness has its own words."""
    if value == []:
        raise ConfigError("", "must list at least one model")
    return value


class ConfigKeys(Section):
    """Configuration of the ML-monitoring Prometheus exporter.

    Every string may use ${VAR} or ${VAR:-default}; $$ is a literal $.
    """

    redis: RedisConfig = Field(default_factory=RedisConfig)
    """Where the prediction/label streams and Redis references live."""
    web: WebConfig = Field(default_factory=WebConfig)
    """Where /metrics, the health endpoints and the model pages are served."""
    log_level: Annotated[
        Text,
        Field(json_schema_extra=_LEVEL_SCHEMA),
        AfterValidator(read_log_level),
    ] = "info"
    """Log verbosity."""
    defaults: DefaultsKeys = Field(default_factory=DefaultsKeys)
    """Settings every model inherits unless it sets them itself."""
    models: Annotated[
        tuple[ModelKeys, ...],
        Field(min_length=1),
        BeforeValidator(some_models),
    ]
    """The monitored models; names must be unique."""


class Config(BaseModel):
    """The whole validated config file."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    redis: RedisConfig
    web: WebConfig
    models: tuple[ModelConfig, ...]
    log_level: str = "info"


def expand_env(value: object, path: str, environ: Mapping[str, str]) -> object:
    """Copy of a parsed YAML tree with ${VAR} expanded in every string value."""
    if isinstance(value, dict):
        out: dict[str, object] = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise ConfigError(path or "<root>", f"keys must be strings, got {describe(key)}")
            out[key] = expand_env(item, f"{path}.{key}" if path else key, environ)
        return out
    if isinstance(value, list):
        return [expand_env(item, f"{path}[{i}]", environ) for i, item in enumerate(value)]
    if isinstance(value, BoolWord | NumberWord):  # kept as such: see yamlfile
        return value
    if isinstance(value, str):
        return expand_string(value, path, environ)
    return value


def expand_string(text: str, path: str, environ: Mapping[str, str]) -> str:
    """Expand ${VAR} and ${VAR:-default} (default when unset or empty); $$ is a literal $.

    Text a variable made is an ExpandedWord, so `max_samples: ${WINDOW:-4000}` is a number.
    """
    expanded = False

    def substitute(match: re.Match[str]) -> str:
        token = match.group(0)
        if token == "$$":
            return "$"
        if match.group(1) is None:
            raise ConfigError(path, f"unterminated '${{' in {text!r} (write $$ for a literal $)")
        ref = _VARIABLE.fullmatch(match.group(1))
        if ref is None:
            hint = "use ${NAME} or ${NAME:-default}"
            raise ConfigError(path, f"invalid variable reference {token!r} ({hint})")
        nonlocal expanded
        expanded = True
        name, default = ref.group(1), ref.group(2)
        if default is not None and "${" in default:  # it ended at the inner '}', silently
            reason = "holds a variable reference; nesting is not supported (give a plain default)"
            raise ConfigError(path, f"the default of ${{{name}:-...}} {reason}")
        current = environ.get(name)
        if default is not None:
            return current if current else default
        if current is None:
            hint = f"use ${{{name}:-default}} for a default"
            raise ConfigError(path, f"environment variable {name} is not set ({hint})")
        return current

    out = _REFERENCE.sub(substitute, text)
    return ExpandedWord(out) if expanded else out


def load_config_text(
    text: str,
    environ: Mapping[str, str] | None = None,
    base_dir: str = ".",
    source: str = "<config>",
) -> Config:
    """Validate config text; relative paths resolve against base_dir; source names it in errors."""
    document = parse_yaml(text, source, words=True)
    expanded = expand_env(
        {} if document is None else document, "", os.environ if environ is None else environ
    )
    keys = validate(ConfigKeys, expanded, base_dir=base_dir)
    models = resolve(keys.defaults, keys.models)
    _one_slot_per_model(keys.redis, models)
    return Config(redis=keys.redis, web=keys.web, models=models, log_level=keys.log_level)


def _one_slot_per_model(redis: RedisConfig, models: tuple[ModelConfig, ...]) -> None:
    """In a Redis Cluster a model's two streams are read by one XREAD, which Redis refuses
    across hash slots: the reader then crashed in a loop and the exporter was never ready."""
    if not redis.url.startswith(("redis+cluster://", "rediss+cluster://")):
        return
    for i, model in enumerate(models):
        streams = model.streams
        if key_slot(streams.predictions.encode()) != key_slot(streams.labels.encode()):
            raise ConfigError(
                f"models[{i}].streams",
                f"{streams.predictions!r} and {streams.labels!r} are in different hash slots of "
                "the Redis Cluster: give both the same hash tag, as the default keys do "
                f"(mlmon:{{{model.name}}}:predictions and mlmon:{{{model.name}}}:labels)",
            )


def load_config(path: str, environ: Mapping[str, str] | None = None) -> Config:
    """Read and validate the config file; relative paths in it resolve against its directory.

    The file must be a regular file within the limits of exporter.yamlfile.
    """
    text = read_yaml_text(path, "config file")
    base_dir = os.path.dirname(os.path.abspath(path))
    return load_config_text(text, environ, base_dir=base_dir, source=path)
