"""/metrics bodies: live counters rendered per scrape, snapshot values rendered per evaluation.

The statistics only change when an evaluation publishes a snapshot, so their text is rendered
once per snapshot and format and served as bytes; a scrape then only formats the counters.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator

from prometheus_client import CollectorRegistry
from prometheus_client.exposition import choose_encoder
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

from exporter.serve.collector import SnapshotCollector

EOF_LINE = b"# EOF\n"
Encoder = Callable[[Collector], bytes]


class _Part(Collector):
    """A fixed list of families, to hand to an encoder."""

    def __init__(self, metrics: Iterable[Metric]) -> None:
        self._metrics = list(metrics)

    def collect(self) -> Iterable[Metric]:
        """The families given."""
        return self._metrics


class Combined(Collector):
    """Both parts as one collector, for the registry that users and tests query."""

    def __init__(self, live: CollectorRegistry, snapshot: SnapshotCollector) -> None:
        self._live = live
        self._snapshot = snapshot

    def describe(self) -> Iterable[Metric]:
        """Nothing: the live registry already checks its own names."""
        return []

    def collect(self) -> Iterator[Metric]:
        """Live counters, then the snapshot's families."""
        yield from self._live.collect()
        yield from self._snapshot.collect()


class Exposition:
    """Renders /metrics: the live part each time, the snapshot part from a per-format cache."""

    def __init__(self, live: CollectorRegistry, snapshot: SnapshotCollector) -> None:
        self._live = live
        self._snapshot = snapshot
        self._cache: dict[str, tuple[tuple[object, object], bytes]] = {}
        self._lock = threading.Lock()

    def render(self, accept: str) -> tuple[bytes, str]:
        """The body and content type for a scrape with this Accept header."""
        encoder, content_type = choose_encoder(accept)
        live = encoder(_Part([*self._live.collect(), *self._snapshot.status()]))
        derived = self._derived(encoder, content_type)
        if live.endswith(EOF_LINE):  # OpenMetrics: one EOF, at the very end
            return live[:-len(EOF_LINE)] + derived + EOF_LINE, content_type
        return live + derived, content_type

    def _derived(self, encoder: Encoder, content_type: str) -> bytes:
        version = self._snapshot.version
        with self._lock:
            cached = self._cache.get(content_type)
        if cached is not None and all(a is b for a, b in zip(cached[0], version, strict=True)):
            return cached[1]
        body = encoder(_Part(self._snapshot.derived()))
        body = body[:-len(EOF_LINE)] if body.endswith(EOF_LINE) else body
        with self._lock:
            self._cache[content_type] = (version, body)
        return body
