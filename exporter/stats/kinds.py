"""The kinds of feature and task the statistics distinguish; config names them, stats owns them."""

from __future__ import annotations

from enum import Enum


class Task(str, Enum):  # noqa: UP042 - StrEnum would change str() for callers
    """What a model predicts; decides which performance metrics apply."""

    BINARY = "binary_classification"
    MULTICLASS = "multiclass_classification"
    REGRESSION = "regression"

    @property
    def is_classification(self) -> bool:
        """True for both classification tasks."""
        return self is not Task.REGRESSION


class FeatureType(str, Enum):  # noqa: UP042 - see Task
    """How a feature's values are stored and compared."""

    NUMERIC = "numeric"
    CATEGORICAL = "categorical"
    EMBEDDING = "embedding"  # a fixed-dimension vector of numbers per record


# Embeddings are kept as float32: a component past its range would become infinite.
EMBEDDING_COMPONENT_MAX = 3.4028234663852886e38


__all__ = ["EMBEDDING_COMPONENT_MAX", "FeatureType", "Task"]
