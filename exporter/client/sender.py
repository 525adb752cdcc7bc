"""The logger's one background thread: drains the queue into pipelined, trimmed XADDs."""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from itertools import accumulate

import redis

from exporter.client.metrics import LABELS, PREDICTIONS, ClientStats, DropReason
from exporter.client.packing import chunks, payload_bytes, xadd

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


class Sender:
    """Owns the queue and the thread; records are sent at most once, failures are counted."""

    def __init__(
        self,
        settings: SendSettings,
        client: redis.Redis,
        stats: ClientStats,
        clock: Callable[[], float],
        *,
        model: str,
        owns: bool = False,
    ) -> None:
        self.settings, self.stats, self.clock = settings, stats, clock
        self.model, self.owns_client = model, owns  # owns: closes the client when it ends
        self.stopping = False
        self.after_fork(client)

    def after_fork(self, client: redis.Redis) -> None:
        """A fresh queue, thread and connection; counters from zero, in place, so the metrics
        collector and the exit hooks holding this sender see the child's own."""
        self.stats.reset()
        self.client = client
        self.queue: deque[Item] = deque()
        self.wake = threading.Event()
        self.thread: threading.Thread | None = None
        self._start_lock = threading.Lock()
        self._down = False

    @property
    def queue_depth(self) -> int:
        """Records waiting for the thread."""
        return sum(1 for item in list(self.queue) if not isinstance(item, FlushMarker))

    @property
    def running(self) -> bool:
        """Whether the thread is alive: a stopping one may still be sending."""
        return self.thread is not None and self.thread.is_alive()

    def retire(self) -> None:
        """Its logger is gone unclosed: send what is queued, close the connection, end."""
        self.stopping = True
        self.wake.set()
        if self.thread is None and self.owns_client:
            self.client.close()

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
                if self.owns_client:
                    self.client.close()
                return
            backoff = (
                0.0
                if ok
                else min(max(backoff * 2, self.settings.flush_interval), MAX_BACKOFF_SECONDS)
            )

    def drain(self) -> bool:
        """Send everything queued now, round trip by round trip; False at the first failed one."""
        while True:
            items, records = self._take()
            ok = self._send(items, records) if records else True
            if len(records) != len(items):  # answered after every record before it was handled
                for marker in [item for item in items if isinstance(item, FlushMarker)]:
                    # every failure since flush() hit a record queued before it
                    marker.delivered = self.stats.send_failures == marker.failures_before
                    marker.done.set()
            if not ok:
                return False
            if not items:
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

    def _take(self) -> tuple[list[Item], list[tuple[str, bytes]]]:
        """Pop up to one round trip with comprehensions, so the GIL is held briefly: the items
        in order, and their records (the same list when no flush marker is among them).

        While Redis is down a round trip is a probe, and a failed one drops what it took: one
        batch, as before round trips grew, rather than the whole queue.
        """
        popleft = self.queue.popleft
        size = self.settings.batch_size
        limit = size if self._down else max(size, ROUND_TRIP_RECORDS)
        items = [popleft() for _ in range(min(len(self.queue), limit))]
        records = [item for item in items if type(item) is tuple]
        if payload_bytes(records) > ROUND_TRIP_BYTES:
            records = self._put_back_past(items, payload_bytes, ROUND_TRIP_BYTES)
        return items, records

    def _put_back_past(
        self, items: list[Item], weigh: Callable[[list[tuple[str, bytes]]], int], bound: int
    ) -> list[tuple[str, bytes]]:
        """Return the items past `bound` (records or bytes) to the head of the queue, in order,
        keeping at least one; the records kept."""
        weights = (weigh([item]) if type(item) is tuple else 0 for item in items)
        cut = max(1, sum(1 for total in accumulate(weights) if total <= bound))
        if cut < len(items):
            self.queue.extendleft(reversed(items[cut:]))
            del items[cut:]
        return [item for item in items if type(item) is tuple]

    def _send(self, items: list[Item], records: list[tuple[str, bytes]]) -> bool:
        """One round trip of trimmed XADDs, packed here; drops and counts what failed."""
        try:
            conn = self.client.connection_pool.get_connection()
        except Exception as exc:  # nothing was written: the round trip shrinks to a probe
            self._failed(len(self._put_back_past(items, len, self.settings.batch_size)), exc)
            for marker in [i for i in self.queue if isinstance(i, FlushMarker)]:
                marker.done.set()  # not all sent: a flush (a close) need not wait out the outage
            return False
        commands = self._commands(records)
        try:
            failed = self._execute(conn, [packed for _, _, packed in commands])
        except Exception as exc:  # redis errors, and anything else the client may raise
            self._failed(len(records), exc)
            return False
        lost = {i: exc for i, exc in failed}
        for kind in (PREDICTIONS, LABELS):  # an error reply loses its own XADD's records only
            if n := sum(c[1] for i, c in enumerate(commands) if c[0] == kind and i not in lost):
                self.stats.delivered(kind, n)
        if failed:
            self._failed(sum(commands[i][1] for i in lost), failed[0][1])
            return False
        if self._down:
            log.warning("mlmon client writes to redis again")
        self._down = False
        return True

    def _failed(self, records: int, exc: Exception) -> None:
        """Count a failed round trip and the records it lost; back off from now on."""
        self.stats.failed(records)
        if not self._down:
            log.warning("mlmon client cannot write to redis, dropping records: %s", exc)
        self._down = True

    def _commands(self, records: list[tuple[str, bytes]]) -> list[tuple[str, int, bytes]]:
        """The round trip's XADDs, one per batch of each stream: kind, records, packed."""
        labels = [p for kind, p in records if kind == LABELS]
        if labels:
            by_kind = {PREDICTIONS: [p for kind, p in records if kind != LABELS], LABELS: labels}
        else:
            by_kind = {PREDICTIONS: [p for _, p in records], LABELS: []}
        s = self.settings
        trim = self._trim()
        bound = min(s.batch_size, WIRE_MAX_BATCH)
        return [
            (kind, len(chunk), xadd(stream, trim, chunk))
            for kind, stream in ((PREDICTIONS, s.predictions_stream), (LABELS, s.labels_stream))
            for chunk in chunks(by_kind[kind], bound, s.max_batch_bytes)
        ]

    def _execute(
        self, conn: redis.connection.Connection, commands: list[bytes]
    ) -> list[tuple[int, redis.ResponseError]]:
        """Write the packed commands at once and read every reply: the error replies, by the
        index of their command (the others were applied); a connection error raises."""
        failed = []
        try:
            conn.send_packed_command([b"".join(commands)], False)  # type: ignore[no-untyped-call]
            for i in range(len(commands)):
                try:
                    conn.read_response()
                except redis.ResponseError as exc:  # read whole: the next reply follows it
                    failed.append((i, exc))
        except BaseException:  # replies may be left unread: never reuse this connection
            conn.disconnect()  # type: ignore[no-untyped-call]
            raise
        finally:
            self.client.connection_pool.release(conn)
        return failed

    def _trim(self) -> tuple[bytes, ...]:
        """MAXLEN ~ or MINID ~ arguments, so the streams never grow without bound."""
        s = self.settings
        if s.retention_seconds is not None:
            return (b"MINID", b"~", b"%d" % int((self.clock() - s.retention_seconds) * 1000))
        return (b"MAXLEN", b"~", b"%d" % (s.stream_maxlen or 0))
