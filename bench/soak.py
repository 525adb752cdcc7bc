"""Soak: 10 models at 20,000 records/s for 10 minutes, Prometheus scraping every second, and
one Redis restart in the middle. Checks that nothing crashes, no record is lost, and memory
stays flat after warm-up. `python -m bench.soak [--minutes N] [--rate R]`."""

from __future__ import annotations

import argparse
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

from bench.common import free_port, machine, rss_mb, start_redis, unique_batches, wait_ready
from tests.helpers import model_yaml, sample, write_reference

MODELS = tuple(f"soak{i}" for i in range(10))
BATCH = 200


def produce(port: int, rate: float, seconds: float, written: Any) -> None:
    """Write batch entries round-robin over the models at `rate` records/s, riding out outages."""
    rng = np.random.default_rng(1)
    data = sample(rng, BATCH)
    rows = [
        orjson.dumps(
            {
                "features": {
                    k: (float(v[i]) if v.dtype.kind == "f" else str(v[i])) for k, v in data.items()
                },
                "prediction": float(data["x2"][i]),
            }
        )
        for i in range(BATCH)
    ]
    payloads = unique_batches(rows)
    payload = next(payloads)
    client = redis.Redis(port=port, protocol=2, socket_timeout=2)
    start, sent, model = time.monotonic(), 0, 0
    while time.monotonic() - start < seconds:
        due = (time.monotonic() - start) * rate
        if sent >= due:
            time.sleep(0.002)
            continue
        try:
            client.xadd(
                f"mlmon:{{{MODELS[model]}}}:predictions",
                {"batch": payload},
                maxlen=200_000,
                approximate=True,
            )
        except redis.RedisError:
            time.sleep(0.05)
            continue
        payload = next(payloads)
        sent += BATCH
        model = (model + 1) % len(MODELS)
        with written.get_lock():
            written.value += BATCH


def _read_total(port: int) -> float:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as resp:
        body = resp.read().decode()
    return sum(
        float(v)
        for v in re.findall(
            r'mlmon_records_read_total\{kind="predictions",model="soak\d+"\} ([0-9.e+]+)', body
        )
    )


def main() -> None:
    """Run the soak and print the table."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--rate", type=float, default=20_000.0)
    args = parser.parse_args()
    seconds = args.minutes * 60
    from tests.promstack import start_prometheus

    with tempfile.TemporaryDirectory() as tmp:
        tmpdir = Path(tmp)
        rport, wport = free_port(), free_port()
        server = start_redis(rport, tmp)
        write_reference(tmpdir / "ref.csv", sample(np.random.default_rng(0), 2000))
        (tmpdir / "config.yaml").write_text(
            f"redis: {{url: 'redis://127.0.0.1:{rport}/0', backoff_max: 1s}}\n"
            f"web: {{listen_address: '127.0.0.1:{wport}'}}\n"
            "defaults: {window: {duration: 5m, max_samples: 10000}, schedule: {interval: 15s}}\n"
            "models:" + "".join(model_yaml(m, "15s") for m in MODELS)
        )
        exporter = subprocess.Popen(
            [sys.executable, "-m", "exporter", f"--config.file={tmpdir / 'config.yaml'}"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_ready(wport)
        prom = start_prometheus(tmpdir, [f"127.0.0.1:{wport}"])
        written = mp.Value("q", 0)
        producer = mp.Process(target=produce, args=(rport, args.rate, seconds, written))
        producer.start()
        samples, started, restarted = [], time.monotonic(), False
        try:
            while producer.is_alive():
                time.sleep(min(30.0, seconds / 10))
                elapsed = time.monotonic() - started
                if not restarted and elapsed >= seconds / 2:
                    redis.Redis(port=rport).shutdown(save=True)
                    server.wait(30)
                    server = start_redis(rport, tmp)
                    restarted = True
                samples.append(
                    (
                        elapsed,
                        rss_mb(exporter.pid),
                        written.value,
                        _read_total(wport),
                        exporter.poll() is None,
                    )
                )
            producer.join()
            deadline = time.monotonic() + 120
            while _read_total(wport) < written.value and time.monotonic() < deadline:
                time.sleep(1)
            final = (_read_total(wport), written.value, exporter.poll() is None)
        finally:
            prom.stop()
            exporter.terminate()
            exporter.wait(30)
            server.terminate()
            server.wait(30)
    _report(args, samples, final)


def _report(
    args: argparse.Namespace,
    samples: list[tuple[float, float, int, float, bool]],
    final: tuple[float, int, bool],
) -> None:
    print(f"## Soak ({time.strftime('%Y-%m-%d')}; {machine()})\n")
    print(
        f"{len(MODELS)} models, target {args.rate:,.0f} records/s for {args.minutes:g} min, "
        "Prometheus scraping every second, Redis restarted (saving its data) half-way.\n"
    )
    print("| Elapsed s | Exporter RSS MB | Written | Read | Alive |")
    print("|---:|---:|---:|---:|---|")
    for elapsed, rss, wrote, read, alive in samples:
        print(f"| {elapsed:.0f} | {rss:.1f} | {wrote:,} | {read:,.0f} | {alive} |")
    read, wrote, alive = final
    print(
        f"\nFinal: written {wrote:,}, read {read:,.0f}, lost {wrote - read:,.0f}, "
        f"exporter alive: {alive}; achieved {wrote / (args.minutes * 60):,.0f} records/s."
    )


if __name__ == "__main__":
    main()
