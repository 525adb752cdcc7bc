"""One model's path through the daemon: entries in, window and joins kept, snapshots out."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import cast

import redis

from exporter.config.model import ModelConfig
from exporter.evaluate.estimate import Calibration, fit_calibration
from exporter.evaluate.evaluator import evaluate
from exporter.evaluate.fit import FittedReference, fit_reference
from exporter.evaluate.reference import (
    ReferenceData,
    ReferenceError,
    decode_from_redis,
    read_reference_file,
)
from exporter.evaluate.snapshot import SnapshotStore
from exporter.ingest.labels import LabelJoin
from exporter.ingest.window import Window
from exporter.ingest.wire import Decoder, Label, Prediction, Reason
from exporter.redis_types import RedisClient
from exporter.serve.live import LiveMetrics

log = logging.getLogger("exporter.pipeline")

Entry = tuple[bytes, Mapping[bytes, bytes]]


class ModelPipeline:
    """Owns a model's window, label join and fitted reference; the reader and scheduler call it."""

    def __init__(self, model: ModelConfig, live: LiveMetrics, store: SnapshotStore,
                 clock: Callable[[], float] = time.time) -> None:
        self.model = model
        self._live = live
        self._store = store
        self._clock = clock
        self._decoder = Decoder(model)
        self.window = Window(model, lambda kind: live.limited.labels(model.name, kind).inc())
        self.join = LabelJoin(model, clock)
        self.fitted: FittedReference | None = None
        self.calibration: Calibration | None = None

    @property
    def reference_loaded(self) -> bool:
        """True once a reference has been fitted; /readyz waits for it."""
        return self.fitted is not None

    def ingest_predictions(self, entries: Sequence[Entry], count: bool = True) -> None:
        """Decode, count and append a batch of prediction entries (count=False: a replay)."""
        records: list[Prediction] = []
        rejected: list[Reason] = []
        for entry_id, fields in entries:
            decoded = self._decoder.predictions(entry_id, fields)
            records.extend(decoded.records)
            rejected.extend(decoded.rejected)
        if count:
            self._live.observe_invalid(self.model.name, rejected)
        if records:
            self.window.extend(records)
            self.join.remember(records)
            if count:
                self._live.observe_predictions(self.model.name, records)

    def ingest_labels(self, entries: Sequence[Entry], count: bool = True) -> None:
        """Decode, count and join a batch of label entries (count=False: a replay)."""
        labels: list[Label] = []
        rejected: list[Reason] = []
        for entry_id, fields in entries:
            decoded = self._decoder.labels(entry_id, fields)
            labels.extend(decoded.records)
            rejected.extend(decoded.rejected)
        if count:
            self._live.observe_invalid(self.model.name, rejected)
        if labels:
            unmatched = self.join.join(labels)
            if count:
                self._live.observe_labels(self.model.name, len(labels), unmatched)

    def count_skipped(self, kind: str, entries: int) -> None:
        """Entries the stream lost before the reader got to them."""
        self._live.skipped.labels(self.model.name, kind).inc(entries)

    def refresh_reference(self, client: RedisClient | None) -> None:
        """Fit the reference if it is new: a file once, a Redis key whenever its digest changes."""
        ref = self.model.reference
        if ref.file is not None:
            if self.fitted is None:
                self._fit(read_reference_file(self.model, ref.file))
            return
        assert ref.redis_key is not None
        if client is None:
            return
        digest = cast("bytes | None", client.hget(ref.redis_key, "sha256"))
        if digest is None:
            raise ReferenceError(f"model {self.model.name!r}: reference key {ref.redis_key} "
                                 "is empty; run `ml-monitoring-exporter reference load`")
        if self.fitted is not None and digest.decode() == self.fitted.digest:
            return
        fields = cast("dict[bytes, bytes]", client.hgetall(ref.redis_key))
        self._fit(decode_from_redis(self.model, ref.redis_key, fields))

    def _fit(self, data: ReferenceData) -> None:
        fitted = fit_reference(self.model, data, self.window)
        self.calibration = fit_calibration(self.model, data)
        self.fitted = fitted
        log.info("reference fitted", extra={"model": self.model.name, "rows": data.rows})

    def evaluate(self, client: RedisClient | None) -> bool:
        """One scheduled run; a failure keeps the last snapshot, is counted and logged once."""
        started = time.perf_counter()
        try:
            try:
                self.refresh_reference(client)
            except redis.RedisError as exc:
                if self.fitted is None:
                    raise
                log.warning("reference check skipped: %s", exc, extra={"model": self.model.name})
            if self.fitted is None:
                raise ReferenceError(f"model {self.model.name!r}: no reference loaded")
            now = self._clock()
            snapshot = evaluate(self.model, self.fitted, self.window, self.window.view(now),
                                self.join.pairs(now), now, 0.0, self.calibration)
            snapshot = replace(snapshot, duration_seconds=time.perf_counter() - started)
        except Exception as exc:
            self._live.failures.labels(self.model.name).inc()
            log.error("evaluation failed: %s", exc, extra={"model": self.model.name})
            return False
        self._store.publish(snapshot)
        return True
