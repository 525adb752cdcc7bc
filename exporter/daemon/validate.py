"""The one meaning of a valid config: every model's pipeline built and its reference fitted.

`check-config`, start-up and reload all call `build_pipelines`, so a config that one of them
accepts is never refused, or left unfitted, by another.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping

import redis
from prometheus_client import CollectorRegistry

from exporter.config import Config
from exporter.daemon.pipeline import ModelPipeline
from exporter.evaluate.fit import fit_reference
from exporter.evaluate.snapshot import SnapshotStore
from exporter.expose.live import LiveMetrics
from exporter.reference.load import ReferenceData, ReferenceError, read_reference_file
from exporter.source.access import refused
from exporter.source.connect import RedisClient, describe

log = logging.getLogger("exporter.validate")


def build_pipelines(
    config: Config,
    live: LiveMetrics,
    store: SnapshotStore,
    clock: Callable[[], float] = time.time,
    *,
    keep: Mapping[str, ModelPipeline] | None = None,
    client: RedisClient | None = None,
    strict_redis: bool = False,
    files: bool = True,
) -> tuple[ModelPipeline, ...]:
    """A fitted pipeline per model; raises ReferenceError naming the model otherwise.

    A pipeline in `keep` whose model section is unchanged is reused with its window; its
    reference file is read again, and refitted when it changed. File references must fit;
    without `files` they are left to the caller (start-up fits them while it serves).
    A Redis-key reference is fitted when a client is given; when it is missing or Redis is
    down the model waits for it (logged), unless `strict_redis`; a missing key also fails
    when the model it replaces had fitted it: a reload must not drop that copy.
    """
    out, refits = [], []
    for model in config.models:
        kept = (keep or {}).get(model.name)
        if kept is not None and kept.model == model:
            if (data := _file_changed(kept)) is not None:
                refits.append((kept, data))
            out.append(kept)
            continue
        pipeline = ModelPipeline(model, live, store, clock)
        if model.reference.file is not None:
            if files:
                pipeline.refresh_reference(None)
        elif client is not None:
            # A changed model whose key is gone would lose the copy the running one evaluates
            # with (a schedule edit made a fitted model blind): that reload is refused. With
            # Redis down the new window cannot be rebuilt either: it waits, as at start-up.
            had_fit = kept is not None and kept.fitted is not None
            _fit_from_redis(pipeline, client, config, strict_redis, strict_redis or had_fit)
        out.append(pipeline)
    for pipeline, data in refits:  # every model is valid: only now do kept ones take new files
        pipeline.fit(data)
    return tuple(out)


def _file_changed(kept: ModelPipeline) -> ReferenceData | None:
    """A kept model's reference file read again: its data when it changed, checked by a fit;
    None when unchanged or not a file. A file now missing or unusable fails the reload, as it
    would fail a restart."""
    path = kept.model.reference.file
    if path is None:
        return None
    data = read_reference_file(kept.model, path)
    if kept.fitted is not None and data.digest == kept.fitted.digest:
        return None
    fit_reference(kept.model, data)  # raises ReferenceError as start-up would
    return data


def _fit_from_redis(
    pipeline: ModelPipeline, client: RedisClient, config: Config, strict: bool, need_key: bool
) -> None:
    """Fit from the model's key; raise when Redis fails (`strict`), or the key is missing or
    unreadable (`need_key`), else log that the model waits for it."""
    key = pipeline.model.reference.redis_key
    where = f"models[{pipeline.model.name}].reference.redis_key"
    try:
        pipeline.refresh_reference(client)
    except redis.RedisError as exc:
        message = f"{where}: {describe(exc, config.redis, key)}"
        # An outage passes; a key of another type or one the user may not read lasts.
        lasting = not isinstance(exc, redis.ConnectionError | redis.TimeoutError)
        if strict or (need_key and lasting):
            raise ReferenceError(message) from None
        log.warning("reference not loaded yet: %s", message, extra={"model": pipeline.model.name})
    except ReferenceError as exc:
        if need_key:
            raise ReferenceError(f"{where}: {exc}") from None
        log.warning("reference not loaded yet: %s", exc, extra={"model": pipeline.model.name})


def check_config(config: Config, client: RedisClient | None = None) -> None:
    """Everything start-up checks; with a client also connect, authenticate and fit every
    Redis reference. Raises ReferenceError (or ConfigError) naming the culprit."""
    if client is not None:
        try:
            client.ping()
        except redis.RedisError as exc:
            raise ReferenceError(f"redis.url: {describe(exc, config.redis)}") from None
        if (refusal := refused(client, config)) is not None:
            raise ReferenceError(refusal)
    live = LiveMetrics(CollectorRegistry(), config.models)
    build_pipelines(config, live, SnapshotStore(), client=client, strict_redis=True)
