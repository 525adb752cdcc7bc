"""Stream entries as Redis returns them, a model's two streams, and what the reader feeds.

The reader sits upstream of decoding, windows and metrics, so it names what it needs from
them as protocols here; the daemon hands it the objects that satisfy them.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Protocol

from prometheus_client import Counter, Gauge

from exporter.config import ModelConfig

log = logging.getLogger("exporter.reader")

Entry = tuple[bytes, Mapping[bytes, bytes]]
Reply = tuple[bytes, list[Entry]]  # one stream's part of an XREAD answer
PREDICTIONS, LABELS = "predictions", "labels"  # a model's two streams: the `kind` label
KINDS = (PREDICTIONS, LABELS)


class Consumer(Protocol):
    """One model's downstream: takes its entries in order and counts what was trimmed away."""

    @property
    def model(self) -> ModelConfig:
        """The model whose streams these are."""
        ...

    def ingest_predictions(self, entries: Sequence[Entry], count: bool = True) -> None:
        """Take prediction entries; a replayed tail is not counted as read again."""
        ...

    def ingest_labels(self, entries: Sequence[Entry], count: bool = True) -> None:
        """Take label entries; a replayed tail is not counted as read again."""
        ...

    def count_skipped(self, kind: str, entries: int) -> None:
        """Count entries trimmed from the stream before they could be read."""
        ...


class ReaderMetrics(Protocol):
    """The series the reader keeps current: its own health, lag and lost entries."""

    reader_restarts: Counter
    lag_entries: Gauge
    lag_seconds: Gauge
    lost: Counter

    def redis_version(self, supported: bool) -> None:
        """Record whether the server's version is one we support."""
        ...

    def reader_running(self, running: bool) -> None:
        """Record whether the reader runs (after it started: not before)."""
        ...


def deliver(
    live: ReaderMetrics, pipeline: Consumer, kind: str, entries: Sequence[Entry], replay: bool
) -> None:
    """Hand entries on; a replay is not counted again. What escapes the consumer's own
    per-entry isolation loses the whole batch, which is counted rather than silent."""
    try:
        if kind == PREDICTIONS:
            pipeline.ingest_predictions(entries, count=not replay)
        else:
            pipeline.ingest_labels(entries, count=not replay)
    except Exception:
        log.exception(
            "ingest failed; entries lost",
            extra={"model": pipeline.model.name, "stream_kind": kind, "entries": len(entries)},
        )
        if not replay:
            live.lost.labels(pipeline.model.name, kind).inc(len(entries))
