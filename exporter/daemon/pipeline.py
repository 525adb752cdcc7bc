"""One model's path through the daemon: entries in, window and joins kept, snapshots out."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import cast

import redis

from exporter.config import ModelConfig
from exporter.daemon.arrival import Arrival
from exporter.daemon.awaited import ReferenceAwaited, Waits
from exporter.daemon.changes import ModelChanges
from exporter.daemon.driftlog import log_drift_changes
from exporter.daemon.folds import FoldedLabels
from exporter.daemon.rejections import Rejections
from exporter.daemon.unknown import UnknownKeys
from exporter.decode.batch import batch_of, concat
from exporter.decode.columns import FastPredictions
from exporter.decode.wire import (
    Decoded,
    Decoder,
    Label,
    Prediction,
    embedding_order,
    struct_order,
)
from exporter.evaluate.estimate import Calibration, fit_calibration
from exporter.evaluate.evaluator import evaluate
from exporter.evaluate.fit import FittedReference, fit_reference
from exporter.evaluate.snapshot import SnapshotStore
from exporter.expose.live import LiveMetrics
from exporter.reference.load import (
    ReferenceData,
    ReferenceError,
    decode_from_redis,
    read_reference_file,
    release_freed_memory,
)
from exporter.source.connect import RedisClient
from exporter.source.streams import LABELS, PREDICTIONS, Entry
from exporter.window.labels import JoinResult, LabelJoin
from exporter.window.reclaim import reclaim_codes
from exporter.window.ring import Window
from exporter.window.vocab import OTHER

log = logging.getLogger("exporter.pipeline")


class ModelPipeline:
    """Owns a model's window, label join and fitted reference; the reader and scheduler call it."""

    def __init__(
        self,
        model: ModelConfig,
        live: LiveMetrics,
        store: SnapshotStore,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.model = model
        self._live = live
        self._store = store
        self._clock = clock
        self._decoder = Decoder(model)
        self._fast = FastPredictions(model)
        self._features = struct_order(model)
        self._dimensions = tuple(dimension for _, dimension in embedding_order(model))
        self._counting = True  # False while a replay ingests: its folds were counted before
        self._arrival = Arrival(model.name, clock)  # records stamped ahead: timed on arrival
        self.window = Window(model, self._folded)
        self.join = LabelJoin(model, clock)
        reclaim_codes(self.window, self.join, clock)  # slots of departed versions and tags
        self.fitted: FittedReference | None = None
        self.changes = ModelChanges(model, live.changes)
        self.calibration: Calibration | None = None
        self._unknown, self._rejections = UnknownKeys(model.name), Rejections(model)
        self._folds, self._waits = FoldedLabels(model), Waits(model.name)
        self.reference_note = ""  # why the fitted reference is used without its Redis key

    @property
    def reference_loaded(self) -> bool:
        """True once a reference has been fitted; /readyz waits for it."""
        return self.fitted is not None

    def ingest_predictions(self, entries: Sequence[Entry], count: bool = True) -> None:
        """Decode, count and append a batch of prediction entries (count=False: a replay)."""
        self._counting = count
        batches = []
        for group, columns in self._fast.groups(entries):
            if columns is None:  # not plain: per record, which names every rejection
                got = self._decode(group, self._decoder.predictions, PREDICTIONS, count)
                records = cast(list[Prediction], got.records)
                columns = batch_of(records, self._features, self._dimensions) if records else None
            if columns is not None:
                batches.append(columns)
        if batches:
            batch = concat(batches)
            self._arrival.predictions(batch)
            versions = self.window.slicer.versions
            slices = self.window.extend(batch)
            early = self.join.remember(batch, slices, count)
            if early is not None:  # labels that came before these predictions
                self._joined(early, 0, count)
            self.changes.predictions(batch, count)
            if versions.released:  # slots of versions gone from the window, reused
                self._live.forget_versions(self.model.name, versions.released)
                versions.released.clear()
            if count:
                self._live.observe_predictions(self.model.name, batch)
            else:  # a replay: the counters take the versions the window took, none counted
                for version in versions.values:
                    if version != OTHER:
                        self._live.version(self.model.name, version, records=0)

    def _folded(self, kind: str) -> None:
        """Count a value folded into `__other__`; a replay's were counted by the old process
        (a restart counted them again: MLMonSeriesLimited for values sent hours before)."""
        if self._counting:
            self._live.limited.labels(self.model.name, kind).inc()

    def ingest_labels(self, entries: Sequence[Entry], count: bool = True) -> None:
        """Decode, count and join a batch of label entries (count=False: a replay)."""
        got = self._decode(entries, self._decoder.labels, LABELS, count)
        labels = cast(list[Label], got.records)
        if labels:
            labels = self._arrival.labels(labels)
            self._joined(self.join.join(labels, count), len(labels), count)

    def _joined(self, joined: JoinResult, labels: int, count: bool) -> None:
        """Feed and count what a join did; labels: how many were read (0: held ones). The
        detectors first: a scrape that sees a label counted sees what it set off too."""
        self.changes.labels(joined, count)
        if count:
            self._live.observe_labels(self.model.name, labels, joined)
            self._folds.log(joined.folded)

    def _decode(
        self, entries: Sequence[Entry], decode: Callable[..., Decoded], kind: str, count: bool
    ) -> Decoded:
        """Decode entry by entry, so one that breaks the decoder loses only itself (counted)."""
        out = Decoded([], [], [])
        lost = 0
        for entry_id, fields in entries:
            try:
                decoded = decode(entry_id, fields)
            except Exception:
                lost += 1
                log.exception(
                    "decoding an entry failed; entry lost",
                    extra={
                        "model": self.model.name,
                        "stream_kind": kind,
                        "entry": entry_id.decode(errors="replace"),
                    },
                )
                continue
            if decoded.rejected and count:
                self._rejections.log(kind, entry_id, decoded.rejected)
            out.records.extend(decoded.records)
            out.rejected.extend(decoded.rejected)
            out.unknown.extend(decoded.unknown)
        if count:
            self._live.observe_invalid(self.model.name, out.rejected)
            if lost:
                self._live.lost.labels(self.model.name, kind).inc(lost)
            if out.unknown:
                self._live.unknown_field.labels(self.model.name, kind).inc(len(out.unknown))
                self._unknown.log(kind, out.unknown)
        return out

    def count_skipped(self, kind: str, entries: int) -> None:
        """Entries the stream lost before the reader got to them."""
        self._live.skipped.labels(self.model.name, kind).inc(entries)

    def refresh_reference(self, client: RedisClient | None) -> None:
        """Fit the reference if it is new: a file once, a Redis key whenever its digest changes."""
        ref = self.model.reference
        if ref.file is not None:
            if self.fitted is None:
                self.fit(read_reference_file(self.model, ref.file))
            return
        assert ref.redis_key is not None
        if client is None:
            return
        digest = cast("bytes | None", client.hget(ref.redis_key, "sha256"))
        missing = self._live.reference_missing.labels(self.model.name)
        missing.set(digest is None)  # also before any fit: a restart over a lost key says so
        if digest is None:
            if self.fitted is None:
                raise ReferenceAwaited(self.model.name, ref.redis_key)
            self._reference_lost(ref.redis_key)
            return
        if self.reference_note:
            log.info("reference key is back", extra={"model": self.model.name})
            self.reference_note = ""
        if self.fitted is not None and digest.decode() == self.fitted.digest:
            return
        fields = cast("dict[bytes, bytes]", client.hgetall(ref.redis_key))
        self.fit(decode_from_redis(self.model, ref.redis_key, fields))

    def _reference_lost(self, key: str) -> None:
        """Keep evaluating with the fitted copy: a flushed or evicted key must not freeze values."""
        if self.reference_note:
            return
        self.reference_note = (
            f"reference key {key} is missing in Redis; evaluating with the "
            "copy fitted before (run `reference load` to restore it)"
        )
        log.error(
            "reference key missing; evaluating with the fitted copy",
            extra={"model": self.model.name, "key": key},
        )
        self._live.reference_lost.labels(self.model.name).inc()

    def fit(self, data: ReferenceData) -> None:
        """Fit a reference and swap it in; the window keeps its rows."""
        fitted = fit_reference(self.model, data)
        self.window.seed(fitted.categories, fitted.classes)  # before the swap: codes are ready
        self.calibration = fit_calibration(self.model, data)
        self.changes.refit(fitted, data)
        self.fitted = fitted
        log.info("reference fitted", extra={"model": self.model.name, "rows": data.rows})
        del data  # the raw columns: the fit keeps what the methods need
        release_freed_memory()

    def evaluate(self, client: RedisClient | None) -> bool:
        """One scheduled run; a failure keeps the last snapshot, is counted and logged once.
        A reference key never loaded is no failure: the run is owed (see daemon/awaited.py)."""
        started = time.perf_counter()
        if unmatched := self.join.expire_held():  # labels whose predictions never came
            self._live.observe_labels(self.model.name, 0, JoinResult(unmatched))
        try:
            try:
                self.refresh_reference(client)
            except redis.RedisError as exc:
                if self.fitted is None:
                    raise
                log.warning("reference check skipped: %s", exc, extra={"model": self.model.name})
            if self.fitted is None:
                raise ReferenceError(f"model {self.model.name!r}: no reference loaded")
            now, previous = self._clock(), self._store.models.get(self.model.name)
            snapshot = evaluate(
                self.model,
                self.fitted,
                self.window.view(now),
                self.join.pairs(now),
                now,
                self.calibration,
                previous,
            )
            snapshot = replace(
                snapshot,
                duration_seconds=time.perf_counter() - started,
                reference_note=self.reference_note,
                change=self.changes.state(),
            )
        except ReferenceAwaited as exc:  # owed: runs within 5 s of `reference load`
            self._waits.say(exc)
            return False
        except Exception as exc:
            self._live.failures.labels(self.model.name).inc()
            log.error("evaluation failed: %s", exc, extra={"model": self.model.name})
            return False
        log_drift_changes(previous, snapshot)
        self._store.publish(snapshot)
        if self.model.embeddings:  # hand back the kernels' and copies' tens of MB at once
            release_freed_memory()
        return True
