"""The single reader thread: rebuild windows from stream tails, then XREAD BLOCK forever."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, cast

import redis

from exporter.config.model import RedisConfig
from exporter.ingest.gaps import GapTracker
from exporter.pipeline import Entry, ModelPipeline

log = logging.getLogger("exporter.reader")

PREDICTIONS, LABELS = "predictions", "labels"
BACKOFF_START = 0.1
PAGE = 1000
GAP_CHECK_SECONDS = 30.0


def make_client(cfg: RedisConfig) -> redis.Redis:
    """A RESP2 client returning bytes: the cheapest replies for redis-py to post-process."""
    extra: dict[str, Any] = {}
    if cfg.tls.ca_file or cfg.tls.cert_file:
        extra = {"ssl_ca_certs": cfg.tls.ca_file, "ssl_certfile": cfg.tls.cert_file,
                 "ssl_keyfile": cfg.tls.key_file}
    return redis.Redis.from_url(
        cfg.url, password=cfg.password, socket_timeout=cfg.socket_timeout_seconds,
        socket_connect_timeout=cfg.socket_timeout_seconds, protocol=2,
        decode_responses=False, **extra)


class StreamReader:
    """Reads every configured stream, remembering the last ID so a reconnect resumes exactly."""

    def __init__(self, client: redis.Redis, pipelines: Sequence[ModelPipeline], cfg: RedisConfig,
                 clock: Callable[[], float] = time.time,
                 resume: Mapping[bytes, bytes] | None = None) -> None:
        self._client = client
        self._cfg = cfg
        self._clock = clock
        self._routes: dict[bytes, tuple[ModelPipeline, str]] = {}
        for p in pipelines:
            self._routes[p.model.streams.predictions.encode()] = (p, PREDICTIONS)
            self._routes[p.model.streams.labels.encode()] = (p, LABELS)
        self.last_ids: dict[bytes, bytes] = {}
        self._resume = dict(resume or {})
        self.redis_up = False
        self.backfilled = threading.Event()
        self._gaps = GapTracker()
        self._next_gap_check = 0.0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Run in a daemon thread until stop()."""
        self._thread = threading.Thread(target=self.run, name="stream-reader", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Ask the loop to end after the current XREAD and wait for it."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def run(self) -> None:
        """Backfill once, then read; on Redis errors back off exponentially up to the cap."""
        backoff = BACKOFF_START
        while not self._stop.is_set():
            try:
                if len(self.last_ids) < len(self._routes):
                    self.backfill()
                if not self.redis_up or self._clock() >= self._next_gap_check:
                    self.check_gaps()
                self.read_once()
                self.redis_up = True
                backoff = BACKOFF_START
            except redis.RedisError as exc:
                if self.redis_up or backoff == BACKOFF_START:
                    log.warning("redis unavailable, retrying: %s", exc)
                self.redis_up = False
                self._stop.wait(backoff)
                backoff = min(backoff * 2, self._cfg.backoff_max_seconds)

    def backfill(self) -> None:
        """Rebuild each window from its stream's tail, so a restart serves the same values."""
        for key, (pipeline, kind) in self._routes.items():
            if key in self.last_ids:
                continue
            window = pipeline.model.window
            since = int((self._clock() - window.duration_seconds) * 1000)
            resume = self._resume.get(key)
            entries = self._tail(key, since, window.max_samples, b"+" if resume is None else resume)
            self._deliver(pipeline, kind, entries, replay=True)
            if resume is not None:
                self.last_ids[key] = resume  # a reload goes on exactly where the old reader was
            else:
                self.last_ids[key] = entries[-1][0] if entries else self._newest_id(key)
            self._gaps.baseline(key, self._info(key))
        self.redis_up = True
        self.backfilled.set()

    def check_gaps(self) -> None:
        """Count entries trimmed past our cursors; runs after reconnects and periodically."""
        for key, cursor in self.last_ids.items():
            lost = self._gaps.skipped(key, self._info(key), cursor)
            if lost:
                pipeline, kind = self._routes[key]
                pipeline.count_skipped(kind, lost)
                log.warning("stream trimmed past the reader's position; entries skipped",
                            extra={"model": pipeline.model.name, "stream": key.decode(),
                                   "skipped": lost})
        self._next_gap_check = self._clock() + GAP_CHECK_SECONDS

    def _info(self, key: bytes) -> dict[str, Any] | None:
        try:
            info: dict[str, Any] = self._client.xinfo_stream(key)
            return info
        except redis.ResponseError:  # no such key yet
            return None

    def _tail(self, key: bytes, since_ms: int, limit: int, upper: bytes) -> list[Entry]:
        """Newest entries up to `upper` and no older than since_ms, at most limit, oldest first."""
        out: list[Entry] = []
        while len(out) < limit:
            page = cast(list[Entry], self._client.xrevrange(
                key, max=upper, min=since_ms, count=min(PAGE, limit - len(out))))
            if not page:
                break
            out.extend(page)
            upper = b"(" + page[-1][0]
        out.reverse()
        return out

    def _newest_id(self, key: bytes) -> bytes:
        newest = cast(list[Entry], self._client.xrevrange(key, count=1))
        return newest[0][0] if newest else b"0-0"

    def read_once(self) -> None:
        """One XREAD over all streams; advances the last IDs before handing entries on."""
        streams = cast("dict[Any, Any]", self.last_ids)
        reply = cast(list[tuple[bytes, list[Entry]]], self._client.xread(
            streams, count=self._cfg.read_count, block=self._cfg.block_ms))
        for key, entries in reply or ():
            if entries:
                self.last_ids[key] = entries[-1][0]
                self._gaps.read(key, len(entries))
                pipeline, kind = self._routes[key]
                self._deliver(pipeline, kind, entries)

    @staticmethod
    def _deliver(pipeline: ModelPipeline, kind: str, entries: Sequence[Entry],
                 replay: bool = False) -> None:
        """Hand entries on; a replay rebuilds windows without counting the records again."""
        try:
            if kind == PREDICTIONS:
                pipeline.ingest_predictions(entries, count=not replay)
            else:
                pipeline.ingest_labels(entries, count=not replay)
        except Exception:
            log.exception("ingest failed", extra={"model": pipeline.model.name})
