"""Sequential change detection: fast on a real drop in accuracy, rare on stationary data, and
rebuilt exactly when the exporter is killed and restarted."""

from __future__ import annotations

import math
import signal
import time
from pathlib import Path

import numpy as np
import orjson
import pytest
from prometheus_client import CollectorRegistry

from exporter.config import load_config_text
from exporter.daemon.change import TailWatch, error_detector, feed, tail_watches
from exporter.daemon.pipeline import ModelPipeline
from exporter.evaluate.fit import fit_reference
from exporter.evaluate.snapshot import SnapshotStore
from exporter.expose.live import LiveMetrics
from exporter.reference.data import ReferenceData
from exporter.stats.change import DEFAULT_THRESHOLD, BernoulliCusum, Cusum
from exporter.web import pages
from tests.conftest import RedisServer, free_port, wait_for
from tests.helpers import xadd_all
from tests.test_lifecycle import _get, _sample, exporter

RUNS = 100
CHANGE_AT = 5000


def _first_detection_after_the_change(seed: int) -> int | None:
    """Records from the change to the first detection after it, accuracy 0.90 -> 0.80."""
    rng = np.random.default_rng(seed)
    detector = BernoulliCusum(DEFAULT_THRESHOLD, p0=0.10, p1=0.20)
    detector.events(rng.random(CHANGE_AT) < 0.10)
    found = detector.events(rng.random(5000) < 0.20)
    return found[0] if found else None


def test_accuracy_dropping_from_90_to_80_percent_is_detected_within_1000_labels_in_90_of_100() -> (
    None
):
    delays = [_first_detection_after_the_change(seed) for seed in range(RUNS)]
    within = sum(d is not None and d < 1000 for d in delays)
    assert within >= 90, delays


def test_a_million_stationary_labels_give_no_more_false_detections_than_documented() -> None:
    """Wald's bound: at most one per e**threshold records on average; 1e6 / e**11.5 is 10."""
    rng = np.random.default_rng(7)
    detector = BernoulliCusum(DEFAULT_THRESHOLD, p0=0.10, p1=0.20)
    for _ in range(10):
        detector.events(rng.random(100_000) < 0.10)
    assert detector.detections <= 1_000_000 / math.exp(DEFAULT_THRESHOLD)


def test_a_cusum_fed_a_whole_batch_crosses_where_one_fed_record_by_record_does() -> None:
    rng = np.random.default_rng(3)
    for _ in range(300):
        threshold = float(rng.uniform(0.5, 12.0))  # low ones cross often: the dense path
        steps = rng.normal(rng.uniform(-1.0, 1.0), rng.uniform(0.1, 3.0), int(rng.integers(300)))
        start = float(rng.uniform(0.0, threshold))
        batch, single = Cusum(threshold, start), Cusum(threshold, start)
        found = batch.feed(steps)
        assert found == [i for i, step in enumerate(steps) if single.feed(np.array([step]))]
        assert batch.statistic == pytest.approx(single.statistic, abs=1e-9)
        assert batch.detections == single.detections == len(found)


def _reference(path: Path, rng: np.random.Generator) -> None:
    truth = rng.random(4000) < 0.5
    predicted = np.where(rng.random(4000) < 0.9, truth, ~truth)
    lines = ["x,prediction,label"] + [
        f"{x!r},{int(p)},{int(t)}"
        for x, p, t in zip(rng.normal(0, 1, 4000).tolist(), predicted, truth, strict=True)
    ]
    path.write_text("\n".join(lines) + "\n")


def _feed(
    server: RedisServer, rng: np.random.Generator, start: int, n: int, accuracy: float
) -> None:
    truth = rng.random(n) < 0.5
    predicted = np.where(rng.random(n) < accuracy, truth, ~truth)
    ids = [f"r{start + i}" for i in range(n)]
    xadd_all(
        server.client(),
        "mlmon:{m}:predictions",
        [
            orjson.dumps({"id": i, "features": {"x": 0.0}, "prediction": int(p)})
            for i, p in zip(ids, predicted, strict=True)
        ],
    )
    xadd_all(
        server.client(),
        "mlmon:{m}:labels",
        [orjson.dumps({"id": i, "label": int(t)}) for i, t in zip(ids, truth, strict=True)],
    )


CONFIG = """redis: {{url: '{url}', backoff_max: 1s}}
web: {{listen_address: '127.0.0.1:{port}'}}
models:
  - name: m
    task: binary_classification
    positive_class: "1"
    reference: {{file: ref.csv}}
    window: {{duration: 1d, max_samples: 5000}}
    labels: {{horizon: 1d}}
    schedule: {{interval: 1s}}
    features: [{{name: x, type: numeric}}]
"""
SERIES = '{model="m",signal="error"}'
DETECTIONS = "mlmon_change_detections_total" + SERIES
STATISTIC = "mlmon_change_statistic" + SERIES
LAST = "mlmon_change_last_timestamp_seconds" + SERIES


def test_a_detection_survives_sigkill_and_restart_neither_lost_nor_counted_twice(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    """The restarted exporter replays the streams' tails: the same statistic and time of the
    last change, and no detection counted again (a counter that restarts at 0 does not add
    the old detections to increase() a second time)."""
    rng = np.random.default_rng(11)
    _reference(tmp_path / "ref.csv", rng)
    port = free_port()
    path = tmp_path / "config.yaml"
    path.write_text(CONFIG.format(url=redis_server.url, port=port))
    read = 'mlmon_labels_total{model="m"}'
    seen = []
    for run in range(2):
        with exporter(path) as proc:
            wait_for(lambda: _get(port, "/readyz")[0] == 200, 60, 0.2, "readiness")
            if run == 0:  # read live, then replayed after the restart
                _feed(redis_server, rng, 0, 2000, 0.9)
                _feed(redis_server, rng, 2000, 2000, 0.75)
                wait_for(lambda: _sample(port, read) == 4000, 60, 0.2, "every label read")
                detections = _sample(port, DETECTIONS)
                assert detections is not None and detections >= 1
            else:
                wait_for(lambda: _sample(port, LAST) is not None, 60, 0.2, "the replay")
                assert _sample(port, DETECTIONS) == 0
            seen.append((_sample(port, STATISTIC), _sample(port, LAST)))
            proc.send_signal(signal.SIGKILL)
            proc.wait(10)
    assert seen[0][1] is not None and seen[0][1] > 0
    # The same statistic, to rounding: live reads and the replay feed it in different batches.
    assert seen[1] == pytest.approx(seen[0], rel=1e-12)


def _regression_reference(rng: np.random.Generator, n: int) -> ReferenceData:
    truth = rng.normal(10, 3, n)
    prediction = truth + rng.exponential(1.0, n) * rng.choice([-1, 1], n)
    numeric = {"x": rng.normal(0, 1, n)}
    return ReferenceData(
        n, numeric, {}, tuple(prediction.tolist()), None, tuple(truth.tolist()), "regression"
    )


def test_a_regressors_detector_stays_calibrated_on_heavy_tailed_errors() -> None:
    """Absolute errors with an exponential tail: counting those past the reference's 90th
    percentile keeps the Bernoulli bound, where a Gaussian CUSUM on the errors gave 134 false
    detections per million."""
    rng = np.random.default_rng(12)
    model = load_config_text(
        "models: [{name: r, task: regression, reference: {file: x.csv},"
        " features: [{name: x, type: numeric}]}]"
    ).models[0]
    reference = _regression_reference(rng, 20_000)
    fitted = fit_reference(model, reference)
    detector = error_detector(model, fitted)
    assert detector is not None and fitted.error_baseline is not None
    for _ in range(10):
        feed(detector, fitted, rng.exponential(1.0, 100_000))
    assert detector.detections <= 1_000_000 / math.exp(DEFAULT_THRESHOLD)
    assert feed(detector, fitted, rng.exponential(1.6, 2000))  # twice as many past the cut


def test_the_model_page_shows_the_detector_and_when_it_last_found_a_change(tmp_path: Path) -> None:
    rng = np.random.default_rng(13)
    _reference(tmp_path / "ref.csv", rng)
    text = CONFIG.format(url="redis://127.0.0.1:1/0", port=free_port())
    model = load_config_text(text, base_dir=str(tmp_path)).models[0]
    store = SnapshotStore()
    pipeline = ModelPipeline(model, LiveMetrics(CollectorRegistry(), [model]), store)
    pipeline.evaluate(None)  # fits the reference, and with it the detector
    start = int(time.time() * 1000) - 10_000
    entries, labels = [], []
    for i in range(3000):
        truth = int(rng.random() < 0.5)
        predicted = truth if rng.random() < (0.9 if i < 1000 else 0.7) else 1 - truth
        entry = f"{start + i}-0".encode()
        entries.append(
            (
                entry,
                {
                    b"data": orjson.dumps(
                        {"id": f"p{i}", "features": {"x": 0.0}, "prediction": predicted}
                    )
                },
            )
        )
        labels.append((entry, {b"data": orjson.dumps({"id": f"p{i}", "label": truth})}))
    pipeline.ingest_predictions(entries)
    pipeline.ingest_labels(labels)
    assert pipeline.evaluate(None)
    response = pages.render("/models/m", "application/json", store, ["m"])
    assert response is not None
    change = orjson.loads(response[2])["change"]
    assert change["threshold"] == DEFAULT_THRESHOLD
    assert change["last_change"] is not None and change["last_change"] >= (start + 1000) / 1000
    html = pages.render("/models/m", "text/html", store, ["m"])
    assert html is not None and "change detector on labelled errors" in html[2].decode()


def _watch(rng: np.random.Generator) -> TailWatch:
    model = load_config_text(
        "models: [{name: r, task: regression, reference: {file: x.csv},"
        " features: [{name: x, type: numeric}], change: {features: [x]}}]"
    ).models[0]
    data = ReferenceData(20_000, {"x": rng.lognormal(0, 1, 20_000)}, {}, None, None, None, "t")
    return tail_watches(model, data)["x"]


def test_a_watched_feature_keeps_the_bound_on_skewed_data_and_sees_a_shift_either_way() -> None:
    rng = np.random.default_rng(14)
    watch = _watch(rng)
    found = sum(len(watch.feed(rng.lognormal(0, 1, 100_000))) for _ in range(10))
    assert found <= 2 * 1_000_000 / math.exp(DEFAULT_THRESHOLD)  # one bound per side
    assert watch.feed(rng.lognormal(0.5, 1, 2000))
    assert _watch(rng).feed(rng.lognormal(-0.5, 1, 2000))


def test_a_new_reference_with_another_error_level_serves_its_new_detectors_statistic() -> None:
    """The scrape kept the replaced detector's statistic (9.0 of 11.5 after 13 wrong
    predictions) until the next label, hours later for slow labellers, while the model page
    showed the new detector's 0: a near-alarm that no longer existed."""
    rng = np.random.default_rng(14)
    text = CONFIG.format(url="redis://127.0.0.1:1/0", port=free_port())
    model = load_config_text(text, base_dir="/nonexistent").models[0]
    registry = CollectorRegistry()
    pipeline = ModelPipeline(model, LiveMetrics(registry, [model]), SnapshotStore())

    def reference(accuracy: float) -> ReferenceData:
        truth = (rng.random(4000) < 0.5).astype(int)
        predicted = np.where(rng.random(4000) < accuracy, truth, 1 - truth)
        labels = (tuple(predicted.astype(str).tolist()), tuple(truth.astype(str).tolist()))
        return ReferenceData(
            4000, {"x": rng.normal(0, 1, 4000)}, {}, labels[0], None, labels[1], f"r{accuracy}"
        )

    pipeline.fit(reference(0.9))
    start = int(time.time() * 1000) - 10_000
    for i in range(13):  # each one wrong
        entry = f"{start + i}-0".encode()
        record = {"id": f"p{i}", "features": {"x": 0.0}, "prediction": 1}
        pipeline.ingest_predictions([(entry, {b"data": orjson.dumps(record)})])
        pipeline.ingest_labels([(entry, {b"data": orjson.dumps({"id": f"p{i}", "label": 0})})])
    climbed = registry.get_sample_value(*_series(STATISTIC))
    assert climbed is not None and climbed > 5
    pipeline.fit(reference(0.8))  # a new error level: a new detector
    assert registry.get_sample_value(*_series(STATISTIC)) == 0.0


def _series(name: str) -> tuple[str, dict[str, str]]:
    """A sample's name and labels, as get_sample_value takes them, from `name{...}`."""
    family, _, labels = name.partition("{")
    pairs = (item.split("=") for item in labels.rstrip("}").split(","))
    return family, {key: value.strip('"') for key, value in pairs}


def _labelled_batches(
    rng: np.random.Generator, start_ms: int, entries: int, size: int
) -> tuple[list[tuple[bytes, dict[bytes, bytes]]], list[tuple[str, int]]]:
    """Prediction entries of a healthy model that misses half of the 5 % positives and a fifth
    of the negatives, as its reference does; and each prediction's id and true label."""
    out, truths = [], []
    for k in range(entries):
        records = []
        for i in range(k * size, (k + 1) * size):
            truth = int(rng.random() < 0.05)
            predicted = truth if rng.random() < (0.5 if truth else 0.8) else 1 - truth
            records.append({"id": f"p{i}", "features": {"x": 0.0}, "prediction": predicted})
            truths.append((f"p{i}", truth))
        out.append((f"{start_ms + k}-0".encode(), {b"batch": orjson.dumps(records)}))
    return out, truths


def test_a_daily_label_batch_written_chargebacks_first_sets_off_no_error_detection(
    tmp_path: Path,
) -> None:
    """20,000 labels of a healthy model in one read, the positives (chargebacks) first: fed
    in that order the detector saw 1,000 positives erring at 0.5 against a usual 0.2 and
    counted 10 changes; by prediction time alone, 8, as each 5,000-record entry stamps its
    records alike. The model made them in the entries' order, which is healthy."""
    rng = np.random.default_rng(15)
    truth = rng.random(4000) < 0.05
    predicted = np.where(rng.random(4000) < np.where(truth, 0.5, 0.8), truth, ~truth)
    rows = [f"0.0,{int(p)},{int(t)}" for p, t in zip(predicted, truth, strict=True)]
    (tmp_path / "ref.csv").write_text("\n".join(["x,prediction,label", *rows]) + "\n")
    text = CONFIG.format(url="redis://127.0.0.1:1/0", port=free_port())
    model = load_config_text(text, base_dir=str(tmp_path)).models[0]
    registry = CollectorRegistry()
    pipeline = ModelPipeline(model, LiveMetrics(registry, [model]), SnapshotStore())
    assert pipeline.evaluate(None)  # fits the reference, and with it the detector
    start = int(time.time() * 1000) - 60_000
    entries, truths = _labelled_batches(rng, start, 4, 5000)
    pipeline.ingest_predictions(entries)
    batch = [{"id": i, "label": y} for i, y in sorted(truths, key=lambda pair: -pair[1])]
    pipeline.ingest_labels(  # one read of the batch's four entries
        [
            (f"{start + 100}-{k}".encode(), {b"batch": orjson.dumps(batch[k : k + 5000])})
            for k in range(0, 20_000, 5000)
        ]
    )
    assert registry.get_sample_value("mlmon_labels_total", {"model": "m"}) == 20_000
    assert registry.get_sample_value(*_series(DETECTIONS)) == 0
