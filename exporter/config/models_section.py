"""Parsers for the defaults and models sections, and how a model's keys layer over the defaults."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from exporter.config.features import allowed_values, parse_features, unique_names
from exporter.config.measures import (
    check_method,
    metrics_for_task,
    parse_drift_by_type,
    parse_drift_options,
    parse_drift_spec,
    parse_multivariate,
    parse_performance,
)
from exporter.config.model import (
    Bounds,
    DriftSpec,
    LabelsConfig,
    ModelConfig,
    MultivariateConfig,
    ReferenceConfig,
    ScheduleConfig,
    SLOConfig,
    StreamsConfig,
    WindowConfig,
)
from exporter.config.sections import (
    file_path,
    parse_labels,
    parse_schedule,
    parse_slo,
    parse_window,
)
from exporter.config.values import (
    ConfigError,
    Reader,
    T,
    choice,
    index,
    integer_at_least,
    items,
    join,
    mapping,
    optional,
    positive_int,
    required,
    scalar_string,
    share,
    string,
)
from exporter.stats.kinds import FeatureType, Task

# Keys only a model may set; every other model key may also appear under defaults.
MODEL_ONLY_KEYS = ("name", "task", "positive_class", "classes", "streams", "reference", "features")
DEFAULTS_KEYS = (
    "window",
    "schedule",
    "min_samples",
    "drift_share",
    "max_new_categories",
    "max_versions",
    "max_entry_bytes",
    "histogram_bins",
    "multivariate",
    "labels",
    "slo",
    "drift",
    "prediction_drift",
    "performance",
)
MODEL_KEYS = MODEL_ONLY_KEYS + DEFAULTS_KEYS
STREAMS_KEYS = ("predictions", "labels")
REFERENCE_KEYS = ("file", "redis_key")

_MODEL_NAME = re.compile(r"[a-zA-Z0-9_.-]{1,64}")
_TASKS = tuple(t.value for t in Task)
_NON_NEGATIVE: Reader[int] = integer_at_least(0)
_AT_LEAST_TWO: Reader[int] = integer_at_least(2)
MAX_CLASSES = 50


@dataclass(frozen=True)
class Layer:
    """Settings after applying defaults, then a model; paths say where values came from."""

    window: WindowConfig = field(default_factory=WindowConfig)
    schedule: ScheduleConfig = field(default_factory=ScheduleConfig)
    slo: SLOConfig = field(default_factory=SLOConfig)
    labels: LabelsConfig = field(default_factory=LabelsConfig)
    drift: Mapping[FeatureType, DriftSpec] = field(default_factory=dict)
    prediction_drift: DriftSpec = field(default_factory=DriftSpec)
    prediction_method_path: str = ""
    performance: tuple[tuple[str, Bounds], ...] = ()
    performance_path: str = ""
    min_samples: int = ModelConfig.min_samples
    drift_share: float = ModelConfig.drift_share
    max_new_categories: int = ModelConfig.max_new_categories
    max_versions: int = ModelConfig.max_versions
    max_entry_bytes: int = ModelConfig.max_entry_bytes
    histogram_bins: int = ModelConfig.histogram_bins
    drift_correction: str = ModelConfig.drift_correction
    learned_k: float = ModelConfig.learned_k
    multivariate: MultivariateConfig = field(default_factory=MultivariateConfig)


def _prediction_drift(raw: Mapping[str, object], path: str, base: Layer) -> tuple[DriftSpec, str]:
    """The layered prediction drift spec and where its method was set (checked per task later)."""
    if "prediction_drift" not in raw:
        return base.prediction_drift, base.prediction_method_path
    own_path = join(path, "prediction_drift")
    spec = parse_drift_spec(raw["prediction_drift"], own_path, None, "", base.prediction_drift)
    sets_method = isinstance(raw["prediction_drift"], dict) and "method" in raw["prediction_drift"]
    return spec, join(own_path, "method") if sets_method else base.prediction_method_path


def apply_layer(raw: Mapping[str, object], path: str, base: Layer) -> Layer:
    """raw's defaultable keys over base: window/slo/labels/drift merge by key, others replace."""

    def get(key: str, read: Reader[T], fallback: T) -> T:
        return optional(raw, path, key, read, fallback)

    prediction, method_path = _prediction_drift(raw, path, base)
    correction, learned_k = base.drift_correction, base.learned_k
    if "drift" in raw:
        correction, learned_k = parse_drift_options(
            raw["drift"], join(path, "drift"), correction, learned_k
        )
    performance, performance_path = base.performance, base.performance_path
    if "performance" in raw:
        performance_path = join(path, "performance")
        performance = parse_performance(raw["performance"], performance_path)
    return Layer(
        window=get("window", lambda v, p: parse_window(v, p, base.window), base.window),
        schedule=get("schedule", parse_schedule, base.schedule),
        slo=get("slo", lambda v, p: parse_slo(v, p, base.slo), base.slo),
        labels=get("labels", lambda v, p: parse_labels(v, p, base.labels), base.labels),
        drift=get("drift", lambda v, p: parse_drift_by_type(v, p, base.drift), base.drift),
        prediction_drift=prediction,
        prediction_method_path=method_path,
        performance=performance,
        performance_path=performance_path,
        min_samples=get("min_samples", positive_int, base.min_samples),
        drift_share=get("drift_share", share, base.drift_share),
        max_new_categories=get("max_new_categories", _NON_NEGATIVE, base.max_new_categories),
        max_versions=get("max_versions", positive_int, base.max_versions),
        max_entry_bytes=get("max_entry_bytes", positive_int, base.max_entry_bytes),
        histogram_bins=get("histogram_bins", _AT_LEAST_TWO, base.histogram_bins),
        drift_correction=correction,
        learned_k=learned_k,
        multivariate=get(
            "multivariate",
            lambda v, p: parse_multivariate(v, p, base.multivariate),
            base.multivariate,
        ),
    )


def parse_defaults(value: object, path: str) -> Layer:
    """The defaults section, layered over the dataclass defaults."""
    if isinstance(value, dict):
        for key in MODEL_ONLY_KEYS:
            if key in value:
                raise ConfigError(join(path, key), "can only be set per model, not in defaults")
    return apply_layer(mapping(value, path, DEFAULTS_KEYS), path, Layer())


def default_streams(name: str) -> StreamsConfig:
    """The stream keys a model uses when it names none; braces keep them in one cluster slot."""
    return StreamsConfig(
        predictions=f"mlmon:{{{name}}}:predictions", labels=f"mlmon:{{{name}}}:labels"
    )


def parse_streams(value: object, path: str, name: str) -> StreamsConfig:
    """Stream keys; omitted ones take the model's default."""
    raw = mapping(value, path, STREAMS_KEYS)
    defaults = default_streams(name)
    streams = StreamsConfig(
        predictions=optional(raw, path, "predictions", string, defaults.predictions),
        labels=optional(raw, path, "labels", string, defaults.labels),
    )
    if streams.predictions == streams.labels:
        reason = f"must differ from the predictions stream ({streams.predictions!r})"
        raise ConfigError(join(path, "labels"), reason)
    return streams


def parse_reference(value: object, path: str, base_dir: str) -> ReferenceConfig:
    """Exactly one of file (resolved against base_dir, existence not checked) or redis_key."""
    raw = mapping(value, path, REFERENCE_KEYS)
    if ("file" in raw) == ("redis_key" in raw):
        raise ConfigError(path, "must set exactly one of: file, redis_key")
    if "file" in raw:
        return ReferenceConfig(
            file=required(raw, path, "file", lambda v, p: file_path(base_dir, string(v, p), p))
        )
    return ReferenceConfig(redis_key=required(raw, path, "redis_key", string))


def model_name(value: object, path: str) -> str:
    """A name that is safe in metric labels and stream keys."""
    text = string(value, path)
    if not _MODEL_NAME.fullmatch(text):
        reason = f"must be 1-64 letters, digits, '_', '.' or '-', got {text!r}"
        raise ConfigError(path, reason)
    return text


def positive_label(value: object, path: str, task: Task) -> str | None:
    """The positive label, stringified; only binary classification has one."""
    if value is None:
        return None
    if task is not Task.BINARY:
        raise ConfigError(path, f"only applies to {Task.BINARY.value} models, not {task.value}")
    return scalar_string(value, path)


def class_list(value: object, path: str, task: Task) -> tuple[str, ...]:
    """The classes that get their own per-class series: 2 to MAX_CLASSES distinct labels."""
    if not task.is_classification:
        raise ConfigError(path, f"only applies to classification models, not {task.value}")
    classes = allowed_values(value, path)
    if not 2 <= len(classes) <= MAX_CLASSES:
        raise ConfigError(path, f"must list 2 to {MAX_CLASSES} classes, got {len(classes)}")
    return classes


def prediction_types(task: Task, positive_class: str | None) -> frozenset[FeatureType]:
    """What prediction drift compares; a binary model with positive_class may use its score."""
    if task is Task.REGRESSION:
        return frozenset({FeatureType.NUMERIC})
    if task is Task.BINARY and positive_class is not None:
        return frozenset(FeatureType)
    return frozenset({FeatureType.CATEGORICAL})


def prediction_drift_for(layer: Layer, task: Task, positive: str | None, name: str) -> DriftSpec:
    """The prediction drift spec, its method checked against what the task's predictions are."""
    types = prediction_types(task, positive)
    kind = "scores or classes" if len(types) > 1 else f"{next(iter(types)).value} predictions"
    subject = f"{kind} of {task.value} model {name!r}"
    check_method(layer.prediction_drift.method, layer.prediction_method_path, types, subject)
    return layer.prediction_drift


def parse_model(value: object, path: str, defaults: Layer, base_dir: str) -> ModelConfig:
    """One models entry with the defaults applied."""
    raw = mapping(value, path, MODEL_KEYS)
    name = required(raw, path, "name", model_name)
    task = Task(required(raw, path, "task", choice(_TASKS), f"one of: {', '.join(_TASKS)}"))
    positive = optional(raw, path, "positive_class", lambda v, p: positive_label(v, p, task), None)
    layer = apply_layer(raw, path, defaults)
    from_defaults = layer.performance_path.startswith("defaults")
    return ModelConfig(
        name=name,
        task=task,
        features=required(raw, path, "features", lambda v, p: parse_features(v, p, layer.drift)),
        streams=optional(
            raw, path, "streams", lambda v, p: parse_streams(v, p, name), default_streams(name)
        ),
        reference=optional(
            raw,
            path,
            "reference",
            lambda v, p: parse_reference(v, p, base_dir),
            ReferenceConfig(redis_key=f"mlmon:{{{name}}}:reference"),
        ),
        positive_class=positive,
        classes=optional(raw, path, "classes", lambda v, p: class_list(v, p, task), None),
        window=layer.window,
        schedule=layer.schedule,
        prediction_drift=prediction_drift_for(layer, task, positive, name),
        performance=metrics_for_task(
            layer.performance, layer.performance_path, task, positive, from_defaults
        ),
        slo=layer.slo,
        labels=layer.labels,
        min_samples=layer.min_samples,
        drift_share=layer.drift_share,
        max_new_categories=layer.max_new_categories,
        max_versions=layer.max_versions,
        max_entry_bytes=layer.max_entry_bytes,
        histogram_bins=layer.histogram_bins,
        drift_correction=layer.drift_correction,
        learned_k=layer.learned_k,
        multivariate=layer.multivariate,
    )


def parse_models(
    value: object, path: str, defaults: Layer, base_dir: str
) -> tuple[ModelConfig, ...]:
    """The models list: non-empty, names unique."""
    entries = items(value, path)
    if not entries:
        raise ConfigError(path, "must list at least one model")
    paths = [index(path, i) for i in range(len(entries))]
    pairs = zip(entries, paths, strict=True)
    models = tuple(parse_model(entry, p, defaults, base_dir) for entry, p in pairs)
    unique_names([m.name for m in models], paths, "model")
    return models
