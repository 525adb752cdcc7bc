"""The shape of a metric declaration, and the label sets most metrics share."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Kind = Literal["counter", "gauge", "histogram"]

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


@dataclass(frozen=True)
class MetricSpec:
    """One metric's exposition name (counters with `_total`), type, help, labels and unit."""

    name: str
    kind: Kind
    help: str
    labels: tuple[str, ...]
    unit: str = ""

    @property
    def base_name(self) -> str:
        """The name client_python wants: counters without their `_total` suffix."""
        return self.name.removesuffix("_total") if self.kind == "counter" else self.name


MODEL = ("model",)
MODEL_FEATURE = ("model", "feature")
MODEL_FEATURE_METHOD = ("model", "feature", "method")
