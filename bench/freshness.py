"""Freshness: seconds from `XADD` to the value visible on `/metrics` of a running daemon.

    python -m bench.freshness [--quick]

A real redis-server and a started Daemon. Five records are written at spread-out moments of
an evaluation cycle; for each we time when `/metrics` first counts it as read
(`mlmon_records_read_total`, the live counter) and when an evaluation shows it
(`mlmon_window_samples`). Baseline: a plain `XREAD BLOCK` client receiving the same entry.
"""

from __future__ import annotations

import re
import statistics
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

import numpy as np
import redis
from prometheus_client import CollectorRegistry

from bench.common import RUNS, machine, redis_server
from exporter.config import load_config_text
from exporter.daemon import Daemon
from tests.helpers import model_yaml, records, sample, write_reference

STREAM = "mlmon:{m}:predictions"
INTERVALS = (1.0, 5.0, 60.0)  # 60 s is the default schedule
QUICK_INTERVALS = (1.0, 5.0)
SAMPLES = re.compile(rb'^mlmon_window_samples\{model="m"\} ([0-9.e+]+)', re.M)
READ = re.compile(rb'^mlmon_records_read_total\{kind="predictions",model="m"\} ([0-9.e+]+)', re.M)


def _now_values(port: int) -> tuple[float, float]:
    """(records read, window samples of the last evaluation) as /metrics shows them now."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as resp:
        body = resp.read()
    read, samples = READ.search(body), SAMPLES.search(body)
    return (float(read.group(1)) if read else 0.0, float(samples.group(1)) if samples else -1.0)


def _xread_latency(client: redis.Redis) -> float:
    """Seconds from XADD until a blocking XREAD on another connection returns the entry."""
    reader = redis.Redis(port=client.connection_pool.connection_kwargs["port"], protocol=2)
    last = client.xinfo_stream(STREAM)["last-generated-id"]
    got: list[float] = []

    def wait() -> None:
        reader.xread({STREAM: last}, block=5000)
        got.append(time.perf_counter())

    thread = threading.Thread(target=wait)
    thread.start()
    time.sleep(0.05)  # let the reader block first
    sent = time.perf_counter()
    client.xadd(STREAM, {"data": records(sample(np.random.default_rng(9), 1))[0]})
    thread.join()
    return got[0] - sent


def measure(client: redis.Redis, interval: float) -> tuple[float, float, float]:
    """Medians over RUNS records: (read visible, evaluated visible, plain XREAD) seconds."""
    port = client.connection_pool.connection_kwargs["port"]
    client.delete(STREAM)
    payloads = records(sample(np.random.default_rng(1), 100 + RUNS))
    for p in payloads[:100]:
        client.xadd(STREAM, {"data": p})
    with tempfile.TemporaryDirectory() as tmp:
        write_reference(Path(tmp) / "ref.csv", sample(np.random.default_rng(0), 2000))
        config = load_config_text(
            f"redis: {{url: 'redis://127.0.0.1:{port}/0'}}\n"
            "web: {listen_address: '127.0.0.1:0'}\nmodels:" + model_yaml("m", f"{interval:g}s"),
            base_dir=tmp,
        )
        daemon = Daemon(config, registry=CollectorRegistry())
        daemon.start()
        try:
            web = daemon.http.port
            deadline = time.monotonic() + interval + 30
            while _now_values(web)[1] != 100.0:
                if time.monotonic() > deadline:
                    raise SystemExit("daemon did not evaluate the first 100 records")
                time.sleep(0.02)
            read0 = _now_values(web)[0]  # the backfilled records are replays, not counted
            sent, read_at, seen_at = _spread_writes(client, web, payloads[100:], interval, read0)
            xread = statistics.median(_xread_latency(client) for _ in range(RUNS))
        finally:
            daemon.stop()
    return (
        statistics.median(r - s for r, s in zip(read_at, sent, strict=True)),
        statistics.median(v - s for v, s in zip(seen_at, sent, strict=True)),
        xread,
    )


def _spread_writes(
    client: redis.Redis, web: int, payloads: list[bytes], interval: float, read0: float
) -> tuple[list[float], list[float], list[float]]:
    """XADD one record every ~interval/RUNS seconds; poll /metrics until each is visible."""
    step = interval / RUNS * 1.07  # not a divisor of the interval, so the phases spread out
    start = time.perf_counter()
    sent: list[float] = []
    read_at: list[float | None] = [None] * len(payloads)
    seen_at: list[float | None] = [None] * len(payloads)
    deadline = time.monotonic() + 3 * interval + 30
    while seen_at[-1] is None and time.monotonic() < deadline:
        now = time.perf_counter()
        if len(sent) < len(payloads) and now >= start + len(sent) * step:
            client.xadd(STREAM, {"data": payloads[len(sent)]})
            sent.append(time.perf_counter())
        read, samples = _now_values(web)
        now = time.perf_counter()
        for k in range(len(sent)):
            if read_at[k] is None and read >= read0 + 1 + k:
                read_at[k] = now
            if seen_at[k] is None and samples >= 101 + k:
                seen_at[k] = now
        time.sleep(0.01)
    if any(v is None for v in seen_at):
        raise SystemExit(f"records not visible within {3 * interval + 30:.0f} s")
    return sent, [v for v in read_at if v is not None], [v for v in seen_at if v is not None]


def main(quick: bool = False) -> None:
    """Print the freshness table."""
    print(f"## Freshness ({time.strftime('%Y-%m-%d')}; {machine()})\n")
    print(
        f"One model, a real redis-server and a started Daemon; {RUNS} records written at "
        "moments spread over the evaluation cycle, /metrics polled every 10 ms; medians.\n"
    )
    print(
        "| Schedule interval (s) | XADD → read counter on /metrics (s) | XADD → evaluated "
        "value on /metrics (s) | plain XREAD BLOCK (baseline, s) | evaluated / interval |"
    )
    print("|---:|---:|---:|---:|---:|")
    with redis_server() as client:
        for interval in QUICK_INTERVALS if quick else INTERVALS:
            read, seen, xread = measure(client, interval)
            print(
                f"| {interval:g} | {read:.3f} | {seen:.3f} | {xread:.4f} | {seen / interval:.2f} |"
            )


if __name__ == "__main__":
    main("--quick" in sys.argv)
