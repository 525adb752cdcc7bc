"""Shared bench plumbing: a private redis-server, medians, and the machine description."""

from __future__ import annotations

import os
import platform
import shutil
import socket
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import redis

RUNS = 5


def free_port() -> int:
    """A free TCP port on loopback."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def redis_server() -> Iterator[redis.Redis]:
    """A throwaway redis-server on loopback, ended by its PID afterwards."""
    binary = shutil.which("redis-server")
    if binary is None:
        raise SystemExit("redis-server is required (apt-get install redis-server)")
    port = free_port()
    with tempfile.TemporaryDirectory() as workdir:
        proc = subprocess.Popen(
            [
                binary,
                "--port",
                str(port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                workdir,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        client = redis.Redis(port=port, protocol=2)
        deadline = time.monotonic() + 10
        while True:
            try:
                client.ping()
                break
            except redis.ConnectionError:
                if time.monotonic() > deadline:
                    proc.kill()
                    raise
                time.sleep(0.05)
        try:
            yield client
        finally:
            proc.terminate()
            proc.wait(10)


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
