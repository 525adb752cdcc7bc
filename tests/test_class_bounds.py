"""Class text is bounded before the label join keeps it: one hostile record cannot make an
evaluation allocate gigabytes, nor many distinct classes make the estimate quadratic."""

from __future__ import annotations

import tracemalloc

import orjson

from exporter.daemon.pipeline import ModelPipeline
from exporter.evaluate.estimate import estimate
from exporter.evaluate.performance import realised
from exporter.stats.kinds import Task
from exporter.window.classnames import ClassNames
from exporter.window.vocab import OTHER
from tests.helpers import classifier_pipeline

T0 = 1_700_000_000.0
LONG = "x" * 100_000  # one record's class text; max_entry_bytes allows 512 KiB


def _pipeline(classes: tuple[str, ...] | None = None) -> ModelPipeline:
    return classifier_pipeline(Task.MULTICLASS, classes, 2000, lambda: T0 + 1)[0]


def _entry(seq: int, record: dict[str, object]) -> tuple[bytes, dict[bytes, bytes]]:
    return f"{int(T0 * 1000)}-{seq}".encode(), {b"data": orjson.dumps(record)}


def _scores(predicted: str) -> dict[str, float]:
    return {predicted: 0.7, "a": 0.3} if predicted != "a" else {"a": 0.7, "b": 0.3}


def test_one_huge_class_in_a_prediction_and_a_label_is_kept_as_other() -> None:
    """Kept raw, 2,000 rows and one 100 KB class became 800 MB string arrays in evaluation."""
    pipeline = _pipeline()
    classes = [LONG if i == 7 else "ab"[i % 2] for i in range(2000)]
    pipeline.ingest_predictions(
        [
            _entry(i, {"id": f"r{i}", "features": {}, "prediction": c, "scores": _scores(c)})
            for i, c in enumerate(classes)
        ]
    )
    pipeline.ingest_labels([_entry(2000 + i, {"id": f"r{i}", "label": LONG}) for i in range(50)])
    pairs = pipeline.join.pairs(T0 + 1)
    assert max(map(len, map(str, pairs.window_predicted))) <= 128
    assert OTHER in pairs.window_predicted and OTHER in pairs.actual
    assert max(map(len, map(str, pairs.predicted + pairs.actual))) <= 128
    tracemalloc.start()
    try:
        model = pipeline.model
        estimate(model, None, pairs.window_predicted, pairs.window_scores)
        realised(model, pairs.predicted, pairs.actual, pairs.scores, pairs.classes)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 50e6


def test_thousands_of_distinct_predicted_classes_fold_past_the_cap() -> None:
    """Each distinct class was a column of the estimate's score matrix: 8,000 of them took
    9 s and 1.7 GB per evaluation."""
    pipeline = _pipeline()
    pipeline.ingest_predictions(
        [
            _entry(i, {"id": f"r{i}", "features": {}, "prediction": f"c{i}", "scores": {"a": 1}})
            for i in range(2000)
        ]
    )
    predicted = pipeline.join.pairs(T0 + 1).window_predicted
    assert OTHER in predicted and len(set(predicted)) <= pipeline.model.max_new_categories + 1


def test_score_keys_outside_the_classes_add_up_under_other() -> None:
    model = _pipeline().model.model_copy(update={"classes": ("a", "b")})
    names = ClassNames(model)
    scores = {"a": 0.2, "c": 0.25, "b": 0.3, LONG: 0.25}
    assert dict(zip(*names.compact(scores), strict=True)) == {"a": 0.2, OTHER: 0.5, "b": 0.3}
    assert dict(zip(*names.compact({"b": 0.4, "a": 0.6}), strict=True)) == {"a": 0.6, "b": 0.4}


def test_two_classes_that_both_fold_into_other_are_still_a_wrong_prediction() -> None:
    """Folded to one name, predicting c for a true d counted as correct: accuracy 1.0 for
    0.02, and the error-rate change detector was fed no error."""
    pipeline = _pipeline(classes=("a", "b"))
    records = [{"id": "w0", "prediction": "a"}, {"id": "w1", "prediction": "b"}]
    records += [{"id": f"k{i}", "prediction": "c"} for i in range(100)]
    pipeline.ingest_predictions([_entry(i, {**r, "features": {}}) for i, r in enumerate(records)])
    labels = [{"id": "w0", "label": "a"}, {"id": "w1", "label": "b"}]
    labels += [{"id": f"k{i}", "label": "d"} for i in range(100)]
    joined = pipeline.join.join(
        [pipeline._decoder.labels(*_entry(200 + i, r)).records[0] for i, r in enumerate(labels)]
    )
    assert joined.errors == (0.0, 0.0) + (1.0,) * 100
    assert joined.classes[2:] == ((OTHER, OTHER),) * 100  # the counters pool them
    pairs = pipeline.join.pairs(T0 + 1)
    metrics = dict(
        realised(pipeline.model, pairs.predicted, pairs.actual, (), pairs.classes).metrics
    )
    assert metrics["accuracy"] == 2 / 102


def test_a_held_label_keeps_its_long_class_as_a_short_digest_that_still_joins() -> None:
    """Held raw, 10,000 labels of 100 KB waiting for their predictions took a gigabyte."""
    pipeline = _pipeline()
    pipeline.ingest_labels([_entry(0, {"id": "r0", "label": LONG})])
    held = pipeline.join._early._held  # the label waits for its prediction
    assert max(len(str(label.label)) for _, label, _ in held.values()) <= 128
    record = {"id": "r0", "features": {}, "prediction": LONG, "scores": _scores(LONG)}
    pipeline.ingest_predictions([_entry(1, record)])
    assert pipeline.join.pairs(T0 + 1).actual == (OTHER,)  # joined, as a correct prediction


def test_a_wrong_prediction_folded_into_other_averages_as_other_not_as_a_class_of_its_own() -> None:
    """Predicting c for a true d (both `__other__`) was counted under a pseudo-class of
    precision 0, so precision_macro averaged four classes: 0.5 where a, b and __other__ give
    (1 + 1 + 0) / 3."""
    pipeline = _pipeline(classes=("a", "b"))
    truth = ["a"] * 10 + ["b"] * 10 + ["a"] * 5 + ["d"] * 5
    guess = ["a"] * 10 + ["b"] * 10 + ["c"] * 10
    records = [{"id": f"r{i}", "prediction": p, "features": {}} for i, p in enumerate(guess)]
    pipeline.ingest_predictions([_entry(i, r) for i, r in enumerate(records)])
    labels = [{"id": f"r{i}", "label": t} for i, t in enumerate(truth)]
    pipeline.join.join(
        [pipeline._decoder.labels(*_entry(100 + i, r)).records[0] for i, r in enumerate(labels)]
    )
    pairs = pipeline.join.pairs(T0 + 1)
    result = realised(pipeline.model, pairs.predicted, pairs.actual, (), pairs.classes)
    metrics = dict(result.metrics)
    assert metrics["accuracy"] == 20 / 30
    assert metrics["precision_macro"] == (1 + 1 + 0) / 3
    assert metrics["recall_macro"] == (10 / 15 + 1 + 0) / 3
    assert {c for c, _, _ in result.per_class} <= {"a", "b", OTHER}
