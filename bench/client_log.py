"""Cost of PredictionLogger.log() on the caller's thread, and end-to-end records per second.

    python -m bench.client_log

Baseline, measured in the same run: what a hand-written producer does, one synchronous
`XADD ... data <json>` per prediction (and, for throughput, pipelined XADDs of 500 entries).
"""

from __future__ import annotations

import gc
import statistics
import time
from collections.abc import Callable
from typing import Any

import orjson
import redis

from bench.common import RUNS, free_port, machine, redis_server
from exporter.client import PredictionLogger

CALLS = 20_000
E2E_RECORDS = 100_000


def _record(i: int) -> dict[str, Any]:
    return {
        "features": {"amount": 12.5 + i % 100, "country": "DE", "age": 41, "channel": "web"},
        "prediction": i % 2,
        "scores": 0.42,
        "latency_ms": 3.2,
        "id": f"tx-{i}",
    }


def _timed_calls(call: Callable[[int], None], n: int = CALLS) -> tuple[float, float]:
    """p50 and p99 in microseconds of n calls, each timed on its own."""
    out = [0] * n
    clock = time.perf_counter_ns
    for i in range(n):
        start = clock()
        call(i)
        out[i] = clock() - start
    out.sort()
    return out[n // 2] / 1000.0, out[int(n * 0.99)] / 1000.0


def _logger_calls(url: str) -> tuple[float, float]:
    with PredictionLogger(url, "bench", max_queue=CALLS) as logger:

        def call(i: int) -> None:
            r = _record(i)
            logger.log(
                r["features"],
                r["prediction"],
                scores=r["scores"],
                latency_ms=r["latency_ms"],
                id=r["id"],
            )

        result = _timed_calls(call)
        logger.flush(1.0)
    return result


def _direct_calls(client: redis.Redis) -> tuple[float, float]:
    def call(i: int) -> None:
        client.xadd(
            "mlmon:{direct}:predictions", {"data": orjson.dumps(_record(i))}, maxlen=1_000_000
        )

    return _timed_calls(call)


def _median_pair(runs: list[tuple[float, float]]) -> tuple[float, float]:
    return (statistics.median(r[0] for r in runs), statistics.median(r[1] for r in runs))


def _end_to_end(url: str, client: redis.Redis) -> float:
    """Records per second from the first log() until Redis holds them all."""
    client.delete("mlmon:{e2e}:predictions")
    start = time.perf_counter()
    with PredictionLogger(url, "e2e", max_queue=E2E_RECORDS, batch_size=1000) as logger:
        for i in range(E2E_RECORDS):
            r = _record(i)
            logger.log(
                r["features"],
                r["prediction"],
                scores=r["scores"],
                latency_ms=r["latency_ms"],
                id=r["id"],
            )
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


def main() -> None:
    gc.collect()
    with redis_server() as client:
        url = f"redis://127.0.0.1:{client.connection_pool.connection_kwargs['port']}/0"
        up = _median_pair([_logger_calls(url) for _ in range(RUNS)])
        down = _median_pair(
            [_logger_calls(f"redis://127.0.0.1:{free_port()}/0") for _ in range(RUNS)]
        )
        direct = _median_pair([_direct_calls(client) for _ in range(RUNS)])
        e2e = statistics.median(_end_to_end(url, client) for _ in range(RUNS))
        piped = statistics.median(_pipelined(client) for _ in range(RUNS))
    print(f"{machine()}; {CALLS} calls per run, median of {RUNS} runs\n")
    print("| Case | p50 µs | p99 µs | p99 vs baseline |")
    print("|---|---|---|---|")
    print(
        f"| baseline: synchronous XADD per record, Redis up | {direct[0]:.1f} | "
        f"{direct[1]:.1f} | 1.00 |"
    )
    for name, (p50, p99) in (("log(), Redis up", up), ("log(), Redis down", down)):
        print(f"| {name} | {p50:.1f} | {p99:.1f} | {p99 / direct[1]:.3f} |")
    print(f"\n{E2E_RECORDS} records, log() to acknowledged by Redis, median of {RUNS} runs\n")
    print("| Producer | records/s | vs baseline |")
    print("|---|---|---|")
    print(f"| baseline: pipelined XADD, 500 `data` entries per round trip | {piped:,.0f} | 1.00 |")
    print(f"| PredictionLogger (batch entries of 1000) | {e2e:,.0f} | {e2e / piped:.2f} |")


if __name__ == "__main__":
    main()
