"""/metrics bodies: live counters rendered per scrape, snapshot values rendered per evaluation.

The statistics only change when an evaluation publishes a snapshot, so their text is rendered
once per snapshot and format and served as bytes; a scrape then only formats the counters.
Each model's part is kept apart (expose/parts.py), so one model's evaluation re-renders only
that model.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter as Tally
from collections.abc import Callable, Iterable, Iterator
from functools import partial

from prometheus_client import CollectorRegistry, Counter
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

from exporter.expose.collector import Generation, SnapshotCollector
from exporter.expose.formats import negotiate
from exporter.expose.parts import EOF_LINE, Parts

log = logging.getLogger("exporter.exposition")

Encoder = Callable[[Collector], bytes]


def _clean(text: str) -> str:
    """Text that encodes as UTF-8 whatever it held (a lone surrogate becomes U+FFFD)."""
    return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")


def _cleaned(metrics: Iterable[Metric]) -> list[Metric]:
    """Copies of the families with every label name and value made encodable."""
    out = []
    for metric in metrics:
        copy = Metric(metric.name, metric.documentation, metric.type, metric.unit)
        copy.samples = [
            sample._replace(labels={_clean(k): _clean(v) for k, v in sample.labels.items()})
            for sample in metric.samples
        ]
        out.append(copy)
    return out


def _encode(encoder: Encoder, families: list[Metric]) -> bytes:
    """Encode the families; text that is not valid UTF-8 is repaired, not fatal."""
    try:
        return encoder(_Part(families))
    except UnicodeEncodeError:
        return encoder(_Part(_cleaned(families)))


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

    def __init__(
        self, live: CollectorRegistry, snapshot: SnapshotCollector, failures: Counter
    ) -> None:
        self._live = live
        self._snapshot = snapshot
        self._failures = failures
        self._cache: dict[str, tuple[Generation, bytes]] = {}
        self._parts: dict[str, Parts] = {}
        self.model_renders: Tally[str] = Tally()  # per model, how often its part was rendered
        self._last_good: dict[str, tuple[bytes, bytes]] = {}  # body, its failure counter
        self._lock = threading.Lock()
        self.healthy = True  # False while /metrics cannot be rendered: /readyz says so

    def render(self, accept: str) -> tuple[bytes, str]:
        """The body and content type for a scrape; never raises.

        A value that cannot be encoded is repaired; any other failure is counted and the last
        good body of that format is served, so one bad string cannot blind every scrape.
        """
        encoder, content_type = negotiate(accept)
        try:
            body = self._render(encoder, content_type)
        except Exception:
            log.exception("rendering /metrics failed; serving the last good body")
            self._failures.inc()
            self.healthy = False
            with self._lock:
                last, then = self._last_good.get(content_type, (b"", b""))
            if not last:  # no good body yet: the counter alone
                return _encode(encoder, list(self._failures.collect())), content_type
            return last.replace(then, self._failure_count(encoder), 1), content_type
        self.healthy = True
        count = self._failure_count(encoder)
        with self._lock:
            self._last_good[content_type] = (body, count)
        return body, content_type

    def _failure_count(self, encoder: Encoder) -> bytes:
        """The failure counter's family as it renders now, and inside a body: the last good
        body carries it updated, or its alert could not fire while rendering kept failing."""
        own = _encode(encoder, list(self._failures.collect()))
        return own[: -len(EOF_LINE)] if own.endswith(EOF_LINE) else own

    def _render(self, encoder: Encoder, content_type: str) -> bytes:
        families = [*self._live.collect(), *self._snapshot.status()]
        live = _encode(encoder, families)
        derived = self._derived(encoder, content_type)
        if live.endswith(EOF_LINE):  # OpenMetrics: one EOF, at the very end
            return live[: -len(EOF_LINE)] + derived + EOF_LINE
        return live + derived

    def _derived(self, encoder: Encoder, content_type: str) -> bytes:
        version = self._snapshot.version
        with self._lock:
            cached = self._cache.get(content_type)
            parts = self._parts.get(content_type)
            if parts is None:
                parts = self._parts[content_type] = Parts(
                    self._snapshot, partial(_encode, encoder), self.model_renders
                )
        if cached is not None and all(a is b for a, b in zip(cached[0], version, strict=True)):
            return cached[1]
        body = parts.body(version)
        with self._lock:
            self._cache[content_type] = (version, body)
        return body
