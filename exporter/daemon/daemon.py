"""Wire the stages together: runtime, exposition, HTTP server, config watcher and signals."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from prometheus_client import CollectorRegistry, Gauge, disable_created_metrics
from threadpoolctl import threadpool_limits

from exporter.config import Config, ConfigError, load_config
from exporter.daemon.handover import hand_over
from exporter.daemon.pipeline import ModelPipeline
from exporter.daemon.runtime import (
    Shared,
    build_runtime,
    fit_references,
    readiness,
    start_runtime,
    stop_runtime,
)
from exporter.daemon.shard import Shard
from exporter.daemon.signals import SignalEvents
from exporter.daemon.startup import RedisProbe
from exporter.daemon.watch import ConfigWatcher
from exporter.evaluate.snapshot import SnapshotStore
from exporter.expose.catalog import spec
from exporter.expose.collector import SnapshotCollector
from exporter.expose.exposition import Combined, Exposition
from exporter.expose.live import LiveMetrics, live_registry
from exporter.logs import set_level
from exporter.reference.load import ReferenceError, fix_mmap_threshold
from exporter.source.connect import RedisClient
from exporter.source.reader import StreamReader
from exporter.web import pages
from exporter.web.http import MetricsServer
from exporter.web.routes import TELEMETRY_PATH
from exporter.web.webconfig import WebSecurity
from exporter.yamlfile import fingerprint

log = logging.getLogger("exporter.daemon")


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
        telemetry_path: str = TELEMETRY_PATH,
        log_level: str | None = None,
    ) -> None:
        disable_created_metrics()  # type: ignore[no-untyped-call]  # no rule reads `_created`
        self.registry = registry if registry is not None else CollectorRegistry()
        self.store = SnapshotStore()
        self._config_path = config_path
        self._log_level, self._listen_flag = log_level, listen_address  # flags win over keys
        self._shard = shard or Shard()
        live = live_registry()  # counters, process, Python; the snapshot is rendered apart
        self._live = LiveMetrics(live, self._shard.filter(config).models, clock)
        self._shared = Shared(self._live, self.store, clock, client)
        self.watcher = ConfigWatcher(config_path, self.reload, lambda: self._live.reloaded(False))
        info = spec("mlmon_shard_info")
        Gauge(info.name, info.help, info.labels, registry=live).labels(
            str(self._shard.index), str(self._shard.count)
        ).set(1)
        self._reload_lock = threading.Lock()
        self._stopped = threading.Event()
        self._blas: threadpool_limits | None = None
        self.runtime = build_runtime(self._shard.filter(config), None, self._shared)
        self._collector = SnapshotCollector(
            self.store,
            self.config.models,
            lambda: self.runtime.reader.redis_up,
            config.web.external_url,
        )
        self.registry.register(Combined(live, self._collector))
        self._exposition = Exposition(live, self._collector, self._live.render_failures)
        self._telemetry_path = telemetry_path  # the models page links there
        self.http = MetricsServer(
            listen_address or config.web.listen_address,
            self.registry,
            self.readiness,
            web,
            self._page,
            self._exposition.render,
            telemetry_path,
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

    def _page(self, path: str, accept: str) -> tuple[int, str, bytes] | None:
        """A drill-down page from the current snapshot; never touches Redis."""
        names = [m.name for m in self.config.models]
        return pages.render(path, accept, self.store, names, self._telemetry_path)

    def readiness(self) -> tuple[bool, str]:
        """Whether the exporter is still useful, and if not, what to fix."""
        return readiness(self.runtime, self._exposition.healthy)

    def fit_references(self) -> None:
        """Fit the references start() would, without reading or serving; raises ReferenceError."""
        fit_references(self.runtime, self._stopped)

    def start(self) -> None:
        """Serve at once, then fit the references; evaluations begin when windows are rebuilt.

        A reference file that does not fit raises ReferenceError, with the listener closed.
        A stop during start-up returns at once, and `exporter started` is not logged.
        """
        # One BLAS thread: OpenBLAS's thread per core makes an evaluation fight the reader and
        # the scrapes for a small machine's cores (0.52 s against 0.14 s on 2 busy cores).
        self._blas = threadpool_limits(limits=1, user_api="blas")
        fix_mmap_threshold()
        probe = RedisProbe(self.client, self.reader, self.config.redis)
        probe.check()  # so the first scrape says whether Redis answers
        self.http.start()  # fitting 50 models' files took a minute: probes must get answers
        try:
            started = start_runtime(self.runtime, self._stopped, probe)
        except ReferenceError:
            self.http.stop()
            self._blas.restore_original_limits()
            raise
        if not started:  # a SIGTERM during the fits or the wait for the windows
            return
        log.info(
            "exporter started",
            extra={"port": self.http.port, "models": [m.name for m in self.config.models]},
        )

    def stop(self) -> None:
        """Finish the running evaluations, stop reading, close the listener."""
        self._stopped.set()
        with self._reload_lock:
            stop_runtime(self.runtime)
        self.http.stop()
        if self._blas is not None:
            self._blas.restore_original_limits()
        log.info("exporter stopped")

    def reload(self) -> bool:
        """Swap in the config file's current contents, only once it is valid and fitted."""
        if self._config_path is None:
            return False
        with self._reload_lock:
            if self._stopped.is_set():  # a SIGTERM came first: stop() owns the runtime now
                return False
            self.watcher.seen = fingerprint(self._config_path)
            old = self.runtime
            try:
                config = self._shard.filter(load_config(self._config_path))
                runtime = build_runtime(config, old, self._shared)
            except (ConfigError, ReferenceError, OSError) as exc:
                self._live.reloaded(False)
                log.error("config reload rejected; keeping the running config: %s", exc)
                return False
            if config.web.listen_address != old.config.web.listen_address:
                self._listen_changed()
            if self._log_level is None and config.log_level != old.config.log_level:
                set_level(config.log_level)
            changed = {m.name for m in config.models} - {
                p.model.name for p in old.pipelines if p in runtime.pipelines
            }
            stop_runtime(old)
            hand_over(old.pipelines, runtime.pipelines, self._live)  # before the new one reads
            # on exactly where the old one stopped: on another server, where it holds the same data
            runtime.reader.resume_from(old.reader, old.config.redis.same_server(config.redis))
            self.runtime = runtime
            self._live.configure(config.models, changed)
            for p in runtime.pipelines:
                if p.model.name in changed:
                    p.changes.claim()
            self.store.retain({m.name for m in config.models})
            self._collector.set_models(config.models, config.web.external_url)
            start_runtime(runtime, self._stopped)  # no wait: changed models catch up
            self._live.reloaded(True)
            log.info(
                "config reloaded",
                extra={"models": [m.name for m in config.models], "changed": sorted(changed)},
            )
            return True

    def _listen_changed(self) -> None:
        """A restart with the same flag keeps its address: promising the config's misled."""
        if self._listen_flag is None:
            log.warning("web.listen_address changes take effect after a restart")
        else:
            log.info("web.listen_address changed; --web.listen-address keeps it unused")

    def run_until_signalled(self) -> int:
        """Run until SIGTERM or SIGINT (SIGHUP reloads), then stop cleanly; returns 0.

        The main thread only waits: signals arrive through exporter.daemon.signals and reloads run
        on the config-reload thread. If the clean stop hangs, the process exits anyway at
        the deadline exporter.daemon.signals sets.
        """
        events = SignalEvents(on_stop=self._stopped.set)  # also ends a start-up wait for Redis
        with events.installed():
            self.start()
            threading.Thread(
                target=self.watcher.follow,
                args=(events.reload, self._stopped),
                name="config-reload",
                daemon=True,
            ).start()
            events.stop.wait()
            self.stop()
        return 0
