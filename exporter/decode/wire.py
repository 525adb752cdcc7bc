"""Decode stream entries of the wire format into typed records, or a bounded rejection reason."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, NamedTuple

import orjson

from exporter.config import ModelConfig
from exporter.stats.kinds import FeatureType

FeatureValue = float | str | None
Scores = float | Mapping[str, float] | None

MAX_BATCH_RECORDS = 10000
# How far a record's `ts` may lie ahead of the time Redis gave its entry: producers' clocks
# drift a little; minutes ahead is a wrong clock or a wrong unit.
MAX_FUTURE_SKEW_SECONDS = 300.0
# Bounds on what one record may make the exporter keep: every text below ends up in memory
# for a window or a label horizon, some of it in label values.
MAX_ID_CHARS = 256
MAX_SCORE_KEYS = 100  # or the number of configured classes, when that is larger
MIN_SAMPLE_RATE = 1e-6  # 1/sample_rate is added per record: a million at most
MAX_ABS_VALUE = 1e100  # squares and sums of regression values stay finite
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
    }
)
LABEL_KEYS = frozenset({"id", "label", "ts"})


class Reason(StrEnum):
    """Why an entry or record was rejected; the closed set keeps label values bounded."""

    NO_DATA_FIELD = "no_data_field"
    TOO_LARGE = "too_large"
    INVALID_JSON = "invalid_json"
    NON_FINITE = "non_finite"
    NOT_AN_OBJECT = "not_an_object"
    BAD_BATCH = "bad_batch"
    BAD_ID = "bad_id"
    BAD_TIMESTAMP = "bad_timestamp"
    TS_IN_FUTURE = "ts_in_future"
    TS_TOO_OLD = "ts_too_old"
    TS_IN_MILLISECONDS = "ts_in_milliseconds"
    BAD_VERSION = "bad_version"
    MISSING_FEATURES = "missing_features"
    BAD_FEATURE_VALUE = "bad_feature_value"
    BAD_PREDICTION = "bad_prediction"
    BAD_SCORES = "bad_scores"
    BAD_LATENCY = "bad_latency"
    BAD_STATUS = "bad_status"
    BAD_SAMPLE_RATE = "bad_sample_rate"
    BAD_LABEL = "bad_label"
    INVALID_UNICODE = "invalid_unicode"
    TOO_MANY_SCORES = "too_many_scores"
    VALUE_TOO_LARGE = "value_too_large"


class Invalid(Exception):
    """A record the exporter cannot use; carries the bounded reason."""

    def __init__(self, reason: Reason) -> None:
        super().__init__(reason.value)
        self.reason = reason


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


def entry_time(entry_id: bytes | str) -> float:
    """The epoch seconds encoded in a stream entry ID, the default record time."""
    text = entry_id.decode() if isinstance(entry_id, bytes) else entry_id
    return int(text.split("-", 1)[0]) / 1000.0


def class_key(value: Any) -> str:
    """Canonical text of a class so that 1, 1.0, "1" and True/"true" compare as producers mean."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def check_ts(ts: float, entry_ts: float, max_age: float) -> float:
    """`ts` if it is plausible for an entry Redis stamped at entry_ts, else a bounded reason.

    A record outside these bounds would sit in a window forever (milliseconds read as
    seconds) or never enter one (a clock hours behind) while still counted as read.
    """
    if ts > entry_ts + MAX_FUTURE_SKEW_SECONDS:
        if entry_ts - max_age <= ts / 1000.0 <= entry_ts + MAX_FUTURE_SKEW_SECONDS:
            raise Invalid(Reason.TS_IN_MILLISECONDS)
        raise Invalid(Reason.TS_IN_FUTURE)
    if ts < entry_ts - max_age:
        raise Invalid(Reason.TS_TOO_OLD)
    return ts


def _parse(payload: bytes, limit: int) -> Any:
    """Parse JSON with orjson; the slow stdlib path only runs to name why orjson refused."""
    if len(payload) > limit:
        raise Invalid(Reason.TOO_LARGE)
    try:
        return orjson.loads(payload)
    except orjson.JSONDecodeError:
        pass
    try:
        value = json.loads(payload, parse_constant=_reject_constant)
    except _NonFinite:
        raise Invalid(Reason.NON_FINITE) from None
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise Invalid(Reason.INVALID_JSON) from None
    if not _finite(value):
        raise Invalid(Reason.NON_FINITE)  # 1e999 overflows to inf without a constant
    if not _encodable(value):
        raise Invalid(Reason.INVALID_UNICODE)  # a lone surrogate escape, which orjson refuses
    return value  # e.g. integers beyond 64 bits, which orjson refuses


class _NonFinite(Exception):
    """Raised by the fallback parser when it meets NaN or Infinity."""


def _reject_constant(_: str) -> Any:
    raise _NonFinite()


def _finite(value: Any) -> bool:
    """False when any float inside is infinite or NaN."""
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, dict):
        return all(_finite(v) for v in value.values())
    if isinstance(value, list):
        return all(_finite(v) for v in value)
    return True


def _encodable(value: Any) -> bool:
    """False when any text inside, key or value, cannot be written as UTF-8."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return False
        return True
    if isinstance(value, dict):
        return all(_encodable(k) and _encodable(v) for k, v in value.items())
    if isinstance(value, list):
        return all(_encodable(v) for v in value)
    return True


def _number(value: Any, reason: Reason) -> float:
    """A finite real number; bools are not numbers on the wire."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise Invalid(reason)
    try:
        out = float(value)
    except OverflowError:  # an integer beyond the float range
        raise Invalid(Reason.NON_FINITE) from None
    if not math.isfinite(out):
        raise Invalid(Reason.NON_FINITE)
    return out


def _optional_number(obj: Mapping[str, Any], key: str, reason: Reason) -> float | None:
    value = obj.get(key)
    if value is None or type(value) is float:  # the common cases, without the checks
        return value
    return _number(value, reason)


def _scalar_text(value: Any, reason: Reason) -> str:
    """A string, number or bool as its canonical text."""
    if isinstance(value, (str, bool, int, float)):
        if isinstance(value, float) and not math.isfinite(value):
            raise Invalid(Reason.NON_FINITE)
        return class_key(value)
    raise Invalid(reason)


class Decoder:
    """Turns one model's stream entries into records; knows its features' types."""

    def __init__(self, model: ModelConfig) -> None:
        self._limit = model.max_entry_bytes
        self._classification = model.task.is_classification
        self._features = tuple((f.name, f.type is FeatureType.NUMERIC) for f in model.features)
        self._max_scores = max(MAX_SCORE_KEYS, len(model.classes or ()))
        self._window_seconds = model.window.duration_seconds
        self._horizon_seconds = model.labels.horizon_seconds

    def predictions(self, entry_id: bytes, fields: Mapping[bytes, bytes]) -> Decoded:
        """Decode a predictions-stream entry (single `data` or `batch`)."""
        return self._entry(entry_id, fields, self._prediction, PREDICTION_KEYS)

    def labels(self, entry_id: bytes, fields: Mapping[bytes, bytes]) -> Decoded:
        """Decode a labels-stream entry (single `data` or `batch`)."""
        return self._entry(entry_id, fields, self._label, LABEL_KEYS)

    def _entry(
        self, entry_id: bytes, fields: Mapping[bytes, bytes], one: Any, known: frozenset[str]
    ) -> Decoded:
        default_ts = entry_time(entry_id)
        try:
            if b"data" in fields:
                objs = [_parse(fields[b"data"], self._limit)]
            elif b"batch" in fields:
                objs = _parse(fields[b"batch"], self._limit)
                if not isinstance(objs, list) or len(objs) > MAX_BATCH_RECORDS:
                    raise Invalid(Reason.BAD_BATCH)
            else:
                raise Invalid(Reason.NO_DATA_FIELD)
        except Invalid as exc:
            return Decoded([], [exc.reason])
        records: list[Any] = []
        rejected: list[Reason] = []
        unknown: list[tuple[str, ...]] = []
        for obj in objs:
            try:
                if not isinstance(obj, dict):
                    raise Invalid(Reason.NOT_AN_OBJECT)
                records.append(one(obj, default_ts))
            except Invalid as exc:
                rejected.append(exc.reason)
                continue
            if not known.issuperset(obj):
                unknown.append(tuple(sorted(str(k) for k in obj if k not in known)))
        return Decoded(records, rejected, unknown)

    def _prediction(self, obj: dict[str, Any], default_ts: float) -> Prediction:
        raw_id = obj.get("id")
        if raw_id is not None:
            _check_id(raw_id)
        ts = _optional_number(obj, "ts", Reason.BAD_TIMESTAMP)
        version = obj.get("version")
        if version is not None:
            version = _scalar_text(version, Reason.BAD_VERSION)
        status = obj.get("status", "ok")
        if status not in ("ok", "error"):
            raise Invalid(Reason.BAD_STATUS)
        rate = _optional_number(obj, "sample_rate", Reason.BAD_SAMPLE_RATE)
        if rate is not None and not MIN_SAMPLE_RATE <= rate <= 1.0:
            raise Invalid(Reason.BAD_SAMPLE_RATE)
        latency = _optional_number(obj, "latency_ms", Reason.BAD_LATENCY)
        if latency is not None and not 0 <= latency <= MAX_ABS_VALUE:
            raise Invalid(Reason.BAD_LATENCY)
        return Prediction(
            id=None if raw_id is None else str(raw_id),
            ts=default_ts if ts is None else check_ts(ts, default_ts, self._window_seconds),
            version=version,
            features=self._feature_values(obj.get("features")),
            prediction=self._prediction_value(obj.get("prediction"), status == "error"),
            scores=_scores(obj.get("scores"), self._max_scores),
            latency_seconds=None if latency is None else latency / 1000.0,
            ok=status == "ok",
            sample_rate=1.0 if rate is None else rate,
        )

    def _feature_values(self, raw: Any) -> dict[str, FeatureValue]:
        """Typed values for the configured features; absent or null means missing."""
        if not isinstance(raw, dict):
            raise Invalid(Reason.MISSING_FEATURES)
        out: dict[str, FeatureValue] = {}
        for name, numeric in self._features:
            value = raw.get(name)
            kind = type(value)
            if value is None:
                out[name] = None
            elif numeric:  # orjson never yields NaN or inf; the fallback parser rejects them
                if kind is float:
                    out[name] = value
                elif kind is int or kind is bool:
                    out[name] = _number(int(value), Reason.BAD_FEATURE_VALUE)
                else:
                    raise Invalid(Reason.BAD_FEATURE_VALUE)
            else:
                out[name] = value if kind is str else _scalar_text(value, Reason.BAD_FEATURE_VALUE)
        return out

    def _prediction_value(self, value: Any, errored: bool) -> float | str | None:
        if value is None:
            if errored:
                return None
            raise Invalid(Reason.BAD_PREDICTION)
        if self._classification:
            return _scalar_text(value, Reason.BAD_PREDICTION)
        return _bounded(_number(value, Reason.BAD_PREDICTION))

    def _label(self, obj: dict[str, Any], default_ts: float) -> Label:
        raw_id = obj.get("id")
        _check_id(raw_id)
        value = obj.get("label")
        if value is None:
            raise Invalid(Reason.BAD_LABEL)
        label: float | str = (
            _scalar_text(value, Reason.BAD_LABEL)
            if self._classification
            else _bounded(_number(value, Reason.BAD_LABEL))
        )
        ts = _optional_number(obj, "ts", Reason.BAD_TIMESTAMP)
        return Label(
            id=str(raw_id),
            label=label,
            ts=default_ts if ts is None else check_ts(ts, default_ts, self._horizon_seconds),
        )


def _check_id(raw_id: Any) -> None:
    """A string or integer id of bounded length: ids wait in memory for their labels."""
    if isinstance(raw_id, bool) or not isinstance(raw_id, (str, int)):
        raise Invalid(Reason.BAD_ID)
    if isinstance(raw_id, str) and len(raw_id) > MAX_ID_CHARS:
        raise Invalid(Reason.BAD_ID)


def _bounded(value: float) -> float:
    """A regression value whose square, summed a billion times, is still finite."""
    if abs(value) > MAX_ABS_VALUE:
        raise Invalid(Reason.VALUE_TOO_LARGE)
    return value


def _scores(value: Any, max_keys: int) -> Scores:
    """A positive-class probability, or a class-to-probability object of bounded size."""
    if value is None:
        return None
    if isinstance(value, dict):
        if len(value) > max_keys:
            raise Invalid(Reason.TOO_MANY_SCORES)
        out = {class_key(k): _number(v, Reason.BAD_SCORES) for k, v in value.items()}
        if any(not 0.0 <= p <= 1.0 for p in out.values()):
            raise Invalid(Reason.BAD_SCORES)
        return out
    prob = _number(value, Reason.BAD_SCORES)
    if not 0.0 <= prob <= 1.0:
        raise Invalid(Reason.BAD_SCORES)
    return prob
