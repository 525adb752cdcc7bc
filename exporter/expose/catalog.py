"""Every metric the exporter serves, declared once: the contract for alerts and dashboards."""

from __future__ import annotations

from exporter.expose.catalog_exporter import EXPORTER
from exporter.expose.catalog_models import MODELS
from exporter.expose.catalog_performance import PERFORMANCE
from exporter.expose.catalog_segments import SEGMENTS, VERSIONS
from exporter.expose.spec import LABEL_DELAY_BUCKETS, LATENCY_BUCKETS, MetricSpec

__all__ = ["BY_NAME", "CATALOG", "LABEL_DELAY_BUCKETS", "LATENCY_BUCKETS", "MetricSpec", "spec"]

CATALOG: tuple[MetricSpec, ...] = EXPORTER + MODELS + PERFORMANCE + SEGMENTS + VERSIONS

BY_NAME: dict[str, MetricSpec] = {spec.name: spec for spec in CATALOG}


def spec(name: str) -> MetricSpec:
    """The declared metric; KeyError names an undeclared one."""
    try:
        return BY_NAME[name]
    except KeyError:
        raise KeyError(f"metric {name!r} is not declared in the catalog") from None
