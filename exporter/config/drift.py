"""The drift keys (a method and threshold per feature, per feature type, for predictions), and
the keys of a features: entry: a model input, its drift method and its expected values."""

from collections.abc import Iterable
from typing import Annotated, Any, Literal, Self

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    JsonValue,
    TypeAdapter,
    model_validator,
)

from exporter.config.keys import ConfigError, Section, describe
from exporter.config.scalars import INTEGER, Labels, Number, Positive, Text, rule
from exporter.stats import METHODS, methods_for
from exporter.stats.kinds import FeatureType
from exporter.stats.thresholds import NOT_LEARNABLE

LEARNED = "learned"
# Learning a threshold scores reference chunks of single values; embeddings have none.
_NOT_LEARNED = "learned thresholds apply to numeric and categorical features only"
# An embedding's ring buffer holds 4 bytes per component and window row: at 4096 components a
# 10,000-row window is 164 MB, the most one feature should cost.
MAX_EMBEDDING_DIMENSION = 4096
# mmd's kernel is (2 x sample_rows)^2 doubles, twice while it is built: 256 MB at 2000.
MAX_SAMPLE_ROWS = 2000
_POSITIVE = TypeAdapter(Positive)


class DriftSpec(BaseModel):
    """A drift method and its threshold; None means the method's default."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    method: str | None = None
    threshold: float | None = None
    learned: bool = False  # threshold: learned -> mean + k sd over reference chunks


def known_method(value: object) -> str:
    """A name in exporter.stats.METHODS, the registry the evaluator builds methods from."""
    if not isinstance(value, str) or value not in METHODS:
        known = ", ".join(sorted(METHODS))
        raise ConfigError("", f"unknown drift method {value!r} (expected one of: {known})")
    return value


def threshold(value: object) -> float | str:
    """`learned` asks for mean + k sd of the score over reference chunks."""
    return LEARNED if value == LEARNED else _POSITIVE.validate_python(value)


def check_method(method: str | None, path: str, types: Iterable[FeatureType], subject: str) -> None:
    """Reject a method that can compare none of types; subject says what it was set for."""
    types = set(types)
    if method is None or types & set(METHODS[method]):
        return
    usable = sorted({name for kind in types for name in methods_for(kind)})
    raise ConfigError(
        path, f"{method!r} does not apply to {subject} (use one of: {', '.join(usable)})"
    )


Method = Annotated[
    str, BeforeValidator(known_method), Field(json_schema_extra={"enum": sorted(METHODS)})
]
Threshold = Annotated[
    Annotated[float, Field(gt=0)] | Literal["learned"],
    BeforeValidator(threshold),
    Field(description="A number (a p-value, at most 1, for statistical tests), or learned."),
]


class DriftKeys(Section):
    """A drift method and its threshold; either may be omitted."""

    method: Method | None = None
    """Drift method name; the default comes from the drift section for the feature type."""
    threshold: Threshold | None = None
    """Drift threshold of the method: a number, or learned."""

    def over(self, fallback: DriftSpec, path: str) -> DriftSpec:
        """These keys over fallback; another method drops fallback's threshold, meant for another
        scale. path locates these keys in errors."""
        learned = self.threshold == LEARNED
        own = self.threshold if isinstance(self.threshold, float) else None
        if self.method is not None and self.method != fallback.method:
            spec = DriftSpec(method=self.method, threshold=own, learned=learned)
        elif own is not None or learned:
            spec = DriftSpec(method=self.method or fallback.method, threshold=own, learned=learned)
        else:
            spec = fallback.model_copy(update={"method": self.method or fallback.method})
        if spec.learned and spec.method in NOT_LEARNABLE:
            reason = (
                f"learned does not apply to {spec.method!r}: its statistic is centred on 0, "
                "so no cut learned on reference chunks carries to windows; use its p-value "
                "threshold (e.g. 0.05)"
            )
            raise ConfigError(f"{path}.threshold", reason)
        is_test = any(c.is_test for c in METHODS.get(spec.method or "", {}).values())
        if own is not None and is_test and own > 1:
            reason = f"is a p-value for {spec.method!r}, so it must be at most 1, got {own}"
            raise ConfigError(f"{path}.threshold", reason)
        return spec


def _typed(kind: FeatureType) -> Any:
    """For editors, the schema lists only the methods for kind."""
    methods: list[JsonValue] = list(methods_for(kind))
    method: JsonValue = {"enum": methods, "description": f"A method for {kind.value} features."}
    return Field(None, json_schema_extra={"properties": {"method": method}})


class DriftByType(Section):
    """Drift method and threshold per feature type, the p-value correction and learned k."""

    numeric: DriftKeys | None = _typed(FeatureType.NUMERIC)
    """For numeric features that name no method."""
    categorical: DriftKeys | None = _typed(FeatureType.CATEGORICAL)
    """For categorical features that name no method."""
    embedding: DriftKeys | None = _typed(FeatureType.EMBEDDING)
    """For embedding features that name no method (mmd)."""
    correction: Literal["fdr_bh", "bonferroni", "none"] | None = None
    """Multiple-testing correction of p-value tests across the model's features (fdr_bh)."""
    learned_k: Positive | None = None
    """Learned thresholds sit at mean + learned_k standard deviations (3)."""

    @model_validator(mode="after")
    def _methods_fit(self) -> Self:
        for kind in FeatureType:
            own = getattr(self, kind.value)
            if own is not None:
                check_method(own.method, f"{kind.value}.method", [kind], f"{kind.value} features")
        if self.embedding is not None and self.embedding.threshold == LEARNED:
            raise ConfigError("embedding.threshold", _NOT_LEARNED)
        return self

    def over(self, base: dict[FeatureType, DriftSpec], path: str) -> dict[FeatureType, DriftSpec]:
        """The per-type specs of this section over base's."""
        result = dict(base)
        for kind in FeatureType:
            own: DriftKeys | None = getattr(self, kind.value)
            if own is not None:
                result[kind] = own.over(base.get(kind, DriftSpec()), f"{path}.{kind.value}")
        return result


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
        raise ConfigError("", f"must be numeric, categorical or embedding, got {describe(value)}")
    return FeatureType(value)


Range = Annotated[tuple[Number, Number], AfterValidator(ordered)]


class FeatureKeys(DriftKeys):
    """One model input, as the producer names it."""

    required_hints = {"type": "numeric, categorical or embedding"}  # noqa: RUF012 - ClassVar
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
    dimension: (
        Annotated[
            int,
            Field(strict=True, ge=2, le=MAX_EMBEDDING_DIMENSION),
            INTEGER,
            rule(f"from 2 to {MAX_EMBEDDING_DIMENSION}"),
        ]
        | None
    ) = None
    """Length of an embedding feature's vector (2 to 4096); records of another length are
    rejected as bad_embedding."""
    sample_rows: (
        Annotated[
            int,
            Field(strict=True, ge=10, le=MAX_SAMPLE_ROWS),
            INTEGER,
            rule(f"from 10 to {MAX_SAMPLE_ROWS}"),
        ]
        | None
    ) = None
    """Rows of each window mmd and domain_classifier score, and of the reference the method
    keeps (mmd keeps 4 times as many; 10 to 2000; default 1000 for mmd, else 2000)."""

    @model_validator(mode="after")
    def _fits_type(self) -> Self:
        for key, only in (
            ("range", FeatureType.NUMERIC),
            ("allowed", FeatureType.CATEGORICAL),
            ("dimension", FeatureType.EMBEDDING),
            ("sample_rows", FeatureType.EMBEDDING),
        ):
            if getattr(self, key) is not None and self.type is not only:
                reason = (
                    f"only applies to {only.value} features ({self.name!r} is {self.type.value})"
                )
                raise ConfigError(key, reason)
        if self.type is FeatureType.EMBEDDING:
            if self.dimension is None:
                raise ConfigError("dimension", f"is required for embedding feature {self.name!r}")
            if self.threshold == LEARNED:
                raise ConfigError("threshold", _NOT_LEARNED)
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
            dimension=self.dimension,
            sample_rows=self.sample_rows,
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
    dimension: int | None = None  # embedding features only
    sample_rows: int | None = None
