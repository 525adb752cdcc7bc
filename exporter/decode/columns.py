"""The fast path of prediction decoding: whole reads of plain records straight into columns.

Nearly every record a healthy producer sends has only known keys, values of the expected
types and a plausible time. Such records are parsed by msgspec in C and checked column by
column with numpy. Any record that is not plain (a rejection, an unknown key, an integer id)
sends its group of entries to the per-record decoder, which alone names reasons; a group is
halved first, so one bad record costs only a few small groups their speed.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Sequence
from operator import attrgetter
from types import GenericAlias
from typing import Any

import msgspec
import numpy as np

from exporter.config import ModelConfig
from exporter.decode.batch import PredictionBatch, vectors
from exporter.decode.columnar import Fields, Getters, from_columns, from_records, length
from exporter.decode.reasons import MAX_ABS_VALUE, MAX_BATCH_RECORDS, MAX_FUTURE_SKEW_SECONDS
from exporter.decode.shapes import closed, columns_shape, prediction_shape
from exporter.decode.wire import (
    MAX_SCORE_KEYS,
    as_text,
    embedding_order,
    entry_time,
    spelled_keys,
    struct_order,
)

Entry = tuple[Any, Any]
SMALLEST_SPLIT = 8  # below this many entries a group with a bad record goes per record
_PARSE_ERRORS = (msgspec.ValidationError, msgspec.DecodeError, RecursionError)
_TEXTS = frozenset({str, type(None)})
_NONE = type(None)


class FastPredictions:
    """Splits a read into groups of entries, each with its columns or None (decode per record)."""

    def __init__(self, model: ModelConfig) -> None:
        features = struct_order(model)
        self._classification = model.task.is_classification
        self._window_seconds = model.window.duration_seconds
        self._limit = model.max_entry_bytes
        max_scores = max(MAX_SCORE_KEYS, len(model.classes or ()))
        embeddings = embedding_order(model)
        shape = prediction_shape(
            features, self._classification, max_scores, absent=math.nan, embeddings=embeddings
        )
        record = closed(shape)
        self._one = msgspec.json.Decoder(record)  # as the per-record decoder's first try
        self._many = msgspec.json.Decoder(GenericAlias(list, (record,)))
        self._frames = msgspec.json.Decoder(columns_shape(shape))
        numeric = sum(is_numeric for _, is_numeric in features)
        self._get = Getters(
            numeric=[attrgetter(f"f{i}") for i in range(numeric)],
            categorical=[attrgetter(f"f{i}") for i in range(numeric, len(features))],
            vectors=[attrgetter(f"f{len(features) + i}") for i in range(len(embeddings))],
        )
        self._dimensions = [dimension for _, dimension in embeddings]

    def groups(self, entries: Sequence[Entry]) -> Iterator[tuple[Sequence[Entry], Any]]:
        """(entries, PredictionBatch or None) in stream order, a run of one kind at a time."""
        start = 0
        for i in range(1, len(entries) + 1):
            if i == len(entries) or _kind(entries[i]) != _kind(entries[start]):
                yield from self._run(entries[start:i])
                start = i

    def _run(self, entries: Sequence[Entry]) -> Iterator[tuple[Sequence[Entry], Any]]:
        """A run of entries: fast as a whole, else each half on its own."""
        batch = self._run_columns(entries)
        smallest = SMALLEST_SPLIT if _kind(entries[0]) == b"data" else 2
        if batch is not None or len(entries) < smallest:
            yield entries, batch
            return
        half = len(entries) // 2
        yield from self._run(entries[:half])
        yield from self._run(entries[half:])

    def _run_columns(self, entries: Sequence[Entry]) -> PredictionBatch | None:
        kind = _kind(entries[0])
        payloads = [fields.get(kind) for _, fields in entries]
        if not all(p is not None and len(p) <= self._limit and p.isascii() for p in payloads):
            return None
        if any(_ambiguous(fields, kind) for _, fields in entries):
            return None  # more than one record field: rejected per record
        times = _entry_times([entry_id for entry_id, _ in entries])
        try:
            if kind == b"data":
                fields = from_records(list(map(self._one.decode, payloads)), self._get)
                return None if fields is None else self._columns(fields, times)
            if kind == b"batch":
                lists = list(map(self._many.decode, payloads))
            else:
                frames = list(map(self._frames.decode, payloads))
        except _PARSE_ERRORS:
            return None
        if kind == b"columns":
            counts = [length(frame) or 0 for frame in frames]
            fields = from_columns(frames, counts, self._get) if all(counts) else None
            return None if fields is None else self._columns(fields, np.repeat(times, counts))
        counts = [len(records) for records in lists]
        if not all(0 < n <= MAX_BATCH_RECORDS for n in counts):
            return None
        fields = from_records([r for records in lists for r in records], self._get)
        return None if fields is None else self._columns(fields, np.repeat(times, counts))

    def _columns(self, got: Fields, times: np.ndarray) -> PredictionBatch | None:
        """The records as columns, or None when one needs the per-record checks."""
        ids, versions = got.ids, got.versions
        if not (_TEXTS.issuperset(map(type, ids)) and _TEXTS.issuperset(map(type, versions))):
            return None  # an integer id or a numeric version: rare, checked per record
        ok = _flags(got.status, "error", n := len(got))
        prediction = self._predictions(got.prediction, ok)
        ts = _floats(got.ts, n)  # absent: NaN; null: None -> NaN
        if prediction is None or not self._plausible(ts, times):
            return None
        latency = _floats(got.latency, n) / 1000.0
        rate = _floats(got.rate, n)
        return PredictionBatch(
            ids=ids,
            ts=np.where(np.isnan(ts), times, ts),
            versions=versions,
            numeric=self._numbers(got.numeric, n),
            categorical=[_texts(values) for values in got.categorical],
            prediction=prediction,
            scores=_scores(got.scores, prediction),
            latency=latency,
            ok=ok,
            sample_rate=np.where(np.isnan(rate), 1.0, rate),
            tags=_tags(got.tags),
            embeddings=tuple(map(vectors, got.vectors, self._dimensions)),
        )

    def _numbers(self, columns: list[Iterable[Any]], n: int) -> np.ndarray:
        """One row per numeric feature; a bool is 0 or 1 and null is NaN, as per record."""
        out = np.empty((len(columns), n))
        for row, values in enumerate(columns):
            out[row] = _floats(values, n)
        return out

    def _predictions(self, values: list[Any], ok: np.ndarray) -> list[Any] | None:
        """The predictions, or None when one is missing without an error status or unbounded."""
        missing = ~_flags(values, None, len(values))
        if (missing & ok).any():
            return None
        if self._classification:
            return _texts(values)
        numbers = np.array(values, dtype=float)
        if (np.abs(numbers[~missing]) > MAX_ABS_VALUE).any():
            return None
        return values

    def _plausible(self, ts: np.ndarray, times: np.ndarray) -> bool:
        """Whether every given time is one the per-record check accepts (see `check_ts`)."""
        late = times - self._window_seconds
        bad = (ts > times + MAX_FUTURE_SKEW_SECONDS) | (ts < late)  # NaN (no time) is neither
        return not bad.any()


def _floats(values: Iterable[Any], count: int) -> np.ndarray:
    """count values as floats, None as NaN, in one C pass (np.array of a list is a third slower)."""
    return np.fromiter(values, float, count)


def _flags(values: list[Any], other: Any, n: int) -> np.ndarray:
    """Whether each value is not `other`, without a Python loop when none is (the usual case)."""
    if other not in values:
        return np.ones(n, dtype=bool)
    return np.array([v is not other and v != other for v in values], dtype=bool)


def _kind(entry: Entry) -> bytes:
    """The field an entry's records are in, as the per-record decoder decides."""
    fields = entry[1]
    return b"data" if b"data" in fields else b"columns" if b"columns" in fields else b"batch"


def _ambiguous(fields: Any, kind: bytes) -> bool:
    """Whether the entry has another record field besides its kind's (`data_and_batch`)."""
    if kind == b"data":
        return b"batch" in fields or b"columns" in fields
    return kind == b"columns" and b"batch" in fields


def _texts(values: list[Any]) -> list[Any]:
    """Values as their class text, as the per-record decoder converts them."""
    kinds = set(map(type, values))
    if _TEXTS.issuperset(kinds):
        return values
    if len(kinds - _TEXTS) == 1:  # one kind of number: equal values are the same text
        texts = {v: v if v is None or type(v) is str else as_text(v) for v in set(values)}
        return list(map(texts.__getitem__, values))
    return [v if v is None or type(v) is str else as_text(v) for v in values]


def _scores(scores: list[Any], predictions: list[Any]) -> list[Any]:
    """Score mappings' keys as the per-record decoder reads them (see `spelled_keys`)."""
    if dict not in set(map(type, scores)):
        return scores
    return list(map(spelled_keys, scores, predictions))


def _tags(values: list[Any]) -> list[Any]:
    """Tag values as text, as the per-record decoder converts them."""
    if set(map(type, values)) <= {_NONE}:
        return values
    return [
        t
        if t is None or _TEXTS.issuperset(map(type, t.values()))
        else {k: as_text(v) for k, v in t.items()}
        for t in values
    ]


def _entry_times(ids: list[Any]) -> np.ndarray:
    """Epoch seconds of stream entry IDs ("<milliseconds>-<sequence>"), as `entry_time`."""
    if not all(type(i) is bytes for i in ids):
        return np.fromiter(map(entry_time, ids), float, len(ids))
    return np.array([i.partition(b"-")[0] for i in ids]).astype(np.int64) / 1000.0
