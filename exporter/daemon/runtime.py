"""What one config builds and runs: client, pipelines, reader and scheduler, swapped whole."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import cast

import redis
from apscheduler.schedulers.background import BackgroundScheduler

from exporter.config import Config
from exporter.daemon.pipeline import ModelPipeline
from exporter.daemon.scheduler import Ticks, build_scheduler
from exporter.daemon.startup import RedisProbe, fit_while_serving
from exporter.daemon.validate import build_pipelines
from exporter.evaluate.snapshot import SnapshotStore
from exporter.expose.live import LiveMetrics
from exporter.reference.load import ReferenceError
from exporter.source.connect import RedisClient, describe, make_client
from exporter.source.reader import StreamReader

log = logging.getLogger("exporter.daemon")

BACKFILL_WAIT_SECONDS = 30.0


@dataclass(frozen=True)
class Runtime:
    """What a config builds: replaced whole on reload, so nothing mixes two configs."""

    config: Config
    client: RedisClient
    pipelines: tuple[ModelPipeline, ...]
    reader: StreamReader
    scheduler: BackgroundScheduler
    ticks: Ticks
    reloaded: bool = False  # built by a reload: its kept windows serve while others rebuild


@dataclass(frozen=True)
class Shared:
    """What every runtime of one daemon shares: counters, snapshots, clock, a test's client."""

    live: LiveMetrics
    store: SnapshotStore
    clock: Callable[[], float]
    client: RedisClient | None = None


def build_runtime(config: Config, old: Runtime | None, shared: Shared) -> Runtime:
    """Build and fit everything a config needs; a reload keeps unchanged models' windows.

    A reload raises ReferenceError before anything runs when a reference cannot be fitted.
    Start-up leaves its files to start_runtime, which fits them while /healthz answers.
    """
    same_server = old is not None and old.config.redis.same_server(config.redis)
    client = (
        shared.client
        if shared.client is not None
        else old.client
        if old is not None and old.config.redis.same_client(config.redis)
        else make_client(config.redis)
    )
    keep = {p.model.name: p for p in old.pipelines} if old is not None and same_server else {}
    pipelines = build_pipelines(
        config,
        shared.live,
        shared.store,
        shared.clock,
        keep=keep,
        client=None if old is None else client,
        files=old is not None,  # 30 models' files took 14 s with nothing listening
    )
    kept = frozenset(
        key
        for p in pipelines
        if keep.get(p.model.name) is p
        for key in (p.model.streams.predictions.encode(), p.model.streams.labels.encode())
    )
    reader = StreamReader(client, pipelines, config.redis, shared.live, shared.clock, kept=kept)
    intact = {p.model.name for p in pipelines if keep.get(p.model.name) is p}

    def can_run(pipeline: ModelPipeline) -> bool:
        # Evaluate a window once it is rebuilt, or at once when a reload kept it: a reload
        # during a Redis outage must not stop evaluating what was already read.
        return pipeline.model.name in intact or reader.backfilled.is_set()

    ticks = Ticks(can_run, lambda p: p.evaluate(client), lambda p: _reference_stored(client, p))
    scheduler = build_scheduler(pipelines, ticks)
    return Runtime(config, client, pipelines, reader, scheduler, ticks, reloaded=old is not None)


def _reference_stored(client: RedisClient, pipeline: ModelPipeline) -> bytes | None:
    """The stored reference's digest: the fit itself is left to the model's own job."""
    key = pipeline.model.reference.redis_key
    try:
        return None if key is None else cast("bytes | None", client.hget(key, "sha256"))
    except redis.RedisError:
        return None


def start_runtime(
    runtime: Runtime, stopped: threading.Event, probe: RedisProbe | None = None
) -> bool:
    """Fit what is missing, start reading, wait (bounded) for the windows, then schedule.

    Start-up fits every reference on a worker thread, with the listener up and Redis PINGed
    (see exporter.daemon.startup); a file that does not fit raises ReferenceError, and a stop
    (SIGTERM) returns at once, abandoning the fit in progress. The wait is for start-up: the
    first tick then finds every window rebuilt, rather than the catch-up job evaluating it up
    to CATCH_UP_SECONDS later. A reload (no `probe`) does not wait: its kept models are
    evaluated at once and a changed one is caught up once rebuilt; waiting held every model
    for BACKFILL_WAIT_SECONDS in a Redis outage. False when a stop came first: nothing runs.
    """
    fits = partial(fit_references, runtime, stopped)
    if probe is not None:
        if not fit_while_serving(fits, stopped, probe):
            return False
    elif not fits():
        return False
    runtime.reader.start()
    if probe is not None and not _wait_for_windows(runtime, stopped):
        return False
    runtime.scheduler.start()
    return True


def fit_references(runtime: Runtime, stopped: threading.Event) -> bool:
    """Fit each reference not fitted yet, before reading, so vocabularies start from it.

    A file that does not fit raises ReferenceError naming it; a Redis key is tried once.
    False when a stop came first.
    """
    for pipeline in runtime.pipelines:
        if stopped.is_set():
            return False
        if pipeline.reference_loaded:
            continue
        if pipeline.model.reference.file is not None:
            pipeline.refresh_reference(None)
        else:
            _fit_now(runtime, pipeline)
    return True


def _wait_for_windows(runtime: Runtime, stopped: threading.Event) -> bool:
    """Until the windows are rebuilt or BACKFILL_WAIT_SECONDS pass; False when a stop came."""
    deadline = time.monotonic() + BACKFILL_WAIT_SECONDS
    while not runtime.reader.backfilled.wait(0.2):
        if runtime.reader.rebuilds_nothing:  # no stream at all (a shard with no model)
            return True
        if stopped.is_set():
            return False
        if time.monotonic() > deadline:
            log.warning(
                "windows not rebuilt yet (%s); evaluations start once they are",
                "redis answers" if runtime.reader.redis_up else runtime.reader.down_because,
            )
            return True
    return not stopped.is_set()


def _fit_now(runtime: Runtime, pipeline: ModelPipeline) -> None:
    """Try once; a reference that is not there yet is fitted by the first evaluation."""
    try:
        pipeline.refresh_reference(runtime.client)
        if pipeline.model.reference.redis_key is not None:
            runtime.reader.redis_up = True  # it answered: mlmon_redis_up read 0 for 15 s
    except redis.RedisError as exc:
        log.warning(
            "reference not loaded yet: %s",
            describe(exc, runtime.config.redis, pipeline.model.reference.redis_key),
            extra={"model": pipeline.model.name},
        )
    except ReferenceError as exc:
        log.warning("reference not loaded yet: %s", exc, extra={"model": pipeline.model.name})


def stop_runtime(runtime: Runtime) -> None:
    """Let the running evaluations finish (the queued ones do not start), then stop reading."""
    runtime.ticks.stop()
    if runtime.scheduler.running:  # not when a stop came during start-up's fits
        runtime.scheduler.shutdown(wait=True)
    runtime.reader.stop()


def readiness(runtime: Runtime, metrics_healthy: bool) -> tuple[bool, str]:
    """Ready when the reader runs, Redis answers it and every model has a fitted reference."""
    if not metrics_healthy:
        return False, "/metrics cannot be rendered (see the log)"
    if not runtime.reader.started:  # 30 references from Redis read as "redis unreachable"
        fitted = sum(p.reference_loaded for p in runtime.pipelines)
        return False, f"fitting references ({fitted} of {len(runtime.pipelines)} fitted)"
    if not runtime.reader.redis_up:
        return False, runtime.reader.down_because
    if not runtime.reader.running:
        return False, "stream reader not running (restarting after a crash)"
    missing = [p.model.name for p in runtime.pipelines if not p.reference_loaded]
    if missing:  # before the rebuild: only an operator's `reference load` ends it
        return False, "reference not loaded: " + ", ".join(missing)
    reader = runtime.reader
    if not (runtime.reloaded or reader.backfilled.is_set() or reader.rebuilds_nothing):
        return False, "rebuilding windows from redis"
    kept = [p.model.name for p in runtime.pipelines if p.reference_note]
    if kept:  # still useful, so still ready; the detail says what to fix
        return True, "ready; reference key missing, fitted copy in use: " + ", ".join(kept)
    return True, "ready"
