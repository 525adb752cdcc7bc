"""Scrape concurrency: 500 scrapes at once against the exporter running as its own process.

    python -m bench.scrape_concurrency [--quick]

The exporter (`python -m exporter run`) serves five evaluated models from a private
redis-server. The load generator is this process: asyncio connections (one thread, so the
client itself does not fight over a GIL), each a fresh TCP connection sending one
`GET /metrics` and reading the whole answer. A burst opens all of them at once; latency is
connect to last byte. Baseline in the same run: the median of sequential single scrapes.
"""

from __future__ import annotations

import asyncio
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from importlib import metadata
from pathlib import Path

import numpy as np

from bench.common import RUNS, free_port, machine, redis_server
from tests.helpers import model_yaml, records, sample, write_reference, xadd_all

MODELS = tuple(f"scrape{i}" for i in range(5))
CONCURRENCY = 500
SINGLE_SCRAPES = 20
QUICK_RUNS = 3
TIMEOUT_SECONDS = 60.0
TARGET_P99_SECONDS = 2.0
GZIP = "Accept-Encoding: gzip\r\n"


async def _scrape(port: int, extra: str) -> tuple[int, float]:
    """(status, seconds) of one GET /metrics on a new connection; status 0 is an error."""
    start = time.perf_counter()
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(
            f"GET /metrics HTTP/1.1\r\nHost: bench\r\n{extra}Connection: close\r\n\r\n".encode()
        )
        await writer.drain()
        answer = await reader.read()
        writer.close()
        status = int(answer[9:12]) if answer.startswith(b"HTTP/1.") else 0
    except (OSError, ValueError):  # refused, reset, or a broken status line
        status = 0
    return status, time.perf_counter() - start


async def _bounded(port: int, extra: str) -> tuple[int, float]:
    try:
        return await asyncio.wait_for(_scrape(port, extra), TIMEOUT_SECONDS)
    except TimeoutError:
        return 0, TIMEOUT_SECONDS


async def _burst(port: int, extra: str, count: int) -> list[tuple[int, float]]:
    return await asyncio.gather(*(_bounded(port, extra) for _ in range(count)))


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def burst(port: int, extra: str = "") -> tuple[float, float, float, int]:
    """(p50, p99, max) latency in seconds and the number of errors of one burst."""
    results = asyncio.run(_burst(port, extra, CONCURRENCY))
    latencies = [seconds for _, seconds in results]
    errors = sum(1 for status, _ in results if status != 200)
    return (_percentile(latencies, 0.5), _percentile(latencies, 0.99), max(latencies), errors)


def single(port: int, extra: str = "") -> float:
    """Median seconds of sequential scrapes, each on a new connection: the baseline."""
    times = [asyncio.run(_bounded(port, extra))[1] for _ in range(SINGLE_SCRAPES)]
    return statistics.median(times)


def _write_config(tmp: Path, rport: int, wport: int) -> Path:
    rng = np.random.default_rng(0)
    write_reference(tmp / "ref.csv", sample(rng, 2000))
    path = tmp / "config.yaml"
    path.write_text(
        f"redis: {{url: 'redis://127.0.0.1:{rport}/0'}}\n"
        f"web: {{listen_address: '127.0.0.1:{wport}'}}\nmodels:"
        + "".join(model_yaml(m, "15s") for m in MODELS)
    )
    return path


def _wait_evaluated(port: int) -> bytes:
    """The /metrics body once every model has been evaluated."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as resp:
                body = bytes(resp.read())
            if body.count(b"mlmon_window_samples{") == len(MODELS):
                return body
        except OSError:
            pass
        time.sleep(0.2)
    raise SystemExit("the exporter did not evaluate its models within 60 s")


def measure(runs: int) -> tuple[bytes, dict[str, list[tuple[float, ...]]]]:
    """The body served and, per encoding, one (single, p50, p99, max, errors) per run."""
    results: dict[str, list[tuple[float, ...]]] = {"identity": [], "gzip": []}
    with redis_server() as client, tempfile.TemporaryDirectory() as tmp:
        rng = np.random.default_rng(1)
        for model in MODELS:
            xadd_all(client, f"mlmon:{{{model}}}:predictions", records(sample(rng, 1000)))
        rport, wport = client.connection_pool.connection_kwargs["port"], free_port()
        config = _write_config(Path(tmp), rport, wport)
        exporter = subprocess.Popen(
            [sys.executable, "-m", "exporter", "run", f"--config.file={config}"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            body = _wait_evaluated(wport)
            for _ in range(runs):
                for name, extra in (("identity", ""), ("gzip", GZIP)):
                    results[name].append((single(wport, extra), *burst(wport, extra)))
        finally:
            exporter.terminate()
            exporter.wait(30)
    return body, results


def main(quick: bool = False) -> None:
    """Print the concurrency table."""
    runs = QUICK_RUNS if quick else RUNS
    body, results = measure(runs)
    series = sum(1 for line in body.split(b"\n") if line and not line.startswith(b"#"))
    print(
        f"## Scrape concurrency ({time.strftime('%Y-%m-%d')}; {machine()}, "
        f"cheroot {metadata.version('cheroot')})\n"
    )
    print(
        f"The exporter as its own process, {len(MODELS)} evaluated models: {series} series, "
        f"{len(body) / 1024:.0f} KiB of text. {CONCURRENCY} scrapes opened at once, each on "
        f"a new connection; median over {runs} bursts (errors: the sum). Baseline: median of "
        f"{SINGLE_SCRAPES} sequential scrapes in the same run. Target: all served, "
        f"p99 under {TARGET_P99_SECONDS:g} s.\n"
    )
    print(
        "| Encoding | Single scrape (baseline, s) | p50 (s) | p99 (s) | max (s) | Errors | "
        "p50 / single | p99 / single | Target |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---|")
    for name, rows in results.items():
        one, p50, p99, worst = (statistics.median(r[i] for r in rows) for i in range(4))
        errors = int(sum(r[4] for r in rows))
        met = errors == 0 and p99 < TARGET_P99_SECONDS
        print(
            f"| {name} | {one:.4f} | {p50:.3f} | {p99:.3f} | {worst:.3f} | {errors} | "
            f"{p50 / one:.0f} | {p99 / one:.0f} | {'met' if met else 'missed'} |"
        )


if __name__ == "__main__":
    main("--quick" in sys.argv)
