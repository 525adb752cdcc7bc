"""The performance keys: bounds per metric, and which metrics each kind of model gets."""

from typing import TYPE_CHECKING, Any, NamedTuple, Self

from pydantic import Field, create_model, model_validator

from exporter.config.keys import ConfigError, Section, at_least_one
from exporter.config.scalars import NonNegative, Number
from exporter.stats.kinds import Task

_BINARY = frozenset({Task.BINARY})
_CLASSIFIERS = frozenset({Task.BINARY, Task.MULTICLASS})
_REGRESSION = frozenset({Task.REGRESSION})
_AVERAGES = {"macro": "unweighted mean over classes", "weighted": "mean weighted by support"}


class Metric(NamedTuple):
    """Which models the evaluator computes a metric for, so bounds on it can ever fire."""

    tasks: frozenset[Task]
    about: str
    needs_positive_class: bool = False


# Every performance metric the evaluator computes; add one here and the loader accepts it.
PERFORMANCE_METRICS: dict[str, Metric] = {
    "accuracy": Metric(_CLASSIFIERS, "Share of correct predictions"),
    "precision": Metric(_BINARY, "Precision of the positive class", needs_positive_class=True),
    "recall": Metric(_BINARY, "Recall of the positive class", needs_positive_class=True),
    "f1": Metric(_BINARY, "F1 score of the positive class", needs_positive_class=True),
    **{
        f"{m}_{avg}": Metric(_CLASSIFIERS, f"{m}, {about}")
        for m in ("precision", "recall", "f1")
        for avg, about in _AVERAGES.items()
    },
    "roc_auc": Metric(_CLASSIFIERS, "Area under the ROC curve; one-vs-rest macro for multiclass"),
    "log_loss": Metric(_CLASSIFIERS, "Cross-entropy of the scores"),
    "brier": Metric(_CLASSIFIERS, "Brier score of the scores"),
    "ece": Metric(_CLASSIFIERS, "Expected calibration error over 10 equal-width bins"),
    "mae": Metric(_REGRESSION, "Mean absolute error"),
    "rmse": Metric(_REGRESSION, "Root mean squared error"),
    "r2": Metric(_REGRESSION, "Coefficient of determination"),
    "mape": Metric(_REGRESSION, "Mean absolute percentage error"),
}
# Metrics that get worse as they grow (errors, losses, calibration error); the rest are better high.
LOWER_IS_BETTER = frozenset({"mae", "rmse", "mape", "log_loss", "brier", "ece"})


class Bounds(Section):
    """An acceptable range for one metric; with max_drop and min (or max), the stricter applies.

    max_drop bounds the metric relative to its value on the reference data, so a config stays
    right when the reference changes: it tightens the side where the metric gets worse.
    """

    schema_rules = at_least_one("min", "max", "max_drop")

    min: Number | None = None
    """Alert when the metric falls below this."""
    max: Number | None = None
    """Alert when the metric rises above this."""
    max_drop: NonNegative | None = None
    """Alert when the metric is worse than on the reference data by more than this."""

    @model_validator(mode="after")
    def _a_range(self) -> Self:
        if self.min is None and self.max is None and self.max_drop is None:
            raise ConfigError("", "must set at least one of: min, max, max_drop")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ConfigError("", f"min ({self.min}) must not exceed max ({self.max})")
        return self

    def resolve(self, metric: str, reference: float | None) -> tuple[float | None, float | None]:
        """The effective (min, max); without a reference value the relative side is left out."""
        if self.max_drop is None or reference is None:
            return self.min, self.max
        if metric in LOWER_IS_BETTER:
            limit = reference + self.max_drop
            return self.min, limit if self.max is None else min(self.max, limit)
        limit = reference - self.max_drop
        return (limit if self.min is None else max(self.min, limit)), self.max


def _bounds(metric: Metric) -> Any:
    tasks = " or ".join(sorted(t.value for t in metric.tasks))
    return Bounds, Field(None, description=f"{metric.about} ({tasks}).")


if TYPE_CHECKING:
    Performance = Section
else:  # null bounds are an error like empty ones, not an absent metric: hence not Optional
    Performance = create_model(
        "Performance",
        __base__=Section,
        __doc__="Acceptable ranges per performance metric.",
        **{name: _bounds(metric) for name, metric in PERFORMANCE_METRICS.items()},
    )


def applies(metric: str, task: Task, positive_class: str | None) -> bool:
    """Whether the evaluator computes metric for such a model."""
    info = PERFORMANCE_METRICS[metric]
    return task in info.tasks and (positive_class is not None or not info.needs_positive_class)


def metrics_for(
    performance: Section | None, path: str, task: Task, positive_class: str | None, inherited: bool
) -> tuple[tuple[str, Bounds], ...]:
    """Bounds sorted by metric; inherited defaults may mix tasks, a model's own must apply."""
    names = sorted(performance.model_fields_set) if performance is not None else []
    for metric in names if not inherited else ():
        if task in PERFORMANCE_METRICS[metric].tasks and not applies(metric, task, positive_class):
            raise ConfigError(f"{path}.{metric}", "needs positive_class to be set")
        if not applies(metric, task, positive_class):
            usable = sorted(m for m, info in PERFORMANCE_METRICS.items() if task in info.tasks)
            reason = f"does not apply to {task.value} models (use one of: {', '.join(usable)})"
            raise ConfigError(f"{path}.{metric}", reason)
    return tuple((m, getattr(performance, m)) for m in names if applies(m, task, positive_class))
