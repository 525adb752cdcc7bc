"""Decode stream entries of the wire format into typed records, or a bounded rejection reason."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from msgspec.structs import astuple

from exporter.classes import class_key, spelled_keys
from exporter.config import ModelConfig
from exporter.decode.parse import Reader
from exporter.decode.reasons import (
    MAX_ABS_VALUE,
    MAX_BATCH_RECORDS,
    MAX_FUTURE_SKEW_SECONDS,
    MAX_ID_CHARS,
    MAX_SCORE_KEYS,
    MAX_WIRE_INT,
    MIN_SAMPLE_RATE,
    MIN_WIRE_INT,
    Invalid,
    Malformed,
    Reason,
)
from exporter.decode.shapes import label_shape, prediction_shape
from exporter.decode.times import check_ts, entry_time
from exporter.stats.kinds import FeatureType

__all__ = [
    "LABEL_KEYS",
    "MAX_ABS_VALUE",
    "MAX_BATCH_RECORDS",
    "MAX_FUTURE_SKEW_SECONDS",
    "MAX_ID_CHARS",
    "MAX_SCORE_KEYS",
    "MIN_SAMPLE_RATE",
    "PREDICTION_KEYS",
    "Decoded",
    "Decoder",
    "FeatureValue",
    "Invalid",
    "Label",
    "Prediction",
    "Reason",
    "Scores",
    "as_text",
    "check_ts",
    "class_key",
    "embedding_order",
    "entry_time",
    "spelled_keys",
    "struct_order",
]

FeatureValue = float | str | None
Scores = float | Mapping[str, float] | None

PREDICTION_KEYS = frozenset(
    {
        "id",
        "ts",
        "version",
        "features",
        "prediction",
        "scores",
        "latency_ms",
        "status",
        "sample_rate",
        "tags",
    }
)
LABEL_KEYS = frozenset({"id", "label", "ts"})

_FLOATS = frozenset({float, type(None)})
_TEXTS = frozenset({str, type(None)})


class Prediction(NamedTuple):
    """One prediction record as the producer sent it, validated (a tuple: cheap to build)."""

    id: str | None
    ts: float
    version: str | None
    features: Mapping[str, FeatureValue]
    prediction: float | str | None
    scores: Scores
    latency_seconds: float | None
    ok: bool
    sample_rate: float
    tags: Mapping[str, str] | None = None  # attributes that are not features, for segments
    embeddings: tuple[list[float] | None, ...] = ()  # one vector (or None) per embedding feature


class Label(NamedTuple):
    """The ground truth for one earlier prediction, joined by id."""

    id: str
    label: float | str
    ts: float


@dataclass(frozen=True, slots=True)
class Decoded:
    """What one stream entry yielded: records, rejection reasons and keys nobody reads.

    `unknown` has one entry per record that carried keys outside the wire format (the record
    is still used): a typo such as `score` for `scores` would otherwise lose a field silently.
    """

    records: list[Any]
    rejected: list[Reason]
    unknown: list[tuple[str, ...]] = field(default_factory=list)


def struct_order(model: ModelConfig) -> tuple[tuple[str, bool], ...]:
    """(name, is numeric) of each feature, numeric first: one slice then holds the numbers."""
    features = ((f.name, f.type is FeatureType.NUMERIC) for f in model.features)
    return tuple(sorted(features, key=lambda feature: not feature[1]))


def embedding_order(model: ModelConfig) -> tuple[tuple[str, int], ...]:
    """(name, dimension) of each embedding feature, in config order, after the scalar ones."""
    return tuple((f.name, f.dimension or 0) for f in model.embeddings)


class Decoder:
    """Turns one model's stream entries into records; knows its features' types.

    msgspec checks each record's shape while parsing (see shapes.py); the methods below add
    what a type cannot say: plausible times, required fields, the regression bound. They
    read a record's fields in the reasons' order of precedence, as the checks ran before.
    """

    def __init__(self, model: ModelConfig) -> None:
        self._limit = model.max_entry_bytes
        self._classification = model.task.is_classification
        self._features = struct_order(model)
        self._names = tuple(name for name, _ in self._features)
        embeddings = embedding_order(model)
        self._numeric_count = sum(numeric for _, numeric in self._features)
        self._max_scores = max(MAX_SCORE_KEYS, len(model.classes or ()))
        self._window_seconds = model.window.duration_seconds
        self._horizon_seconds = model.labels.horizon_seconds
        shape = prediction_shape(
            self._features, self._classification, self._max_scores, embeddings=embeddings
        )
        self._prediction_reader = Reader(shape, PREDICTION_KEYS)
        self._label_reader = Reader(label_shape(self._classification), LABEL_KEYS)

    def predictions(self, entry_id: bytes, fields: Mapping[bytes, bytes]) -> Decoded:
        """Decode a predictions-stream entry (single `data` or `batch`)."""
        return self._entry(entry_id, fields, self._prediction_reader, self._prediction)

    def labels(self, entry_id: bytes, fields: Mapping[bytes, bytes]) -> Decoded:
        """Decode a labels-stream entry (single `data` or `batch`)."""
        return self._entry(entry_id, fields, self._label_reader, self._label)

    def _entry(
        self,
        entry_id: bytes,
        fields: Mapping[bytes, bytes],
        reader: Reader,
        one: Callable[[Any, float], Any],
    ) -> Decoded:
        """Each record of the entry, or its reason: one bad record rejects only itself."""
        default_ts = entry_time(entry_id)
        records: list[Any] = []
        rejected: list[Reason] = []
        unknown: list[tuple[str, ...]] = []
        try:
            for source in reader.sources(fields, self._limit):
                try:
                    record, open_keys = reader.record(source)
                    records.append(one(record, default_ts))
                except Invalid as exc:  # a Malformed record in a batch too: only itself
                    rejected.append(exc.reason)
                    continue
                keys = reader.unknown(source) if open_keys else ()
                if keys:
                    unknown.append(keys)
        except Malformed as exc:  # the entry as a whole is unusable: one reason, no record
            return Decoded([], [exc.reason])
        return Decoded(records, rejected, unknown)

    def _prediction(self, rec: Any, default_ts: float) -> Prediction:
        """The record's fields read in the reasons' order of precedence (see `Refused`)."""
        raw_id = rec.id
        if type(raw_id) is int:
            _check_int_id(raw_id)
        ts = rec.ts
        version = rec.version
        status = rec.status
        rate = rec.sample_rate
        latency = rec.latency_ms
        tags = rec.tags
        if ts is not None:
            ts = check_ts(ts, default_ts, self._window_seconds)
        features, vectors = self._feature_values(rec.features)
        prediction = self._prediction_value(rec.prediction, status == "error")
        return Prediction(
            id=None if raw_id is None else str(raw_id),
            ts=default_ts if ts is None else ts,
            version=version if version is None or type(version) is str else as_text(version),
            features=features,
            prediction=prediction,
            scores=spelled_keys(rec.scores, prediction),
            latency_seconds=None if latency is None else latency / 1000.0,
            ok=status == "ok",
            sample_rate=1.0 if rate is None else rate,
            tags=None if tags is None else {k: as_text(v) for k, v in tags.items()},
            embeddings=vectors,
        )

    def _feature_values(
        self, raw: Any
    ) -> tuple[dict[str, FeatureValue], tuple[list[float] | None, ...]]:
        """Typed values for the configured features, and the embedding vectors after them;
        absent or null means missing.

        Most records hold floats and strings only: two set checks pass them without a loop.
        """
        if raw is None:
            raise Invalid(Reason.MISSING_FEATURES)
        fields = astuple(raw)
        scalars = len(self._names)
        values, vectors = fields[:scalars], tuple(fields[scalars:])
        out: dict[str, FeatureValue] = dict(zip(self._names, values, strict=True))
        n = self._numeric_count
        if _FLOATS.issuperset(map(type, values[:n])) and _TEXTS.issuperset(map(type, values[n:])):
            return out, vectors
        for (name, numeric), value in zip(self._features, values, strict=True):
            kind = type(value)
            if value is None or kind is (float if numeric else str):
                continue
            out[name] = float(value) if numeric else as_text(value)  # a bool, or a class
        return out, vectors

    def _prediction_value(self, value: Any, errored: bool) -> float | str | None:
        if value is None:
            if errored:
                return None
            raise Invalid(Reason.BAD_PREDICTION)
        if self._classification:
            return value if type(value) is str else as_text(value)
        return _bounded(value)

    def _label(self, rec: Any, default_ts: float) -> Label:
        raw_id = rec.id
        if raw_id is None:
            raise Invalid(Reason.BAD_ID)
        if type(raw_id) is int:
            _check_int_id(raw_id)
        value = rec.label
        if value is None:
            raise Invalid(Reason.BAD_LABEL)
        if self._classification:
            label: float | str = value if type(value) is str else as_text(value)
        else:
            label = _bounded(value)
        ts = rec.ts
        return Label(
            id=str(raw_id),
            label=label,
            ts=default_ts if ts is None else check_ts(ts, default_ts, self._horizon_seconds),
        )


def _wire_int(value: int) -> int | float:
    """The integer as orjson read it: a float beyond 64 bits, unless it overflows a float."""
    if MIN_WIRE_INT <= value <= MAX_WIRE_INT:
        return value
    try:
        return float(value)
    except OverflowError:  # the stdlib parser, orjson's fallback, kept these as integers
        return value


def _check_int_id(raw_id: int) -> None:
    """Integer ids are 64-bit: orjson reads a longer one as a float, and past a float's range
    (309 digits) the stdlib parser keeps an integer of up to 4,300 digits."""
    if not MIN_WIRE_INT <= raw_id <= MAX_WIRE_INT:
        raise Invalid(Reason.BAD_ID)


def as_text(value: str | int | float | bool) -> str:
    """A number or bool as its class text (strings are their own text), as records carry it."""
    if type(value) is int:
        return class_key(_wire_int(value))
    return class_key(value)


def _bounded(value: float) -> float:
    """A regression value whose square, summed a billion times, is still finite."""
    if abs(value) > MAX_ABS_VALUE:
        raise Invalid(Reason.VALUE_TOO_LARGE)
    return value
