"""Load: 10 models at a combined 50,000 records/s: lag bounded, nothing lost, memory flat.

    python -m bench.load [--quick]     (5 minutes; --quick: 30 seconds)

The exporter runs as its own process (`python -m exporter`) against a private redis-server;
a producer process writes `batch` entries round-robin over the models at the target rate.
Reader lag is records written minus `mlmon_records_read_total` on /metrics.
"""

from __future__ import annotations

import multiprocessing as mp
import re
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import redis

from bench.common import free_port, machine, redis_server, rss_mb, unique_batches
from tests.helpers import model_yaml, sample, write_reference

MODELS = tuple(f"load{i}" for i in range(10))
RATE, SECONDS, QUICK_SECONDS, BATCH, MAXLEN = 50_000, 300.0, 30.0, 500, 400
READ = re.compile(r'mlmon_records_read_total\{kind="predictions",model="load\d+"\} ([0-9.e+]+)')
SKIPPED = re.compile(r'mlmon_records_skipped_total\{[^}]*kind="predictions"[^}]*\} ([0-9.e+]+)')


def produce(port: int, seconds: float, written: Any) -> None:
    """Write BATCH-record entries round-robin over the models at RATE records/s."""
    data = sample(np.random.default_rng(1), BATCH)
    rows = [
        orjson.dumps(
            {
                "prediction": float(data["x2"][i]),
                "features": {
                    k: (float(v[i]) if v.dtype.kind == "f" else str(v[i])) for k, v in data.items()
                },
            }
        )
        for i in range(BATCH)
    ]
    payloads = unique_batches(rows)  # unique ids: the label join holds what it would deployed
    client = redis.Redis(port=port, protocol=2)
    start, sent, model = time.monotonic(), 0, 0
    while time.monotonic() - start < seconds:
        if sent >= (time.monotonic() - start) * RATE:
            time.sleep(0.001)
            continue
        client.xadd(
            f"mlmon:{{{MODELS[model]}}}:predictions",
            {"batch": next(payloads)},
            maxlen=MAXLEN,
            approximate=True,
        )
        sent += BATCH
        model = (model + 1) % len(MODELS)
        with written.get_lock():
            written.value = sent


def _counters(port: int) -> tuple[float, float]:
    """(records read, entries skipped) summed over the models, from /metrics."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=30) as resp:
        body = resp.read().decode()
    return (sum(float(v) for v in READ.findall(body)), sum(float(v) for v in SKIPPED.findall(body)))


def _wait_backfilled(port: int) -> None:
    """Wait until every model has been evaluated: only then does the reader count records
    (entries found while rebuilding the windows at start-up are replays, not counted)."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as resp:
                if resp.read().count(b"mlmon_window_samples{") == len(MODELS):
                    return
        except OSError:
            pass
        time.sleep(0.1)
    raise SystemExit("the exporter did not evaluate its models within 60 s")


def run(seconds: float) -> tuple[list[tuple[float, float, int, float]], tuple[float, float, int]]:
    """Samples of (elapsed, RSS MB, written, read) and the final (read, skipped, written)."""
    with redis_server() as client, tempfile.TemporaryDirectory() as tmp:
        rport, wport = client.connection_pool.connection_kwargs["port"], free_port()
        write_reference(Path(tmp) / "ref.csv", sample(np.random.default_rng(0), 2000))
        (Path(tmp) / "config.yaml").write_text(
            f"redis: {{url: 'redis://127.0.0.1:{rport}/0'}}\n"
            f"web: {{listen_address: '127.0.0.1:{wport}'}}\nmodels:"
            + "".join(model_yaml(m, "15s") for m in MODELS)
        )
        exporter = subprocess.Popen(
            [sys.executable, "-m", "exporter", f"--config.file={Path(tmp) / 'config.yaml'}"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            _wait_backfilled(wport)
            written = mp.Value("q", 0)
            producer = mp.Process(target=produce, args=(rport, seconds, written))
            started = time.monotonic()
            producer.start()
            samples = []
            while producer.is_alive():
                time.sleep(seconds / 20)
                samples.append(
                    (
                        time.monotonic() - started,
                        rss_mb(exporter.pid),
                        int(written.value),
                        _counters(wport)[0],
                    )
                )
            producer.join()
            deadline = time.monotonic() + 60
            while _counters(wport)[0] < written.value and time.monotonic() < deadline:
                time.sleep(0.5)
            read, skipped = _counters(wport)
            return samples, (read, skipped, int(written.value))
        finally:
            exporter.terminate()
            exporter.wait(30)


def main(quick: bool = False) -> None:
    """Run the load and print the table."""
    seconds = QUICK_SECONDS if quick else SECONDS
    samples, (read, skipped, wrote) = run(seconds)
    print(f"## Load ({time.strftime('%Y-%m-%d')}; {machine()})\n")
    print(
        f"{len(MODELS)} models (5 features each, evaluated every 15 s), target "
        f"{RATE:,} records/s for {seconds:g} s in `batch` entries of {BATCH}; the producer "
        "is a separate process. Lag = written − read.\n"
    )
    print("| Elapsed s | Exporter RSS MB | Written | Read | Lag (records) |")
    print("|---:|---:|---:|---:|---:|")
    for elapsed, rss, w, r in samples:
        print(f"| {elapsed:.0f} | {rss:.1f} | {w:,} | {r:,.0f} | {w - r:,.0f} |")
    warm = [s[1] for s in samples[len(samples) // 3 :]]
    lags = [s[2] - s[3] for s in samples]
    rate = wrote / seconds
    print(
        f"\nWritten {wrote:,} ({rate:,.0f} records/s, target {RATE:,}: "
        f"{'met' if rate >= 0.98 * RATE else 'missed'}); read {read:,.0f}; skipped entries "
        f"{skipped:,.0f}; lost {wrote - read:,.0f} "
        f"({'none' if read >= wrote else 'MISSED'}). Max lag {max(lags):,.0f} records "
        f"(last {lags[-1]:,.0f}). RSS after warm-up {min(warm):.1f} to {max(warm):.1f} MB "
        f"(growth {max(warm) - warm[0]:+.1f} MB)."
    )


if __name__ == "__main__":
    main("--quick" in sys.argv)
