"""client_python instruments built from their catalog declaration, for the live metrics."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge

from exporter.expose.catalog import spec


def counter(name: str, registry: CollectorRegistry) -> Counter:
    """The declared counter, registered on `registry`."""
    s = spec(name)
    return Counter(s.base_name, s.help, s.labels, registry=registry)


def gauge(name: str, registry: CollectorRegistry) -> Gauge:
    """The declared gauge, registered on `registry`."""
    s = spec(name)
    return Gauge(s.name, s.help, s.labels, registry=registry)
