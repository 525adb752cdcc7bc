"""The keys of a features: entry: a model input, its drift method and its expected values."""

from typing import Annotated, Self

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from exporter.config.drift import DriftKeys, DriftSpec, check_method
from exporter.config.keys import ConfigError, describe
from exporter.config.scalars import Labels, Number, Positive, Text
from exporter.stats.kinds import FeatureType


def pair(value: object) -> object:
    """[lo, hi], checked as two Numbers."""
    if not isinstance(value, list):
        raise ConfigError("", f"must be a list, got {describe(value)}")
    if len(value) != 2:
        raise ConfigError("", f"must be a list of two numbers [lo, hi], got {len(value)} items")
    return value


def ordered(value: tuple[float, float]) -> tuple[float, float]:
    """lo < hi."""
    if not (lo := value[0]) < (hi := value[1]):
        raise ConfigError("", f"lo must be less than hi, got [{lo:g}, {hi:g}]")
    return value


def feature_type(value: object) -> FeatureType:
    """The FeatureType named by value."""
    if not isinstance(value, str) or value not in FeatureType._value2member_map_:
        raise ConfigError("", f"must be numeric or categorical, got {describe(value)}")
    return FeatureType(value)


Range = Annotated[tuple[Number, Number], AfterValidator(ordered)]


class FeatureKeys(DriftKeys):
    """One model input, as the producer names it."""

    required_hints = {"type": "numeric or categorical"}  # noqa: RUF012 - a ClassVar of Section
    name: Text
    """The feature name in the prediction records."""
    type: Annotated[FeatureType, BeforeValidator(feature_type)]
    """How values are stored and compared."""
    range: Annotated[Range | None, BeforeValidator(pair)] = None  # null too must be a list
    """Expected [lo, hi] of a numeric feature; values outside are data quality violations."""
    allowed: Labels | None = None
    """Expected values of a categorical feature; others are data quality violations."""
    importance: Positive = 1.0
    """Weight of the feature in the dataset drift share."""

    @model_validator(mode="after")
    def _fits_type(self) -> Self:
        for key, only in (("range", FeatureType.NUMERIC), ("allowed", FeatureType.CATEGORICAL)):
            if getattr(self, key) is not None and self.type is not only:
                reason = (
                    f"only applies to {only.value} features ({self.name!r} is {self.type.value})"
                )
                raise ConfigError(key, reason)
        check_method(self.method, "method", [self.type], f"{self.type.value} feature {self.name!r}")
        return self

    def over_type(self, by_type: dict[FeatureType, DriftSpec], path: str) -> "FeatureConfig":
        """The feature, its drift keys over the defaults for its type."""
        return FeatureConfig(
            name=self.name,
            type=self.type,
            drift=self.over(by_type.get(self.type, DriftSpec()), path),
            range=self.range,
            allowed=self.allowed,
            importance=self.importance,
        )


class FeatureConfig(BaseModel):
    """One model input, its drift settings layered over the defaults for its type."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    type: FeatureType
    drift: DriftSpec = Field(default_factory=DriftSpec)
    range: tuple[float, float] | None = None
    allowed: tuple[str, ...] | None = None
    importance: float = 1.0
