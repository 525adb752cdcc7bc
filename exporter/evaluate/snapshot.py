"""Frozen results of evaluations, swapped in atomically so scrapes never see half a run."""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from exporter.evaluate.histograms import FeatureHistogram
from exporter.stats.versions import Comparison


@dataclass(frozen=True)
class DriftValue:
    """One drift method's verdict on one column."""

    method: str
    score: float
    p_value: float | None
    threshold: float
    drifted: bool
    learned: bool = False  # threshold learned from reference chunks (no p-value correction)


@dataclass(frozen=True)
class FeatureSnapshot:
    """A feature's drift and data quality over the window; None where not computable."""

    name: str
    drift: DriftValue | None
    missing_ratio: float | None
    out_of_range_ratio: float | None = None
    unseen_category_ratio: float | None = None
    histogram: FeatureHistogram | None = None
    reference_missing_ratio: float | None = None  # the same share over the reference rows
    expected_unseen_category_ratio: float | None = None  # healthy share (see FittedColumn)


Bound = tuple[str, float | None, float | None]  # a metric's (name, min, max) as applied


@dataclass(frozen=True)
class SegmentSnapshot:
    """One value of one segment key: how much traffic it had and, with enough, what it showed.

    Below the segment's min_samples no decision is made: `evaluated` is False and the drift,
    quality and performance parts are empty.
    """

    segment: str
    value: str
    samples: int
    evaluated: bool
    reference_own: bool  # compared with its own reference rows, not the whole reference
    features: tuple[FeatureSnapshot, ...] = ()
    drift_share: float | None = None
    drift_detected: bool | None = None
    performance: tuple[tuple[str, float], ...] = ()
    out_of_bounds: tuple[tuple[str, bool], ...] = ()
    estimated: tuple[tuple[str, float], ...] = ()  # from scores, before labels (binary only)
    bounds: tuple[Bound, ...] = ()  # what out_of_bounds compared each bounded metric with

    @property
    def severity(self) -> float:
        """For sorting the worst first: each broken bound counts one, plus the drift share."""
        return (self.drift_share or 0.0) + sum(bad for _, bad in self.out_of_bounds)


@dataclass(frozen=True)
class VersionSnapshot:
    """One model version over the window: its labelled traffic, performance and, for a
    challenger, how its predictions and metrics compare with the champion's."""

    version: str
    labeled: int
    performance: tuple[tuple[str, float], ...] = ()
    drift: DriftValue | None = None
    comparisons: tuple[Comparison, ...] = ()


@dataclass(frozen=True)
class VersionsSnapshot:
    """The champion and every version seen in the window, the champion first."""

    champion: str
    versions: tuple[VersionSnapshot, ...]


@dataclass(frozen=True)
class ChangeState:
    """The change detector on labelled errors as the evaluation found it."""

    statistic: float
    threshold: float
    last_change: float | None  # time of the label at which it last crossed, if ever


@dataclass(frozen=True)
class ModelSnapshot:
    """Everything one evaluation of one model found."""

    model: str
    evaluated_at: float
    duration_seconds: float
    window_samples: int
    reference_samples: int
    features: tuple[FeatureSnapshot, ...]
    drift_share: float | None
    dataset_drift: bool | None
    prediction_drift: DriftValue | None
    performance: tuple[tuple[str, float], ...]
    reference_performance: tuple[tuple[str, float], ...]
    class_performance: tuple[tuple[str, str, float], ...] = ()
    estimated_performance: tuple[tuple[str, float], ...] = ()
    estimation_error: tuple[tuple[str, float], ...] = ()
    label_coverage: float | None = None
    multivariate_drift: DriftValue | None = None
    target_drift: DriftValue | None = None
    multivariate_note: str = ""  # why multivariate drift is not computed, when it is not
    reference_note: str = ""  # set while the fitted reference outlives its Redis key
    segments: tuple[SegmentSnapshot, ...] = ()
    versions: VersionsSnapshot | None = None
    change: ChangeState | None = None


HISTORY = 120


@dataclass(frozen=True)
class ScorePoint:
    """One evaluation's drift values per feature, for the history charts."""

    at: float
    drift: Mapping[str, DriftValue]


class SnapshotStore:
    """Holds the latest snapshot per model; readers take `models` without locking."""

    def __init__(self, history: int = HISTORY) -> None:
        self._models: Mapping[str, ModelSnapshot] = MappingProxyType({})
        self._history: dict[str, deque[ScorePoint]] = {}
        self._keep = history
        self._write = threading.Lock()

    @property
    def models(self) -> Mapping[str, ModelSnapshot]:
        """An immutable mapping that later publishes never modify."""
        return self._models

    def retain(self, names: set[str]) -> None:
        """Forget models that are no longer configured: their series and their history."""
        with self._write:
            self._models = MappingProxyType({k: v for k, v in self._models.items() if k in names})
            self._history = {k: v for k, v in self._history.items() if k in names}

    def history(self, model: str) -> tuple[ScorePoint, ...]:
        """The model's recent evaluations, oldest first (kept in memory only)."""
        with self._write:
            return tuple(self._history.get(model, ()))

    def publish(self, snapshot: ModelSnapshot) -> None:
        """Swap in a new mapping with this model's snapshot replaced; remember its scores."""
        point = ScorePoint(
            snapshot.evaluated_at,
            {f.name: f.drift for f in snapshot.features if f.drift is not None},
        )
        with self._write:
            self._history.setdefault(snapshot.model, deque(maxlen=self._keep)).append(point)
            updated = dict(self._models)
            updated[snapshot.model] = snapshot
            self._models = MappingProxyType(updated)
