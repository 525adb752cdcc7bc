"""`ml-monitoring-exporter demo`: embedded Redis, simulated producers, the real exporter."""

from __future__ import annotations

import heapq
import itertools
import threading
import time
from collections.abc import Callable

import fakeredis
import numpy as np
import orjson
import redis

from exporter.config import (
    Bounds,
    Config,
    DriftSpec,
    FeatureConfig,
    ModelConfig,
    RedisConfig,
    ReferenceConfig,
    ScheduleConfig,
    SegmentConfig,
    SLOConfig,
    StreamsConfig,
    VersionsConfig,
    WebConfig,
    WindowConfig,
)
from exporter.demo.guide import base_url, drift_started, introduction, say
from exporter.demo.simulate import EMBEDDING_DIMENSION, SIMS, reference_csv
from exporter.reference.load import store_in_redis
from exporter.source.connect import RedisClient, make_client
from exporter.stats.kinds import FeatureType, Task
from exporter.web.http import ListenError

DRIFT_AFTER_SECONDS = 60.0
EVALUATION_SECONDS = 10.0
RECORDS_PER_TICK = 25
TICK_SECONDS = 0.25
STREAM_MAXLEN = 50000
# Every evaluation tests the embedding again on a window that has barely moved, so a chance
# p-value below 0.05 would stay for several evaluations: the demo asks for p < 0.001 from
# pca_ks, whose p-values are continuous and cheap (mmd's need 1,200 permutations or more).
EMBEDDING_DRIFT = DriftSpec(method="pca_ks", threshold=0.001)


def _model(
    name: str,
    task: Task,
    features: list[tuple[str, FeatureType]],
    performance: tuple[tuple[str, Bounds], ...],
    segments: tuple[SegmentConfig, ...] = (),
    embeddings: tuple[tuple[str, int], ...] = (),
) -> ModelConfig:
    return ModelConfig(
        name=name,
        task=task,
        positive_class="1" if task is Task.BINARY else None,
        features=tuple(FeatureConfig(name=n, type=t) for n, t in features),
        embeddings=tuple(
            FeatureConfig(name=n, type=FeatureType.EMBEDDING, dimension=d, drift=EMBEDDING_DRIFT)
            for n, d in embeddings
        ),
        streams=StreamsConfig(
            predictions=f"mlmon:{{{name}}}:predictions", labels=f"mlmon:{{{name}}}:labels"
        ),
        reference=ReferenceConfig(redis_key=f"mlmon:{{{name}}}:reference"),
        window=WindowConfig(duration_seconds=120.0, max_samples=5000),
        schedule=ScheduleConfig(interval_seconds=EVALUATION_SECONDS),
        performance=performance,
        slo=SLOConfig(latency_target_seconds=0.1, objective=0.99),
        segments=segments,
        # v2 is a canary of the same model; it is tested again at every evaluation, so the
        # demo asks for strong evidence before calling it worse.
        versions=VersionsConfig(alpha=0.01),
    )


def demo_config(redis_url: str, listen_address: str) -> Config:
    """The config the demo runs with: what a user would write in config.yaml.

    Performance bounds are relative to the reference (max_drop), so healthy traffic is quiet
    and a model that gets clearly worse than on its reference raises the alert.
    """
    num, cat = FeatureType.NUMERIC, FeatureType.CATEGORICAL
    fraud = _model(
        "fraud",
        Task.BINARY,
        [("amount", num), ("age", num), ("country", cat), ("channel", cat)],
        (("accuracy", Bounds(max_drop=0.05)),),
        (SegmentConfig(feature="channel", max_values=3, min_samples=100),),
        (("merchant_text", EMBEDDING_DIMENSION),),
    )
    eta = _model(
        "eta",
        Task.REGRESSION,
        [("distance_km", num), ("hour", num), ("vehicle", cat)],
        (("mae", Bounds(max_drop=0.5)),),
    )
    return Config(
        redis=RedisConfig(url=redis_url),
        web=WebConfig(listen_address=listen_address),
        models=(fraud, eta),
    )


class Producer:
    """Writes batches of predictions and, a few seconds later, their labels."""

    def __init__(
        self,
        client: RedisClient,
        config: Config,
        drift_after: float,
        seed: int = 7,
        on_drift: Callable[[], object] = lambda: None,
    ) -> None:
        self._client = client
        self._on_drift = on_drift
        self._drifting = False
        self._models = config.models
        self._rng = np.random.default_rng(seed)
        self._ids = itertools.count()
        self._labels: list[tuple[float, int, str, bytes]] = []
        self._stop = threading.Event()
        self._started = time.time()
        self._drift_after = drift_after
        self._thread = threading.Thread(target=self._loop, name="demo-producer", daemon=True)

    def start(self) -> None:
        """Begin producing in the background; the drift clock starts now."""
        self._started = time.time()
        self._thread.start()

    def stop(self) -> None:
        """Stop after the current tick (a producer never started just stays stopped)."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(5)

    def _loop(self) -> None:
        while not self._stop.wait(TICK_SECONDS):
            try:
                self._tick(time.time())
            except redis.RedisError:
                continue

    def _tick(self, now: float) -> None:
        drifting = now - self._started > self._drift_after
        if drifting and not self._drifting:
            self._drifting = True
            self._on_drift()  # once, at the moment the first drifted records are written
        pipe = self._client.pipeline(transaction=False)
        for model in self._models:
            batch = [
                self._record(model, now, drifting and model.name == "fraud")
                for _ in range(RECORDS_PER_TICK)
            ]
            pipe.xadd(
                model.streams.predictions,
                {"batch": orjson.dumps(batch)},
                maxlen=STREAM_MAXLEN,
                approximate=True,
            )
        due: dict[str, list[bytes]] = {}
        while self._labels and self._labels[0][0] <= now:
            _, _, stream, payload = heapq.heappop(self._labels)
            due.setdefault(stream, []).append(payload)
        for stream, payloads in due.items():
            pipe.xadd(
                stream,
                {"batch": b"[" + b",".join(payloads) + b"]"},
                maxlen=STREAM_MAXLEN,
                approximate=True,
            )
        pipe.execute()

    def _record(self, model: ModelConfig, now: float, drifting: bool) -> dict[str, object]:
        row = SIMS[model.name].row(self._rng, drifting)
        n = next(self._ids)
        record_id = f"{model.name}-{n}"
        label = row.pop("label")
        delay = float(self._rng.uniform(5, 20))
        heapq.heappush(
            self._labels,
            (now + delay, n, model.streams.labels, orjson.dumps({"id": record_id, "label": label})),
        )
        version = "v2" if self._rng.random() < 0.1 else "v1"
        latency = float(self._rng.lognormal(3.0, 0.5))
        status = "error" if self._rng.random() < 0.005 else "ok"
        return {
            "id": record_id,
            "ts": now,
            "version": version,
            "latency_ms": round(latency, 2),
            "status": status,
            **row,
        }


def _embedded_redis(port: int) -> fakeredis.TcpFakeServer:
    """Bind the embedded Redis (not yet serving); a taken port names the flag to change."""
    try:
        server = fakeredis.TcpFakeServer(("127.0.0.1", port), server_type="redis")
    except OSError as exc:
        reason = (exc.strerror or str(exc)).lower()
        raise ListenError(
            f"cannot listen on 127.0.0.1:{port} for the embedded Redis: "
            f"{reason}; choose another with --redis.port"
        ) from None
    server.daemon_threads = True  # a connection left open must not keep the process alive
    return server


def run_demo(
    listen_address: str, redis_port: int = 0, drift_after: float = DRIFT_AFTER_SECONDS
) -> int:
    """Run until Ctrl-C; prints where to look and when the drift starts.

    Both listeners are bound before any thread starts, so a taken port (ListenError) leaves
    nothing running behind.
    """
    from exporter.daemon import Daemon

    server = _embedded_redis(redis_port)
    port = server.server_address[1]
    config = demo_config(f"redis://127.0.0.1:{port}/0", listen_address)
    client = make_client(config.redis)
    try:
        daemon = Daemon(config, client=client)
    except BaseException:
        server.server_close()
        raise
    threading.Thread(target=server.serve_forever, name="fakeredis", daemon=True).start()
    base = base_url(listen_address, daemon.http.port)
    producer = Producer(client, config, drift_after, on_drift=lambda: say(drift_started(base)))
    try:
        for i, model in enumerate(config.models):
            assert model.reference.redis_key is not None
            store_in_redis(
                client, model.reference.redis_key, reference_csv(model.name, 5000, seed=i), "csv"
            )
        say(introduction(base, port, drift_after, EVALUATION_SECONDS))
        producer.start()
        return daemon.run_until_signalled()
    finally:
        producer.stop()
        server.shutdown()
        server.server_close()
