"""Decoding of prediction and label entries: typed records, or one bounded reason each."""

from __future__ import annotations

import orjson
import pytest

from exporter.config import FeatureConfig, ModelConfig, ReferenceConfig, StreamsConfig
from exporter.decode.wire import Decoder, Reason, class_key, entry_time
from exporter.stats.kinds import FeatureType, Task

MODEL = ModelConfig(
    name="m",
    task=Task.BINARY,
    positive_class="1",
    features=(
        FeatureConfig(name="amount", type=FeatureType.NUMERIC),
        FeatureConfig(name="country", type=FeatureType.CATEGORICAL),
    ),
    streams=StreamsConfig(predictions="p", labels="l"),
    reference=ReferenceConfig(file="r.csv"),
    max_entry_bytes=1000,
)
ID = b"1700000000123-0"


def _one(payload: object, field: bytes = b"data") -> object:
    raw = payload if isinstance(payload, bytes) else orjson.dumps(payload)
    decoded = Decoder(MODEL).predictions(ID, {field: raw})
    return decoded.records[0] if decoded.records else decoded.rejected[0]


def test_a_full_prediction_record_decodes_with_typed_fields() -> None:
    record = _one(
        {
            "id": "a1",
            "ts": 1700000001.5,
            "version": "v2",
            "features": {"amount": 12, "country": "DE"},
            "prediction": True,
            "scores": {"1": 0.9, "0": 0.1},
            "latency_ms": 25,
            "status": "ok",
            "sample_rate": 0.5,
        }
    )
    assert record.id == "a1" and record.ts == 1700000001.5 and record.version == "v2"
    assert record.features == {"amount": 12.0, "country": "DE"}
    assert record.prediction == "true" and record.scores == {"1": 0.9, "0": 0.1}
    assert record.latency_seconds == 0.025 and record.ok and record.sample_rate == 0.5


def test_time_defaults_to_the_entry_id_and_absent_features_are_missing() -> None:
    record = _one({"features": {"amount": None}, "prediction": 1})
    assert record.ts == entry_time(ID) == 1700000000.123
    assert record.features == {"amount": None, "country": None}


def test_a_batch_entry_yields_every_valid_record_and_rejects_the_bad_ones() -> None:
    batch = [
        {"features": {"amount": 1}, "prediction": 0},
        {"features": {"amount": "x"}, "prediction": 0},
        7,
    ]
    decoded = Decoder(MODEL).predictions(ID, {b"batch": orjson.dumps(batch)})
    assert len(decoded.records) == 1
    assert decoded.rejected == [Reason.BAD_FEATURE_VALUE, Reason.NOT_AN_OBJECT]


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (b"{oops", Reason.INVALID_JSON),
        (b'{"features": {"amount": NaN}, "prediction": 1}', Reason.NON_FINITE),
        (b'{"features": {"amount": -Infinity}, "prediction": 1}', Reason.NON_FINITE),
        (b"x" * 1001, Reason.TOO_LARGE),
        ({"prediction": 1}, Reason.MISSING_FEATURES),
        ({"features": [], "prediction": 1}, Reason.MISSING_FEATURES),
        ({"features": {}, "prediction": None}, Reason.BAD_PREDICTION),
        ({"features": {}, "prediction": 1, "id": 1.5}, Reason.BAD_ID),
        ({"features": {}, "prediction": 1, "ts": "now"}, Reason.BAD_TIMESTAMP),
        ({"features": {}, "prediction": 1, "scores": 1.5}, Reason.BAD_SCORES),
        ({"features": {}, "prediction": 1, "latency_ms": "fast"}, Reason.BAD_LATENCY),
        ({"features": {}, "prediction": 1, "status": "meh"}, Reason.BAD_STATUS),
        ({"features": {}, "prediction": 1, "sample_rate": 0}, Reason.BAD_SAMPLE_RATE),
        ({"features": {"country": {"a": 1}}, "prediction": 1}, Reason.BAD_FEATURE_VALUE),
    ],
)
def test_each_kind_of_broken_record_is_rejected_with_its_reason(
    payload: object, reason: Reason
) -> None:
    assert _one(payload) == reason


def test_an_entry_without_data_or_batch_is_rejected() -> None:
    assert Decoder(MODEL).predictions(ID, {b"other": b"{}"}).rejected == [Reason.NO_DATA_FIELD]


def test_an_errored_prediction_may_omit_its_prediction() -> None:
    record = _one({"features": {}, "status": "error"})
    assert record.prediction is None and not record.ok


def test_labels_need_an_id_and_a_label() -> None:
    decoder = Decoder(MODEL)
    ok = decoder.labels(ID, {b"data": b'{"id": "a1", "label": 1}'})
    assert ok.records[0].id == "a1" and ok.records[0].label == "1"
    assert decoder.labels(ID, {b"data": b'{"label": 1}'}).rejected == [Reason.BAD_ID]
    assert decoder.labels(ID, {b"data": b'{"id": "a"}'}).rejected == [Reason.BAD_LABEL]


@pytest.mark.parametrize("digits", [20, 300, 309, 400, 900])
def test_an_integer_id_beyond_64_bits_is_rejected_however_many_digits(digits: int) -> None:
    """Past a float's range (309 digits) the parser kept the integer, and it was accepted."""
    huge = b"9" * digits
    decoder = Decoder(MODEL)
    prediction = b'{"id": %s, "features": {}, "prediction": 1}' % huge
    assert decoder.predictions(ID, {b"data": prediction}).rejected == [Reason.BAD_ID]
    label = b'{"id": %s, "label": 1}' % huge
    assert decoder.labels(ID, {b"data": label}).rejected == [Reason.BAD_ID]


def test_classes_compare_the_way_producers_mean_them() -> None:
    assert class_key(1) == class_key(1.0) == class_key("1") == "1"
    assert class_key(True) == "true"


@pytest.mark.parametrize(
    "extra",
    [
        b'"debug": NaN',  # an extra key, as Python's json.dumps writes a pandas NaN
        b'"debug": {"x": -Infinity}',
        b'"debug": 1e999',
        b'"debug": "\\ud800"',  # a lone surrogate in a value nobody reads
    ],
)
def test_a_value_nobody_reads_does_not_lose_its_record(extra: bytes) -> None:
    """NaN in an extra key or an unconfigured feature rejected the record as non_finite,
    where 1e999 there was accepted: a pandas NaN in a feature nobody monitors lost them all."""
    decoder = Decoder(MODEL)
    record = b'{"features": {"amount": 1, "unmonitored": 0}, "prediction": 1, %s}' % extra
    for fields in ({b"data": record}, {b"batch": b"[%s]" % record}):
        assert len(decoder.predictions(ID, fields).records) == 1
    unmonitored = record.replace(b'"unmonitored": 0', extra.replace(b'"debug"', b'"unmonitored"'))
    assert len(decoder.predictions(ID, {b"data": unmonitored}).records) == 1
    label = b'{"id": "a", "label": 1, %s}' % extra
    assert len(decoder.labels(ID, {b"data": label}).records) == 1


def test_nan_in_a_value_that_is_read_still_rejects_its_record() -> None:
    decoder = Decoder(MODEL)
    for record in (
        b'{"features": {"amount": NaN}, "prediction": 1}',
        b'{"features": {"amount": 1}, "prediction": 1, "tags": {"region": NaN}}',
        b'{"features": {"amount": 1}, "prediction": 1, "latency_ms": Infinity}',
    ):
        assert decoder.predictions(ID, {b"data": record}).rejected == [Reason.NON_FINITE]
