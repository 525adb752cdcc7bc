"""Wire the pipeline together: reader thread, scheduler, collector and HTTP server."""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Callable

import redis
from prometheus_client import CollectorRegistry, disable_created_metrics

from exporter.config.model import Config
from exporter.evaluate.snapshot import SnapshotStore
from exporter.ingest.reader import StreamReader, make_client
from exporter.pipeline import ModelPipeline
from exporter.schedule import build_scheduler
from exporter.serve.collector import SnapshotCollector
from exporter.serve.http import MetricsServer
from exporter.serve.live import LiveMetrics

log = logging.getLogger("exporter.daemon")

BACKFILL_WAIT_SECONDS = 30.0


class Daemon:
    """The running exporter; the Redis client, clock and registry are passed in for tests."""

    def __init__(self, config: Config, *, client: redis.Redis | None = None,
                 registry: CollectorRegistry | None = None,
                 clock: Callable[[], float] = time.time,
                 listen_address: str | None = None) -> None:
        self.config = config
        disable_created_metrics()  # type: ignore[no-untyped-call]  # `_created` series double the payload and no rule reads them
        self.registry = registry if registry is not None else CollectorRegistry()
        self.store = SnapshotStore()
        self.client = client if client is not None else make_client(config.redis)
        live = LiveMetrics(self.registry, config.models)
        self.pipelines = [ModelPipeline(m, live, self.store, clock) for m in config.models]
        self.reader = StreamReader(self.client, self.pipelines, config.redis, clock)
        self.registry.register(
            SnapshotCollector(self.store, config.models, lambda: self.reader.redis_up))
        self.http = MetricsServer(listen_address or config.web.listen_address, self.registry,
                                  self.readiness)
        self.scheduler = build_scheduler(self.pipelines, self._evaluate)

    def _evaluate(self, pipeline: ModelPipeline) -> None:
        """A scheduled run; skipped until the windows hold what the streams' tails hold."""
        if self.reader.backfilled.is_set():
            pipeline.evaluate(self.client)

    def readiness(self) -> tuple[bool, str]:
        """Ready when Redis answers the reader and every model has a fitted reference."""
        if not self.reader.redis_up:
            return False, "redis unreachable"
        missing = [p.model.name for p in self.pipelines if not p.reference_loaded]
        if missing:
            return False, "reference not loaded: " + ", ".join(missing)
        return True, "ready"

    def start(self) -> None:
        """Start serving at once; evaluations begin when the windows are rebuilt."""
        self.http.start()
        self.reader.start()
        if not self.reader.backfilled.wait(BACKFILL_WAIT_SECONDS):
            log.warning("windows not rebuilt yet; evaluations wait for Redis")
        self.scheduler.start()
        log.info("exporter started", extra={"port": self.http.port,
                                             "models": [m.name for m in self.config.models]})

    def stop(self) -> None:
        """Finish the running evaluations, stop reading, close the listener."""
        self.scheduler.shutdown(wait=True)
        self.reader.stop()
        self.http.stop()
        log.info("exporter stopped")

    def run_until_signalled(self) -> int:
        """Run until SIGTERM or SIGINT, then stop cleanly and return the exit code."""
        done = threading.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: done.set())
        self.start()
        done.wait()
        self.stop()
        return 0
