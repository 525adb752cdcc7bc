"""The shape of a metric declaration, and the label sets most metrics share."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Kind = Literal["counter", "gauge", "histogram"]

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
# Seconds (a feedback click) to a week (a chargeback). Below a minute the lowest bucket was
# 60 s, so labels a second late read as a 30 s median; between 12 h and a day there was none,
# so labels all 13 h late read as 22.8 h.
LABEL_DELAY_BUCKETS = (1.0, 5.0, 15.0, 30.0, 60.0, 300.0, 900.0, 1800.0, 3600.0, 7200.0, 14400.0,
21600.0, 28800.0, 43200.0, 64800.0, 86400.0, 172800.0, 345600.0, 604800.0)  # fmt: skip


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
