"""The models: and defaults: keys, and how a model's keys layer over the defaults."""

import re
from typing import Annotated, Any, Self

from pydantic import AfterValidator, ConfigDict, Field, model_validator

from exporter.config.drift import (
    DriftByType,
    DriftKeys,
    DriftSpec,
    FeatureConfig,
    FeatureKeys,
    check_method,
)
from exporter.config.keys import ConfigError, Section, exactly_one
from exporter.config.performance import Bounds, Performance, metrics_for
from exporter.config.scalars import File, Label, Labels, Text
from exporter.config.segments import MAX_SEGMENTS, SegmentConfig, check_segment_feature
from exporter.config.settings import Settings
from exporter.stats.kinds import FeatureType, Task

MAX_CLASSES = 50
_TASKS = tuple(t.value for t in Task)
_NAME = r"[a-zA-Z0-9_.-]{1,64}"


def model_name(name: str) -> str:
    """Safe in metric labels and stream keys."""
    if not re.fullmatch(_NAME, name):
        raise ConfigError("", f"must be 1-64 letters, digits, '_', '.' or '-', got {name!r}")
    return name


class StreamsConfig(Section):
    """Redis stream keys of a model; default mlmon:{<name>}:predictions and :labels."""

    model_config = ConfigDict(json_schema_extra=lambda schema: schema.pop("required", None))
    predictions: Text
    """Stream the producer XADDs predictions to."""
    labels: Text
    """Stream ground-truth labels arrive on; must differ from predictions."""

    @model_validator(mode="after")
    def _distinct(self) -> Self:
        if self.predictions == self.labels:
            reason = f"must differ from the predictions stream ({self.predictions!r})"
            raise ConfigError("labels", reason)
        return self


class ReferenceConfig(Section):
    """Where the reference data set comes from: exactly one of file or redis_key."""

    schema_rules = exactly_one("file", "redis_key")

    file: File = None
    """CSV, JSON Lines or Parquet (parquet extra) file, relative to the config; read at startup."""
    redis_key: Text | None = None
    """Redis hash written by `ml-monitoring-exporter reference load`."""

    @model_validator(mode="after")
    def _one_source(self) -> Self:
        if (self.file is None) == (self.redis_key is None):
            raise ConfigError("", "must set exactly one of: file, redis_key")
        return self


class Layer(Settings):
    """The keys defaults and models share, before they are layered."""

    drift: DriftByType = Field(default_factory=DriftByType)
    """Drift method and threshold per feature type, for features that name none."""
    prediction_drift: DriftKeys | None = None
    """Drift of the model's output: classes, a binary model's positive-class score, or numbers."""
    performance: Performance | None = None
    """Acceptable ranges of performance metrics; replaces defaults.performance as a whole."""


class DefaultsKeys(Layer):
    """Defaults for every model: any model key but the ones naming and describing one model."""

    @model_validator(mode="before")
    @classmethod
    def _no_model_keys(cls, data: object) -> object:
        for key in set(ModelKeys.model_fields) - set(Layer.model_fields):
            if isinstance(data, dict) and key in data:
                raise ConfigError(key, "can only be set per model, not in defaults")
        return data


class ModelKeys(Layer):
    """One monitored model."""

    required_hints = {"task": f"one of: {', '.join(_TASKS)}"}  # noqa: RUF012 - see FeatureKeys
    name: Annotated[
        Text, AfterValidator(model_name), Field(json_schema_extra={"pattern": f"^{_NAME}$"})
    ]
    """Unique model name: letters, digits, _ . - (at most 64)."""
    task: Task
    """What the model predicts; decides which performance metrics apply."""
    positive_class: Label | None = None
    """The label counted as positive by precision, recall and f1; binary_classification only."""
    classes: (
        Annotated[Labels, Field(json_schema_extra={"minItems": 2, "maxItems": MAX_CLASSES})] | None
    ) = None
    """Classes that get per-class series (classification only); others fold into __other__."""
    streams: StreamsConfig | None = None
    """Redis stream keys; default mlmon:{<name>}:predictions and mlmon:{<name>}:labels."""
    reference: ReferenceConfig | None = None
    """The data drift is measured against; default {redis_key: mlmon:{<name>}:reference}."""
    features: Annotated[tuple[FeatureKeys, ...], Field(min_length=1)]
    """The model inputs to monitor; names must be unique."""
    segments: Annotated[tuple[SegmentConfig, ...], Field(max_length=MAX_SEGMENTS)] = ()
    """Segment keys (at most 4): drift, quality and performance also per value of each."""

    @classmethod
    def yaml_rules(cls, data: dict[str, Any]) -> dict[str, Any]:
        """Stream and reference keys default to ones derived from the model's name."""
        if isinstance(name := data.get("name"), str):
            streams = data.get("streams")
            if streams is None or isinstance(streams, dict):
                data = {**data, "streams": {**default_streams(name), **(streams or {})}}
            data = {"reference": {"redis_key": f"mlmon:{{{name}}}:reference"}, **data}
        return data

    @model_validator(mode="after")
    def _fits_task(self) -> Self:
        task = self.task.value
        if self.positive_class is not None and self.task is not Task.BINARY:
            raise ConfigError(
                "positive_class", f"only applies to {Task.BINARY.value} models, not {task}"
            )
        if self.classes is not None and not self.task.is_classification:
            raise ConfigError("classes", f"only applies to classification models, not {task}")
        if self.classes is not None and not 2 <= len(self.classes) <= MAX_CLASSES:
            reason = f"must list 2 to {MAX_CLASSES} classes, got {len(self.classes)}"
            raise ConfigError("classes", reason)
        if self.classes is not None and self.positive_class not in (None, *self.classes):
            reason = f"{self.positive_class!r} is not one of classes {list(self.classes)}"
            raise ConfigError("positive_class", reason)  # it would fold into __other__
        seen: dict[str, int] = {}
        for i, segment in enumerate(self.segments):
            key = f"segments[{i}].{'feature' if segment.feature else 'tag'}"
            if segment.feature is not None:
                check_segment_feature(segment.feature, self.features, key)
            if (first := seen.get(segment.name)) is not None:
                reason = f"duplicate segment {segment.name!r} (first used by segments[{first}])"
                raise ConfigError(key, reason)
            seen[segment.name] = i
        return self


def _check_watched(
    names: tuple[str, ...], features: tuple[FeatureConfig, ...], keys: ModelKeys, path: str
) -> None:
    """change.features must name numeric features of the model, wherever they were set."""
    numeric = {f.name for f in features if f.type is FeatureType.NUMERIC}
    own = "features" in keys.change.model_fields_set
    for i, name in enumerate(names):
        if name not in numeric:
            where = f"{path}.change" if own else "defaults.change"
            reason = f"must name a numeric feature of model {keys.name!r}, got {name!r}"
            raise ConfigError(f"{where}.features[{i}]", reason)


def default_streams(name: str) -> dict[str, str]:
    """Braces keep a model's keys in one Redis Cluster slot."""
    return {"predictions": f"mlmon:{{{name}}}:predictions", "labels": f"mlmon:{{{name}}}:labels"}


class ModelConfig(Settings):
    """Everything the exporter knows about one model, defaults applied."""

    name: str
    task: Task
    features: tuple[FeatureConfig, ...]
    streams: StreamsConfig
    reference: ReferenceConfig
    positive_class: str | None = None
    classes: tuple[str, ...] | None = None
    prediction_drift: DriftSpec = Field(default_factory=DriftSpec)
    performance: tuple[tuple[str, Bounds], ...] = ()
    drift_correction: str = "fdr_bh"
    learned_k: float = 3.0
    segments: tuple[SegmentConfig, ...] = ()
    # Embedding features, apart: every consumer of `features` handles one number or text each.
    embeddings: tuple[FeatureConfig, ...] = ()

    def feature(self, name: str) -> FeatureConfig:
        """The feature called name; KeyError names it when absent."""
        for f in self.features:
            if f.name == name:
                return f
        raise KeyError(f"model {self.name!r} has no feature {name!r}")


def unique(names: list[str], path: str, what: str) -> None:
    """Reject a repeated name at the path of its second use, pointing back at the first."""
    first: dict[str, int] = {}
    for i, name in enumerate(names):
        if name in first:
            reason = f"duplicate {what} name {name!r} (first used by {path}[{first[name]}])"
            raise ConfigError(f"{path}[{i}].name", reason)
        first[name] = i


def _prediction_drift(keys: ModelKeys, path: str, base: tuple[DriftSpec, str]) -> DriftSpec:
    """The layered spec, its method checked where it was set against what the task predicts."""
    spec, method_path = base
    if keys.prediction_drift is not None:
        spec = keys.prediction_drift.over(spec, f"{path}.prediction_drift")
        if keys.prediction_drift.method is not None:
            method_path = f"{path}.prediction_drift.method"
    types = [FeatureType.NUMERIC] if keys.task is Task.REGRESSION else [FeatureType.CATEGORICAL]
    if keys.task is Task.BINARY and keys.positive_class is not None:
        types = [FeatureType.NUMERIC, FeatureType.CATEGORICAL]  # the score, or the classes
    kind = "scores or classes" if len(types) > 1 else f"{types[0].value} predictions"
    subject = f"{kind} of {keys.task.value} model {keys.name!r}"
    check_method(spec.method, method_path, types, subject)
    return spec


def resolve(defaults: DefaultsKeys, models: tuple[ModelKeys, ...]) -> tuple[ModelConfig, ...]:
    """Each model's keys over the defaults; errors name where the offending value was set."""
    by_type = defaults.drift.over({}, "defaults.drift")
    prediction = (DriftSpec(), "")
    if (own := defaults.prediction_drift) is not None:
        method_path = "defaults.prediction_drift.method" if own.method is not None else ""
        prediction = (own.over(DriftSpec(), "defaults.prediction_drift"), method_path)
    result = tuple(
        _model(keys, f"models[{i}]", defaults, by_type, prediction) for i, keys in enumerate(models)
    )
    unique([m.name for m in result], "models", "model")
    _one_reader_per_stream(result)
    return result


def _one_reader_per_stream(models: tuple[ModelConfig, ...]) -> None:
    """A stream feeds one model's predictions or labels: a key given twice was read for one
    of them only, silently."""
    first: dict[str, str] = {}
    for i, model in enumerate(models):
        for kind in ("predictions", "labels"):
            key, path = getattr(model.streams, kind), f"models[{i}].streams.{kind}"
            if key in first:
                raise ConfigError(path, f"stream {key!r} is already read as {first[key]}")
            first[key] = path


def _model(
    keys: ModelKeys,
    path: str,
    defaults: DefaultsKeys,
    by_type: dict[FeatureType, DriftSpec],
    prediction: tuple[DriftSpec, str],
) -> ModelConfig:
    """One model with the defaults applied."""
    by_type = keys.drift.over(by_type, f"{path}.drift")
    features = tuple(
        f.over_type(by_type, f"{path}.features[{i}]") for i, f in enumerate(keys.features)
    )
    unique([f.name for f in features], f"{path}.features", "feature")
    embeddings = tuple(f for f in features if f.type is FeatureType.EMBEDDING)
    features = tuple(f for f in features if f.type is not FeatureType.EMBEDDING)
    settings = keys.layered_over(defaults)
    _check_watched(settings["change"].features, features, keys, path)
    prediction_drift = _prediction_drift(keys, path, prediction)
    own = "performance" in keys.model_fields_set
    performance = metrics_for(
        keys.performance if own else defaults.performance,
        f"{path}.performance",
        keys.task,
        keys.positive_class,
        inherited=not own,
    )
    return ModelConfig(
        **settings,
        name=keys.name,
        task=keys.task,
        features=features,
        streams=keys.streams or StreamsConfig(**default_streams(keys.name)),
        reference=keys.reference or ReferenceConfig(redis_key=f"mlmon:{{{keys.name}}}:reference"),
        positive_class=keys.positive_class,
        classes=keys.classes,
        prediction_drift=prediction_drift,
        performance=performance,
        drift_correction=keys.drift.correction or defaults.drift.correction or "fdr_bh",
        learned_k=keys.drift.learned_k or defaults.drift.learned_k or 3.0,
        segments=keys.segments,
        embeddings=embeddings,
    )
