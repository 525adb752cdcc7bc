"""A reload that changes a model builds it a new pipeline; the counters a user sees go on
as if it had not: held labels still end counted, version slots and class series stay bounded.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path

import numpy as np
import orjson
from prometheus_client import CollectorRegistry

from exporter.config import ModelConfig, ReferenceConfig, StreamsConfig, WindowConfig
from exporter.daemon import Daemon
from exporter.daemon.handover import hand_over
from exporter.daemon.pipeline import ModelPipeline
from exporter.evaluate.snapshot import SnapshotStore
from exporter.expose.live import LiveMetrics
from exporter.stats.kinds import Task
from exporter.window.early import EARLY_SECONDS
from tests.conftest import RedisServer, free_port, settles_at, wait_for
from tests.helpers import (
    Clock,
    model_yaml,
    records,
    reloadable,
    sample,
    value,
    write_reference,
    xadd_all,
)

MULTICLASS = """
  - name: m
    task: multiclass_classification
    reference: {file: classes.csv}
    max_new_categories: 2
    window: {duration: 1d}
    schedule: {interval: 1s}
    features:
      - {name: x1, type: numeric}
"""


def _write_config(path: Path, redis_server: RedisServer, section: str) -> None:
    path.write_text(
        f"redis: {{url: '{redis_server.url}', backoff_max: 1s}}\n"
        f"web: {{listen_address: '127.0.0.1:{free_port()}'}}\nmodels:" + section
    )


@contextmanager
def _daemon(
    tmp_path: Path, redis_server: RedisServer, section: str, clock: Clock | None = None
) -> Iterator[tuple[Daemon, Path]]:
    """A started in-process daemon over one model `m`, and its config file to edit."""
    rng = np.random.default_rng(21)
    write_reference(tmp_path / "ref.csv", sample(rng, 500))
    rows = [
        f"{x!r},{c},{c}" for x, c in zip(rng.normal(size=300).tolist(), "abc" * 100, strict=True)
    ]
    (tmp_path / "classes.csv").write_text("\n".join(["x1,prediction,label", *rows]) + "\n")
    path = tmp_path / "config.yaml"
    _write_config(path, redis_server, section)
    with reloadable(path, clock) as daemon:
        yield daemon, path


def _reload_changed(daemon: Daemon, path: Path, old: str, new: str) -> None:
    """Edit the model's section and reload: the model gets a new pipeline."""
    replaced = daemon.pipelines[0]
    path.write_text(path.read_text().replace(old, new, 1))
    assert daemon.reload()
    assert daemon.pipelines[0] is not replaced
    wait_for(daemon.reader.backfilled.is_set, 30, what="backfill after the reload")


def _versioned(version: str, start: int, n: int) -> list[bytes]:
    rows = records(sample(np.random.default_rng(start), n), start=start)
    return [orjson.dumps({**orjson.loads(row), "version": version}) for row in rows]


def _predicted_classes(daemon: Daemon) -> set[str]:
    return {
        s.labels["predicted"]
        for family in daemon.registry.collect()
        for s in family.samples
        if s.name == "mlmon_labeled_predictions_total"
    }


def test_labels_waiting_for_their_prediction_across_a_reload_end_counted_unmatched(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    """The new pipeline's replay held them as counted before, so their end counted nothing:
    labels_total 200, joined 0, unmatched 0, and ~80 labels lost per reload of a busy model."""
    clock = Clock(time.time())
    with _daemon(tmp_path, redis_server, model_yaml("m"), clock) as (daemon, path):
        labels = [orjson.dumps({"id": f"orphan-{i}", "label": 1.0}) for i in range(20)]
        xadd_all(redis_server.client(), "mlmon:{m}:labels", labels)
        settles_at(lambda: value(daemon, "mlmon_labels_total", model="m"), 20, what="labels")
        _reload_changed(daemon, path, "max: 2.0", "max: 3.0")
        assert value(daemon, "mlmon_labels_unmatched_total", model="m") == 0  # still waiting
        clock.now += EARLY_SECONDS + 1  # their predictions never came: the next evaluation
        settles_at(
            lambda: value(daemon, "mlmon_labels_unmatched_total", model="m"),
            20,
            what="labels unmatched once their wait is over",
        )
        assert value(daemon, "mlmon_labels_total", model="m") == 20


def test_versions_gone_before_a_reload_give_their_slots_to_a_new_version(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    """The live slots outlived the reload while the new window never saw their versions, so
    none was given back: every v2 record counted under __other__ and series_limited grew."""
    section = model_yaml("m").replace("task: regression", "task: regression\n    max_versions: 2")
    with _daemon(tmp_path, redis_server, section) as (daemon, path):
        client = redis_server.client()
        xadd_all(
            client, "mlmon:{m}:predictions", _versioned("v0", 0, 50) + _versioned("v1", 50, 50)
        )
        read = lambda: value(daemon, "mlmon_records_read_total", model="m", kind="predictions")  # noqa: E731
        settles_at(read, 100, what="v0 and v1 read")
        client.xtrim("mlmon:{m}:predictions", maxlen=0)  # the producer trims: none replayed
        _reload_changed(daemon, path, "max: 2.0", "max: 3.0")
        xadd_all(client, "mlmon:{m}:predictions", _versioned("v2", 100, 30))
        settles_at(read, 130, what="v2 read")
        assert value(daemon, "mlmon_predictions_total", model="m", version="v2") == 30
        for gone in ("v0", "v1", "__other__"):
            assert value(daemon, "mlmon_predictions_total", model="m", version=gone) is None
        assert value(daemon, "mlmon_series_limited_total", model="m", kind="version") == 0


def test_a_reload_keeps_the_classes_named_so_new_classes_fold_into_other(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    """Each new join named its first max_new_categories classes afresh while the counter kept
    the old ones: 6, 11, 16, 21 predicted values over three reloads with a cap of 5."""
    with _daemon(tmp_path, redis_server, MULTICLASS) as (daemon, path):
        client = redis_server.client()
        for round_, interval in enumerate(("1s", "2s")):
            ids = [f"r{round_}-{i}" for i in range(6)]
            predictions = [
                orjson.dumps(
                    {"id": id_, "features": {"x1": 0.1}, "prediction": f"r{round_}c{i % 3}"}
                )
                for i, id_ in enumerate(ids)
            ]
            xadd_all(client, "mlmon:{m}:predictions", predictions)
            labels = [orjson.dumps({"id": id_, "label": "a"}) for id_ in ids]
            xadd_all(client, "mlmon:{m}:labels", labels)
            settles_at(
                lambda: value(daemon, "mlmon_labels_total", model="m"),
                6 * (round_ + 1),
                what="labels",
            )
            if round_ == 0:
                named = _predicted_classes(daemon)  # two of r0c0-r0c2, and __other__
                assert len(named) == 3 and "__other__" in named
                for stream in ("predictions", "labels"):  # none replayed: names from the join
                    client.xtrim(f"mlmon:{{m}}:{stream}", maxlen=0)
                _reload_changed(daemon, path, f"interval: {interval}", "interval: 2s")
        assert _predicted_classes(daemon) == named
        assert (
            value(
                daemon,
                "mlmon_labeled_predictions_total",
                model="m",
                actual="__other__",
                predicted="__other__",
            )
            == 2 + 6
        )


def test_a_value_a_reload_adds_to_allowed_is_allowed_though_new_values_filled_the_cap(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    """The new window gave the junk replayed first both new-category slots, so the value
    now allowed but absent from the reference folded into __other__ and stayed unseen."""
    section = model_yaml("m").replace("categorical}", "categorical, allowed: [a, b, c, d]}", 1)
    section = section.replace("task: regression", "task: regression\n    max_new_categories: 2")
    data = sample(np.random.default_rng(3), 50)
    data["c1"] = np.array(["j0", "j1", "j2", *["e"] * 10, *data["c1"][13:]])
    with _daemon(tmp_path, redis_server, section) as (daemon, path):
        xadd_all(redis_server.client(), "mlmon:{m}:predictions", records(data))
        unseen = partial(value, daemon, "mlmon_feature_unseen_category_ratio", model="m")
        wait_for(lambda: unseen(feature="c1") == 13 / 50, 30, what="j0-j2 and e unseen")
        _reload_changed(daemon, path, "allowed: [a, b, c, d]", "allowed: [a, b, c, d, e]")
        wait_for(lambda: unseen(feature="c1") == 3 / 50, 30, what="only j0-j2 unseen")


def _pipeline(clock: Clock) -> tuple[ModelPipeline, LiveMetrics, CollectorRegistry]:
    """A multiclass model's pipeline, as built before a reload."""
    model = ModelConfig(
        name="m",
        task=Task.MULTICLASS,
        features=(),
        streams=StreamsConfig(predictions="p", labels="l"),
        reference=ReferenceConfig(file="x"),
        window=WindowConfig(duration_seconds=3600),
    )
    registry = CollectorRegistry()
    live = LiveMetrics(registry, [model])
    return ModelPipeline(model, live, SnapshotStore(), clock), live, registry


def _entries(clock: Clock, *records: dict[str, object]) -> list[tuple[bytes, dict[bytes, bytes]]]:
    at = int(clock.now * 1000)
    return [(f"{at}-{i}".encode(), {b"data": orjson.dumps(r)}) for i, r in enumerate(records)]


def test_a_held_label_whose_wait_ends_during_the_rebuild_is_counted_after_it() -> None:
    """A replay's expiries are not counted: a handed-over label whose grace ended while the
    new window was rebuilt ended there uncounted."""
    clock = Clock(1_700_000_000.0)
    old, live, registry = _pipeline(clock)
    old.ingest_labels(_entries(clock, {"id": "early", "label": "b"}))
    changed = old.model.model_copy(update={"max_versions": 3})
    new = ModelPipeline(changed, live, SnapshotStore(), clock)
    hand_over([old], [new], live)
    clock.now += EARLY_SECONDS + 1
    replayed = _entries(clock, {"id": "p1", "features": {}, "prediction": "a"})
    new.ingest_predictions(replayed, count=False)
    new.ingest_labels(_entries(clock, {"id": "early", "label": "b"}), count=False)
    new.ingest_predictions(_entries(clock, {"id": "p2", "features": {}, "prediction": "a"}))
    assert registry.get_sample_value("mlmon_labels_total", {"model": "m"}) == 1
    assert registry.get_sample_value("mlmon_labels_unmatched_total", {"model": "m"}) == 1


def test_a_reload_that_makes_a_model_regression_ends_its_held_labels_and_class_series() -> None:
    """A held class label cannot wait in a regression join: it ends unmatched at the reload,
    and the class series, which nothing would count again, go."""
    clock = Clock(1_700_000_000.0)
    old, live, registry = _pipeline(clock)
    model = old.model
    entries = partial(_entries, clock)

    old.ingest_predictions(entries({"id": "p1", "features": {}, "prediction": "a"}))
    old.ingest_labels(entries({"id": "p1", "label": "a"}, {"id": "early", "label": "b"}))
    labeled = {"model": "m", "actual": "a", "predicted": "a"}
    assert registry.get_sample_value("mlmon_labeled_predictions_total", labeled) == 1
    regression = model.model_copy(update={"task": Task.REGRESSION})
    hand_over([old], [ModelPipeline(regression, live, SnapshotStore(), clock)], live)
    assert registry.get_sample_value("mlmon_labels_total", {"model": "m"}) == 2
    assert registry.get_sample_value("mlmon_labels_unmatched_total", {"model": "m"}) == 1
    assert registry.get_sample_value("mlmon_labeled_predictions_total", labeled) is None
