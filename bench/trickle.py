"""What the running exporter costs under steady traffic: CPU per second at paced record rates.

    python -m bench.trickle [--quick]

Production traffic is rarely a backlog: a model server writes each record as it serves it.
For each case (one model at several rates, and 100 models sharing 1,000 records/s), a
separate producer process XADDs single-record entries evenly spaced, one XADD each as a model
server does, spread over the models' streams. The same config runs in three exporters,
measured in turn in every repetition: without the linger (`linger: null`, a read handed on
per wake-up: the baseline), with the default 100ms, and with 1s. The figure is the exporter's
CPU seconds (from /proc) over the run, as a share of one core.
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

CASES = ((1, 100), (1, 1000), (1, 5000), (100, 1000))  # (models, records/s over all of them)
SECONDS, QUICK_SECONDS = 10.0, 3.0
REPEATS, QUICK_REPEATS = 3, 1
LINGERS = {"off (null)": "null", "100ms (default)": "0.1", "1s": "1"}


@dataclass
class Exporter:
    """One exporter with its own redis-server, so its reads are its own."""

    server: subprocess.Popen[bytes]
    client: redis.Redis
    daemon: Daemon
    streams: list[str]

    @classmethod
    def start(cls, directory: Path, models: int, linger: str) -> Exporter:
        """Start redis-server and the exporter on a config of `models` models; wait for it."""
        directory.mkdir()
        port = free_port()
        server = start_redis(port, str(directory))
        names = [f"m{i}" for i in range(models)]
        config = write_config(directory, port, names, linger=linger)
        daemon = Daemon.start(config, free_port(), directory / "exporter.log")
        daemon.wait_evaluated(models)
        streams = [f"mlmon:{{{n}}}:predictions" for n in names]
        return cls(server, redis.Redis(port=port, protocol=2), daemon, streams)

    def stop(self) -> None:
        """End the exporter and its redis-server by PID."""
        self.daemon.stop()
        self.server.terminate()
        self.server.wait(10)


def produce(port: int, streams: list[str], rate: int, seconds: float, seed: int) -> None:
    """The producer process: one XADD per record, evenly spaced at `rate` records a second,
    round-robin over the streams."""
    client = redis.Redis(port=port, protocol=2)
    rows = [orjson.dumps(r) for r in records(np.random.default_rng(seed), int(rate * seconds), "t")]
    start = time.monotonic()
    for i, row in enumerate(rows):
        wait = start + i / rate - time.monotonic()
        if wait > 0:
            time.sleep(wait)
        client.xadd(streams[i % len(streams)], {"data": row})


def measure(exporter: Exporter, rate: int, seconds: float, seed: int) -> float:
    """The exporter's CPU seconds per wall second while the producer runs, plus one second."""
    port = exporter.client.connection_pool.connection_kwargs["port"]
    args = (port, exporter.streams, rate, seconds, seed)
    cpu, start = cpu_seconds(exporter.daemon.proc.pid), time.monotonic()
    producer = mp.get_context("fork").Process(target=produce, args=args)
    producer.start()
    producer.join()
    time.sleep(1.0)  # what was written last is read (and lingered over) inside the window
    used = cpu_seconds(exporter.daemon.proc.pid) - cpu
    for stream in exporter.streams:
        exporter.client.xtrim(stream, maxlen=0)
    return used / (time.monotonic() - start)


Results = dict[tuple[int, int, str], list[float]]


def run(seconds: float, repeats: int) -> Results:
    """Every case with every linger, the lingers alternated in every repetition."""
    got: Results = {(m, r, k): [] for m, r in CASES for k in LINGERS}
    with tempfile.TemporaryDirectory() as tmp:
        exporters: dict[tuple[int, str], Exporter] = {}
        try:
            for models in sorted({m for m, _ in CASES}):
                for i, (name, linger) in enumerate(LINGERS.items()):
                    where = Path(tmp) / f"m{models}-{i}"
                    exporters[models, name] = Exporter.start(where, models, linger)
            for rep in range(repeats):
                for models, rate in CASES:
                    for name in LINGERS:
                        cpu = measure(exporters[models, name], rate, seconds, rep)
                        got[models, rate, name].append(cpu)
                        print(
                            f"  round {rep + 1}, {models} model(s), {rate} records/s, "
                            f"linger {name}: {cpu:.3f} of a core",
                            file=sys.stderr,
                            flush=True,
                        )
        finally:
            for exporter in exporters.values():
                exporter.stop()
    return got


def table(got: Results, seconds: float, repeats: int) -> str:
    """The markdown section."""
    names = list(LINGERS)
    lines = [
        f"### Steady traffic ({time.strftime('%Y-%m-%d')}; {machine()})",
        "",
        f"Single-record entries, one XADD per record from a separate process, {seconds:.0f} s "
        f"per case, median of {repeats}; load average {os.getloadavg()[0]:.1f} at the end. "
        "Exporter CPU from /proc, as a share of one core, by `redis.linger`.",
        "",
        "| Models | Records/s (all models) | " + " | ".join(f"linger {n}" for n in names) + " |",
        "|---:|---:|" + "---:|" * len(names),
    ]
    for models, rate in CASES:
        cells = " | ".join(f"{statistics.median(got[models, rate, n]):.1%}" for n in names)
        lines.append(f"| {models} | {rate:,} | {cells} |")
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
