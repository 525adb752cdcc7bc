"""Ingest through the daemon: records/s a running exporter consumes, against baselines fetched
from the very same stream in the same repetition.

    python -m bench.daemon_ingest [--quick]

Per case a redis-server and an exporter process (`python -m exporter`); a producer process.
Each repetition visits every case in turn: the case's exporter is paused (SIGSTOP), the
producer fills its streams with N records, the bench process pages through those entries with
XRANGE (raw, then with orjson.loads of each field), then the exporter is resumed (SIGCONT) and
timed until its own mlmon_records_read_total has grown by N. The streams are then trimmed.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import cast

import hiredis
import msgspec
import orjson
import redis

from bench._daemon import Daemon, write_config
from bench._producer import produce
from bench.common import cpu_seconds, free_port, machine, record_section, rss_mb, start_redis
from exporter.source.server import ReplySize

RECORDS, QUICK_RECORDS = 60_000, 5_000
REPEATS, QUICK_REPEATS = 3, 3
POLL_SECONDS = 0.005  # asks Redis, not the exporter
BASELINE_COUNT = 1000  # the baselines' XRANGE page; see baseline_count
Entry = tuple[bytes, dict[bytes, bytes]]


@dataclass(frozen=True)
class Case:
    """A row of the table: how many models share the N records, and records per entry."""

    key: str
    label: str
    models: int
    batch: int  # 1: one record per `data` entry; more: entries of that many
    layout: str = "batch"  # entries of many records: `batch` (rows) or `columns`

    def names(self) -> list[str]:
        """Model names, distinct per case."""
        return [f"{self.key}{i}" for i in range(self.models)]

    def streams(self) -> list[str]:
        """The models' prediction streams, at their default keys."""
        return [f"mlmon:{{{n}}}:predictions" for n in self.names()]


CASES = (
    Case("single", "single entries, 1 model", 1, 1),
    Case("batch", "batch entries of 100, 1 model", 1, 100),
    Case("columns", "columns entries of 100, 1 model", 1, 100, "columns"),
    Case("ten", "single entries, 10 models", 10, 1),
    Case("hundred", "single entries, 100 models", 100, 1),
)


@dataclass
class Measured:
    """Records per wall second and per CPU second of each path, one value per repetition,
    and the exporter's RSS at the end. CPU counts the reading process and redis-server."""

    daemon: list[float] = field(default_factory=list)
    raw: list[float] = field(default_factory=list)
    decoded: list[float] = field(default_factory=list)
    daemon_cpu: list[float] = field(default_factory=list)
    raw_cpu: list[float] = field(default_factory=list)
    decoded_cpu: list[float] = field(default_factory=list)
    rss_mb: float = float("nan")


def baseline_count(client: redis.Redis, stream: str) -> int:
    """The baselines' COUNT: 1,000 entries, fewer when entries are large, as the exporter's XREAD.

    Fixed rather than the exporter's `redis.read_count` (4,000 since issue #18): redis-py's
    XRANGE of 4,000 entries runs at about two thirds of its rate at 1,000 here (the collector
    traverses the larger replies), so a baseline that followed the tuning would credit it twice.
    """
    size = ReplySize()
    size.learn(cast(list[Entry], client.xrange(stream, count=16)))
    return size.count(BASELINE_COUNT)


def fetch(client: redis.Redis, streams: list[str], decode: bool) -> int:
    """A baseline: page through every stream with XRANGE, each field parsed when asked."""
    count, records_seen = baseline_count(client, streams[0]), 0
    for stream in streams:
        last = "-"
        while True:
            page = cast(list[Entry], client.xrange(stream, min=last, max="+", count=count))
            for _, fields in page:
                if decode:
                    for value in fields.values():
                        records_seen += _records(orjson.loads(value))
            if len(page) < count:  # the stream's end: no round trip for an empty page
                break
            last = "(" + page[-1][0].decode()
    return records_seen


def _records(parsed: object) -> int:
    """Records in a parsed field: a record, a batch's array, or a columns object's ids."""
    if isinstance(parsed, list):
        return len(parsed)
    if isinstance(parsed, dict) and isinstance(parsed.get("id"), list):
        return len(parsed["id"])
    return 1


def timed(fn: Callable[[], object], server: int) -> tuple[float, float]:
    """Wall seconds of one call, and the CPU seconds it and redis-server (PID) spent."""
    cpu, server_cpu, start = time.process_time(), cpu_seconds(server), time.perf_counter()
    fn()
    wall = time.perf_counter() - start
    return wall, time.process_time() - cpu + cpu_seconds(server) - server_cpu


@dataclass(frozen=True)
class Setup:
    """A case's own redis-server (so its only blocking client is this exporter) and exporter."""

    case: Case
    server: subprocess.Popen[bytes]
    client: redis.Redis
    daemon: Daemon

    @classmethod
    def start(cls, case: Case, workdir: Path, linger: str = "null") -> Setup:
        """Start the case's redis-server and exporter (not waiting for the exporter);
        `linger` is the config's `redis.linger` (off: see write_config)."""
        directory = workdir / case.key
        directory.mkdir()
        port = free_port()
        server = start_redis(port, str(directory))
        config = write_config(directory, port, case.names(), linger=linger)
        daemon = Daemon.start(config, free_port(), directory / "exporter.log")
        return cls(case, server, redis.Redis(port=port, protocol=2), daemon)

    def idle(self) -> bool:
        """True while the exporter's reader waits in XREAD BLOCK: it has read everything."""
        return int(self.client.info("clients")["blocked_clients"]) > 0

    def stop(self) -> None:
        """End the exporter (resumed first, were it paused) and the redis-server, by PID."""
        if self.daemon.proc.poll() is None:
            os.kill(self.daemon.proc.pid, signal.SIGCONT)
        self.daemon.stop()
        self.server.terminate()
        self.server.wait(10)


def consume(setup: Setup, target: float, seconds: float = 300.0) -> tuple[float, float]:
    """Resume the paused exporter; wall seconds until its own counter shows target records,
    and the CPU seconds the exporter and redis-server spent meanwhile.

    Redis says, at no cost to the exporter, when the reader waits for new entries; the
    exporter's counter then confirms all N were counted. Scraping /metrics every few
    milliseconds instead would take the GIL from the reader it is timing.
    """
    pids = (setup.daemon.proc.pid, setup.server.pid)
    cpu, start = sum(map(cpu_seconds, pids)), time.perf_counter()
    os.kill(setup.daemon.proc.pid, signal.SIGCONT)
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if setup.idle():
            wall, used = time.perf_counter() - start, sum(map(cpu_seconds, pids)) - cpu
            if setup.daemon.records_read() >= target:  # the scrape is not timed
                return wall, used
        time.sleep(POLL_SECONDS)
    raise SystemExit(f"{setup.case.label}: {target:,.0f} records not read in {seconds:.0f} s")


def repetition(setup: Setup, n: int, seed: int, got: Measured) -> None:
    """One round of a case: fill while paused, the two baselines, then the exporter."""
    client, streams = setup.client, setup.case.streams()
    before = setup.daemon.records_read()
    os.kill(setup.daemon.proc.pid, signal.SIGSTOP)
    try:
        port = client.connection_pool.connection_kwargs["port"]
        args = (port, streams, n, setup.case.batch, seed, setup.case.layout)
        producer = mp.get_context("fork").Process(target=produce, args=args)
        producer.start()
        producer.join()
        if producer.exitcode != 0:
            raise SystemExit(f"the producer failed with {producer.exitcode}")
        wall, cpu = timed(lambda: fetch(client, streams, decode=False), setup.server.pid)
        got.raw.append(n / wall)
        got.raw_cpu.append(n / cpu)
        wall, cpu = timed(lambda: fetch(client, streams, decode=True), setup.server.pid)
        got.decoded.append(n / wall)
        got.decoded_cpu.append(n / cpu)
    finally:
        wall, cpu = consume(setup, before + n)
        got.daemon.append(n / wall)
        got.daemon_cpu.append(n / cpu)
    for stream in streams:
        client.xtrim(stream, maxlen=0)


def run(n: int, repeats: int, workdir: Path) -> dict[Case, Measured]:
    """Every case, alternated in every repetition."""
    setups: list[Setup] = []
    try:
        for case in CASES:
            setups.append(Setup.start(case, workdir))
        started = time.monotonic()
        for setup in setups:
            setup.daemon.wait_evaluated(setup.case.models)
        say(f"exporters ready after {time.monotonic() - started:.0f} s")
        results = {case: Measured() for case in CASES}
        for rep in range(repeats):
            for number, setup in enumerate(setups):
                got = results[setup.case]
                repetition(setup, n, 100 * rep + number, got)
                say(
                    f"{setup.case.label}, round {rep + 1}: daemon {got.daemon[-1]:,.0f}, "
                    f"raw {got.raw[-1]:,.0f}, orjson {got.decoded[-1]:,.0f} records/s"
                )
        for setup in setups:
            results[setup.case].rss_mb = rss_mb(setup.daemon.proc.pid)
        return results
    finally:
        for setup in setups:
            setup.stop()


def say(text: str) -> None:
    """Progress on stderr, so stdout stays the markdown."""
    print(f"  [{time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)


def ratio(a: list[float], b: list[float]) -> float:
    """Median of the per-repetition ratios a/b: pairs measured back to back."""
    return statistics.median(x / y for x, y in zip(a, b, strict=True))


def versions() -> str:
    """What the figures depend on, for the table's header."""
    server = subprocess.run(
        ["redis-server", "--version"], capture_output=True, text=True, check=False
    ).stdout.split()
    redis_server = next((w[2:] for w in server if w.startswith("v=")), "?")
    return (
        f"{machine()}, hiredis {hiredis.__version__}, msgspec {msgspec.__version__}, "
        f"orjson {orjson.__version__}, redis-server {redis_server}"
    )


def table(results: dict[Case, Measured], n: int, repeats: int, load: str) -> str:
    """The markdown: rates per case, then the checks of issue #18."""
    lines = [
        f"## Ingest through the daemon ({time.strftime('%Y-%m-%d')}; {versions()})",
        "",
        f"{n:,} records per case and repetition, median of {repeats} repetitions; the cases "
        "and the baselines alternate in every repetition; load average " + load + ". Daemon: "
        "a running `python -m exporter` resumed after its streams were filled, timed until "
        "its own `mlmon_records_read_total` grew by N (reader thread, XREAD, decode, "
        "validate, window, label join, counters; the end is when Redis sees its reader wait "
        "for new entries, confirmed by the counter). Raw XRANGE: redis-py paging through "
        "the same entries 1,000 at a time (fewer for large entries, as the daemon's XREAD; "
        "not the daemon's own COUNT, see `baseline_count`). XRANGE + orjson: the "
        "same, plus `orjson.loads` of each entry's field (a batch array whole). Ratios are "
        "medians of the per-repetition ratios, on wall time and, in brackets, on CPU time "
        "(the reading process plus redis-server), which the other jobs on the machine "
        "disturb less.",
        "",
        "| Case | Daemon records/s | Raw XRANGE records/s | XRANGE + orjson records/s "
        "| Daemon ÷ raw | Daemon ÷ orjson | Daemon RSS after, MB |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for case, m in results.items():
        lines.append(
            f"| {case.label} | {statistics.median(m.daemon):,.0f} | "
            f"{statistics.median(m.raw):,.0f} | {statistics.median(m.decoded):,.0f} | "
            f"{ratio(m.daemon, m.raw):.2f} ({ratio(m.daemon_cpu, m.raw_cpu):.2f}) | "
            f"{ratio(m.daemon, m.decoded):.2f} ({ratio(m.daemon_cpu, m.decoded_cpu):.2f}) | "
            f"{m.rss_mb:.0f} |"
        )
    single, batch, columns, _, hundred = (results[c] for c in CASES)
    checks = [
        ("single entries ÷ raw XRANGE of the same stream", single, single, "raw", 0.5),
        ("batch entries ÷ XRANGE + orjson of the same stream", batch, batch, "decoded", 0.5),
        ("batch entries ÷ the daemon's own single entries", batch, single, "daemon", 3.0),
        ("columns entries ÷ XRANGE + orjson of the same stream", columns, columns, "decoded", 0.5),
        ("columns entries ÷ the daemon's own single entries", columns, single, "daemon", 3.0),
        ("100 models ÷ 1 model, single entries", hundred, single, "daemon", 0.8),
    ]
    lines += [
        "",
        "| Check of issue #18 | Measured, wall | Measured, CPU | Target | Met |",
        "|---|---:|---:|---:|---|",
    ]
    for name, ours, base, path, target in checks:
        wall = ratio(ours.daemon, getattr(base, path))
        cpu = ratio(ours.daemon_cpu, getattr(base, path + "_cpu"))
        met = "yes" if wall >= target and cpu >= target else "no"
        lines.append(f"| {name} | {wall:.2f} | {cpu:.2f} | ≥ {target:g} | {met} |")
    return "\n".join(lines) + "\n"


def main(quick: bool = False) -> None:
    """Run every case and print the table; a full run also records it in the docs."""
    n, repeats = (QUICK_RECORDS, QUICK_REPEATS) if quick else (RECORDS, REPEATS)
    before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as tmp:
        results = run(n, repeats, Path(tmp))
    load = f"{before:.1f} at the start, {os.getloadavg()[0]:.1f} at the end"
    text = table(results, n, repeats, load)
    print(text)
    if not quick:
        record_section("daemon_ingest", "Ingest through the daemon", "#" + text)  # a subsection


if __name__ == "__main__":
    main("--quick" in sys.argv[1:])
