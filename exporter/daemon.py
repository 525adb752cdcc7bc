"""Wire the pipeline together: reader thread, scheduler, collector and HTTP server."""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import redis
from apscheduler.schedulers.background import BackgroundScheduler
from prometheus_client import CollectorRegistry, Gauge, disable_created_metrics

from exporter.config import Config, ConfigError, load_config
from exporter.config.document import MAX_DOCUMENT_BYTES
from exporter.evaluate.reference import ReferenceError
from exporter.evaluate.snapshot import SnapshotStore
from exporter.files import RefusedFile, read_regular_file
from exporter.ingest.connect import describe
from exporter.ingest.reader import StreamReader, make_client
from exporter.pipeline import ModelPipeline
from exporter.redis_types import RedisClient
from exporter.schedule import build_scheduler
from exporter.serve import pages
from exporter.serve.catalog import spec
from exporter.serve.collector import SnapshotCollector
from exporter.serve.exposition import Combined, Exposition
from exporter.serve.http import MetricsServer
from exporter.serve.live import LiveMetrics
from exporter.serve.webconfig import WebSecurity
from exporter.shard import Shard
from exporter.signals import SignalEvents
from exporter.validate import build_pipelines

log = logging.getLogger("exporter.daemon")

BACKFILL_WAIT_SECONDS = 30.0
WATCH_SECONDS = 5.0


@dataclass(frozen=True)
class Runtime:
    """What a config builds: replaced whole on reload, so nothing mixes two configs."""

    config: Config
    client: RedisClient
    pipelines: tuple[ModelPipeline, ...]
    reader: StreamReader
    scheduler: BackgroundScheduler


class Daemon:
    """The running exporter; the Redis client, clock and registry are passed in for tests."""

    def __init__(
        self,
        config: Config,
        *,
        client: RedisClient | None = None,
        registry: CollectorRegistry | None = None,
        clock: Callable[[], float] = time.time,
        listen_address: str | None = None,
        config_path: str | None = None,
        shard: Shard | None = None,
        web: WebSecurity | None = None,
    ) -> None:
        disable_created_metrics()  # type: ignore[no-untyped-call]  # no rule reads `_created`
        self.registry = registry if registry is not None else CollectorRegistry()
        self.store = SnapshotStore()
        self._clock = clock
        self._client = client
        self._config_path = config_path
        self._seen = _fingerprint(config_path)
        self._shard = shard or Shard()
        live = CollectorRegistry()  # counters; the snapshot's families are rendered apart
        self._live = LiveMetrics(live, self._shard.filter(config).models, clock)
        info = spec("mlmon_shard_info")
        Gauge(info.name, info.help, info.labels, registry=live).labels(
            str(self._shard.index), str(self._shard.count)
        ).set(1)
        self._reload_lock = threading.Lock()
        self._stopped = threading.Event()
        self.runtime = self._build(self._shard.filter(config), None)
        self._collector = SnapshotCollector(
            self.store,
            self.config.models,
            lambda: self.runtime.reader.redis_up,
            config.web.external_url,
        )
        self.registry.register(Combined(live, self._collector))
        self._exposition = Exposition(live, self._collector, self._live.render_failures)
        self.http = MetricsServer(
            listen_address or config.web.listen_address,
            self.registry,
            self.readiness,
            web,
            self._page,
            self._exposition.render,
        )

    @property
    def config(self) -> Config:
        """The config in force."""
        return self.runtime.config

    @property
    def client(self) -> RedisClient:
        """The Redis client of the config in force."""
        return self.runtime.client

    @property
    def pipelines(self) -> tuple[ModelPipeline, ...]:
        """One pipeline per configured model."""
        return self.runtime.pipelines

    @property
    def reader(self) -> StreamReader:
        """The stream reader of the config in force."""
        return self.runtime.reader

    def _build(self, config: Config, old: Runtime | None) -> Runtime:
        """Build and fit everything a config needs; a reload keeps unchanged models' windows.

        Raises ReferenceError before anything runs when a reference cannot be fitted.
        """
        same_redis = old is not None and old.config.redis == config.redis
        client = (
            self._client
            if self._client is not None
            else old.client
            if old is not None and same_redis
            else make_client(config.redis)
        )
        keep = {p.model.name: p for p in old.pipelines} if old is not None and same_redis else {}
        pipelines = build_pipelines(
            config,
            self._live,
            self.store,
            self._clock,
            keep=keep,
            client=None if old is None else client,
        )
        kept = frozenset(
            key
            for p in pipelines
            if keep.get(p.model.name) is p
            for key in (p.model.streams.predictions.encode(), p.model.streams.labels.encode())
        )
        reader = StreamReader(client, pipelines, config.redis, self._live, self._clock, kept=kept)

        def run(pipeline: ModelPipeline) -> None:
            if reader.backfilled.is_set():  # evaluate only once the windows are rebuilt
                pipeline.evaluate(client)

        return Runtime(config, client, pipelines, reader, build_scheduler(pipelines, run))

    def _page(self, path: str, accept: str) -> tuple[int, str, bytes] | None:
        """A drill-down page from the current snapshot; never touches Redis."""
        return pages.render(path, accept, self.store, [m.name for m in self.config.models])

    def readiness(self) -> tuple[bool, str]:
        """Ready when the reader runs, Redis answers it and every model has a fitted reference."""
        if not self._exposition.healthy:
            return False, "/metrics cannot be rendered (see the log)"
        if not self.reader.redis_up:
            return False, "redis unreachable"
        if not self.reader.running:
            return False, "stream reader not running (restarting after a crash)"
        missing = [p.model.name for p in self.pipelines if not p.reference_loaded]
        if missing:
            return False, "reference not loaded: " + ", ".join(missing)
        kept = [p.model.name for p in self.pipelines if p.reference_note]
        if kept:  # still useful, so still ready; the detail says what to fix
            return True, "ready; reference key missing, fitted copy in use: " + ", ".join(kept)
        return True, "ready"

    def _start_runtime(self, runtime: Runtime) -> None:
        for pipeline in runtime.pipelines:  # fit first, so vocabularies start from the reference
            if pipeline.reference_loaded:
                continue
            try:
                pipeline.refresh_reference(runtime.client)
            except redis.RedisError as exc:
                log.warning(
                    "reference not loaded yet: %s",
                    describe(exc, runtime.config.redis, pipeline.model.reference.redis_key),
                    extra={"model": pipeline.model.name},
                )
            except ReferenceError as exc:
                log.warning(
                    "reference not loaded yet: %s", exc, extra={"model": pipeline.model.name}
                )
        runtime.reader.start()
        deadline = time.monotonic() + BACKFILL_WAIT_SECONDS
        while not runtime.reader.backfilled.wait(0.2):  # a SIGTERM meanwhile ends the wait
            if self._stopped.is_set() or time.monotonic() > deadline:
                log.warning(
                    "windows not rebuilt yet (%s); evaluations start once they are",
                    "redis answers" if runtime.reader.redis_up else "redis unreachable",
                )
                break
        runtime.scheduler.start()

    def _stop_runtime(self, runtime: Runtime) -> None:
        runtime.scheduler.shutdown(wait=True)  # the running evaluations finish first
        runtime.reader.stop()

    def start(self) -> None:
        """Start serving at once; evaluations begin when the windows are rebuilt."""
        self.http.start()
        self._start_runtime(self.runtime)
        log.info(
            "exporter started",
            extra={"port": self.http.port, "models": [m.name for m in self.config.models]},
        )

    def stop(self) -> None:
        """Finish the running evaluations, stop reading, close the listener."""
        self._stopped.set()
        with self._reload_lock:
            self._stop_runtime(self.runtime)
        self.http.stop()
        log.info("exporter stopped")

    def reload(self) -> bool:
        """Swap in the config file's current contents, only once it is valid and fitted."""
        if self._config_path is None:
            return False
        with self._reload_lock:
            self._seen = _fingerprint(self._config_path)
            old = self.runtime
            try:
                config = self._shard.filter(load_config(self._config_path))
                runtime = self._build(config, old)
            except (ConfigError, ReferenceError, OSError) as exc:
                self._live.reloaded(False)
                log.error("config reload rejected; keeping the running config: %s", exc)
                return False
            if config.web != old.config.web:
                log.warning("web.listen_address changes take effect after a restart")
            changed = {m.name for m in config.models} - {
                p.model.name for p in old.pipelines if p in runtime.pipelines
            }
            self._stop_runtime(old)
            if old.config.redis == config.redis:  # go on exactly where the old reader stopped
                runtime.reader.resume_from(old.reader)
            self.runtime = runtime
            self._live.configure(config.models, changed)
            self.store.retain({m.name for m in config.models})
            self._collector.set_models(config.models)
            self._start_runtime(runtime)
            self._live.reloaded(True)
            log.info(
                "config reloaded",
                extra={"models": [m.name for m in config.models], "changed": sorted(changed)},
            )
            return True

    def _follow_config(self, asked: threading.Event) -> None:
        """Reload on SIGHUP (`asked`) and when the config file's contents change.

        Runs on its own thread, so a slow reload never keeps the main thread from a SIGTERM.
        Nothing but the daemon stopping ends this loop: a reload that fails in any way (even
        MemoryError) is logged and counted as failed, and later edits still apply.
        """
        while not self._stopped.is_set():
            asked.wait(WATCH_SECONDS)
            if self._stopped.is_set():
                return
            try:
                if asked.is_set() or self._config_changed():
                    asked.clear()
                    self.reload()
            except SystemExit:
                raise
            except BaseException:  # a MemoryError or a bug must not end the watch silently
                self._reload_crashed()

    def _config_changed(self) -> bool:
        current = _fingerprint(self._config_path)
        return current is not None and current != self._seen

    def _reload_crashed(self) -> None:
        """Count an unexpected reload failure; logging it must not fail the loop in turn."""
        self._live.reloaded(False)
        with contextlib.suppress(BaseException):
            log.exception("config reload failed unexpectedly; keeping the running config")

    def run_until_signalled(self) -> int:
        """Run until SIGTERM or SIGINT (SIGHUP reloads), then stop cleanly; returns 0.

        The main thread only waits: signals arrive through exporter.signals and reloads run
        on the config-reload thread. If the clean stop hangs, the process exits anyway at
        the deadline exporter.signals sets.
        """
        events = SignalEvents(on_stop=self._stopped.set)  # also ends a start-up wait for Redis
        with events.installed():
            self.start()
            threading.Thread(
                target=self._follow_config, args=(events.reload,), name="config-reload", daemon=True
            ).start()
            events.stop.wait()
            self.stop()
        return 0


def _fingerprint(path: str | None) -> object:
    """What the watcher compares: the file's bytes, or its identity and size when the file is
    refused (too large, not a regular file), so a change to such a file is still noticed and
    tried once (and counted as a failed reload). None when it cannot be read at all."""
    if path is None:
        return None
    try:
        return read_regular_file(path, MAX_DOCUMENT_BYTES)
    except RefusedFile:
        try:
            info = os.stat(path)
        except OSError:
            return None
        return (info.st_dev, info.st_ino, info.st_mode, info.st_size, info.st_mtime_ns)
    except OSError:
        return None
