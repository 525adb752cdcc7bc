"""The drift keys: a method and threshold per feature, per feature type, and for predictions."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Annotated, Any, Literal, Self

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    JsonValue,
    TypeAdapter,
    model_validator,
)

from exporter.config.keys import ConfigError, Section
from exporter.config.scalars import Positive
from exporter.stats import METHODS, methods_for
from exporter.stats.kinds import FeatureType

LEARNED = "learned"
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
    float | Literal["learned"],
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
        return self

    def over(self, base: dict[FeatureType, DriftSpec], path: str) -> dict[FeatureType, DriftSpec]:
        """The per-type specs of this section over base's."""
        result = dict(base)
        for kind in FeatureType:
            own: DriftKeys | None = getattr(self, kind.value)
            if own is not None:
                result[kind] = own.over(base.get(kind, DriftSpec()), f"{path}.{kind.value}")
        return result
