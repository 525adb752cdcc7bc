"""The client's own counters, kept as plain numbers and turned into metrics at scrape time."""

from __future__ import annotations

import os
import threading
import weakref
from collections.abc import Iterator
from enum import StrEnum
from typing import Protocol

from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

PREDICTIONS, LABELS = "predictions", "labels"


class DropReason(StrEnum):
    """Why a record never reached Redis; a closed set so the label stays bounded."""

    QUEUE_FULL = "queue_full"
    REDIS_ERROR = "redis_error"
    UNSERIALISABLE = "unserialisable"
    TOO_LARGE = "too_large"
    INVALID = "invalid"
    CLOSED = "closed"
    INTERNAL = "internal"


class ClientStats:
    """Counts bumped under one short lock, so threads calling log() never lose an increment."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        """Every count back to zero: a forked child counts its own records only."""
        self._lock = threading.Lock()
        self.sent = {PREDICTIONS: 0, LABELS: 0}
        self.dropped = dict.fromkeys(DropReason, 0)
        self.sampled_out = 0
        self.send_failures = 0

    def drop(self, reason: DropReason, n: int = 1) -> None:
        """Count n records lost for one reason."""
        with self._lock:
            self.dropped[reason] += n

    def sample_out(self) -> None:
        """Count a record that sampling skipped on purpose."""
        with self._lock:
            self.sampled_out += 1

    def delivered(self, kind: str, n: int) -> None:
        """Count records Redis acknowledged."""
        with self._lock:
            self.sent[kind] += n

    def failed(self, n: int) -> None:
        """Count a failed round trip and the records it carried."""
        with self._lock:
            self.send_failures += 1
            self.dropped[DropReason.REDIS_ERROR] += n


class Source(Protocol):
    """What the collector reads from a logger."""

    @property
    def model(self) -> str: ...

    @property
    def stats(self) -> ClientStats: ...

    @property
    def queue_depth(self) -> int: ...


class ClientCollector(Collector):
    """One per registry; reports every sender attached to it, summed per model, and keeps the
    final counts of those that ended, so a counter never falls when a logger is dropped."""

    def __init__(self) -> None:
        self._sources: weakref.WeakSet[Source] = weakref.WeakSet()
        self._ended: dict[str, list[int]] = {}
        self._ending: list[tuple[str, ClientStats]] = []  # appended by finalizers, lock-free
        self._lock = threading.Lock()

    def add(self, source: Source) -> None:
        """Report this sender from now on, and its last counts once it is garbage collected."""
        self._sources.add(source)
        weakref.finalize(source, self._ending.append, (source.model, source.stats))

    def forget_ended(self) -> None:
        """In a forked child: the parent's ended senders are the parent's to report."""
        self._ended.clear()
        self._ending.clear()

    def collect(self) -> Iterator[Metric]:
        """Read the counters; no I/O and no lock held for long."""
        sent = CounterMetricFamily(
            "mlmon_client_records_sent", "Records written to Redis.", labels=["model", "kind"]
        )
        dropped = CounterMetricFamily(
            "mlmon_client_records_dropped",
            "Records lost before Redis acknowledged them, by reason.",
            labels=["model", "reason"],
        )
        sampled = CounterMetricFamily(
            "mlmon_client_records_sampled_out", "Records skipped by sampling.", labels=["model"]
        )
        failures = CounterMetricFamily(
            "mlmon_client_send_failures", "Round trips to Redis that failed.", labels=["model"]
        )
        depth = GaugeMetricFamily(
            "mlmon_client_queue_depth", "Records waiting for the sender thread.", labels=["model"]
        )
        for model, row in sorted(self._totals().items()):
            sent.add_metric([model, PREDICTIONS], row[0])
            sent.add_metric([model, LABELS], row[1])
            sampled.add_metric([model], row[2])
            failures.add_metric([model], row[3])
            depth.add_metric([model], row[4])
            for reason, n in zip(DropReason, row[5:], strict=True):
                dropped.add_metric([model, reason.value], n)
        yield from (sent, dropped, sampled, failures, depth)

    def _totals(self) -> dict[str, list[int]]:
        """Per model: the live senders' counts plus the ended ones'."""
        with self._lock:
            while self._ending:
                model, stats = self._ending.pop()
                _add(self._ended, model, _row(stats, 0))
            totals = {model: list(row) for model, row in self._ended.items()}
        for src in list(self._sources):
            _add(totals, src.model, _row(src.stats, src.queue_depth))
        return totals


def _row(s: ClientStats, depth: int) -> list[int]:
    return [
        s.sent[PREDICTIONS],
        s.sent[LABELS],
        s.sampled_out,
        s.send_failures,
        depth,
        *(s.dropped[r] for r in DropReason),
    ]


def _add(totals: dict[str, list[int]], model: str, row: list[int]) -> None:
    old = totals.get(model)
    totals[model] = row if old is None else [a + b for a, b in zip(old, row, strict=True)]


_collectors: weakref.WeakKeyDictionary[CollectorRegistry, ClientCollector] = (
    weakref.WeakKeyDictionary()
)
_attach_lock = threading.Lock()


def attach(registry: CollectorRegistry, source: Source) -> None:
    """Report a logger on the caller's registry, sharing one collector per registry."""
    with _attach_lock:
        collector = _collectors.get(registry)
        if collector is None:
            collector = ClientCollector()
            registry.register(collector)
            _collectors[registry] = collector
        collector.add(source)


def _forget_ended_in_child() -> None:
    for collector in list(_collectors.values()):
        collector.forget_ended()


os.register_at_fork(after_in_child=_forget_ended_in_child)
