"""The demo's /metrics, from a seeded run on a fixed clock, equals the committed golden copy.

Refactors promise no behaviour change; this pins every series name, label set and value the
demo exposes. Regenerate on purpose with `UPDATE_GOLDEN=1 pytest tests/test_golden_metrics.py`.
"""

from __future__ import annotations

import functools
import math
import os
import re
import subprocess
import urllib.request
from pathlib import Path

import fakeredis
import numpy as np
import orjson
from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families

from exporter import REVISION_ENV
from exporter.daemon import Daemon
from exporter.demo.runner import demo_config
from exporter.demo.simulate import SIMS, reference_csv
from exporter.reference.load import store_in_redis
from tests.conftest import require_tool

GOLDEN = Path(__file__).parent / "golden" / "demo_metrics.txt"
START = 1_800_000_000.0
TICKS = 400  # 100 s of demo traffic at 4 ticks a second, 25 records a tick per model
DRIFT_TICK = 240
# Series whose value is a wall-clock time or a duration: only their presence is compared.
TIMED = re.compile(
    r"timestamp|duration|_seconds_(sum|count|bucket)|mlmon_exposition_render|^process_"
)
# Labels that name the interpreter running the test: only their presence is compared.
INTERPRETER = {"python_version", "version", "major", "minor", "patchlevel", "implementation"}


def _entries(model: str, rng: np.random.Generator) -> tuple[list, list]:
    """Prediction and label entries as the demo producer writes them, on a fixed clock."""
    predictions, labels = [], []
    for tick in range(TICKS):
        now = START + tick * 0.25
        ms = int(now * 1000)
        for i in range(25):
            row = SIMS[model].row(rng, drifting=model == "fraud" and tick >= DRIFT_TICK)
            record_id = f"{model}-{tick}-{i}"
            label = row.pop("label")
            record = {"id": record_id, "ts": now, "latency_ms": 20.0 + i, "status": "ok", **row}
            record["version"] = "v2" if i % 10 == 0 else "v1"
            predictions.append((f"{ms}-{i}".encode(), {b"data": orjson.dumps(record)}))
            payload = orjson.dumps({"id": record_id, "label": label})
            labels.append((f"{ms + 5000}-{i}".encode(), {b"data": payload}))
    return predictions, labels


@functools.cache
def _body() -> str:
    """Run the demo config through the daemon's pipelines and read its text exposition."""
    os.environ.pop(REVISION_ENV, None)  # the golden copy pins revision="unknown"
    config = demo_config("redis://127.0.0.1:1/0", "127.0.0.1:0")
    client = fakeredis.FakeRedis()
    for model in config.models:
        key = model.reference.redis_key
        assert key is not None
        store_in_redis(client, key, reference_csv(model.name, 2000, seed=11), "csv")
    end = START + TICKS * 0.25 + 10
    daemon = Daemon(config, client=client, registry=CollectorRegistry(), clock=lambda: end)
    rng = np.random.default_rng(7)
    for pipeline in daemon.pipelines:
        predictions, labels = _entries(pipeline.model.name, rng)
        for start in range(0, len(predictions), 500):
            pipeline.ingest_predictions(predictions[start : start + 500])
            pipeline.ingest_labels(labels[start : start + 500])
        assert pipeline.evaluate(client)
    daemon.http.start()
    try:
        url = f"http://127.0.0.1:{daemon.http.port}/metrics"
        with urllib.request.urlopen(url, timeout=10) as response:
            body: str = response.read().decode()
    finally:
        daemon.http.stop()
    return body


def _shown(name: str, label: str, value: str) -> str:
    """A label value as the golden copy keeps it: the interpreter's version is left out."""
    interpreter = name == "python_info" or label == "python_version"
    return "*" if interpreter and label in INTERPRETER else value


def _exposed() -> dict[str, float]:
    """Every sample of the demo's exposition by name and labels."""
    values: dict[str, float] = {}
    for family in text_string_to_metric_families(_body()):
        for s in family.samples:
            labels = ",".join(f'{k}="{_shown(s.name, k, v)}"' for k, v in sorted(s.labels.items()))
            key = f"{s.name}{{{labels}}}"
            values[key] = math.nan if TIMED.search(s.name) else s.value
    return values


def _write(values: dict[str, float]) -> None:
    GOLDEN.parent.mkdir(exist_ok=True)
    GOLDEN.write_text("".join(f"{k} {v!r}\n" for k, v in sorted(values.items())))


def _read() -> dict[str, float]:
    out = {}
    for line in GOLDEN.read_text().splitlines():
        key, _, value = line.rpartition(" ")
        out[key] = float(value)
    return out


def test_the_demo_exposes_the_same_series_and_values_as_the_golden_copy() -> None:
    exposed = _exposed()
    if os.environ.get("UPDATE_GOLDEN") == "1":
        _write(exposed)
    golden = _read()
    assert sorted(exposed) == sorted(golden), "series differ from tests/golden/demo_metrics.txt"
    differing = {
        k: (golden[k], v)
        for k, v in exposed.items()
        if not (math.isnan(v) and math.isnan(golden[k]))
        and not math.isclose(v, golden[k], rel_tol=1e-9, abs_tol=1e-12)
    }
    assert not differing, f"values differ (golden, now): {differing}"


def test_promtool_finds_nothing_to_lint_in_the_demo_exposition() -> None:
    """A real /metrics body, process and platform collectors included, is lint-clean."""
    body = _body()
    assert "process_resident_memory_bytes" in body
    assert "python_info{" in body
    check = subprocess.run(
        [require_tool("promtool"), "check", "metrics"],
        input=body,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert check.returncode == 0, check.stdout + check.stderr
    assert (check.stdout + check.stderr).strip() == "", check.stdout + check.stderr
