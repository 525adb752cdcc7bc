"""A window rebuild: each stream's tail replayed uncounted, then what no reader counted yet.

Entries added after the reader was made are counted, but only once every stream is replayed:
handed on in the middle of the replay, before the labels were replayed, a counted batch of
predictions expired the replayed ones older than the label horizon by the clock, and their
replayed labels found nothing (a horizon shorter than the window: coverage 1.0 to 0).
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from exporter.source.connect import RedisClient
from exporter.source.order import LabelGate, capped
from exporter.source.streams import PREDICTIONS, Consumer, Entry, ReaderMetrics, deliver
from exporter.source.tail import newest_id, reach, read_tail, split_at

log = logging.getLogger("exporter.reader")


class Rebuild:
    """Replays a reader's stream tails, holding the entries to count until all are replayed."""

    def __init__(
        self,
        client: RedisClient,
        live: ReaderMetrics,
        gate: LabelGate,
        clock: Callable[[], float],
    ) -> None:
        self._client, self._live, self._gate, self._clock = client, live, gate, clock
        self.started_ms = int(clock() * 1000)  # entries from then on no reader counted
        self._held: list[tuple[Consumer, str, list[Entry]]] = []

    def stream(self, key: bytes, pipeline: Consumer, kind: str, resume: bytes | None) -> bytes:
        """Replay a stream's tail, newest first (see `reach`), as the old process had it, and
        hold what it must count; returns the ID reading goes on from."""
        model = pipeline.model
        since = self._clock() - reach(model, kind == PREDICTIONS)
        most = max(model.window.max_samples, model.labels.max_pending)
        bound = self._gate.replay_upper(key)
        if kind == PREDICTIONS:
            self._gate.replaying(key, self._client.time())
        upper = resume or bound or b"+"
        tail = read_tail(self._client, key, int(since * 1000), upper, most, model.max_entry_bytes)
        # a reload goes on exactly where the old reader was; nothing is asked of Redis after
        # the first entry is handed on, so a retried rebuild never holds an entry twice
        cursor = resume or tail.newest or capped(bound, newest_id(self._client, key))
        for part in tail.parts():  # entries added while this reader waited were never counted
            replayed, fresh = split_at(part, self.started_ms if resume is None else None)
            if replayed:
                deliver(self._live, pipeline, kind, replayed, replay=True)
            if fresh:
                self._held.append((pipeline, kind, fresh))
        extra = {"model": model.name, "stream": key.decode(), **tail.summary()}
        log.info("window rebuilt from redis", extra=extra)
        return cursor

    def count_held(self) -> None:
        """Hand on, counted, the entries held since every stream is replayed; in the order
        they were replayed, so each model's predictions come before its labels."""
        held, self._held = self._held, []
        for pipeline, kind, entries in held:
            deliver(self._live, pipeline, kind, entries, replay=False)
