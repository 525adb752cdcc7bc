"""The single reader thread: rebuild windows from stream tails, then XREAD BLOCK forever."""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

import redis
from redis.cluster import RedisCluster

from exporter.config import RedisConfig
from exporter.source.clash import Clashes, answer, unreadable
from exporter.source.connect import RedisClient, down_because, report_failure
from exporter.source.gaps import GapTracker, StreamState, export_lag, lag_seconds, report_trim
from exporter.source.nodes import IdlePause, NodeFailures
from exporter.source.order import LabelGate
from exporter.source.rebuild import Rebuild
from exporter.source.replies import caught_up, replies_of, skip_post_processing
from exporter.source.server import ReplySize, check_version
from exporter.source.streams import (
    LABELS,
    PREDICTIONS,
    Consumer,
    ReaderMetrics,
    Reply,
    deliver,
)
from exporter.source.tail import stream_state

log = logging.getLogger("exporter.reader")

BACKOFF_START = 0.1
HEALTHY_RUN_SECONDS = 60.0


class StreamReader:
    """Reads every configured stream, remembering the last ID so a reconnect resumes exactly.

    `kept` names streams whose pipelines survived a reload with their windows: they go on
    from the cursors resume_from() hands over, without rebuilding from Redis.
    """

    def __init__(
        self,
        client: RedisClient,
        pipelines: Sequence[Consumer],
        cfg: RedisConfig,
        live: ReaderMetrics,
        clock: Callable[[], float] = time.time,
        kept: frozenset[bytes] = frozenset(),
    ) -> None:
        self._client, self._cfg, self._live, self._clock = client, cfg, live, clock
        skip_post_processing(client)
        self._routes: dict[bytes, tuple[Consumer, str]] = {}
        for p in pipelines:
            self._routes[p.model.streams.predictions.encode()] = (p, PREDICTIONS)
            self._routes[p.model.streams.labels.encode()] = (p, LABELS)
        self.last_ids: dict[bytes, bytes] = {}
        self._resume: dict[bytes, bytes] = {}  # set by resume_from() on a reload
        self._unsure, self._former = set[bytes](), GapTracker()  # another URL's: see _resumed
        self._kept, self.rebuilds_nothing = kept, kept >= set(self._routes)  # all kept, or none
        self._by_model = [
            (p.model.streams.predictions.encode(), p.model.streams.labels.encode())
            for p in pipelines
        ]
        self._gate = LabelGate({labels: predictions for predictions, labels in self._by_model})
        self._clashes, self._nodes, self._idle = Clashes(), NodeFailures(), IdlePause()
        self.redis_up, self.running, self.down_because = False, False, "redis unreachable"
        self._outage, self.started = False, False  # _outage: logged, and no read worked since
        self.backfilled, self._stop = threading.Event(), threading.Event()
        self._gaps, self._next_check = GapTracker(), 0.0
        self._warned_old_redis: set[bytes] = set()
        self._no_entries_added = False  # Redis before 7.0, or XINFO refused
        self._size = ReplySize()  # typical size of recent entries; sets the XREAD count
        self._thread: threading.Thread | None = None
        self._replay = Rebuild(client, live, self._gate, clock)  # counts entries from now on

    def resume_from(self, reader: StreamReader, same_server: bool = True) -> None:
        """Continue from a stopped reader's cursors and accounting (a reload); before start()."""
        self._resume = {k: v for k, v in reader.last_ids.items() if k in self._routes}
        if same_server:
            self.redis_up, self.down_because = reader.redis_up, reader.down_because  # as it was
            self._gaps.continue_from(reader._gaps, self._resume.keys())
        else:  # what came before now was the old reader's to count (see _resumed)
            self._replay.started_ms = int(self._clock() * 1000)
            self._former, self._unsure = reader._gaps, set(self._resume)

    def _resumed(self, key: bytes) -> bytes | None:
        """The old reader's cursor, after a change of redis.url only when this server holds its
        entry: the same data under another spelling, counted on from exactly there."""
        resume = self._resume.get(key)
        if resume is None or key not in self._unsure:
            return resume
        held = answer(partial(self._client.xrange, key, resume, resume, count=1))
        if isinstance(held, redis.ResponseError) or not held:  # another server's (or type):
            return None  # its entries count from the reload on
        self._unsure.discard(key)
        self._gaps.continue_from(self._former, [key])
        return resume

    def start(self) -> None:
        """Run in a daemon thread until stop()."""
        self.started = True  # before, start-up fits the references (see start_runtime)
        self._thread = threading.Thread(target=self.run, name="stream-reader", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Ask the loop to end after the current XREAD and wait for it."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def run(self) -> None:
        """Supervise the read loop: an exception restarts it, cursors kept, after a jitter."""
        backoff = BACKOFF_START
        while not self._stop.is_set():
            started = time.monotonic()
            self._set_running(True)
            try:
                self._loop()
            except Exception:
                log.exception("stream reader crashed; restarting it")
                self._live.reader_restarts.inc()
                self._set_running(False)
                if time.monotonic() - started > HEALTHY_RUN_SECONDS:
                    backoff = BACKOFF_START
                self._stop.wait(backoff * random.uniform(0.5, 1.5))
                backoff = min(backoff * 2, self._cfg.backoff_max_seconds)
        self._set_running(False)

    def _set_running(self, running: bool) -> None:
        self.running = running
        self._live.reader_running(running)

    def _loop(self) -> None:
        """Backfill once, then read; on Redis errors back off exponentially up to the cap."""
        backoff = BACKOFF_START
        self._next_check = 0.0  # a (re)started loop looks for trims before it reads on
        while not self._stop.is_set():
            try:
                if len(self.last_ids) < len(self._routes):
                    self.backfill()
                if not self.redis_up or time.monotonic() >= self._next_check:
                    self.check_streams()
                self.read_once()
                if self._outage:
                    log.info("redis answers again; reading on")
                self.redis_up, self._outage, backoff = True, False, BACKOFF_START
            except redis.RedisError as exc:
                if unreadable(exc):  # a read over a key now of another type, or denied
                    self._next_check = 0.0  # the stream check finds which, and reads on
                    continue
                because = down_because(exc)  # logged once an outage, and again if it changes
                if not self._outage or because != self.down_because:  # (a new password...)
                    report_failure(log, exc, self._cfg)
                self.down_because, self.redis_up, self._outage = because, False, True
                self._gaps.cut_off()
                self._stop.wait(backoff)
                backoff = min(backoff * 2, self._cfg.backoff_max_seconds)

    def backfill(self) -> None:
        """Rebuild each window from its stream's tail, so a restart serves the same values."""
        if (before_7 := check_version(self._client, self._live)) is not None:
            self._no_entries_added = before_7  # before 7.0 trims cannot be counted
        self.redis_up = True  # it answers: what /readyz waits for now is the rebuild
        for key, (pipeline, kind) in self._routes.items():
            if key in self.last_ids:
                continue
            resume = self._resumed(key)
            if resume is not None and key in self._kept:
                self.last_ids[key] = resume  # the window was kept: nothing to rebuild
            else:
                try:
                    self._rebuild(key, pipeline, kind, resume)
                except redis.ResponseError as exc:
                    if not unreadable(exc):
                        raise
                    self._clashes.found(key, pipeline.model.name, exc)
                    self.last_ids[key] = resume or b"0-0"  # from its start once a stream
            if not self._gaps.knows(key):
                self._gaps.baseline(key, stream_state(self._client, key))
        self._replay.count_held()  # only now: see Rebuild
        self.redis_up = True
        self.backfilled.set()

    def _rebuild(self, key: bytes, pipeline: Consumer, kind: str, resume: bytes | None) -> None:
        """Replay the stream's tail as the old process had it (see Rebuild.stream)."""
        self.last_ids[key] = self._replay.stream(key, pipeline, kind, resume)

    def check_streams(self) -> None:
        """Read each stream up to date and account for every entry, every few seconds.

        Per stream a non-blocking XREAD, then XINFO STREAM. Comparing what Redis says was added
        with what was read finds trims while the connection stayed up (a paused process).
        """
        self._gate.strict = True  # until the next XREAD, which reads both streams at once
        self._nodes.each(list(self.last_ids), self._check)
        self._next_check = time.monotonic() + self._cfg.check_interval_seconds

    def _check(self, key: bytes) -> None:
        pipeline, kind = self._routes[key]
        before, base = self.last_ids[key], self._gaps.accounted(key)
        state, cursor = self._probe(key)
        if last := self._gaps.behind(key, state, cursor, pipeline.model.name):
            self.last_ids[key] = last
            return
        lost = self._gaps.skipped(key, state, before, cursor, base)
        report_trim(lost, key, pipeline.model.name, self._warned_old_redis)
        if lost:
            pipeline.count_skipped(kind, lost)
        unread = None if self._no_entries_added else self._gaps.unread(key, state, cursor)
        export_lag(self._live, (pipeline.model.name, kind), unread, lag_seconds(state, cursor))

    def _probe(self, key: bytes) -> tuple[StreamState | None, bytes]:
        """Deliver what is new on one stream, and its XINFO with the cursor it describes.

        With entries-added (Redis 7.0+) XINFO comes after the read, so it is at least as new
        as the cursor and accounting is exact. Before 7.0 the only sign of a trim is a first
        entry past the cursor, which reading would hide: XINFO comes first there.
        """
        before, info_first = self.last_ids[key], self._no_entries_added
        count = self._size.count(self._cfg.read_count)
        early = self._xinfo(key) if info_first else None
        # Apart, as XINFO carries the first and last entries whatever COUNT asks (one of 34
        # MiB made every check drop the reply): only the XREAD's reply is capped.
        streams: dict[Any, Any] = {key: before}
        read = partial(answer, partial(self._client.xread, streams, count=count))
        if (got := self._size.read(lambda: (read(),), count)) is None:  # passed the cap
            return self._probe(key)  # with fewer entries
        reply, info = got[0], early if early is not None else self._xinfo(key)
        model = self._routes[key][0].model.name
        if unreadable(reply):
            self._clashes.found(key, model, reply)
            return None, before
        if isinstance(reply, Exception):
            raise reply
        self._clashes.cleared(key, model)
        self._deliver_reply(replies_of(reply), count, [key])
        cursor = before if info_first else self.last_ids[key]
        if isinstance(info, redis.ResponseError):  # no such key yet, or XINFO denied
            self._no_entries_added |= self._clashes.xinfo_refused(info, key, model)
            return None, cursor
        if isinstance(info, Exception):
            raise info
        return StreamState.of(info), cursor

    def _xinfo(self, key: bytes) -> dict[str, Any] | redis.ResponseError:
        return answer(partial(self._client.xinfo_stream, key))

    def read_once(self) -> None:
        """One blocking XREAD over all streams, or in a cluster one quick XREAD per model.

        A read that caught up (some entries, no stream's page full) is followed by the linger:
        at a hundred records a second each read would otherwise carry one record.
        """
        count, self._gate.strict = self._size.count(self._cfg.read_count), False
        cluster = isinstance(self._client, RedisCluster)  # one read per model's hash tag
        block = None if cluster else self._cfg.block_ms  # a cluster's reads go node by node
        replies, got = [], [False]

        def read(keys: Sequence[bytes]) -> None:
            if keys := self._clashes.readable(keys):
                replies.append(self._xread({k: self.last_ids[k] for k in keys}, block, count))
                got[0] = self._deliver_reply(replies[-1], count, keys) or got[0]

        self._nodes.each(self._by_model if cluster else [list(self.last_ids)], read)
        if not replies:  # no stream (a shard with no model), or each holds another type
            self.redis_up = bool(self._client.ping())  # up only when it answers
            self._stop.wait(self._cfg.block_seconds)
        pause = self._idle.after(got[0]) if cluster else 0.0
        if self._cfg.linger_seconds and caught_up(replies, count):
            self._stop.wait(self._cfg.linger_seconds)
        elif pause:
            self._stop.wait(pause)

    def _xread(self, ids: dict[bytes, bytes], block: int | None, count: int) -> list[Reply]:
        streams: dict[Any, Any] = ids
        read = self._size.read(lambda: self._client.xread(streams, count=count, block=block), count)
        return replies_of(read)

    def _deliver_reply(self, reply: list[Reply], count: int, read: Sequence[bytes]) -> bool:
        """Hand entries on, then advance the cursors; True when anything arrived. A page of
        labels may stop short of its end, to wait for its predictions (see LabelGate)."""
        got = False
        self._gate.saw(reply, count, read)
        for key, page in self._gate.ordered(reply):
            entries = self._gate.joinable(key, page, self.last_ids)
            if entries:
                got = True
                self._size.learn(entries)
                pipeline, kind = self._routes[key]
                deliver(self._live, pipeline, kind, entries, False)
                self.last_ids[key] = entries[-1][0]
                self._gaps.read(key, [entry_id for entry_id, _ in entries])
        return got
