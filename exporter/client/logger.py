"""PredictionLogger: log() samples, serialises and enqueues; a background thread writes."""

from __future__ import annotations

import random
import time
import zlib
from collections.abc import Callable, Mapping
from types import TracebackType
from typing import Any

import orjson
import redis
from prometheus_client import CollectorRegistry
from redis.backoff import NoBackoff
from redis.retry import Retry

from exporter.client.checks import check_settings
from exporter.client.lifecycle import track
from exporter.client.metrics import LABELS, PREDICTIONS, ClientStats, DropReason, attach
from exporter.client.sender import (
    ROUND_TRIP_RECORDS,
    FlushMarker,
    Sender,
    SendSettings,
)
from exporter.client.values import (
    as_dict,
    is_null,
    known_tags,
    numpy_fallback,
    one_value,
    scores_value,
)

JSON_OPTIONS = orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS
DEFAULT_MAXLEN = 1_000_000  # stream entries, each a batch of up to batch_size records
_STATUSES = ("ok", "error")


def _client(url: str, timeout: float) -> redis.Redis:
    """A client that fails fast: the sender retries on its own schedule, never redis-py's."""
    return redis.Redis.from_url(
        url,
        socket_timeout=timeout,
        socket_connect_timeout=timeout,
        retry=Retry(NoBackoff(), 0),
        protocol=2,
    )


def _connect(target: str | redis.Redis, timeout: float) -> tuple[str | None, redis.Redis]:
    """The URL (to reconnect after a fork) and the client."""
    if isinstance(target, str):
        return target, _client(target, timeout)
    if isinstance(target, redis.Redis):
        return None, target
    raise TypeError(f"redis_url_or_client must be a URL or a redis.Redis, got {type(target)}")


class PredictionLogger:
    """Feeds one model's streams; safe on a serving hot path: it never blocks and never raises."""

    _all_sent = True  # what close() answered

    def __init__(
        self,
        redis_url_or_client: str | redis.Redis,
        model: str,
        *,
        sample_rate: float = 1.0,
        batch_size: int = 500,
        flush_interval: float = 0.1,
        max_queue: int = 10_000,
        stream_maxlen: int | None = None,
        retention: float | None = None,
        version: str | None = None,
        registry: CollectorRegistry | None = None,
        predictions_stream: str | None = None,
        labels_stream: str | None = None,
        max_batch_bytes: int = 256 * 1024,
        socket_timeout: float = 1.0,
        clock: Callable[[], float] = time.time,
        rand: Callable[[], float] = random.random,
    ) -> None:
        check_settings(
            sample_rate=sample_rate,
            batch_size=batch_size,
            flush_interval=flush_interval,
            max_queue=max_queue,
            stream_maxlen=stream_maxlen,
            retention=retention,
            max_batch_bytes=max_batch_bytes,
            socket_timeout=socket_timeout,
        )
        self._url, client = _connect(redis_url_or_client, socket_timeout)
        self._model, self._rate, self._max_queue = model, sample_rate, max_queue
        # wake the sender for a deep round trip, not every batch: each wake costs GIL hand-offs
        self._wake_at = min(max(batch_size, ROUND_TRIP_RECORDS), max(batch_size, max_queue // 2))
        self._max_record, self._version, self._closed = max_batch_bytes - 2, version, False
        self._clock, self._rand, self._timeout = clock, rand, socket_timeout
        self._settings = SendSettings(
            predictions_stream or f"mlmon:{{{model}}}:predictions",
            labels_stream or f"mlmon:{{{model}}}:labels",
            batch_size,
            max_batch_bytes,
            flush_interval,
            DEFAULT_MAXLEN if retention is None and stream_maxlen is None else stream_maxlen,
            retention,
        )
        self._stats, owned = ClientStats(), self._url is not None
        self._sender = Sender(self._settings, client, self._stats, clock, model=model, owns=owned)
        track(self, self._sender)
        if registry is not None:
            attach(registry, self._sender)

    @property
    def model(self) -> str:
        """The model whose streams this logger feeds."""
        return self._model

    @property
    def stats(self) -> ClientStats:
        """Sent, dropped and sampled-out counts of this process."""
        return self._stats

    @property
    def queue_depth(self) -> int:
        """Records waiting for the sender thread."""
        return self._sender.queue_depth

    @property
    def streams(self) -> tuple[str, str]:
        """The predictions and labels stream keys."""
        return self._settings.predictions_stream, self._settings.labels_stream

    def sampled(self, id: Any = None) -> bool:
        """Whether a record is kept; by a hash of its id, so its label gets the same answer."""
        if self._rate >= 1.0:
            return True
        if id is None:
            return self._rand() < self._rate
        return zlib.crc32(str(id).encode()) < self._rate * 4294967296.0

    def log(
        self,
        features: Mapping[str, Any],
        prediction: Any,
        *,
        scores: Any = None,
        latency_ms: float | None = None,
        id: Any = None,
        status: str = "ok",
        version: str | None = None,
        tags: Mapping[str, Any] | None = None,
    ) -> None:
        """Sample, serialise and enqueue one prediction; drops and counts instead of raising."""
        try:
            if not self.sampled(id):
                self._stats.sample_out()
                return
            if status not in _STATUSES or not isinstance(features, Mapping):
                self._stats.drop(DropReason.INVALID)
                return
            record: dict[str, Any] = {
                "features": as_dict(features),
                "prediction": one_value(prediction),
                "ts": self._clock(),
            }
            if id is not None:
                record["id"] = id
            if (scores := scores_value(scores)) is not None:
                record["scores"] = scores
            if not is_null(latency_ms := one_value(latency_ms)):  # as the exporter takes it
                record["latency_ms"] = latency_ms
            if status != "ok":
                record["status"] = status
            if (version := version or self._version) is not None:
                record["version"] = version
            if tags and (kept := known_tags(tags)):
                record["tags"] = kept
            if self._rate < 1.0:
                record["sample_rate"] = self._rate
            self._put(PREDICTIONS, record)
        except Exception:
            self._stats.drop(DropReason.INTERNAL)

    def log_label(self, id: Any, label: Any) -> None:
        """Enqueue the ground truth of an earlier prediction, sampled like that prediction."""
        try:
            label = one_value(label)
            if id is None or is_null(label):  # null: the exporter refuses it as bad_label
                self._stats.drop(DropReason.INVALID)
            elif not self.sampled(id):
                self._stats.sample_out()
            else:
                self._put(LABELS, {"id": id, "label": label, "ts": self._clock()})
        except Exception:
            self._stats.drop(DropReason.INTERNAL)

    def _put(self, kind: str, record: dict[str, Any]) -> None:
        """Serialise now (later mutation by the caller cannot change it) and enqueue or drop."""
        if self._closed:
            self._stats.drop(DropReason.CLOSED)
            return
        try:
            payload = orjson.dumps(record, default=numpy_fallback, option=JSON_OPTIONS)
        except TypeError:  # orjson.JSONEncodeError: unknown types, huge ints, circular data
            self._stats.drop(DropReason.UNSERIALISABLE)
            return
        if len(payload) > self._max_record:
            self._stats.drop(DropReason.TOO_LARGE)
            return
        sender = self._sender
        queue = sender.queue
        if len(queue) >= self._max_queue:
            self._stats.drop(DropReason.QUEUE_FULL)
            return
        queue.append((kind, payload))
        if sender.thread is None:
            sender.ensure_started()
        if len(queue) >= self._wake_at and not sender.down:  # a wake would cut the backoff
            sender.wake.set()

    def flush(self, timeout: float = 5.0) -> bool:
        """Wait until what was queued before the call is handled; True if all of it was sent."""
        sender = self._sender
        if sender.stopping:
            return not sender.queue
        marker = FlushMarker(self._stats.send_failures)
        sender.queue.append(marker)
        sender.ensure_started()
        sender.wake.set()
        return marker.done.wait(timeout) and marker.delivered

    def close(self, timeout: float = 5.0) -> bool:
        """Flush, stop the thread and refuse further records; True if everything was sent."""
        if self._closed:  # the first close's answer: what it could not send stays unsent
            return self._all_sent
        self._all_sent = self.flush(timeout)
        self._closed = True
        self._all_sent = self._sender.stop(timeout) and self._all_sent
        if self._url is not None:
            self._sender.client.close()
        return self._all_sent

    def __enter__(self) -> PredictionLogger:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _after_fork(self) -> None:
        """In a forked child: a fresh queue, thread, counters and connections of its own."""
        self._sender.after_fork(
            _client(self._url, self._timeout) if self._url else self._sender.client
        )

    def _flush_at_exit(self, timeout: float) -> None:
        """One short flush at exit, for an open logger whose thread has records to send."""
        if not self._closed and self._sender.thread is not None:
            self.flush(timeout)
