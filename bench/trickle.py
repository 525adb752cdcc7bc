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
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import orjson
import redis

from bench._producer import records
from bench.common import cpu_seconds, machine, record_section
from bench.daemon_ingest import Case, Setup

CASES = ((1, 100), (1, 1000), (1, 5000), (100, 1000))  # (models, records/s over all of them)
SECONDS, QUICK_SECONDS = 10.0, 3.0
REPEATS, QUICK_REPEATS = 3, 1
LINGERS = {"off (null)": "null", "100ms (default)": "0.1", "1s": "1"}


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


def measure(setup: Setup, rate: int, seconds: float, seed: int) -> float:
    """The exporter's CPU seconds per wall second while the producer runs, plus one second."""
    port = setup.client.connection_pool.connection_kwargs["port"]
    args = (port, setup.case.streams(), rate, seconds, seed)
    cpu, start = cpu_seconds(setup.daemon.proc.pid), time.monotonic()
    producer = mp.get_context("fork").Process(target=produce, args=args)
    producer.start()
    producer.join()
    time.sleep(1.0)  # what was written last is read (and lingered over) inside the window
    used = cpu_seconds(setup.daemon.proc.pid) - cpu
    for stream in setup.case.streams():
        setup.client.xtrim(stream, maxlen=0)
    return used / (time.monotonic() - start)


Results = dict[tuple[int, int, str], list[float]]


def run(seconds: float, repeats: int) -> Results:
    """Every case with every linger, the lingers alternated in every repetition."""
    got: Results = {(m, r, k): [] for m, r in CASES for k in LINGERS}
    with tempfile.TemporaryDirectory() as tmp:
        exporters: dict[tuple[int, str], Setup] = {}
        try:
            for models in sorted({m for m, _ in CASES}):
                for i, (name, linger) in enumerate(LINGERS.items()):
                    where = Path(tmp) / f"linger{i}"
                    where.mkdir(exist_ok=True)
                    case = Case(f"of{models}m", f"{models} model(s)", models, 1)
                    exporters[models, name] = Setup.start(case, where, linger)
            for setup in exporters.values():
                setup.daemon.wait_evaluated(setup.case.models)
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
