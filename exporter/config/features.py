"""Parser for a model's features list: names, types, drift settings and expected values."""

from __future__ import annotations

from collections.abc import Mapping

from exporter.config.measures import DRIFT_TYPE_KEYS, drift_spec
from exporter.config.model import DriftSpec, FeatureConfig
from exporter.config.values import (
    ConfigError,
    describe,
    index,
    items,
    join,
    mapping,
    number,
    optional,
    positive_number,
    required,
    scalar_string,
    string,
)
from exporter.stats.kinds import FeatureType

FEATURE_KEYS = ("name", "type", "method", "threshold", "range", "allowed", "importance")


def value_range(value: object, path: str) -> tuple[float, float]:
    """[lo, hi] with lo < hi."""
    pair = items(value, path)
    if len(pair) != 2:
        raise ConfigError(path, f"must be a list of two numbers [lo, hi], got {len(pair)} items")
    lo, hi = number(pair[0], index(path, 0)), number(pair[1], index(path, 1))
    if not lo < hi:
        raise ConfigError(path, f"lo must be less than hi, got [{lo:g}, {hi:g}]")
    return lo, hi


def allowed_values(value: object, path: str) -> tuple[str, ...]:
    """A non-empty list of distinct category values, stringified."""
    entries = items(value, path)
    if not entries:
        raise ConfigError(path, "must not be empty")
    result = tuple(scalar_string(v, index(path, i)) for i, v in enumerate(entries))
    for i, text in enumerate(result):
        if text in result[:i]:
            raise ConfigError(index(path, i), f"duplicate value {text!r}")
    return result


def feature_type(value: object, path: str) -> FeatureType:
    """numeric or categorical."""
    if not isinstance(value, str) or value not in DRIFT_TYPE_KEYS:
        raise ConfigError(path, f"must be numeric or categorical, got {describe(value)}")
    return FeatureType(value)


def parse_feature(
    value: object, path: str, type_drift: Mapping[FeatureType, DriftSpec]
) -> FeatureConfig:
    """One features entry; omitted method/threshold come from the drift defaults for its type."""
    raw = mapping(value, path, FEATURE_KEYS)
    name = required(raw, path, "name", string)
    kind = required(raw, path, "type", feature_type, "numeric or categorical")
    for key, only in (("range", FeatureType.NUMERIC), ("allowed", FeatureType.CATEGORICAL)):
        if key in raw and kind is not only:
            reason = f"only applies to {only.value} features ({name!r} is {kind.value})"
            raise ConfigError(join(path, key), reason)
    subject = f"{kind.value} feature {name!r}"
    return FeatureConfig(
        name=name,
        type=kind,
        drift=drift_spec(raw, path, kind, subject, type_drift.get(kind, DriftSpec())),
        range=optional(raw, path, "range", value_range, None),
        allowed=optional(raw, path, "allowed", allowed_values, None),
        importance=optional(raw, path, "importance", positive_number, 1.0),
    )


def unique_names(names: list[str], paths: list[str], what: str) -> None:
    """Reject a repeated name at the path of its second use, pointing back at the first."""
    first_seen: dict[str, str] = {}
    for name, path in zip(names, paths, strict=True):
        if name in first_seen:
            where = first_seen[name]
            reason = f"duplicate {what} name {name!r} (first used by {where})"
            raise ConfigError(join(path, "name"), reason)
        first_seen[name] = path


def parse_features(
    value: object, path: str, type_drift: Mapping[FeatureType, DriftSpec]
) -> tuple[FeatureConfig, ...]:
    """The features list: non-empty, names unique."""
    entries = items(value, path)
    if not entries:
        raise ConfigError(path, "must not be empty")
    paths = [index(path, i) for i in range(len(entries))]
    features = tuple(parse_feature(e, p, type_drift) for e, p in zip(entries, paths, strict=True))
    unique_names([f.name for f in features], paths, "feature")
    return features
