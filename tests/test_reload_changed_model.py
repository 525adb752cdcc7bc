"""A reload that changes a model builds it a new pipeline; the counters a user sees go on
as if it had not: held labels still end counted, version slots and class series stay bounded.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import orjson
from prometheus_client import CollectorRegistry

from exporter.config import load_config
from exporter.daemon import Daemon
from exporter.window.early import EARLY_SECONDS
from tests.conftest import RedisServer, free_port, settles_at, wait_for
from tests.helpers import Clock, model_yaml, records, sample, value, write_reference, xadd_all


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
    daemon = Daemon(
        load_config(str(path)),
        registry=CollectorRegistry(),
        config_path=str(path),
        clock=clock or time.time,
    )
    daemon.start()
    try:
        wait_for(daemon.reader.backfilled.is_set, 30, what="backfill")
        yield daemon, path
    finally:
        daemon.stop()


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
