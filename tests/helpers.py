"""Data sets, configs and a running daemon for the integration tests."""

from __future__ import annotations

import csv
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import orjson
import redis
from prometheus_client import CollectorRegistry

from exporter.config import (
    Config,
    ModelConfig,
    ReferenceConfig,
    StreamsConfig,
    WindowConfig,
    load_config,
    load_config_text,
)
from exporter.daemon import Daemon
from exporter.daemon.pipeline import ModelPipeline
from exporter.daemon.shard import Shard
from exporter.evaluate.snapshot import SnapshotStore
from exporter.expose.live import LiveMetrics
from exporter.stats.kinds import Task
from tests.conftest import free_port, wait_for


class Clock:
    """A settable clock, passed in instead of time.time."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


CATEGORIES = ("a", "b", "c", "d")
BASE_MIX = (0.4, 0.3, 0.2, 0.1)
SHIFTED_MIX = (0.1, 0.2, 0.3, 0.4)


def sample(rng: np.random.Generator, n: int, shift: bool = False) -> dict[str, np.ndarray]:
    """Features x1 (ks), x2 (psi, shifted by one sd when asked), x3 (psi), c1 (psi), c2."""
    return {
        "x1": rng.normal(0.0, 1.0, n),
        "x2": rng.normal(5.0 + (2.0 if shift else 0.0), 2.0, n),
        "x3": rng.exponential(3.0, n),
        "c1": rng.choice(CATEGORIES, n, p=SHIFTED_MIX if shift else BASE_MIX),
        "c2": rng.choice(("x", "y"), n, p=(0.7, 0.3)),
    }


def write_reference(path: Path, data: dict[str, np.ndarray]) -> None:
    """The reference as CSV, with a regression prediction and label column."""
    n = len(data["x1"])
    with path.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow([*data, "prediction", "label"])
        for i in range(n):
            row = [repr(float(v[i])) if v.dtype.kind == "f" else str(v[i]) for v in data.values()]
            writer.writerow([*row, repr(float(data["x2"][i])), repr(float(data["x2"][i]) + 0.5)])


def model_yaml(name: str, interval: str = "1s") -> str:
    """One model section over the `sample` features."""
    return f"""
  - name: {name}
    task: regression
    reference: {{file: ref.csv}}
    window: {{duration: 1d, max_samples: 10000}}
    schedule: {{interval: {interval}}}
    performance: {{mae: {{max: 2.0}}}}
    drift: {{numeric: {{method: psi}}, categorical: {{method: psi}}}}
    features:
      - {{name: x1, type: numeric, method: ks}}
      - {{name: x2, type: numeric}}
      - {{name: x3, type: numeric}}
      - {{name: c1, type: categorical}}
      - {{name: c2, type: categorical}}
"""


def make_config(tmp: Path, redis_url: str, models: tuple[str, ...] = ("m",)) -> Config:
    """A validated config with a model per name, all sharing tmp/ref.csv."""
    text = (
        f"redis: {{url: '{redis_url}', backoff_max: 1s}}\n"
        f"web: {{listen_address: '127.0.0.1:{free_port()}'}}\nmodels:"
        + "".join(model_yaml(m) for m in models)
    )
    return load_config_text(text, base_dir=str(tmp))


def records(data: dict[str, np.ndarray], start: int = 0) -> list[bytes]:
    """Wire-format `data` payloads, one per row."""
    n = len(data["x1"])
    out = []
    for i in range(n):
        features = {k: (float(v[i]) if v.dtype.kind == "f" else str(v[i])) for k, v in data.items()}
        out.append(
            orjson.dumps(
                {
                    "id": f"r{start + i}",
                    "features": features,
                    "prediction": float(data["x2"][i]),
                    "latency_ms": 12.5,
                }
            )
        )
    return out


def xadd_all(client: redis.Redis, stream: str, payloads: list[bytes], field: str = "data") -> None:
    """Pipelined XADD, in chunks."""
    for i in range(0, len(payloads), 2000):
        pipe = client.pipeline(transaction=False)
        for p in payloads[i : i + 2000]:
            pipe.xadd(stream, {field: p})
        pipe.execute()


def value(daemon: Daemon, name: str, **labels: str) -> float | None:
    """One sample from the daemon's own registry."""
    return daemon.registry.get_sample_value(name, labels)


def scrape(daemon: Daemon) -> str:
    """GET /metrics over HTTP, as Prometheus would."""
    url = f"http://127.0.0.1:{daemon.http.port}/metrics"
    with urllib.request.urlopen(url, timeout=10) as resp:
        return str(resp.read().decode())


@contextmanager
def running(config: Config, shard: Shard | None = None) -> Iterator[Daemon]:
    """A started daemon with a fresh registry, stopped afterwards."""
    daemon = Daemon(config, registry=CollectorRegistry(), shard=shard)
    daemon.start()
    try:
        yield daemon
    finally:
        daemon.stop()


@contextmanager
def reloadable(path: Path, clock: Callable[[], float] | None = None) -> Iterator[Daemon]:
    """A started daemon over the config file at path (so it can reload it), its windows
    rebuilt; stopped afterwards."""
    daemon = Daemon(
        load_config(str(path)),
        registry=CollectorRegistry(),
        config_path=str(path),
        clock=clock or time.time,
    )
    daemon.start()
    try:
        wait_for(daemon.reader.backfilled.is_set, 30, what="backfill")
        yield daemon
    finally:
        daemon.stop()


def wait_evaluated(daemon: Daemon, model: str, samples: int, timeout: float = 60) -> None:
    """Wait until an evaluation has seen exactly `samples` records in the window."""
    wait_for(
        lambda: value(daemon, "mlmon_window_samples", model=model) == samples,
        timeout,
        what=f"{model} evaluated with {samples} samples",
    )


def classifier_pipeline(
    task: Task,
    classes: tuple[str, ...] | None,
    max_samples: int,
    clock: Callable[[], float],
    positive_class: str | None = None,
) -> tuple[ModelPipeline, CollectorRegistry]:
    """An in-process classifier without features, and its registry: labels and scores alone."""
    model = ModelConfig(
        classes=classes,
        positive_class=positive_class,
        name="m",
        task=task,
        features=(),
        streams=StreamsConfig(predictions="p", labels="l"),
        reference=ReferenceConfig(file="x"),
        window=WindowConfig(duration_seconds=3600, max_samples=max_samples),
        min_samples=10,
    )
    registry = CollectorRegistry()
    return ModelPipeline(model, LiveMetrics(registry, [model]), SnapshotStore(), clock), registry
