"""The single reader thread: rebuild windows from stream tails, then XREAD BLOCK forever."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, cast

import redis
from redis.cluster import RedisCluster
from redis.credentials import CredentialProvider

from exporter.config.model import RedisConfig
from exporter.ingest.gaps import GapTracker
from exporter.pipeline import Entry, ModelPipeline
from exporter.redis_types import CLUSTER_SCHEMES, RedisClient

log = logging.getLogger("exporter.reader")

PREDICTIONS, LABELS = "predictions", "labels"
BACKOFF_START = 0.1
PAGE = 1000
GAP_CHECK_SECONDS = 30.0
CLUSTER_IDLE_SECONDS = 0.05
Reply = tuple[bytes, list[Entry]]


class PasswordFile(CredentialProvider):
    """Reads the password at each new connection, so a rotated mounted Secret is picked up."""

    def __init__(self, username: str | None, path: str) -> None:
        self._username = username
        self._path = path

    def get_credentials(self) -> tuple[str] | tuple[str, str]:
        """(password,) or (username, password); the file's trailing newline is not part of it."""
        try:
            with open(self._path, encoding="utf-8") as fh:
                password = fh.read().rstrip("\r\n")
        except (OSError, UnicodeDecodeError) as exc:
            raise redis.AuthenticationError(
                f"cannot read redis.password_file {self._path}: {exc}") from None
        return (password,) if self._username is None else (self._username, password)


class TLSConnection(redis.SSLConnection):
    """Says what to check when the server drops a TLS session, instead of a bare OpenSSL EOF."""

    def send_packed_command(self, *args: Any, **kwargs: Any) -> None:
        """Send as usual; explain a refused TLS session."""
        try:
            super().send_packed_command(*args, **kwargs)  # type: ignore[no-untyped-call]
        except redis.ConnectionError as exc:
            raise _explained(exc) from None

    def read_response(self, *args: Any, **kwargs: Any) -> Any:
        """Read as usual; explain a refused TLS session."""
        try:
            return super().read_response(*args, **kwargs)
        except redis.ConnectionError as exc:
            raise _explained(exc) from None


def _explained(exc: redis.ConnectionError) -> redis.ConnectionError:
    if "ssl" not in str(exc).lower():
        return exc
    return redis.ConnectionError(
        f"{exc} - the server refused the TLS session: does it require a client certificate "
        "(redis.tls.cert_file, key_file), or not trust ours?")


def make_client(cfg: RedisConfig) -> RedisClient:
    """A RESP2 client returning bytes: the cheapest replies for redis-py to post-process."""
    extra: dict[str, Any] = {}
    if cfg.tls.ca_file or cfg.tls.cert_file:
        extra = {"ssl_ca_certs": cfg.tls.ca_file, "ssl_certfile": cfg.tls.cert_file,
                 "ssl_keyfile": cfg.tls.key_file}
    if cfg.password_file is not None:
        extra["credential_provider"] = PasswordFile(cfg.username, cfg.password_file)
    else:
        extra.update(username=cfg.username, password=cfg.password)
    scheme, sep, rest = cfg.url.partition("://")
    if scheme in CLUSTER_SCHEMES:  # every key of a model shares its hash tag, so one node serves it
        return RedisCluster.from_url(
            f"{CLUSTER_SCHEMES[scheme]}{sep}{rest}", socket_timeout=cfg.socket_timeout_seconds,
            socket_connect_timeout=cfg.socket_timeout_seconds, protocol=2,
            decode_responses=False, **extra)
    if scheme == "rediss":
        extra["connection_class"] = TLSConnection
    return redis.Redis.from_url(
        cfg.url, socket_timeout=cfg.socket_timeout_seconds,
        socket_connect_timeout=cfg.socket_timeout_seconds, protocol=2,
        decode_responses=False, **extra)


class StreamReader:
    """Reads every configured stream, remembering the last ID so a reconnect resumes exactly."""

    def __init__(self, client: RedisClient, pipelines: Sequence[ModelPipeline], cfg: RedisConfig,
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
        self._by_model = [(p.model.streams.predictions.encode(), p.model.streams.labels.encode())
                          for p in pipelines]
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
        """One blocking XREAD over all streams, or in a cluster one quick XREAD per model."""
        if not isinstance(self._client, RedisCluster):
            self._deliver_reply(self._xread(self.last_ids, self._cfg.block_ms))
            return
        got = False
        for keys in self._by_model:  # a model's streams share a hash tag, so one node answers
            got = self._deliver_reply(self._xread({k: self.last_ids[k] for k in keys}, None)) or got
        if not got:
            self._stop.wait(CLUSTER_IDLE_SECONDS)

    def _xread(self, ids: Mapping[bytes, bytes], block: int | None) -> list[Reply]:
        streams: dict[Any, Any] = dict(ids)
        return cast(list[Reply], self._client.xread(
            streams, count=self._cfg.read_count, block=block) or [])

    def _deliver_reply(self, reply: list[Reply]) -> bool:
        """Advance the last IDs, then hand entries on; True when anything arrived."""
        got = False
        for key, entries in reply:
            if entries:
                got = True
                self.last_ids[key] = entries[-1][0]
                self._gaps.read(key, len(entries))
                pipeline, kind = self._routes[key]
                self._deliver(pipeline, kind, entries)
        return got

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
