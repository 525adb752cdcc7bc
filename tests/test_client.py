"""The producer library on its own: fast tests against fakeredis."""

from __future__ import annotations

import math
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from fractions import Fraction
from typing import Any

import fakeredis
import numpy as np
import orjson
import pytest
import redis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry
from sklearn.linear_model import LogisticRegression

from exporter.client import DropReason, PredictionLogger, monitor
from exporter.client.metrics import ClientStats
from exporter.client.sender import FlushMarker, Sender, SendSettings
from tests.conftest import wait_for

STREAM, LABELS = "mlmon:{m}:predictions", "mlmon:{m}:labels"


@pytest.fixture
def fake() -> fakeredis.FakeRedis:
    return fakeredis.FakeRedis()


def _records(client: fakeredis.FakeRedis, stream: str = STREAM) -> list[dict[str, Any]]:
    """Every record of every entry; each entry must be exactly one `batch` JSON array."""
    out: list[dict[str, Any]] = []
    for _, fields in client.xrange(stream):
        assert list(fields) == [b"batch"]
        batch = orjson.loads(fields[b"batch"])
        assert isinstance(batch, list) and 1 <= len(batch) <= 10000
        out.extend(batch)
    return out


def test_importing_the_client_pulls_in_none_of_the_evaluation_stack() -> None:
    code = (
        "import sys, exporter.client; print(','.join(sorted(m for m in sys.modules if m in "
        "('scipy', 'apscheduler', 'numpy', 'yaml', 'pydantic', 'msgspec') or m.startswith(("
        "'exporter.source', 'exporter.decode', 'exporter.window', 'exporter.evaluate', "
        "'exporter.stats', 'exporter.config')))))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert done.stdout.strip() == ""


def test_a_logged_record_is_one_wire_format_batch_entry_with_every_field(
    fake: fakeredis.FakeRedis,
) -> None:
    with PredictionLogger(fake, "m", version="v3", clock=lambda: 1700000000.5) as logger:
        logger.log(
            {"amount": 129.5, "country": "DE", "vip": True, "age": None},
            1,
            scores={0: 0.09, 1: 0.91},
            latency_ms=14.2,
            id="tx-1",
        )
        logger.log({"amount": 3}, None, id=7, status="error", version="v4")
        logger.log_label("tx-1", 0)
    assert _records(fake) == [
        {
            "features": {"amount": 129.5, "country": "DE", "vip": True, "age": None},
            "prediction": 1,
            "ts": 1700000000.5,
            "id": "tx-1",
            "scores": {"0": 0.09, "1": 0.91},
            "latency_ms": 14.2,
            "version": "v3",
        },
        {
            "features": {"amount": 3},
            "prediction": None,
            "ts": 1700000000.5,
            "id": 7,
            "status": "error",
            "version": "v4",
        },
    ]
    assert _records(fake, LABELS) == [{"id": "tx-1", "label": 0, "ts": 1700000000.5}]


def test_numpy_values_are_written_as_plain_json(fake: fakeredis.FakeRedis) -> None:
    with PredictionLogger(fake, "m") as logger:
        logger.log(
            {"a": np.float32(0.5), "b": np.int64(3), "c": np.str_("x"), "d": np.bool_(True)},
            np.int64(1),
            scores=np.float64(0.25),
        )
    (record,) = _records(fake)
    assert record["features"] == {"a": 0.5, "b": 3, "c": "x", "d": True}
    assert (record["prediction"], record["scores"]) == (1, 0.25)


def test_numpy_arrays_of_any_layout_are_written_as_lists(fake: fakeredis.FakeRedis) -> None:
    """A row of a Fortran-ordered matrix (DataFrame.values), a column slice, a strided view,
    a 0-d array and a string array were each dropped as unserialisable."""
    matrix = np.asfortranarray(np.arange(12.0).reshape(3, 4))
    with PredictionLogger(fake, "m") as logger:
        logger.log({"row": matrix[0], "column": matrix[:, 1], "every_other": matrix[0, ::2]}, 1)
        logger.log({"zero_d": np.array(1.5), "texts": np.array(["a", "b"])}, 0)
    got = [r["features"] for r in _records(fake)]
    assert got == [
        {"row": [0.0, 1.0, 2.0, 3.0], "column": [1.0, 5.0, 9.0], "every_other": [0.0, 2.0]},
        {"zero_d": 1.5, "texts": ["a", "b"]},
    ]
    assert sum(logger.stats.dropped.values()) == 0


def test_a_missing_tag_is_left_out_and_a_missing_label_is_refused(
    fake: fakeredis.FakeRedis,
) -> None:
    """A NaN tag value (pandas' empty cell) or a NaN label was written as null, and the
    exporter then rejected the whole record (bad_tags) or the label (bad_label)."""
    with PredictionLogger(fake, "m") as logger:
        logger.log({"x": 1.0}, 1, id="a", tags={"region": math.nan, "tier": "gold"})
        logger.log({"x": 1.0}, 1, id="b", tags={"region": None})
        logger.log({"x": 1.0}, 1, id="c", tags={"region": np.float32("nan"), "n": 0})
        logger.log_label("a", math.nan)
        logger.log_label("b", np.array([np.inf]))
        logger.log_label("c", 0)
    got = [(r["id"], r.get("tags")) for r in _records(fake)]
    assert got == [("a", {"tier": "gold"}), ("b", None), ("c", {"n": 0})]
    assert [(r["id"], r["label"]) for r in _records(fake, LABELS)] == [("c", 0)]
    assert logger.stats.dropped[DropReason.INVALID] == 2


def test_scores_keyed_by_numpy_classes_are_sent_with_the_exporters_class_texts(
    fake: fakeredis.FakeRedis,
) -> None:
    """dict(zip(model.classes_, proba)) has numpy keys, which orjson refuses: the record was
    dropped as unserialisable."""
    with PredictionLogger(fake, "m") as logger:
        logger.log({"a": 1.0}, np.int64(1), scores={np.int64(0): 0.2, np.int64(1): 0.8})
        logger.log({"a": 1.0}, 1.0, scores={np.float64(0.0): 0.3, np.float64(1.0): 0.7})
    assert logger.stats.dropped[DropReason.UNSERIALISABLE] == 0
    assert [r["scores"] for r in _records(fake)] == [{"0": 0.2, "1": 0.8}, {"0": 0.3, "1": 0.7}]


def test_a_nan_class_probability_sends_the_record_without_scores(
    fake: fakeredis.FakeRedis,
) -> None:
    """It became null, and the exporter rejected the whole record as bad_scores."""
    with PredictionLogger(fake, "m") as logger:
        logger.log({"a": 1.0}, "x", scores={"x": math.nan, "y": 0.5})
    (record,) = _records(fake)
    assert record["prediction"] == "x" and "scores" not in record


def test_a_record_is_serialised_when_logged_so_later_mutation_does_not_change_it(
    fake: fakeredis.FakeRedis,
) -> None:
    features = {"x": 1.0}
    with PredictionLogger(fake, "m") as logger:
        logger.log(features, 0)
        features["x"] = 2.0
    assert _records(fake)[0]["features"] == {"x": 1.0}


def test_unusable_records_are_dropped_and_counted_by_reason(fake: fakeredis.FakeRedis) -> None:
    logger = PredictionLogger(fake, "m", max_batch_bytes=2048)
    logger.log({"x": object()}, 1)
    logger.log({"x": 2**70}, 1)
    logger.log([1, 2], 1)  # type: ignore[arg-type]
    logger.log({"x": 1}, 1, status="maybe")
    logger.log({"x": "y" * 4096}, 1)
    logger.log_label(None, 1)
    assert logger.close()
    logger.log({"x": 1}, 1)
    dropped = {r: n for r, n in logger.stats.dropped.items() if n}
    assert dropped == {
        DropReason.UNSERIALISABLE: 2,
        DropReason.INVALID: 3,
        DropReason.TOO_LARGE: 1,
        DropReason.CLOSED: 1,
    }
    assert fake.xlen(STREAM) == 0


def test_a_full_queue_drops_new_records_and_counts_them(fake: fakeredis.FakeRedis) -> None:
    logger = PredictionLogger(fake, "m", max_queue=10, flush_interval=60, batch_size=10000)
    for i in range(25):
        logger.log({"x": i}, 1)
    assert logger.stats.dropped[DropReason.QUEUE_FULL] == 15
    assert logger.queue_depth == 10
    assert logger.close()
    assert [r["features"]["x"] for r in _records(fake)] == list(range(10))


def test_batches_respect_the_record_and_byte_bounds(fake: fakeredis.FakeRedis) -> None:
    logger = PredictionLogger(
        fake, "m", batch_size=7, max_batch_bytes=1024, flush_interval=60, max_queue=1000
    )
    for i in range(100):
        logger.log({"pad": "z" * 80, "i": i}, 1)
    assert logger.close()
    sizes = [len(f[b"batch"]) for _, f in fake.xrange(STREAM)]
    counts = [len(orjson.loads(f[b"batch"])) for _, f in fake.xrange(STREAM)]
    assert max(sizes) <= 1024 and max(counts) <= 7 and sum(counts) == 100
    assert [r["features"]["i"] for r in _records(fake)] == list(range(100))


def test_sampling_keeps_a_share_and_a_label_follows_its_prediction(
    fake: fakeredis.FakeRedis,
) -> None:
    with PredictionLogger(fake, "m", sample_rate=0.25) as logger:
        for i in range(4000):
            logger.log({"x": i}, 1, id=f"id{i}")
            logger.log_label(f"id{i}", 0)
    kept = [r["id"] for r in _records(fake)]
    assert 800 < len(kept) < 1200
    assert {r["sample_rate"] for r in _records(fake)} == {0.25}
    assert [r["id"] for r in _records(fake, LABELS)] == kept
    assert logger.stats.sampled_out == 2 * (4000 - len(kept))


def test_client_metrics_land_on_the_callers_registry_per_model(fake: fakeredis.FakeRedis) -> None:
    registry = CollectorRegistry()
    with (
        PredictionLogger(fake, "a", registry=registry) as a,
        PredictionLogger(fake, "b", registry=registry, max_queue=1, flush_interval=60) as b,
    ):
        for i in range(3):
            a.log({"x": i}, 1)
            b.log({"x": i}, 1)
        a.log_label("t", 1)
        assert a.flush()
        assert registry.get_sample_value("mlmon_client_queue_depth", {"model": "b"}) == 1

    def sample(name: str, **labels: str) -> float | None:
        return registry.get_sample_value(name, labels)

    assert sample("mlmon_client_records_sent_total", model="a", kind="predictions") == 3
    assert sample("mlmon_client_records_sent_total", model="a", kind="labels") == 1
    assert sample("mlmon_client_records_sent_total", model="b", kind="predictions") == 1
    assert sample("mlmon_client_records_dropped_total", model="b", reason="queue_full") == 2
    assert sample("mlmon_client_queue_depth", model="b") == 0


@pytest.mark.parametrize(
    "kwargs",
    [
        {"sample_rate": 0},
        {"sample_rate": 1e-7},  # the exporter would reject every record as bad_sample_rate
        {"sample_rate": 1.5},
        {"batch_size": 0},
        {"batch_size": 10001},
        {"max_queue": 0},
        {"flush_interval": 0},
        {"stream_maxlen": 10, "retention": 60},
        {"retention": -1},
        {"retention": math.inf},  # every drain raised, and its records were never counted
        {"retention": 1e12},  # a negative MINID: every write failed
        {"stream_maxlen": 2**64},
        {"socket_timeout": -1},
        {"socket_timeout": math.inf},
        {"flush_interval": math.inf},
    ],
)
def test_settings_that_cannot_work_are_refused_when_the_logger_is_built(
    fake: fakeredis.FakeRedis, kwargs: dict[str, Any]
) -> None:
    with pytest.raises(ValueError):
        PredictionLogger(fake, "m", **kwargs)


@pytest.mark.parametrize(
    ("kwargs", "culprit"),
    [
        ({"sample_rate": "0.5"}, "sample_rate"),
        ({"batch_size": 1.5}, "batch_size"),
        ({"max_queue": True}, "max_queue"),
        ({"retention": "60"}, "retention"),
        ({"sample_rate": Fraction(1, 2)}, "sample_rate"),  # orjson drops every record
    ],
)
def test_settings_of_the_wrong_type_are_refused_naming_the_setting(
    fake: fakeredis.FakeRedis, kwargs: dict[str, Any], culprit: str
) -> None:
    with pytest.raises(TypeError, match=culprit):
        PredictionLogger(fake, "m", **kwargs)


def test_numpy_numbers_are_accepted_as_settings(fake: fakeredis.FakeRedis) -> None:
    """The type check took np.int64(100) and np.float32(0.5) for non-numbers."""
    logger = PredictionLogger(
        fake,
        "m",
        batch_size=np.int64(100),  # type: ignore[arg-type]
        max_queue=np.int32(1000),  # type: ignore[arg-type]
        stream_maxlen=np.int64(5000),  # type: ignore[arg-type]
        sample_rate=np.float32(0.5),  # type: ignore[arg-type]
    )
    logger.close()


def test_a_client_that_is_neither_a_url_nor_redis_is_refused_by_name() -> None:
    with pytest.raises(TypeError, match="redis_url_or_client"):
        PredictionLogger(123, "m")  # type: ignore[arg-type]


class _Odd:
    """An object whose conversions all fail, as a buggy caller might pass."""

    def __str__(self) -> str:
        raise RuntimeError("no str")

    def __eq__(self, other: object) -> bool:
        raise RuntimeError("no eq")

    __hash__ = object.__hash__


_leaf = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20),
    st.binary(max_size=10),
    st.builds(object),
    st.builds(_Odd),
    st.complex_numbers(),
    st.sets(st.integers(), max_size=3),
)
_value = st.recursive(
    _leaf,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(
            st.one_of(st.text(max_size=5), st.integers(), st.builds(object)), inner, max_size=4
        ),
    ),
    max_leaves=12,
)
_call = st.fixed_dictionaries(
    {
        "features": _value,
        "prediction": _value,
        "scores": _value,
        "latency_ms": _value,
        "id": _value,
        "status": st.one_of(st.sampled_from(["ok", "error"]), _value),
        "version": _value,
        "label": _value,
    }
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(calls=st.lists(_call, min_size=1, max_size=8))
def test_fuzzed_inputs_never_raise_and_every_record_is_sent_or_counted(
    calls: list[dict[str, Any]],
) -> None:
    fake = fakeredis.FakeRedis(server=fakeredis.FakeServer())
    logger = PredictionLogger(fake, "m", flush_interval=60)
    for c in calls:  # an exception raised here fails the test
        logger.log(
            c["features"],
            c["prediction"],
            scores=c["scores"],
            latency_ms=c["latency_ms"],
            id=c["id"],
            status=c["status"],
            version=c["version"],
        )
        logger.log_label(c["id"], c["label"])
    assert logger.close()
    s = logger.stats
    assert s.sent["predictions"] + s.sent["labels"] + sum(s.dropped.values()) == 2 * len(calls)
    for record in _records(fake) + _records(fake, LABELS):
        assert _finite(record)  # the exporter would reject NaN and infinities


def _finite(value: Any) -> bool:
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, dict):
        return all(_finite(v) for v in value.values())
    if isinstance(value, list):
        return all(_finite(v) for v in value)
    return True


class _Model:
    """A hand-written model with predict / predict_proba, like a torch module wrapper."""

    classes_ = np.array(["no", "yes"])
    extra = "kept"

    def predict(self, x: Any) -> np.ndarray:
        return np.asarray(x)[:, 0] * 2.0

    def predict_proba(self, x: Any) -> np.ndarray:
        p = np.clip(np.asarray(x)[:, 0], 0, 1)
        return np.stack([1 - p, p], axis=1)


@pytest.fixture
def monitored(fake: fakeredis.FakeRedis) -> Iterator[tuple[Any, PredictionLogger]]:
    logger = PredictionLogger(fake, "m")
    yield monitor(_Model(), logger, feature_names=["a", "b"]), logger
    logger.close()


def test_monitor_logs_one_record_per_row_with_the_call_latency(
    monitored: tuple[Any, PredictionLogger], fake: fakeredis.FakeRedis
) -> None:
    model, logger = monitored
    out = model.predict(np.array([[0.1, 5.0], [0.7, 6.0], [0.4, 7.0]]), ids=["r1", "r2", "r3"])
    assert out.tolist() == pytest.approx([0.2, 1.4, 0.8])
    assert logger.flush()
    got = _records(fake)
    assert [(r["id"], r["features"], r["prediction"]) for r in got] == [
        ("r1", {"a": 0.1, "b": 5.0}, 0.2),
        ("r2", {"a": 0.7, "b": 6.0}, 1.4),
        ("r3", {"a": 0.4, "b": 7.0}, 0.8),
    ]
    assert len({r["latency_ms"] for r in got}) == 1 and got[0]["latency_ms"] > 0
    assert model.extra == "kept"


def test_monitor_with_fewer_ids_than_rows_logs_none_and_counts_every_row(
    monitored: tuple[Any, PredictionLogger], fake: fakeredis.FakeRedis
) -> None:
    """zip() stopped at the shorter list: the third row was lost without a count."""
    model, logger = monitored
    model.predict(np.array([[0.1, 5.0], [0.7, 6.0], [0.4, 7.0]]), ids=["r1", "r2"])
    assert logger.flush()
    assert _records(fake) == [] and logger.stats.dropped[DropReason.INVALID] == 3


def test_monitor_logs_predict_proba_with_the_class_and_its_scores(
    monitored: tuple[Any, PredictionLogger], fake: fakeredis.FakeRedis
) -> None:
    model, logger = monitored
    model.predict_proba([[0.25, 1.0], [0.75, 2.0]])
    assert logger.flush()
    assert [(r["prediction"], r["scores"]) for r in _records(fake)] == [
        ("no", {"no": 0.75, "yes": 0.25}),
        ("yes", {"no": 0.25, "yes": 0.75}),
    ]


class _SigmoidHead:
    """A binary network's wrapper: one positive-class column, and a scalar for one dict."""

    def predict_proba(self, x: Any) -> np.ndarray:
        return np.array([[0.9], [0.8], [0.1]])

    def predict(self, x: Any) -> Any:
        return np.int64(1) if isinstance(x, dict) else np.ones(len(x), dtype=np.int64)


def test_monitor_reads_one_probability_column_and_a_scalar_for_one_dict(
    fake: fakeredis.FakeRedis,
) -> None:
    """An (n, 1) predict_proba was logged as class 0 with scores {"0": p(positive)}, and a
    model called with one dict that returned a scalar was not logged at all (invalid)."""
    with PredictionLogger(fake, "m") as logger:
        model = monitor(_SigmoidHead(), logger)
        model.predict_proba([{"x": 1.0}, {"x": 2.0}, {"x": 3.0}], ids=["a", "b", "c"])
        model.predict({"x": 4.0}, ids=["d"])
    got = [(r["id"], r["prediction"], r.get("scores")) for r in _records(fake)]
    assert got == [("a", 1, 0.9), ("b", 1, 0.8), ("c", 0, 0.1), ("d", 1, None)]
    assert sum(logger.stats.dropped.values()) == 0


def test_a_failing_predict_is_logged_as_errors_and_its_exception_reaches_the_caller(
    monitored: tuple[Any, PredictionLogger], fake: fakeredis.FakeRedis
) -> None:
    model, logger = monitored
    with pytest.raises(IndexError):
        model.predict(np.array([1.0, 2.0]))  # one-dimensional: the model indexes [:, 0]
    assert logger.flush()
    assert [(r["status"], r["prediction"], r["features"]) for r in _records(fake)] == [
        ("error", None, {"a": 1.0}),
        ("error", None, {"a": 2.0}),
    ]


def test_monitor_wraps_a_fitted_scikit_learn_classifier(fake: fakeredis.FakeRedis) -> None:
    rng = np.random.default_rng(1)
    x = rng.normal(size=(200, 3))
    y = (x[:, 0] > 0).astype(int)
    with PredictionLogger(fake, "m") as logger:
        model = monitor(LogisticRegression().fit(x, y), logger)
        proba = model.predict_proba(x[:50])
        labels = model.predict(x[:50])
    got = _records(fake)
    assert len(got) == 100
    assert list(got[0]["features"]) == ["x0", "x1", "x2"]
    assert [r["scores"]["1"] for r in got[:50]] == proba[:, 1].tolist()
    assert [r["prediction"] for r in got[50:]] == labels.tolist()
    assert [r["prediction"] for r in got[:50]] == labels.tolist()


def test_each_write_redis_refuses_drops_one_batch_and_the_rest_wait_in_order() -> None:
    """The first refused round trip dropped all it took (up to 5,000 records), though the
    docs promised at most batch_size per failed attempt."""
    with socket.socket() as closed:  # a port nothing listens on: every write fails at once
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    settings = SendSettings("p", "l", 20, 1 << 20, 60.0, None, None)
    stats = ClientStats()
    client = redis.Redis(port=port, socket_connect_timeout=1)
    sender = Sender(settings, client, stats, time.time, model="m")
    sender.queue.extend(("predictions", b"%d" % i) for i in range(30))
    marker = FlushMarker(0)
    sender.queue.append(marker)
    sender.queue.extend(("predictions", b"%d" % i) for i in range(30, 100))
    assert not sender.drain()  # Redis not yet known to be down: nothing was written
    assert stats.dropped[DropReason.REDIS_ERROR] == 20
    assert sender.queue[0] == ("predictions", b"20") and len(sender.queue) == 81
    assert not sender.drain()  # a probe of 20 items, the marker one of them
    assert stats.dropped[DropReason.REDIS_ERROR] == 39 and len(sender.queue) == 61
    assert marker.done.is_set() and not marker.delivered  # its records were handled, not sent
    assert stats.send_failures == 2


def test_records_logged_while_redis_is_down_wait_in_the_queue_through_the_backoff() -> None:
    """A full-enough queue woke the sender on every log(): a failed round trip, and a batch
    dropped, per call, so a large max_queue could not ride out an outage."""
    with socket.socket() as closed:  # a port nothing listens on: every write fails at once
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    logger = PredictionLogger(
        f"redis://127.0.0.1:{port}/0", "m", flush_interval=0.5, max_queue=100_000
    )
    try:
        for i in range(30_000):  # about a second of steady traffic
            logger.log({"x": float(i)}, 1)
            if i % 1000 == 999:
                time.sleep(0.03)
        failures = logger.stats.send_failures
        assert 1 <= failures <= 4  # the first and the backoff's, not one per log() call
        assert logger.queue_depth >= 30_000 - failures * 500  # each failure drops a batch
    finally:
        logger.close(0.1)


def test_tags_read_only_mappings_and_zero_d_score_arrays_arrive_as_written(
    fake: fakeredis.FakeRedis,
) -> None:
    """tags= raised TypeError, and a MappingProxyType of features or np.array(0.91) as scores
    dropped the record as unserialisable."""
    from types import MappingProxyType

    with PredictionLogger(fake, "m") as logger:
        logger.log({"x": 1.0}, 1, scores=np.array(0.91), tags={"region": "eu"})
        logger.log(MappingProxyType({"x": 2.0}), 0, tags=MappingProxyType({"region": "us"}))
    got = _records(fake)
    assert [(r["features"], r.get("scores"), r["tags"]) for r in got] == [
        ({"x": 1.0}, 0.91, {"region": "eu"}),
        ({"x": 2.0}, None, {"region": "us"}),
    ]
    assert sum(logger.stats.dropped.values()) == 0


def test_one_element_arrays_from_predict_are_written_as_their_value(
    fake: fakeredis.FakeRedis,
) -> None:
    """`model.predict(x)` of one row is an array of shape (1,): written as a list, the exporter
    rejected the record as bad_prediction, and a 0-d prediction was dropped as unserialisable."""
    with PredictionLogger(fake, "m") as logger:
        logger.log({"x": 1.0}, np.array([1]), scores=np.array([0.8]), id="a")
        logger.log({"x": 1.0}, np.array(0), scores=np.array([[0.3]]), id="b")
        logger.log({"x": 1.0}, "k", scores=np.array([0.2, 0.8]), id="c")  # not one value
        logger.log_label("a", np.array([1]))
        logger.log_label("b", np.array(0))
    got = [(r["prediction"], r["scores"]) for r in _records(fake)]
    assert got == [(1, 0.8), (0, 0.3), ("k", [0.2, 0.8])]
    assert [r["label"] for r in _records(fake, LABELS)] == [1, 0]
    assert sum(logger.stats.dropped.values()) == 0


def test_closing_while_redis_is_down_counts_every_record_it_could_not_send() -> None:
    """close() during an outage left 5,999 of 9,000 records neither sent nor dropped, and the
    queue-depth gauge stuck at 5,999."""
    with socket.socket() as closed:  # a port nothing listens on: every write fails at once
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    registry = CollectorRegistry()
    logger = PredictionLogger(f"redis://127.0.0.1:{port}/0", "m", registry=registry)
    logger.log({"x": 1.0}, 1)
    wait_for(lambda: logger.stats.send_failures >= 1, what="the sender to find Redis down")
    for _ in range(8999):
        logger.log({"x": 1.0}, 1)
    assert logger.close(5.0) is False
    assert sum(logger.stats.sent.values()) + sum(logger.stats.dropped.values()) == 9000
    assert logger.stats.dropped[DropReason.CLOSED] > 0
    assert registry.get_sample_value("mlmon_client_queue_depth", {"model": "m"}) == 0


def test_a_second_close_gives_the_first_closes_answer() -> None:
    """close() after a close() that lost records answered True, 'everything was sent'."""
    with socket.socket() as closed:  # a port nothing listens on: every write fails at once
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    logger = PredictionLogger(f"redis://127.0.0.1:{port}/0", "m")
    for i in range(100):
        logger.log({"x": 1.0}, 1, id=i)
    assert logger.close(1.0) is False
    assert logger.close(1.0) is False
    assert logger.stats.sent["predictions"] == 0


def test_a_flush_while_redis_refuses_answers_at_the_first_refused_attempt() -> None:
    """Since refused round trips keep the rest of the queue, a flush (and a close) behind
    3,000 records waited out its whole timeout, 5 s at close() where it took 0.01 s before."""
    with socket.socket() as closed:  # a port nothing listens on: every write fails at once
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    logger = PredictionLogger(f"redis://127.0.0.1:{port}/0", "m", max_queue=10_000)
    try:
        for i in range(3000):
            logger.log({"x": float(i)}, 1)
        assert not logger.flush(timeout=120)
        failures = logger.stats.send_failures
        assert failures <= 2, "it retried through the backoff instead of answering"
        assert logger.queue_depth >= 3000 - failures * 500  # the rest still queued
    finally:
        assert not logger.close(timeout=120)
    assert sum(logger.stats.dropped.values()) == 3000


def test_a_one_element_latency_is_written_as_its_number_and_a_nan_one_left_out(
    fake: fakeredis.FakeRedis,
) -> None:
    """np.array([12.5]) as latency_ms was written as a list, and the exporter rejected the
    whole record as bad_latency."""
    with PredictionLogger(fake, "m") as logger:
        logger.log({"x": 1.0}, 1, latency_ms=np.array([12.5]), id="a")
        logger.log({"x": 1.0}, 1, latency_ms=float("nan"), id="b")
        logger.log({"x": 1.0}, 1, latency_ms=np.float32(3.0), id="c")
    assert [r.get("latency_ms") for r in _records(fake)] == [12.5, None, 3.0]
    assert sum(logger.stats.dropped.values()) == 0
