"""Hostile input: thousands of generated entries and configs never escape as exceptions."""

from __future__ import annotations

import json
from typing import Any

import orjson
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from exporter.config import (
    ConfigError,
    FeatureConfig,
    ModelConfig,
    ReferenceConfig,
    StreamsConfig,
    load_config_text,
)
from exporter.decode.batch import batch_of
from exporter.decode.wire import Decoder, Label, Prediction, Reason, struct_order
from exporter.stats.kinds import FeatureType, Task
from exporter.window.ring import Window

FUZZ = settings(
    max_examples=1000,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

MODEL = ModelConfig(
    name="m",
    task=Task.BINARY,
    positive_class="1",
    features=(
        FeatureConfig(name="x", type=FeatureType.NUMERIC),
        FeatureConfig(name="c", type=FeatureType.CATEGORICAL),
    ),
    streams=StreamsConfig(predictions="p", labels="l"),
    reference=ReferenceConfig(file="r.csv"),
    max_entry_bytes=4096,
    max_new_categories=20,
)

scalars = (
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=20)
)
json_values = st.recursive(
    scalars,
    lambda kids: (
        st.lists(kids, max_size=5) | st.dictionaries(st.text(max_size=8), kids, max_size=4)
    ),
    max_leaves=8,
)
keys = st.sampled_from(
    [
        "id",
        "ts",
        "version",
        "features",
        "prediction",
        "scores",
        "latency_ms",
        "status",
        "sample_rate",
        "label",
        "x",
        "c",
        "other",
    ]
)
records = st.dictionaries(
    keys, json_values | st.dictionaries(keys, json_values, max_size=4), max_size=6
)


def _encode(value: Any) -> bytes:
    """JSON as a careless producer might write it: NaN and Infinity included."""
    return json.dumps(value, allow_nan=True).encode()


payloads = (
    st.binary(max_size=300)
    | records.map(_encode)
    | st.lists(records, max_size=5).map(_encode)
    | json_values.map(_encode)
)
fields = st.sampled_from([b"data", b"batch", b"other"])


@FUZZ
@given(field=fields, payload=payloads, ms=st.integers(0, 2**48))
def test_the_decoder_turns_any_entry_into_valid_records_or_bounded_reasons(
    field: bytes, payload: bytes, ms: int
) -> None:
    decoder = Decoder(MODEL)
    for decoded, kind in (
        (decoder.predictions(f"{ms}-0".encode(), {field: payload}), Prediction),
        (decoder.labels(f"{ms}-1".encode(), {field: payload}), Label),
    ):
        assert all(isinstance(reason, Reason) for reason in decoded.rejected)
        for record in decoded.records:
            assert isinstance(record, kind)
        if isinstance(kind, type) and kind is Prediction:
            for record in decoded.records:
                assert set(record.features) == {"x", "c"}
                x = record.features["x"]
                assert x is None or (isinstance(x, float) and abs(x) != float("inf"))


@settings(max_examples=300, deadline=None)
@given(st.lists(st.text(min_size=1, max_size=30), min_size=1, max_size=400))
def test_any_category_storm_keeps_the_vocabulary_bounded(values: list[str]) -> None:
    window = Window(MODEL)
    decoder = Decoder(MODEL)
    batch = [{"features": {"x": 1.0, "c": v}, "prediction": 1} for v in values]
    decoded = decoder.predictions(b"1-0", {b"batch": orjson.dumps(batch)})
    window.extend(batch_of(decoded.records, struct_order(MODEL)))
    assert len(window.vocabularies["c"]) <= MODEL.max_new_categories + 1
    assert len(window) == len(decoded.records)


VALID = """
redis: {url: redis://127.0.0.1:6379/0}
defaults: {window: {duration: 1h, max_samples: 1000}, schedule: {interval: 30s}}
models:
  - name: m
    task: binary_classification
    positive_class: "1"
    reference: {file: ref.csv}
    performance: {accuracy: {min: 0.8}}
    features:
      - {name: x, type: numeric, range: [0, 1]}
      - {name: c, type: categorical, allowed: [a, b]}
"""


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(node, dict):
        for k, v in node.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out += _paths(v, (*prefix, i))
    return out


def _set(node: Any, path: tuple[Any, ...], value: Any) -> Any:
    if not path:
        return value
    node[path[0]] = _set(node[path[0]], path[1:], value)
    return node


@FUZZ
@given(data=st.data())
def test_a_mutated_config_loads_or_fails_with_a_config_error_naming_a_path(
    data: st.DataObject,
) -> None:
    document = yaml.safe_load(VALID)
    path = data.draw(st.sampled_from(_paths(document)))
    mutated = _set(document, path, data.draw(json_values))
    text = yaml.safe_dump(mutated) if data.draw(st.booleans()) else data.draw(st.text(max_size=200))
    try:
        load_config_text(text, environ={}, base_dir="/nonexistent")
    except ConfigError as exc:
        assert str(exc).strip()
        assert "Traceback" not in str(exc)
