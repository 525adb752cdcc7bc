"""Cost of PredictionLogger.log() on the caller's thread, and end-to-end records per second.

    python -m bench.client_log

Latency baseline, measured in the same run: the floor of any queueing producer, orjson.dumps of
the same record and a deque.append, with an idle second thread. Cases: Redis up, Redis down,
and the queue-full drop path (a redis-server this bench started, stopped with SIGSTOP). For
throughput, hand-written pipelined XADDs of 500 entries.
"""

from __future__ import annotations

import gc
import logging
import signal
import statistics
import tempfile
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

import orjson
import redis

from bench.common import RUNS, free_port, machine, redis_server, start_redis
from exporter.client import DropReason, PredictionLogger
from exporter.client.logger import JSON_OPTIONS

CALLS = 100_000
DIRECT_CALLS = 10_000
E2E_RECORDS = 100_000


def _record(i: int) -> dict[str, Any]:
    return {
        "features": {"amount": 12.5 + i % 100, "country": "DE", "age": 41, "channel": "web"},
        "prediction": i % 2,
        "scores": 0.42,
        "latency_ms": 3.2,
        "id": f"tx-{i}",
    }


Tail = tuple[float, float, float, float]  # p50, p99, p99.9, max in microseconds


def _timed_calls(call: Callable[[int], None], n: int = CALLS) -> Tail:
    """p50, p99, p99.9 and max in microseconds of n calls, each timed on its own."""
    out = [0] * n
    clock = time.perf_counter_ns
    for i in range(n):
        start = clock()
        call(i)
        out[i] = clock() - start
    out.sort()
    return (
        out[n // 2] / 1000.0,
        out[int(n * 0.99)] / 1000.0,
        out[int(n * 0.999)] / 1000.0,
        out[-1] / 1000.0,
    )


def _log_call(logger: PredictionLogger) -> Callable[[int], None]:
    def call(i: int) -> None:
        r = _record(i)
        logger.log(
            r["features"],
            r["prediction"],
            scores=r["scores"],
            latency_ms=r["latency_ms"],
            id=r["id"],
        )

    return call


def _logger_calls(url: str, max_queue: int = CALLS) -> Tail:
    with PredictionLogger(url, "bench", max_queue=max_queue, socket_timeout=0.5) as logger:
        logger.flush(0.2)  # the sender thread exists and is idle, as in the baseline
        result = _timed_calls(_log_call(logger))
        logger.flush(1.0)
    return result


def _bare_append() -> Tail:
    """Baseline: serialise with orjson and append to a deque; an idle thread waits on an Event."""
    queue: deque[tuple[str, bytes]] = deque()
    idle = threading.Event()
    thread = threading.Thread(target=idle.wait, daemon=True)
    thread.start()

    def call(i: int) -> None:
        r = _record(i)
        record = {
            "features": r["features"],
            "prediction": r["prediction"],
            "ts": time.time(),
            "id": r["id"],
            "scores": r["scores"],
            "latency_ms": r["latency_ms"],
        }
        queue.append(("predictions", orjson.dumps(record, option=JSON_OPTIONS)))

    result = _timed_calls(call)
    idle.set()
    thread.join()
    return result


def _queue_full() -> Tail:
    """log() against a redis-server stopped with SIGSTOP: a queue of 100 fills, then drops."""
    with tempfile.TemporaryDirectory() as workdir:
        port = free_port()
        proc = start_redis(port, workdir)
        try:
            proc.send_signal(signal.SIGSTOP)
            with PredictionLogger(
                f"redis://127.0.0.1:{port}/0", "full", max_queue=100, socket_timeout=0.5
            ) as logger:
                result = _timed_calls(_log_call(logger))
                assert logger.stats.dropped[DropReason.QUEUE_FULL] > CALLS // 2
                proc.send_signal(signal.SIGCONT)
        finally:
            proc.send_signal(signal.SIGCONT)
            proc.terminate()
            proc.wait(10)
    return result


def _direct_calls(client: redis.Redis) -> Tail:
    def call(i: int) -> None:
        client.xadd(
            "mlmon:{direct}:predictions", {"data": orjson.dumps(_record(i))}, maxlen=1_000_000
        )

    return _timed_calls(call, DIRECT_CALLS)


def _median(runs: list[Tail]) -> Tail:
    """Each percentile's median over the runs."""
    p50, p99, p999, top = (statistics.median(r[k] for r in runs) for k in range(4))
    return p50, p99, p999, top


def _end_to_end(url: str, client: redis.Redis) -> float:
    """Records per second from the first log() until Redis holds them all."""
    client.delete("mlmon:{e2e}:predictions")
    start = time.perf_counter()
    with PredictionLogger(url, "e2e", max_queue=E2E_RECORDS, batch_size=1000) as logger:
        log = _log_call(logger)
        for i in range(E2E_RECORDS):
            log(i)
        assert logger.flush(60)
    elapsed = time.perf_counter() - start
    assert logger.stats.sent["predictions"] == E2E_RECORDS
    return E2E_RECORDS / elapsed


def _pipelined(client: redis.Redis) -> float:
    """Records per second of hand-written pipelined XADDs, 500 `data` entries per round trip."""
    start = time.perf_counter()
    for lo in range(0, E2E_RECORDS, 500):
        pipe = client.pipeline(transaction=False)
        for i in range(lo, lo + 500):
            pipe.xadd(
                "mlmon:{pipe}:predictions", {"data": orjson.dumps(_record(i))}, maxlen=1_000_000
            )
        pipe.execute()
    return E2E_RECORDS / (time.perf_counter() - start)


def _row(name: str, tail: Tail, base: Tail) -> str:
    cells = " | ".join(f"{v:.1f}" for v in tail)
    ratios = " | ".join(f"{v / b:.1f}" for v, b in zip(tail[1:], base[1:], strict=True))
    return f"| {name} | {cells} | {ratios} |"


def main() -> None:
    logging.getLogger("exporter.client").setLevel(logging.ERROR)  # the down cases warn
    gc.collect()
    with redis_server() as client:
        url = f"redis://127.0.0.1:{client.connection_pool.connection_kwargs['port']}/0"
        down_url = f"redis://127.0.0.1:{free_port()}/0"
        cases: dict[str, list[Tail]] = {k: [] for k in ("base", "up", "down", "full")}
        for _ in range(RUNS):  # alternated, so drift on the shared machine hits every case
            cases["base"].append(_bare_append())
            cases["up"].append(_logger_calls(url))
            cases["down"].append(_logger_calls(down_url))
            cases["full"].append(_queue_full())
        direct = _median([_direct_calls(client) for _ in range(RUNS)])
        e2e = statistics.median(_end_to_end(url, client) for _ in range(RUNS))
        piped = statistics.median(_pipelined(client) for _ in range(RUNS))
    base = _median(cases["base"])
    print(f"{machine()}; {CALLS} calls per run, median of {RUNS} runs\n")
    print("| Case | p50 µs | p99 µs | p99.9 µs | max µs | p99 / base | p99.9 / base | max / base |")
    print("|---|---|---|---|---|---|---|---|")
    print(_row("baseline: orjson.dumps + deque.append, idle thread", base, base))
    for name, key in (
        ("log(), Redis up", "up"),
        ("log(), Redis down (nobody listens)", "down"),
        ("log(), queue full (Redis stopped, max_queue=100)", "full"),
    ):
        print(_row(name, _median(cases[key]), base))
    print(_row(f"synchronous XADD per record ({DIRECT_CALLS} calls)", direct, base))
    print(f"\n{E2E_RECORDS} records, log() to acknowledged by Redis, median of {RUNS} runs\n")
    print("| Producer | records/s | vs baseline |")
    print("|---|---|---|")
    print(f"| baseline: pipelined XADD, 500 `data` entries per round trip | {piped:,.0f} | 1.00 |")
    print(f"| PredictionLogger (batch entries of 1000) | {e2e:,.0f} | {e2e / piped:.2f} |")


if __name__ == "__main__":
    main()
