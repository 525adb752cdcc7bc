"""The segments: key of a model: which feature or tag splits its traffic, and the budget."""

from typing import Annotated, Self

from pydantic import Field, model_validator

from exporter.config.drift import FeatureKeys
from exporter.config.keys import ConfigError, Section, exactly_one
from exporter.config.scalars import INTEGER, PositiveInt, Text, rule
from exporter.stats.kinds import FeatureType

MAX_SEGMENT_VALUES = 100
MAX_SEGMENTS = 4  # each key: its series budget, and 4 bytes per prediction awaiting a label
SegmentBudget = Annotated[
    int,
    Field(strict=True, ge=1, le=MAX_SEGMENT_VALUES),
    INTEGER,
    rule(f"between 1 and {MAX_SEGMENT_VALUES}"),
]


class SegmentConfig(Section):
    """A segment key: a categorical feature or a record tag, with its budget of series."""

    schema_rules = exactly_one("feature", "tag")

    feature: Text | None = None
    """A categorical feature of the model whose values are segments."""
    tag: Annotated[Text, Field(max_length=256)] | None = None
    """A key of the record's tags object (e.g. region, tenant) whose values are segments."""
    max_values: SegmentBudget = 10
    """Values with the most traffic in the window that get their own series; others are
    __other__."""
    min_samples: PositiveInt = 100
    """Predictions a segment value needs in the window before a decision is made about it."""

    @model_validator(mode="after")
    def _one_source(self) -> Self:
        if (self.feature is None) == (self.tag is None):
            raise ConfigError("", "must set exactly one of: feature, tag")
        return self

    @property
    def name(self) -> str:
        """The value of the `segment` label: the feature's or the tag's name."""
        return self.feature or self.tag or ""


def check_segment_feature(name: str, features: tuple[FeatureKeys, ...], path: str) -> None:
    """A segment feature must be a categorical feature: its values are the segments."""
    kinds = {f.name: f.type for f in features}
    if name not in kinds:
        raise ConfigError(path, f"no feature named {name!r} (features: {', '.join(kinds)})")
    if kinds[name] is not FeatureType.CATEGORICAL:
        reason = f"must name a categorical feature ({name!r} is {kinds[name].value})"
        raise ConfigError(path, reason)
