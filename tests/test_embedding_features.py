"""Embedding features end to end: config, wire, reference files and drift on /metrics."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path

import numpy as np
import orjson
import pytest
import redis
from hypothesis import given, settings
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
from exporter.decode.columns import FastPredictions
from exporter.decode.wire import Decoder, Prediction, Reason, embedding_order, struct_order
from exporter.evaluate.evaluator import evaluate
from exporter.evaluate.fit import fit_reference
from exporter.reference.data import ReferenceError
from exporter.reference.load import parse_reference
from exporter.stats.kinds import FeatureType, Task
from exporter.window.labels import JoinedPairs
from exporter.window.ring import Window
from tests.conftest import RedisServer, free_port
from tests.helpers import running, value, wait_evaluated, xadd_all

DIM = 32
CENTRES = np.random.default_rng(7).normal(0.0, 1.0, (4, DIM)) * 3.0
BASE_WEIGHTS = (0.4, 0.3, 0.2, 0.1)
SHIFTED_WEIGHTS = (0.2, 0.3, 0.2, 0.3)  # one cluster's weight moved by 20 points


def embeddings(rng: np.random.Generator, n: int, weights: tuple[float, ...]) -> np.ndarray:
    """Vectors around four cluster centres, mixed by weights."""
    cluster = rng.choice(len(weights), n, p=weights)
    return CENTRES[cluster] + rng.normal(0.0, 1.0, (n, DIM))


def model_yaml(reference: str = "ref.jsonl", extra: str = "") -> str:
    """One regression model with a numeric feature and a 32-dimension embedding."""
    return f"""
models:
  - name: emb
    task: regression
    reference: {{file: {reference}}}
    window: {{duration: 1d, max_samples: 2000}}
    schedule: {{interval: 1s}}
    features:
      - {{name: x, type: numeric}}
      - {{name: text, type: embedding, dimension: {DIM}{extra}}}
"""


def config(tmp: Path, text: str, redis_url: str = "redis://127.0.0.1:1") -> object:
    head = (
        f"redis: {{url: '{redis_url}', backoff_max: 1s}}\n"
        f"web: {{listen_address: '127.0.0.1:{free_port()}'}}\n"
    )
    return load_config_text(head + text, base_dir=str(tmp))


def write_jsonl(path: Path, vectors: np.ndarray, rng: np.random.Generator) -> None:
    with path.open("wb") as fh:
        for row in vectors:
            fh.write(orjson.dumps({"x": float(rng.normal()), "text": row.tolist()}) + b"\n")


def test_an_embedding_feature_is_kept_apart_from_the_scalar_features(tmp_path: Path) -> None:
    model = config(tmp_path, model_yaml()).models[0]  # type: ignore[attr-defined]
    assert [f.name for f in model.features] == ["x"]
    assert [(f.name, f.dimension, f.type.value) for f in model.embeddings] == [
        ("text", DIM, "embedding")
    ]


@pytest.mark.parametrize(
    ("feature", "message"),
    [
        ("{name: text, type: embedding}", "models[0].features[1].dimension: is required"),
        ("{name: text, type: embedding, dimension: 5000}", "models[0].features[1].dimension"),
        ("{name: text, type: numeric, dimension: 8}", "only applies to embedding features"),
        ("{name: text, type: embedding, dimension: 8, method: ks}", "'ks' does not apply"),
        (
            "{name: text, type: embedding, dimension: 8, threshold: learned}",
            "models[0].features[1].threshold: learned thresholds apply",
        ),
        ("{name: text, type: numeric, method: mmd}", "'mmd' does not apply"),
        (
            "{name: text, type: embedding, dimension: 8, sample_rows: 5000}",
            "models[0].features[1].sample_rows",
        ),
        ("{name: text, type: numeric, sample_rows: 100}", "only applies to embedding features"),
        ("{name: text, type: vector}", "must be numeric, categorical or embedding"),
    ],
)
def test_a_wrong_embedding_setting_fails_with_its_key_path(
    tmp_path: Path, feature: str, message: str
) -> None:
    text = f"""
models:
  - name: emb
    task: regression
    reference: {{file: ref.jsonl}}
    features:
      - {{name: x, type: numeric}}
      - {feature}
"""
    with pytest.raises(ConfigError) as caught:
        config(tmp_path, text)
    assert message in str(caught.value)


def test_a_segment_cannot_be_an_embedding(tmp_path: Path) -> None:
    text = model_yaml() + "    segments: [{feature: text}]\n"
    with pytest.raises(ConfigError, match=r"segments\[0\]\.feature: must name a categorical"):
        config(tmp_path, text)


def _entry(record: dict[str, object], n: int) -> tuple[bytes, dict[bytes, bytes]]:
    return f"{1_700_000_000_000 + n}-0".encode(), {b"data": json.dumps(record).encode()}


@pytest.mark.parametrize(
    "vector",
    [
        [0.5] * (DIM - 1),
        [0.5] * (DIM + 1),
        "0.5,0.5",
        [True] * DIM,
        [[0.5]] * DIM,
        {"a": 1},
        [1e39] + [0.5] * (DIM - 1),
    ],
    ids=["short", "long", "text", "bools", "nested", "object", "beyond-float32"],
)
def test_a_vector_that_is_not_the_dimension_in_numbers_is_rejected_as_bad_embedding(
    tmp_path: Path, vector: object
) -> None:
    model = config(tmp_path, model_yaml()).models[0]  # type: ignore[attr-defined]
    decoded = Decoder(model).predictions(
        *_entry({"id": "a", "features": {"x": 1.0, "text": vector}, "prediction": 1.0}, 0)
    )
    assert decoded.records == []
    assert decoded.rejected == [Reason.BAD_EMBEDDING]


def test_the_fast_and_the_per_record_paths_give_the_same_vectors(tmp_path: Path) -> None:
    model = config(tmp_path, model_yaml()).models[0]  # type: ignore[attr-defined]
    rng = np.random.default_rng(1)
    vectors = rng.normal(size=(20, DIM))
    entries = []
    for i, row in enumerate(vectors):
        text = None if i % 7 == 3 else row.tolist()  # some records send no vector
        record = {"id": f"r{i}", "features": {"x": float(i), "text": text}, "prediction": 1.0}
        entries.append(_entry(record, i))
    groups = list(FastPredictions(model).groups(entries))
    assert [batch is not None for _, batch in groups] == [True]
    fast = groups[0][1].embeddings[0]
    decoder = Decoder(model)
    records = [r for entry in entries for r in decoder.predictions(*entry).records]
    slow = batch_of(records, struct_order(model), [d for _, d in embedding_order(model)])
    np.testing.assert_array_equal(fast, slow.embeddings[0])
    assert np.isnan(fast[3]).all() and np.isnan(fast[10]).all()
    np.testing.assert_allclose(fast[0], vectors[0].astype(np.float32))


def test_csv_jsonl_and_parquet_references_give_the_same_vectors(tmp_path: Path) -> None:
    model = config(tmp_path, model_yaml()).models[0]  # type: ignore[attr-defined]
    rng = np.random.default_rng(2)
    vectors = rng.normal(size=(50, DIM))
    xs = rng.normal(size=50)
    jsonl = b"".join(
        orjson.dumps({"x": float(x), "text": v.tolist()}) + b"\n"
        for x, v in zip(xs, vectors, strict=True)
    )
    csv_text = "x,text\n" + "".join(
        f'{float(x)!r},"{json.dumps(v.tolist())}"\n' for x, v in zip(xs, vectors, strict=True)
    )
    from_jsonl = parse_reference(model, jsonl, "jsonl", "ref.jsonl")
    from_csv = parse_reference(model, csv_text.encode(), "csv", "ref.csv")
    for data in (from_jsonl, from_csv):
        np.testing.assert_array_equal(data.embeddings["text"], vectors.astype(np.float32))
        np.testing.assert_array_equal(data.numeric["x"], xs)
    pa = pytest.importorskip("pyarrow", reason="the parquet extra is not installed")
    import pyarrow.parquet as pq

    sink = pa.BufferOutputStream()
    pq.write_table(pa.table({"x": xs, "text": [v.tolist() for v in vectors]}), sink)
    from_parquet = parse_reference(model, sink.getvalue().to_pybytes(), "parquet", "ref.parquet")
    np.testing.assert_array_equal(from_parquet.embeddings["text"], vectors.astype(np.float32))


def test_a_reference_row_with_a_wrong_vector_is_named(tmp_path: Path) -> None:
    model = config(tmp_path, model_yaml()).models[0]  # type: ignore[attr-defined]
    good = orjson.dumps({"x": 1.0, "text": [0.0] * DIM})
    bad = orjson.dumps({"x": 1.0, "text": [0.0] * 3})
    with pytest.raises(ReferenceError, match=r"row 2: column 'text': expected an array of 32"):
        parse_reference(model, good + b"\n" + bad + b"\n", "jsonl", "ref.jsonl")
    huge = orjson.dumps({"x": 1.0, "text": [1e39] + [0.0] * (DIM - 1)})
    with pytest.raises(ReferenceError, match=r"row 1: column 'text': .* within float32's range"):
        parse_reference(model, huge + b"\n" + good + b"\n", "jsonl", "ref.jsonl")
    with pytest.raises(ReferenceError, match="lacks embedding column 'text'"):
        parse_reference(model, b'{"x": 1.0}\n', "jsonl", "ref.jsonl")


@pytest.mark.parametrize("complete", [0, 9])
def test_a_reference_with_too_few_complete_vectors_is_refused_naming_the_feature(
    tmp_path: Path, complete: int
) -> None:
    """Accepted before: the feature got no method, and a 5-sd shift of every component
    went unflagged with no series and no log line, where a blank scalar column is refused."""
    model = config(tmp_path, model_yaml()).models[0]  # type: ignore[attr-defined]
    vectors = [[0.5] * DIM] * complete + [None] * (40 - complete)
    rows = b"".join(orjson.dumps({"x": 1.0, "text": v}) + b"\n" for v in vectors)
    data = parse_reference(model, rows, "jsonl", "ref.jsonl")
    with pytest.raises(ReferenceError, match=rf"{complete} complete vectors of text \(at least"):
        fit_reference(model, data)
    ten = b"".join(orjson.dumps({"x": 1.0, "text": [0.5 + i] * DIM}) + b"\n" for i in range(10))
    fit_reference(model, parse_reference(model, rows + ten, "jsonl", "ref.jsonl"))


def _feed(client: redis.Redis, stream: str, vectors: np.ndarray, start: int) -> None:
    payloads = [
        orjson.dumps(
            {"id": f"r{start + i}", "features": {"x": 0.0, "text": v.tolist()}, "prediction": 1.0}
        )
        for i, v in enumerate(vectors)
    ]
    xadd_all(client, stream, payloads)


@pytest.mark.parametrize(("weights", "drifted"), [(BASE_WEIGHTS, 0.0), (SHIFTED_WEIGHTS, 1.0)])
def test_a_shifted_cluster_weight_is_flagged_on_metrics_and_an_equal_mix_is_not(
    tmp_path: Path, redis_server: RedisServer, weights: tuple[float, ...], drifted: float
) -> None:
    rng = np.random.default_rng(3)
    write_jsonl(tmp_path / "ref.jsonl", embeddings(rng, 2000, BASE_WEIGHTS), rng)
    cfg = config(tmp_path, model_yaml(), redis_server.url)
    client = redis.Redis.from_url(redis_server.url)
    with running(cfg) as daemon:  # type: ignore[arg-type]
        _feed(client, "mlmon:{emb}:predictions", embeddings(rng, 1500, weights), 0)
        client.xadd("mlmon:{emb}:predictions", {"data": b'{"features": {"x": 1, "text": [1]}}'})
        wait_evaluated(daemon, "emb", 1500)
        labels = {"model": "emb", "feature": "text"}
        assert value(daemon, "mlmon_feature_drift_detected", **labels) == drifted
        p_value = value(daemon, "mlmon_feature_drift_p_value", method="mmd", **labels)
        assert p_value is not None and (p_value < 0.05) == bool(drifted)
        assert value(daemon, "mlmon_feature_missing_ratio", **labels) == 0.0
        invalid = {"model": "emb", "reason": "bad_embedding"}
        assert value(daemon, "mlmon_records_invalid_total", **invalid) == 1.0
        page = _get(f"http://127.0.0.1:{daemon.http.port}/models/emb/features/text")
        assert "compared as whole vectors" in page and "mmd: score" in page


def _get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=10) as resp:
        return str(resp.read().decode())


def test_a_model_with_only_an_embedding_feature_is_evaluated(tmp_path: Path) -> None:
    text = f"""
models:
  - name: only
    task: regression
    reference: {{file: ref.jsonl}}
    window: {{duration: 1d, max_samples: 2000}}
    features:
      - {{name: text, type: embedding, dimension: {DIM}, method: pca_ks}}
"""
    model = config(tmp_path, text).models[0]  # type: ignore[attr-defined]
    rng = np.random.default_rng(4)
    reference = b"".join(
        orjson.dumps({"text": v.tolist()}) + b"\n" for v in embeddings(rng, 500, BASE_WEIGHTS)
    )
    fitted = fit_reference(model, parse_reference(model, reference, "jsonl", "ref.jsonl"))
    window = Window(model)
    vectors = embeddings(rng, 500, SHIFTED_WEIGHTS).tolist()
    records = [
        Prediction(f"r{i}", 1e9 + i, None, {}, 1.0, None, None, True, 1.0, None, (v,))
        for i, v in enumerate(vectors)
    ]
    window.extend(batch_of(records, (), [DIM]))
    snapshot = evaluate(model, fitted, window.view(1e9 + 500), JoinedPairs((), ()), 1e9 + 500)
    (feature,) = snapshot.features
    assert feature.name == "text" and feature.drift is not None and feature.drift.drifted
    assert snapshot.drift_share == 1.0


EMBEDDING_MODEL = ModelConfig(
    name="m",
    task=Task.REGRESSION,
    features=(FeatureConfig(name="x", type=FeatureType.NUMERIC),),
    embeddings=(FeatureConfig(name="e", type=FeatureType.EMBEDDING, dimension=3),),
    streams=StreamsConfig(predictions="p", labels="l"),
    reference=ReferenceConfig(file="r.jsonl"),
)
_numbers = st.integers(-(2**70), 2**70) | st.floats(allow_nan=False, allow_infinity=False)
_vectors = (
    st.lists(_numbers, min_size=3, max_size=3)
    | st.lists(_numbers | st.booleans() | st.none() | st.text(max_size=3), max_size=5)
    | st.none()
    | st.text(max_size=5)
    | st.dictionaries(st.text(max_size=3), _numbers, max_size=2)
)


@pytest.mark.filterwarnings("error")  # a value cast to an infinite float32 warns
@settings(max_examples=300, deadline=None)
@given(st.lists(_vectors, min_size=1, max_size=12))
def test_any_embedding_value_gives_a_vector_of_the_dimension_or_bad_embedding_on_both_paths(
    values: list[object],
) -> None:
    entries = [
        _entry({"id": f"r{i}", "features": {"x": 1.0, "e": v}, "prediction": 1.0}, i)
        for i, v in enumerate(values)
    ]
    decoder = Decoder(EMBEDDING_MODEL)
    decoded = [decoder.predictions(*entry) for entry in entries]
    records = [r for d in decoded for r in d.records]
    assert {reason for d in decoded for reason in d.rejected} <= {Reason.BAD_EMBEDDING}
    slow = batch_of(records, struct_order(EMBEDDING_MODEL), [3]) if records else None
    for group, batch in FastPredictions(EMBEDDING_MODEL).groups(entries):
        if batch is None or slow is None:
            continue
        first = int(group[0][0].split(b"-")[0]) - 1_700_000_000_000
        kept = [i for i, d in enumerate(decoded) if d.records]
        at = kept.index(first)
        np.testing.assert_array_equal(batch.embeddings[0], slow.embeddings[0][at : at + len(group)])
    if slow is not None:
        vectors = slow.embeddings[0]
        assert vectors.shape == (len(records), 3) and vectors.dtype == np.float32


@pytest.mark.parametrize(("method", "held_rows"), [("mmd", 50), ("pca_ks", 50)])
def test_sample_rows_bounds_the_reference_rows_a_method_keeps(
    tmp_path: Path, method: str, held_rows: int
) -> None:
    extra = f", method: {method}, sample_rows: {held_rows}"
    model = config(tmp_path, model_yaml(extra=extra)).models[0]  # type: ignore[attr-defined]
    rng = np.random.default_rng(5)
    reference = b"".join(
        orjson.dumps({"x": 0.0, "text": v.tolist()}) + b"\n"
        for v in embeddings(rng, 400, BASE_WEIGHTS)
    )
    fitted = fit_reference(model, parse_reference(model, reference, "jsonl", "ref.jsonl"))
    plain = config(tmp_path, model_yaml(extra=f", method: {method}")).models[0]  # type: ignore[attr-defined]
    default = fit_reference(plain, parse_reference(plain, reference, "jsonl", "ref.jsonl"))
    bounded, unbounded = fitted.embeddings[0].method, default.embeddings[0].method
    assert bounded is not None and unbounded is not None
    assert bounded.nbytes < unbounded.nbytes  # type: ignore[attr-defined]
    if method == "mmd":  # the kept pool itself: 4 x sample_rows x dimension 32-bit floats
        assert bounded.nbytes == 4 * 4 * held_rows * DIM  # type: ignore[attr-defined]
