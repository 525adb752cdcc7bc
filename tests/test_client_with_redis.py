"""The producer library against a real redis-server and the real exporter."""

from __future__ import annotations

import contextlib
import gc
import itertools
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pytest
from prometheus_client import CollectorRegistry

from exporter.client import DropReason, PredictionLogger
from exporter.decode.batch import PredictionBatch
from exporter.decode.wire import Prediction, struct_order
from tests.conftest import RedisServer, settles_at, wait_for
from tests.helpers import make_config, running, sample, value, write_reference

STREAM = "mlmon:{m}:predictions"


def _stream_ids(server: RedisServer, stream: str = STREAM) -> list[Any]:
    """The ids of every record in every `batch` entry of a stream, in order."""
    out: list[Any] = []
    for _, fields in server.client().xrange(stream):
        out.extend(r.get("id") for r in orjson.loads(fields[b"batch"]))
    return out


def _ticking(start: float) -> Callable[[], float]:
    """A clock that advances a millisecond per reading, so each record's ts is known."""
    counter = itertools.count()
    return lambda: start + next(counter) / 1000.0


def _as_records(batch: PredictionBatch, order: Sequence[tuple[str, bool]]) -> list[Prediction]:
    """The batch's records as the per-record decoder would give them, to compare values."""
    numeric = [name for name, is_numeric in order if is_numeric]
    categorical = [name for name, is_numeric in order if not is_numeric]
    out = []
    for i, latency in enumerate(batch.latency.tolist()):
        features: dict[str, Any] = {n: float(batch.numeric[j, i]) for j, n in enumerate(numeric)}
        features.update({n: batch.categorical[j][i] for j, n in enumerate(categorical)})
        out.append(
            Prediction(
                id=batch.ids[i],
                ts=float(batch.ts[i]),
                version=batch.versions[i],
                features=features,
                prediction=batch.prediction[i],
                scores=batch.scores[i],
                latency_seconds=None if latency != latency else latency,
                ok=bool(batch.ok[i]),
                sample_rate=float(batch.sample_rate[i]),
            )
        )
    return out


def test_records_written_by_the_logger_reach_the_exporter_with_identical_values(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    rng = np.random.default_rng(8)
    write_reference(tmp_path / "ref.csv", sample(rng, 500))
    data = sample(rng, 400)
    start = time.time()
    expected: list[Prediction] = []
    seen: list[Prediction] = []
    with running(make_config(tmp_path, redis_server.url)) as daemon:
        window = daemon.pipelines[0].window
        extend = window.extend
        order = struct_order(daemon.pipelines[0].model)

        def spy(batch: PredictionBatch) -> None:
            seen.extend(_as_records(batch, order))
            extend(batch)

        window.extend = spy  # type: ignore[method-assign]
        with PredictionLogger(
            redis_server.url, "m", batch_size=64, version="v7", clock=_ticking(start)
        ) as logger:
            for i in range(400):
                features: dict[str, Any] = {
                    k: (float(v[i]) if v.dtype.kind == "f" else str(v[i])) for k, v in data.items()
                }
                failed = i % 50 == 49
                prediction = None if failed else float(rng.normal())
                scores, latency = float(rng.uniform()), float(rng.uniform(0, 80))
                logger.log(
                    features,
                    prediction,
                    scores=scores,
                    latency_ms=latency,
                    id=f"p{i}",
                    status="error" if failed else "ok",
                )
                expected.append(
                    Prediction(
                        id=f"p{i}",
                        ts=start + i / 1000.0,
                        version="v7",
                        features=features,
                        prediction=prediction,
                        scores=scores,
                        latency_seconds=latency / 1000.0,
                        ok=not failed,
                        sample_rate=1.0,
                    )
                )
            assert logger.flush(10)
            settles_at(lambda: len(seen), 400, what="records the exporter read")
            assert seen == expected
            assert value(daemon, "mlmon_predictions_total", model="m", version="v7") == 400
            assert value(daemon, "mlmon_prediction_errors_total", model="m", version="v7") == 8
            assert (
                value(daemon, "mlmon_records_invalid_total", model="m", reason="missing_features")
                == 0
            )

            labelled = [r for r in expected if r.ok]
            for r in labelled:
                logger.log_label(r.id, float(r.latency_seconds or 0.0))
            assert logger.flush(10)
            wait_for(
                lambda: value(daemon, "mlmon_labels_total", model="m") == len(labelled),
                what="every label read",
            )
            assert value(daemon, "mlmon_labels_unmatched_total", model="m") == 0
            pairs = daemon.pipelines[0].join.pairs(time.time())
            assert pairs.predicted == tuple(r.prediction for r in labelled)
            assert pairs.actual == tuple(r.latency_seconds for r in labelled)


def _log_many(logger: PredictionLogger, n: int, prefix: str) -> threading.Event:
    """Call log() n times on another thread; the event is set when every call returned."""
    done = threading.Event()

    def work() -> None:
        for i in range(n):
            logger.log({"x": float(i)}, 1, id=f"{prefix}{i}")
        done.set()

    threading.Thread(target=work, daemon=True).start()
    return done


def _dropped(registry: CollectorRegistry, reason: DropReason) -> float:
    got = registry.get_sample_value(
        "mlmon_client_records_dropped_total", {"model": "m", "reason": reason.value}
    )
    return got or 0.0


def test_while_redis_is_stopped_log_returns_drops_are_counted_and_logging_resumes_after(
    redis_server: RedisServer,
) -> None:
    registry = CollectorRegistry()
    logger = PredictionLogger(
        redis_server.url, "m", max_queue=100, batch_size=20, flush_interval=0.02, registry=registry
    )
    logger.log({"x": 0.0}, 1, id="before")
    assert logger.flush(10)
    redis_server.stop()
    assert _log_many(logger, 5000, "down").wait(30), "log() did not return while Redis was down"
    wait_for(
        lambda: _dropped(registry, DropReason.REDIS_ERROR) > 0,
        what="records dropped on the failed writes",
    )
    assert _dropped(registry, DropReason.QUEUE_FULL) >= 5000 - 100 - 20 * 25
    assert registry.get_sample_value("mlmon_client_send_failures_total", {"model": "m"})

    redis_server.start()  # a fresh, empty server on the same port
    after: list[str] = []

    def landed() -> bool:
        """Log one more, as a model server goes on doing: until the sender's next attempt
        (its backoff, at most 2 s) the queue is still full of older records and it is
        dropped as queue_full; then logging resumes."""
        after.append(f"after{len(after)}")
        logger.log({"x": 1.0}, 1, id=after[-1])
        return bool(set(after) & set(_stream_ids(redis_server)))

    wait_for(landed, what="a record logged after restart")
    assert logger.close(10)
    sent = registry.get_sample_value(
        "mlmon_client_records_sent_total", {"model": "m", "kind": "predictions"}
    )
    dropped = sum(_dropped(registry, r) for r in DropReason)
    assert sent is not None and sent + dropped == 5001 + len(after)
    assert registry.get_sample_value("mlmon_client_queue_depth", {"model": "m"}) == 0


@pytest.fixture
def hung_server() -> Iterator[int]:
    """A port whose listener completes TCP handshakes but never answers: a hung Redis."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(64)
        yield int(listener.getsockname()[1])


def test_log_never_waits_for_a_redis_that_accepts_but_never_answers(hung_server: int) -> None:
    logger = PredictionLogger(
        f"redis://127.0.0.1:{hung_server}/0",
        "m",
        max_queue=100,
        batch_size=10,
        flush_interval=0.01,
        socket_timeout=5,
    )
    logger.log({"x": 0.0}, 1)
    wait_for(lambda: logger.queue_depth == 0, what="the sender to take the first record")
    assert _log_many(logger, 2000, "hung").wait(30), "log() waited for the hung server"
    assert logger.stats.dropped[DropReason.QUEUE_FULL] >= 2000 - 100 - 10 * 5
    assert logger.flush(0.05) is False
    logger.close(0.05)


def test_a_forked_child_sends_its_own_records_and_the_parent_carries_on(
    redis_server: RedisServer,
) -> None:
    logger = PredictionLogger(redis_server.url, "m", flush_interval=0.02)
    logger.log({"x": 1.0}, 0, id="parent-1")
    assert logger.flush(10)
    logger.log({"x": 1.5}, 0, id="queued-before-fork")
    pid = os.fork()
    if pid == 0:  # the child: log, flush through its own thread, report by exit code
        code = 1
        try:
            logger.log({"x": 2.0}, 1, id="child-1")
            code = 0 if logger.close(10) and logger.stats.sent["predictions"] == 1 else 3
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    logger.log({"x": 3.0}, 0, id="parent-2")
    assert logger.close(10)
    ids = _stream_ids(redis_server)
    assert sorted(ids) == ["child-1", "parent-1", "parent-2", "queued-before-fork"]


_inherited: list[PredictionLogger] = []  # what fork-start children inherit, unpickled


def _log_in_worker(worker: int) -> None:
    for i in range(200):
        _inherited[0].log({"x": float(i)}, 1, id=f"w{worker}-{i}")


def test_multiprocessing_fork_children_send_their_last_records_before_they_exit(
    redis_server: RedisServer,
) -> None:
    """Fork-start children end with os._exit, past the exit-time flush: every record a
    worker logged in its last flush interval was lost, uncounted."""
    import multiprocessing

    _inherited[:] = [PredictionLogger(redis_server.url, "m", flush_interval=0.5)]
    context = multiprocessing.get_context("fork")
    workers = [context.Process(target=_log_in_worker, args=(k,)) for k in range(2)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(30)
    with context.Pool(2) as pool:
        pool.map(_log_in_worker, [10, 11])
        pool.close()
        pool.join()
    assert [w.exitcode for w in workers] == [0, 0]
    assert len(set(_stream_ids(redis_server))) == 800
    _inherited.pop().close()


def test_retention_trims_the_stream_by_age_and_maxlen_by_length(redis_server: RedisServer) -> None:
    old, now = time.time() - 3600, time.time()
    clock_value = [old]
    with PredictionLogger(
        redis_server.url, "m", retention=60, batch_size=1, clock=lambda: clock_value[0]
    ) as logger:
        client = redis_server.client()
        for i in range(300):  # entries with explicit old IDs, as an hour-old stream holds
            client.xadd(STREAM, {"batch": b"[]"}, id=f"{int(old * 1000)}-{i + 1}")
        clock_value[0] = now
        for i in range(5):
            logger.log({"x": float(i)}, 1, id=f"new{i}")
        assert logger.flush(10)
    assert client.xlen(STREAM) < 300
    with PredictionLogger(redis_server.url, "n", stream_maxlen=100, batch_size=1) as logger:
        for i in range(1000):
            logger.log({"x": float(i)}, 1)
        assert logger.flush(10)
    assert 100 <= client.xlen("mlmon:{n}:predictions") < 1000


@pytest.fixture
def slow_link(redis_server: RedisServer) -> Iterator[str]:
    """A URL to the server through a healthy but modest link: 10 MB/s towards Redis."""
    listener = socket.create_server(("127.0.0.1", 0))
    closing = threading.Event()

    def pump(src: socket.socket, dst: socket.socket, rate: float) -> None:
        with contextlib.suppress(OSError):
            while chunk := src.recv(65536):
                dst.sendall(chunk)
                time.sleep(len(chunk) / rate)  # the throttle itself, not a wait for a state
        for s in (src, dst):
            s.close()

    def serve() -> None:
        with contextlib.suppress(OSError):
            while not closing.is_set():
                near, _ = listener.accept()
                far = socket.create_connection(("127.0.0.1", redis_server.port))
                for args in ((near, far, 10e6), (far, near, 1e9)):
                    threading.Thread(target=pump, args=args, daemon=True).start()

    threading.Thread(target=serve, daemon=True).start()
    yield f"redis://127.0.0.1:{listener.getsockname()[1]}/0"
    closing.set()
    listener.close()


def test_a_burst_of_large_records_reaches_a_healthy_redis_over_a_modest_link(
    slow_link: str, redis_server: RedisServer
) -> None:
    """5,000 records per round trip whatever their size: 25 MB in one write, cut by the 1 s
    socket timeout, counted as dropped (redis_error) while Redis applied part of them."""
    logger = PredictionLogger(slow_link, "m", flush_interval=30.0)
    for i in range(1000):
        logger.log({"text": "x" * 25_000}, 1, id=f"big{i}")
    assert logger.flush(60)
    assert logger.stats.sent["predictions"] == 1000
    assert sum(logger.stats.dropped.values()) == logger.stats.send_failures == 0
    logger.close()
    assert len(_stream_ids(redis_server)) == 1000


def test_an_error_reply_drops_only_the_records_of_its_own_write(
    redis_server: RedisServer,
) -> None:
    """One XADD's error reply counted its whole round trip dropped, though Redis applied the
    other XADDs: 100 predictions in Redis were reported as lost."""
    redis_server.client().set("mlmon:{m}:labels", "not a stream")  # XADD gets WRONGTYPE
    logger = PredictionLogger(redis_server.url, "m", flush_interval=30.0)
    for i in range(100):
        logger.log({"x": 1.0}, 1, id=f"tx{i}")
    logger.log_label("tx0", 1)
    assert logger.flush(10) is False
    assert logger.stats.sent == {"predictions": 100, "labels": 0}
    assert logger.stats.dropped[DropReason.REDIS_ERROR] == 1
    assert logger.stats.send_failures == 1
    logger.close()
    assert len(_stream_ids(redis_server)) == 100


def test_a_logger_dropped_unclosed_sends_its_last_records_even_as_the_process_exits(
    redis_server: RedisServer,
) -> None:
    """A function-local logger never closed: once it went out of scope the exit flush no
    longer saw it, and its last records were lost, uncounted."""
    code = (
        "from exporter.client import PredictionLogger, monitor\n"
        "class Model:\n"
        "    def predict(self, x): return [1] * len(x)\n"
        "def job(url):\n"
        "    logger = PredictionLogger(url, 'm', flush_interval=30.0)\n"
        "    for i in range(1000): logger.log({'x': 1.0}, 1, id=f'a{i}')\n"
        "    model = monitor(Model(), PredictionLogger(url, 'n', flush_interval=30.0))\n"
        "    model.predict([[1.0]] * 50)\n"
        f"job({redis_server.url!r})\n"
    )
    root = Path(__file__).resolve().parent.parent
    subprocess.run([sys.executable, "-c", code], cwd=root, check=True, timeout=60)
    assert len(_stream_ids(redis_server)) == 1000
    assert len(_stream_ids(redis_server, "mlmon:{n}:predictions")) == 50


def test_loggers_dropped_unclosed_end_their_thread_and_connection_and_keep_their_counts(
    redis_server: RedisServer,
) -> None:
    """Each logger dropped without close() left a thread and a Redis connection for the life
    of the process, and its counters vanished from the registry."""
    registry = CollectorRegistry()
    client = redis_server.client()
    threads = set(threading.enumerate())  # other tests' loggers may still be ending

    def handle(request: int) -> None:
        logger = PredictionLogger(redis_server.url, "m", registry=registry, flush_interval=30.0)
        for i in range(100):
            logger.log({"x": 1.0}, 1, id=f"{request}-{i}")

    for request in range(5):
        handle(request)
    gc.collect()
    wait_for(
        lambda: not [t for t in set(threading.enumerate()) - threads if t.name == "mlmon-client"],
        what="the dropped loggers' threads to end",
    )
    wait_for(
        lambda: not [c for c in client.client_list() if c["cmd"] == "xadd"],
        what="the dropped loggers' connections to close",
    )
    sent = {"model": "m", "kind": "predictions"}
    assert registry.get_sample_value("mlmon_client_records_sent_total", sent) == 500
    assert len(_stream_ids(redis_server)) == 500


def test_a_multiprocessing_child_that_builds_its_own_logger_sends_its_records_as_it_ends(
    redis_server: RedisServer,
) -> None:
    """A child whose parent never imported the client ends with os._exit, past atexit, and
    no exit hook had been registered in it: every record of its logger was lost."""
    code = (
        "import multiprocessing, sys\n"
        "def work(url):\n"
        "    from exporter.client import PredictionLogger\n"
        "    logger = PredictionLogger(url, 'm', flush_interval=30.0)\n"
        "    for i in range(100): logger.log({'x': 1.0}, 1, id=f'own{i}')\n"
        "    sys.modules['__main__'].kept = logger  # open to the end, never closed\n"
        "child = multiprocessing.get_context('fork').Process(target=work, args=(sys.argv[1],))\n"
        "child.start()\n"
        "child.join()\n"
        "assert 'exporter.client' not in sys.modules and child.exitcode == 0\n"
    )
    root = Path(__file__).resolve().parent.parent
    subprocess.run([sys.executable, "-c", code, redis_server.url], cwd=root, check=True, timeout=60)
    assert len(_stream_ids(redis_server)) == 100
