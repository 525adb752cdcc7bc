"""The logger's one background thread: drains the queue into pipelined, trimmed XADDs."""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from itertools import accumulate
from operator import itemgetter

import redis

from exporter.client.metrics import LABELS, PREDICTIONS, ClientStats, DropReason

log = logging.getLogger("exporter.client")

MAX_BACKOFF_SECONDS = 2.0
WIRE_MAX_BATCH = 10000  # records per `batch` entry the exporter accepts
ROUND_TRIP_RECORDS = 5000  # a deep queue leaves in few round trips: each costs GIL hand-offs
# socket_timeout bounds a round trip's whole write: keep it small enough for any healthy link
ROUND_TRIP_BYTES = 4 << 20


@dataclass(frozen=True)
class SendSettings:
    """Where and how the sender writes; fixed when the logger is built."""

    predictions_stream: str
    labels_stream: str
    batch_size: int
    max_batch_bytes: int
    flush_interval: float
    stream_maxlen: int | None
    retention_seconds: float | None


class FlushMarker:
    """Put in the queue by flush(); set once every record queued before it was handled."""

    def __init__(self, failures_before: int) -> None:
        self.failures_before = failures_before
        self.done = threading.Event()
        self.delivered = False


Item = tuple[str, bytes] | FlushMarker


def chunks(payloads: list[bytes], max_records: int, max_bytes: int) -> Iterator[list[bytes]]:
    """Split serialised records into batches under both the record and the byte bound."""
    if not payloads:
        return
    if len(payloads) <= max_records and 2 + sum(map(len, payloads)) + len(payloads) <= max_bytes:
        yield payloads  # the usual case, checked without a Python loop per record
        return
    chunk: list[bytes] = []
    size = 2  # the brackets
    for p in payloads:
        if chunk and (len(chunk) >= max_records or size + len(p) + 1 > max_bytes):
            yield chunk
            chunk, size = [], 2
        chunk.append(p)
        size += len(p) + 1
    if chunk:
        yield chunk


class Sender:
    """Owns the queue and the thread; records are sent at most once, failures are counted."""

    def __init__(
        self,
        settings: SendSettings,
        client: redis.Redis,
        stats: ClientStats,
        clock: Callable[[], float],
    ) -> None:
        self.settings = settings
        self.client = client
        self.stats = stats
        self.clock = clock
        self.queue: deque[Item] = deque()
        self.wake = threading.Event()
        self.stopping = False
        self.thread: threading.Thread | None = None
        self._start_lock = threading.Lock()
        self._down = False

    @property
    def down(self) -> bool:
        """Whether the last round trip failed: the sender is backing off, not to be woken."""
        return self._down

    def ensure_started(self) -> None:
        """Start the thread on first use, so a process that forks before logging has none."""
        with self._start_lock:
            if self.thread is None and not self.stopping:
                self.thread = threading.Thread(target=self.run, name="mlmon-client", daemon=True)
                self.thread.start()

    def stop(self, timeout: float) -> bool:
        """Send what is queued (one attempt), end the thread; False if it did not end in time."""
        self.stopping = True
        self.wake.set()
        thread = self.thread
        if thread is None:
            return True
        thread.join(timeout)
        return not thread.is_alive()

    def run(self) -> None:
        """Drain every flush interval or when woken; back off while Redis fails."""
        backoff = 0.0
        while True:
            self.wake.wait(backoff or self.settings.flush_interval)
            self.wake.clear()
            stopping = self.stopping
            try:
                ok = self.drain()
            except Exception:  # never let the thread die: count on, and try again later
                log.exception("mlmon client sender failed")
                ok = False
            if stopping:
                self._abandon()
                return
            backoff = (
                0.0
                if ok
                else min(max(backoff * 2, self.settings.flush_interval), MAX_BACKOFF_SECONDS)
            )

    def drain(self) -> bool:
        """Send everything queued now, batch by batch; False at the first failed round trip."""
        while True:
            records, markers = self._take()
            ok = self._send(records) if records else True
            for marker in markers:  # every failure since flush() hit a record queued before it
                marker.delivered = self.stats.send_failures == marker.failures_before
                marker.done.set()
            if not ok:
                return False
            if not records and not markers:
                return True

    def _abandon(self) -> None:
        """Count what a closing logger could not send (Redis down or too slow for the close),
        so sent + dropped still adds up to what was logged."""
        items = [self.queue.popleft() for _ in range(len(self.queue))]
        if left := sum(1 for item in items if type(item) is tuple):
            self.stats.drop(DropReason.CLOSED, left)
        for item in items:
            if isinstance(item, FlushMarker):
                item.done.set()

    def _take(self) -> tuple[list[tuple[str, bytes]], list[FlushMarker]]:
        """Pop up to one round trip with comprehensions, so the GIL is held briefly.

        While Redis is down a round trip is a probe, and a failed one drops what it took: one
        batch, as before round trips grew, rather than the whole queue.
        """
        popleft = self.queue.popleft
        size = self.settings.batch_size
        limit = size if self._down else max(size, ROUND_TRIP_RECORDS)
        items = [popleft() for _ in range(min(len(self.queue), limit))]
        records = [item for item in items if type(item) is tuple]
        if _payload_bytes(records) > ROUND_TRIP_BYTES:
            self._put_back_past_bytes(items)
            records = [item for item in items if type(item) is tuple]
        if len(records) == len(items):
            return records, []
        # a marker taken with later records is still answered after every record before it
        return records, [item for item in items if isinstance(item, FlushMarker)]

    def _put_back_past_bytes(self, items: list[Item]) -> None:
        """Return what lies past ROUND_TRIP_BYTES to the head of the queue, in order."""
        sizes = (len(item[1]) if type(item) is tuple else 0 for item in items)
        cut = max(1, sum(1 for total in accumulate(sizes) if total <= ROUND_TRIP_BYTES))
        if cut < len(items):
            self.queue.extendleft(reversed(items[cut:]))
            del items[cut:]

    def _send(self, records: list[tuple[str, bytes]]) -> bool:
        """One round trip of trimmed XADDs, packed here; drops and counts on error."""
        labels = [p for kind, p in records if kind == LABELS]
        if labels:
            by_kind = {PREDICTIONS: [p for kind, p in records if kind != LABELS], LABELS: labels}
        else:
            by_kind = {PREDICTIONS: [p for _, p in records], LABELS: []}
        try:
            self._execute(self._commands(by_kind))
        except Exception as exc:  # redis errors, and anything else the client may raise
            self.stats.failed(len(records))
            if not self._down:
                log.warning("mlmon client cannot write to redis, dropping records: %s", exc)
            self._down = True
            return False
        if self._down:
            log.warning("mlmon client writes to redis again")
        self._down = False
        for kind, payloads in by_kind.items():
            if payloads:
                self.stats.delivered(kind, len(payloads))
        return True

    def _commands(self, by_kind: dict[str, list[bytes]]) -> list[bytes]:
        """The round trip's XADDs, one per batch of each stream."""
        s = self.settings
        trim = self._trim()
        return [
            _resp((b"XADD", stream.encode(), *trim, b"*", b"batch", b"[" + b",".join(chunk) + b"]"))
            for kind, stream in ((PREDICTIONS, s.predictions_stream), (LABELS, s.labels_stream))
            for chunk in chunks(by_kind[kind], min(s.batch_size, WIRE_MAX_BATCH), s.max_batch_bytes)
        ]

    def _execute(self, commands: list[bytes]) -> None:
        """Write the packed commands at once and read every reply; an error reply raises."""
        pool = self.client.connection_pool
        conn = pool.get_connection()
        try:
            conn.send_packed_command([b"".join(commands)], False)  # type: ignore[no-untyped-call]
            for _ in commands:
                conn.read_response()
        except BaseException:  # replies may be left unread: never reuse this connection
            conn.disconnect()  # type: ignore[no-untyped-call]
            raise
        finally:
            pool.release(conn)

    def _trim(self) -> tuple[bytes, ...]:
        """MAXLEN ~ or MINID ~ arguments, so the streams never grow without bound."""
        s = self.settings
        if s.retention_seconds is not None:
            return (b"MINID", b"~", b"%d" % int((self.clock() - s.retention_seconds) * 1000))
        return (b"MAXLEN", b"~", b"%d" % (s.stream_maxlen or 0))


def _payload_bytes(records: list[tuple[str, bytes]]) -> int:
    """The records' serialised size, summed without a Python loop per record."""
    return sum(map(len, map(itemgetter(1), records)))


def _resp(args: tuple[bytes, ...]) -> bytes:
    """One command in RESP2, far cheaper than redis-py's pipeline packing of a large value."""
    parts = [b"*%d\r\n" % len(args)]
    for arg in args:
        parts += (b"$%d\r\n" % len(arg), arg, b"\r\n")
    return b"".join(parts)
