"""Shared bench plumbing: a private redis-server, medians, and the machine description."""

from __future__ import annotations

import os
import platform
import re
import shutil
import socket
import statistics
import subprocess
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import redis

RUNS = 5


def free_port() -> int:
    """A free TCP port on loopback."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_redis(port: int, workdir: str) -> subprocess.Popen[bytes]:
    """A redis-server on loopback, without persistence, answering PING; the caller ends it."""
    binary = shutil.which("redis-server")
    if binary is None:
        raise SystemExit("redis-server is required (apt-get install redis-server)")
    proc = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--dir", workdir],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    client = redis.Redis(port=port, protocol=2)
    deadline = time.monotonic() + 10
    while True:
        try:
            client.ping()
            return proc
        except redis.ConnectionError:
            if time.monotonic() > deadline or proc.poll() is not None:
                proc.kill()
                raise
            time.sleep(0.05)
        finally:
            client.close()


@contextmanager
def redis_server() -> Iterator[redis.Redis]:
    """A throwaway redis-server on loopback, ended by its PID afterwards."""
    with tempfile.TemporaryDirectory() as workdir:
        port = free_port()
        proc = start_redis(port, workdir)
        try:
            yield redis.Redis(port=port, protocol=2)
        finally:
            proc.terminate()
            proc.wait(10)


def wait_ready(port: int, seconds: float = 120.0) -> None:
    """Wait until the exporter on port answers /readyz with 200."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=5) as resp:
                if resp.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"the exporter on port {port} was not ready within {seconds:.0f} s")


def rss_mb(pid: int) -> float:
    """Resident memory of a process, from /proc/<pid>/status."""
    match = re.search(r"VmRSS:\s+(\d+) kB", Path(f"/proc/{pid}/status").read_text())
    return int(match.group(1)) / 1024 if match else float("nan")


def unique_batches(rows: list[bytes]) -> Iterator[bytes]:
    """`batch` payloads of the given records, each record with an id never used before.

    Unique ids, as a producer sends: the label join then holds every record it is told to
    remember (up to labels.max_pending), so the soak's memory is the deployed one.
    """
    serial = 0
    while True:
        yield (
            b"["
            + b",".join(b'{"id":"p%d",' % (serial + i) + row[1:] for i, row in enumerate(rows))
            + b"]"
        )
        serial += len(rows)


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time of a process so far, from /proc/<pid>/stat."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def median_seconds(fn: Callable[[], object], runs: int = RUNS) -> float:
    """Median wall time of fn over several runs."""
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def machine() -> str:
    """Versions and machine, for the header of every table."""
    import numpy
    import redis as redis_py

    return (
        f"Python {platform.python_version()}, numpy {numpy.__version__}, "
        f"redis-py {redis_py.__version__}, {os.cpu_count()} cores, {platform.machine()}"
    )


DOC = Path(__file__).resolve().parent.parent / "docs" / "benchmarks.md"


def record_section(name: str, heading: str, text: str) -> None:
    """Put text between the `bench.<name>` markers in docs/benchmarks.md, or at its end under
    a new `heading` when the markers are not there yet; what surrounds them is hand-written."""
    begin, end = f"<!-- bench.{name}: begin -->", f"<!-- bench.{name}: end -->"
    doc = DOC.read_text()
    start, stop = doc.find(begin), doc.find(end)
    if start < 0 or stop < start:
        doc = doc.rstrip("\n") + f"\n\n## {heading}\n\n{begin}\n{text}{end}\n"
    else:
        doc = doc[: start + len(begin)] + "\n" + text + doc[stop:]
    DOC.write_text(doc)
