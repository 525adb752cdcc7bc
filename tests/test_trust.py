"""Nothing dropped without a count: unknown keys, implausible timestamps, bounded series at 0."""

from __future__ import annotations

import logging
import time

import orjson
import pytest
import redis
from prometheus_client import CollectorRegistry

from exporter.config import (
    FeatureConfig,
    LabelsConfig,
    ModelConfig,
    RedisConfig,
    ReferenceConfig,
    StreamsConfig,
    WindowConfig,
    load_config_text,
)
from exporter.daemon.driftlog import log_drift_changes
from exporter.daemon.pipeline import ModelPipeline
from exporter.decode.wire import Decoder, Reason
from exporter.evaluate.snapshot import DriftValue, FeatureSnapshot, ModelSnapshot, SnapshotStore
from exporter.expose.live import LiveMetrics
from exporter.source.connect import describe, redacted_url
from exporter.source.gaps import GapTracker, StreamState
from exporter.stats.kinds import FeatureType, Task


def model(name: str = "fraud", window_seconds: float = 3600.0) -> ModelConfig:
    return ModelConfig(
        name=name,
        task=Task.BINARY,
        positive_class="1",
        features=(FeatureConfig(name="amount", type=FeatureType.NUMERIC),),
        streams=StreamsConfig(
            predictions=f"mlmon:{{{name}}}:predictions", labels=f"mlmon:{{{name}}}:labels"
        ),
        reference=ReferenceConfig(redis_key=f"mlmon:{{{name}}}:reference"),
        window=WindowConfig(duration_seconds=window_seconds),
    )


def entry(now: float, record: dict[str, object], seq: int = 0) -> tuple[bytes, dict[bytes, bytes]]:
    """A stream entry as redis-py returns it, stamped by Redis at `now`."""
    return f"{int(now * 1000)}-{seq}".encode(), {b"data": orjson.dumps(record)}


def pipeline(registry: CollectorRegistry, m: ModelConfig | None = None) -> ModelPipeline:
    m = m or model()
    return ModelPipeline(m, LiveMetrics(registry, [m]), SnapshotStore())


def test_a_misspelt_key_counts_once_per_record_and_logs_the_closest_known_key_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    registry = CollectorRegistry()
    p = pipeline(registry)
    now = time.time()
    good = {"id": "a", "features": {"amount": 1.0}, "prediction": 1}
    with caplog.at_level(logging.WARNING, logger="exporter.pipeline"):
        p.ingest_predictions([entry(now, {**good, "score": 0.9})])
        p.ingest_predictions([entry(now, {**good, "latncy_ms": 12}, 1)])
        p.ingest_predictions([entry(now, {**good, "score": 0.8}, 2)])
    unknown = registry.get_sample_value(
        "mlmon_records_unknown_field_total", {"model": "fraud", "kind": "predictions"}
    )
    assert unknown == 3
    read = registry.get_sample_value(
        "mlmon_records_read_total", {"model": "fraud", "kind": "predictions"}
    )
    assert read == 3  # the records are still used
    hints = [
        r.getMessage() for r in caplog.records if "not part of the wire format" in r.getMessage()
    ]
    assert len(hints) == 2
    assert "'score'" in hints[0] and "did you mean 'scores'?" in hints[0]
    assert "'latncy_ms'" in hints[1] and "did you mean 'latency_ms'?" in hints[1]


def test_a_label_key_on_a_prediction_record_is_said_to_belong_in_the_labels_stream(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """`lable` on a prediction got no hint: no prediction key is close to it."""
    p = pipeline(CollectorRegistry())
    good = {"id": "a", "features": {"amount": 1.0}, "prediction": 1}
    with caplog.at_level(logging.WARNING, logger="exporter.pipeline"):
        p.ingest_predictions([entry(time.time(), {**good, "lable": 1})])
    (hint,) = [r.getMessage() for r in caplog.records if "'lable'" in r.getMessage()]
    assert "'label' belongs in the other stream's records" in hint


def test_an_unknown_key_on_a_label_is_counted_under_labels() -> None:
    registry = CollectorRegistry()
    p = pipeline(registry)
    p.ingest_labels([entry(time.time(), {"id": "a", "label": 1, "lable": 0})])
    assert (
        registry.get_sample_value(
            "mlmon_records_unknown_field_total", {"model": "fraud", "kind": "labels"}
        )
        == 1
    )


@pytest.mark.parametrize(
    ("ts_offset", "in_ms", "reason"),
    [
        (0.0, True, Reason.TS_IN_MILLISECONDS),
        (2 * 3600.0, False, Reason.TS_IN_FUTURE),
        (-86400.0, False, Reason.TS_TOO_OLD),
    ],
)
def test_implausible_record_times_are_rejected_with_their_reason(
    ts_offset: float, in_ms: bool, reason: Reason
) -> None:
    now = time.time()
    ts = (now + ts_offset) * (1000 if in_ms else 1)
    record = {"id": "a", "ts": ts, "features": {"amount": 1.0}, "prediction": 1}
    decoded = Decoder(model()).predictions(*entry(now, record))
    assert decoded.records == []
    assert decoded.rejected == [reason]


def test_a_label_older_than_the_horizon_is_too_old_but_one_inside_it_is_kept() -> None:
    now = time.time()
    decoder = Decoder(model())  # horizon 24 h, window 1 h
    old = decoder.labels(*entry(now, {"id": "a", "label": 1, "ts": now - 2 * 86400}))
    assert old.rejected == [Reason.TS_TOO_OLD]
    recent = decoder.labels(*entry(now, {"id": "a", "label": 1, "ts": now - 6 * 3600}))
    assert [label.ts for label in recent.records] == [now - 6 * 3600]


def test_a_plausible_time_a_little_off_the_entry_is_kept() -> None:
    now = time.time()
    decoder = Decoder(model())
    for ts in (now - 1800, now + 60):
        decoded = decoder.predictions(*entry(now, {"ts": ts, "features": {}, "prediction": 1}))
        assert [r.ts for r in decoded.records] == [ts]


def test_a_fresh_start_has_every_bounded_series_of_every_model_at_zero() -> None:
    registry = CollectorRegistry()
    LiveMetrics(registry, [model("fraud"), model("eta")])
    for name in ("fraud", "eta"):
        for reason in Reason:
            assert (
                registry.get_sample_value(
                    "mlmon_records_invalid_total", {"model": name, "reason": reason.value}
                )
                == 0
            )
        for kind in ("predictions", "labels"):
            for family in (
                "mlmon_records_skipped_total",
                "mlmon_records_unknown_field_total",
                "mlmon_stream_entries_lost_total",
                "mlmon_records_read_total",
            ):
                assert registry.get_sample_value(family, {"model": name, "kind": kind}) == 0
        for kind in ("category", "class", "version"):
            assert (
                registry.get_sample_value(
                    "mlmon_series_limited_total", {"model": name, "kind": kind}
                )
                == 0
            )
        assert registry.get_sample_value("mlmon_evaluation_failures_total", {"model": name}) == 0
        assert registry.get_sample_value("mlmon_evaluation_interval_seconds", {"model": name}) == 60
    for outcome in ("success", "failure"):
        assert registry.get_sample_value("mlmon_config_reloads_total", {"outcome": outcome}) == 0
    assert registry.get_sample_value("mlmon_config_last_reload_successful") == 1
    assert registry.get_sample_value("mlmon_reader_restarts_total") == 0


def test_a_model_that_leaves_the_config_loses_all_its_series_and_a_failed_reload_shows() -> None:
    registry = CollectorRegistry()
    live = LiveMetrics(registry, [model("fraud"), model("eta")])
    live.predictions.labels("eta", "v1").inc()
    live.configure([model("fraud")])
    live.reloaded(False)
    names = {s.labels.get("model") for m in registry.collect() for s in m.samples}
    assert "eta" not in names and "fraud" in names
    assert registry.get_sample_value("mlmon_config_last_reload_successful") == 0
    assert registry.get_sample_value("mlmon_config_reloads_total", {"outcome": "failure"}) == 1


def test_a_reload_that_gives_a_model_a_working_reference_clears_its_missing_key_gauge() -> None:
    """The gauge stayed 1 until a restart, and MLMonReferenceKeyMissing kept firing."""
    registry = CollectorRegistry()
    live = LiveMetrics(registry, [model("fraud")])
    missing = {"model": "fraud"}
    live.reference_missing.labels("fraud").set(1)
    live.configure([model("fraud")], changed=set())  # kept: its pipeline still knows
    assert registry.get_sample_value("mlmon_reference_missing", missing) == 1
    live.configure([model("fraud")], changed={"fraud"})  # a new pipeline, its key read
    assert registry.get_sample_value("mlmon_reference_missing", missing) == 0
    live.reference_missing.labels("fraud").set(1)
    from_file = model("fraud").model_copy(update={"reference": ReferenceConfig(file="ref.csv")})
    live.configure([from_file], changed={"fraud"})
    assert registry.get_sample_value("mlmon_reference_missing", missing) is None


def test_an_entry_that_breaks_the_decoder_is_counted_as_lost_and_its_neighbours_arrive(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    registry = CollectorRegistry()
    p = pipeline(registry)
    now = time.time()
    real = p._decoder.predictions

    def poisoned(entry_id: bytes, fields: dict[bytes, bytes]) -> object:
        if fields.get(b"data") == b'"poison"':
            raise RuntimeError("a decoder bug")
        return real(entry_id, fields)

    monkeypatch.setattr(p._decoder, "predictions", poisoned)
    record = {"features": {"amount": 1.0}, "prediction": 1}
    with caplog.at_level(logging.ERROR, logger="exporter.pipeline"):
        p.ingest_predictions(
            [entry(now, record), (b"1-1", {b"data": b'"poison"'}), entry(now, record, 2)]
        )
    labels = {"model": "fraud", "kind": "predictions"}
    assert registry.get_sample_value("mlmon_stream_entries_lost_total", labels) == 1
    (logged,) = [getattr(r, "entry", None) for r in caplog.records if "entry lost" in r.message]
    assert logged == "1-1"  # as `redis-cli XRANGE <key> 1-1 1-1` takes it, not b'1-1'
    assert registry.get_sample_value("mlmon_records_read_total", labels) == 2


def test_records_behind_an_entry_id_in_the_future_leave_the_window_on_time(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """One explicit ID an hour ahead made Redis stamp every later record of the stream there:
    they stayed in a 20 s window for the hour, and nothing said why."""
    now = [time.time()]
    m = model(window_seconds=20.0)
    p = ModelPipeline(m, LiveMetrics(CollectorRegistry(), [m]), SnapshotStore(), lambda: now[0])
    record = {"features": {"amount": 1.0}, "prediction": 1}
    with caplog.at_level(logging.WARNING, logger="exporter.pipeline"):
        p.ingest_predictions([entry(now[0] + 3600, record, seq) for seq in range(3)])
    assert len(p.window.view(now[0]).ts) == 3
    now[0] += 21
    assert len(p.window.view(now[0]).ts) == 0
    assert any("ahead of the clock" in r.getMessage() for r in caplog.records)


def test_labels_stamped_ahead_with_their_predictions_join_with_the_real_delay() -> None:
    """Both streams stuck 2 h ahead (Redis's clock corrected): only predictions were retimed,
    so a 1 h label horizon counted all ten labels unmatched."""
    now = time.time()
    m = model().model_copy(update={"labels": LabelsConfig(horizon_seconds=3600)})
    registry = CollectorRegistry()
    p = ModelPipeline(m, LiveMetrics(registry, [m]), SnapshotStore(), lambda: now)
    ahead = now + 7200
    p.ingest_predictions(
        [
            entry(ahead, {"id": f"r{i}", "features": {"amount": 1.0}, "prediction": 1}, i)
            for i in range(10)
        ]
    )
    p.ingest_labels([entry(ahead + 30, {"id": f"r{i}", "label": 1}, i) for i in range(10)])
    series = {"model": "fraud"}
    assert registry.get_sample_value("mlmon_labels_unmatched_total", series) == 0
    assert registry.get_sample_value("mlmon_label_delay_seconds_count", series) == 10


def test_redis_before_7_without_entries_added_degrades_to_unknown_counts() -> None:
    info = {"length": 3, "first-entry": (b"5000-0", {}), "last-generated-id": b"9000-0"}
    state = StreamState.of(info)
    gaps = GapTracker()
    gaps.baseline(b"s", state)
    assert gaps.skipped(b"s", state, b"1000-0", b"1000-0", 0) is None  # trimmed past us
    assert gaps.skipped(b"s", state, b"6000-0", b"6000-0", 0) == 0
    assert gaps.unread(b"s", state, b"6000-0") is None
    assert gaps.unread(b"s", state, b"9000-0") is None


def test_redis_errors_name_the_url_without_its_password_and_say_authentication() -> None:
    cfg = RedisConfig(url="redis://app:s3cret@cache:6380/0")
    message = describe(redis.AuthenticationError("invalid username-password pair"), cfg, "k")
    assert "redis://app:***@cache:6380/0" in message and "s3cret" not in message
    assert "authentication failed" in message and "(key k)" in message
    bulk = describe(redis.ConnectionError("Protocol error: unauthenticated bulk length"), cfg)
    assert "authentication failed" in bulk
    assert redacted_url("redis://cache:6379/0") == "redis://cache:6379/0"


def test_a_cluster_url_over_tls_accepts_a_tls_section() -> None:
    config = load_config_text(
        "redis: {url: 'rediss+cluster://node:7000', tls: {ca_file: ca.pem}}\n"
        "models:\n  - name: m\n    task: regression\n    reference: {redis_key: 'mlmon:{m}:ref'}\n"
        "    features: [{name: x, type: numeric}]\n",
        base_dir="/etc/mlmon",
    )
    assert config.redis.tls.ca_file is not None


def _snapshot(amount_drifted: bool) -> ModelSnapshot:
    drift = DriftValue("ks", 0.3 if amount_drifted else 0.01, None, 0.1, amount_drifted)
    return ModelSnapshot(
        model="fraud",
        evaluated_at=0.0,
        duration_seconds=0.0,
        window_samples=500,
        reference_samples=500,
        features=(FeatureSnapshot("amount", drift, 0.0),),
        drift_share=1.0 if amount_drifted else 0.0,
        dataset_drift=amount_drifted,
        prediction_drift=None,
        performance=(),
        reference_performance=(),
    )


def test_a_drift_decision_that_flips_is_logged_once_when_it_starts_and_when_it_ends(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.INFO, logger="exporter.pipeline"):
        log_drift_changes(None, _snapshot(False))
        log_drift_changes(_snapshot(False), _snapshot(True))
        log_drift_changes(_snapshot(True), _snapshot(True))
        log_drift_changes(_snapshot(True), _snapshot(False))
    assert [r.getMessage() for r in caplog.records] == [
        "model fraud: feature amount drift detected",
        "model fraud: dataset drift detected",
        "model fraud: feature amount drift cleared",
        "model fraud: dataset drift cleared",
    ]


def test_a_rebuild_does_not_count_the_values_it_folds_again() -> None:
    """A restart's replay counted every fold of the last day again: MLMonSeriesLimited fired
    for values sent hours before, and `increase()` doubled across the restart."""
    m = model().model_copy(
        update={
            "features": (FeatureConfig(name="country", type=FeatureType.CATEGORICAL),),
            "max_new_categories": 2,
        }
    )
    now = time.time()
    records = [{"features": {"country": f"c{i}"}, "prediction": 1} for i in range(6)]
    entries = [entry(now, r, seq) for seq, r in enumerate(records)]
    labels = {"model": "fraud", "kind": "category"}
    replayed = CollectorRegistry()
    pipeline(replayed, m).ingest_predictions(entries, count=False)
    assert replayed.get_sample_value("mlmon_series_limited_total", labels) == 0
    live = CollectorRegistry()
    pipeline(live, m).ingest_predictions(entries)
    assert live.get_sample_value("mlmon_series_limited_total", labels) == 4


def test_records_without_a_version_are_counted_from_zero_so_the_first_burst_is_an_increase() -> (
    None
):
    """mlmon_predictions_total and _errors_total appeared with a model's first records: a first
    burst of 200, half failing, read as increase() 0 and an error ratio of NaN, not 0.5."""
    registry = CollectorRegistry()
    LiveMetrics(registry, [model("fraud")])
    unknown = {"model": "fraud", "version": "unknown"}
    assert registry.get_sample_value("mlmon_predictions_total", unknown) == 0
    assert registry.get_sample_value("mlmon_prediction_errors_total", unknown) == 0
    assert registry.get_sample_value("mlmon_predictions_estimated_total", unknown) == 0


def test_a_rejected_record_names_its_entry_and_stream_in_the_log_once_per_reason(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Thirty labels with a text ts were counted under bad_timestamp with no kind and no
    log line at any level: nobody could tell which stream, let alone which entry."""
    p = pipeline(CollectorRegistry())
    now = time.time()
    with caplog.at_level(logging.WARNING, logger="exporter.pipeline"):
        p.ingest_labels(
            [entry(now, {"id": "a", "label": 1, "ts": "2026-01-01"}, i) for i in range(3)]
        )
        p.ingest_predictions(
            [entry(now, {"id": "b", "features": {"amount": "x"}, "prediction": 1})]
        )
    said = [r.getMessage() for r in caplog.records if "rejected" in r.getMessage()]
    assert len(said) == 2
    assert f"entry {int(now * 1000)}-0 of stream 'mlmon:{{fraud}}:labels'" in said[0]
    assert "(bad_timestamp)" in said[0] and "a labels record" in said[0]
    assert "'mlmon:{fraud}:predictions'" in said[1] and "(bad_feature_value)" in said[1]
