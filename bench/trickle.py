"""What the running exporter costs under steady traffic: CPU per second at paced record rates.

    python -m bench.trickle [--quick]

Production traffic is rarely a backlog: a model server writes each record as it serves it.
For each rate, a separate producer process XADDs single-record entries evenly spaced (one
XADD each, as a model server does) for a fixed time, while the exporter runs with the
default `redis.linger` and, in the same repetition, an exporter of the same config without
it (`linger: null`, every read handed on at once: the baseline). The figure is the exporter's
CPU seconds (from /proc) over the run, as a share of one core, and per record.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import orjson
import redis

from bench._daemon import Daemon, write_config
from bench._producer import records
from bench.common import cpu_seconds, free_port, machine, record_section, start_redis

RATES = (100, 1000, 5000)
SECONDS, QUICK_SECONDS = 10.0, 3.0
REPEATS, QUICK_REPEATS = 3, 1
LINGERS = {"default (100ms)": "0.1", "off (null)": "null"}


@dataclass
class Exporter:
    """One exporter with its own redis-server, so its reads are its own."""

    server: subprocess.Popen[bytes]
    client: redis.Redis
    daemon: Daemon
    stream: str

    @classmethod
    def start(cls, directory: Path, linger: str) -> Exporter:
        """Start redis-server and the exporter on a one-model config; wait for it."""
        directory.mkdir()
        port = free_port()
        server = start_redis(port, str(directory))
        config = write_config(directory, port, ["m"], linger=linger)
        daemon = Daemon.start(config, free_port(), directory / "exporter.log")
        daemon.wait_evaluated(1)
        return cls(server, redis.Redis(port=port, protocol=2), daemon, "mlmon:{m}:predictions")

    def stop(self) -> None:
        """End the exporter and its redis-server by PID."""
        self.daemon.stop()
        self.server.terminate()
        self.server.wait(10)


def produce(port: int, stream: str, rate: int, seconds: float, seed: int) -> None:
    """The producer process: one XADD per record, evenly spaced at `rate` records a second."""
    client = redis.Redis(port=port, protocol=2)
    rows = [orjson.dumps(r) for r in records(np.random.default_rng(seed), int(rate * seconds), "t")]
    start = time.monotonic()
    for i, row in enumerate(rows):
        wait = start + i / rate - time.monotonic()
        if wait > 0:
            time.sleep(wait)
        client.xadd(stream, {"data": row})


def measure(exporter: Exporter, rate: int, seconds: float, seed: int) -> float:
    """The exporter's CPU seconds per wall second while the producer runs, plus one second."""
    port = exporter.client.connection_pool.connection_kwargs["port"]
    args = (port, exporter.stream, rate, seconds, seed)
    cpu, start = cpu_seconds(exporter.daemon.proc.pid), time.monotonic()
    producer = mp.get_context("fork").Process(target=produce, args=args)
    producer.start()
    producer.join()
    time.sleep(1.0)  # what was written last is read (and lingered over) inside the window
    used = cpu_seconds(exporter.daemon.proc.pid) - cpu
    exporter.client.xtrim(exporter.stream, maxlen=0)
    return used / (time.monotonic() - start)


def run(seconds: float, repeats: int) -> dict[tuple[str, int], list[float]]:
    """Every rate with both exporters, alternated in every repetition."""
    got: dict[tuple[str, int], list[float]] = {(k, r): [] for k in LINGERS for r in RATES}
    with tempfile.TemporaryDirectory() as tmp:
        exporters = {}
        try:
            for i, (name, linger) in enumerate(LINGERS.items()):
                exporters[name] = Exporter.start(Path(tmp) / f"e{i}", linger)
            for rep in range(repeats):
                for rate in RATES:
                    for name, exporter in exporters.items():
                        got[name, rate].append(measure(exporter, rate, seconds, rep))
                        print(
                            f"  round {rep + 1}, {rate} records/s, linger {name}: "
                            f"{got[name, rate][-1]:.3f} of a core",
                            file=sys.stderr,
                            flush=True,
                        )
        finally:
            for exporter in exporters.values():
                exporter.stop()
    return got


def table(got: dict[tuple[str, int], list[float]], seconds: float, repeats: int) -> str:
    """The markdown section."""
    on, off = LINGERS
    lines = [
        f"### Steady traffic ({time.strftime('%Y-%m-%d')}; {machine()})",
        "",
        f"One model, single-record entries, one XADD per record from a separate process, "
        f"{seconds:.0f} s per rate, median of {repeats}; load average "
        f"{os.getloadavg()[0]:.1f} at the end. Exporter CPU from /proc, as a share of one core.",
        "",
        "| Records/s | CPU, linger off (baseline) | CPU, default linger | µs of CPU a record, "
        "off | µs a record, default | Default ÷ off |",
        "|---:|---:|---:|---:|---:|---:|",
    ]
    for rate in RATES:
        a, b = statistics.median(got[off, rate]), statistics.median(got[on, rate])
        lines.append(
            f"| {rate:,} | {a:.1%} | {b:.1%} | {a / rate * 1e6:.0f} | {b / rate * 1e6:.0f} "
            f"| {b / a:.2f} |"
        )
    return "\n".join(lines) + "\n"


def main(quick: bool = False) -> None:
    """Run every rate and print the table; a full run also records it in the docs."""
    seconds, repeats = (QUICK_SECONDS, QUICK_REPEATS) if quick else (SECONDS, REPEATS)
    text = table(run(seconds, repeats), seconds, repeats)
    print(text)
    if not quick:
        record_section("trickle", "Steady traffic", text)


if __name__ == "__main__":
    main("--quick" in sys.argv[1:])
