"""Shared fixtures: real redis-servers on free loopback ports, and condition waiting."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn, TypeVar

import pytest
import redis

T = TypeVar("T")

ROOT = Path(__file__).resolve().parent.parent
# scripts/test.sh installs Redis 6.2, the oldest server the exporter supports, here.
REDIS62 = ROOT / ".cache" / "redis-6.2" / "bin" / "redis-server"


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_auto_num_workers(config: pytest.Config) -> int:
    """`-n auto` (scripts/test.sh): one worker more than there are CPUs.

    Much of the suite waits on subprocesses, servers and clocks rather than computing, so with a
    worker per CPU the CPUs still idle a good part of the run.
    """
    return len(os.sched_getaffinity(0)) + 1


def free_port() -> int:
    """A TCP port on loopback that nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(
    condition: Callable[[], T],
    timeout: float = 30.0,
    interval: float = 0.05,
    what: str = "condition",
) -> T:
    """Poll until condition() is truthy and return it; fail with `what` after the deadline.

    A condition may raise while what it watches comes up (a refused connection, say): that
    counts as not yet. On timeout, an exception raised by the last try is the AssertionError's
    cause, so the test shows why the condition kept failing.
    """
    deadline = time.monotonic() + timeout
    last: T | None = None
    error: Exception | None = None
    while True:
        try:
            last, error = condition(), None
        except Exception as exc:
            last, error = None, exc
        if last:
            return last
        if time.monotonic() >= deadline:
            break
        time.sleep(interval)
    got = f"raised {error!r}" if error is not None else f"last: {last!r}"
    raise AssertionError(f"timed out after {timeout}s waiting for {what} ({got})") from error


def settles_at(
    read: Callable[[], object],
    expected: object,
    settle: float = 2.0,
    timeout: float = 30.0,
    interval: float = 0.05,
    what: str = "value",
) -> None:
    """Wait until read() equals expected, then watch it for `settle` seconds: it must stay.

    For counters that must end at an exact total (nothing lost, nothing counted twice):
    stopping at the first read that equals the total would miss a late double count. A
    number that goes past `expected` fails at once rather than at the deadline.
    """
    last: list[object] = []

    def done() -> bool:
        last.clear()
        last.append(read())
        return last[0] == expected or _past(last[0], expected)

    try:
        wait_for(done, timeout, interval, f"{what} to reach {expected!r}")
    except AssertionError as err:
        if not last:
            raise
        raise AssertionError(f"{err}; last read {last[0]!r}") from err.__cause__
    if last[0] != expected:
        raise AssertionError(f"{what} went past {expected!r} to {last[0]!r}")
    end = time.monotonic() + settle
    while time.monotonic() < end:
        time.sleep(interval)
        got = read()
        if got != expected:
            raise AssertionError(
                f"{what} reached {expected!r}, then changed to {got!r} within {settle}s"
            )


def _past(got: object, expected: object) -> bool:
    numbers = (int, float)
    return isinstance(got, numbers) and isinstance(expected, numbers) and got > expected


def require_tool(name: str) -> str:
    """The tool's path; skip when missing, except under CI=true where missing is a failure."""
    path = shutil.which(name)
    if path is None:
        _missing(name, "the README test command installs it")
    return path


def require_redis62() -> str:
    """The Redis 6.2 server binary that scripts/test.sh installs; skip or fail like a tool."""
    what = "a Redis 6.2 redis-server"
    where = "scripts/test.sh installs it into .cache/redis-6.2"
    try:
        version = subprocess.run(
            [str(REDIS62), "--version"], capture_output=True, text=True, timeout=10
        ).stdout
    except OSError:
        _missing(what, where)
    if " v=6.2." not in version:
        _missing(what, f"{REDIS62.relative_to(ROOT)} says {version.strip()!r}; {where}")
    return str(REDIS62)


def _missing(what: str, hint: str) -> NoReturn:
    """Skip a test whose tool is missing, except under CI=true where that is a failure."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"{what} is required under CI=true but is not installed ({hint})")
    pytest.skip(f"{what} is not installed ({hint})")


@dataclass
class RedisServer:
    """A redis-server process this test session started, and how to reach it."""

    port: int
    workdir: Path
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def client(self) -> redis.Redis:
        return redis.Redis(host="127.0.0.1", port=self.port, protocol=2)

    def binary(self) -> str:
        """The redis-server executable to run."""
        return require_tool("redis-server")

    def start(self) -> None:
        """Start (or restart) on the same port and wait until it answers PING."""
        binary = self.binary()
        self.process = subprocess.Popen(
            [
                binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.workdir),
                "--protected-mode",
                "no",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for(lambda: self.client().ping(), 15, what=f"redis-server on port {self.port}")

    def shutdown_saving(self) -> None:
        """Stop keeping the data on disk, so a start() on the same directory brings it back."""
        with contextlib.suppress(redis.ConnectionError):  # it hangs up as it exits
            self.client().shutdown(save=True)
        if self.process is not None:
            self.process.wait(10)
        self.process = None

    def stop(self) -> None:
        """Terminate the process we started, by its PID."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)
        self.process = None


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    """A fresh, empty redis-server for one test."""
    server = RedisServer(free_port(), tmp_path)
    server.start()
    try:
        yield server
    finally:
        server.stop()


class Redis62Server(RedisServer):
    """A server of Redis 6.2, the oldest the exporter supports (XINFO STREAM has no
    entries-added before 7.0)."""

    def binary(self) -> str:
        return require_redis62()


@pytest.fixture
def redis62_server(tmp_path: Path) -> Iterator[RedisServer]:
    """A fresh, empty Redis 6.2 server for one test."""
    workdir = tmp_path / "redis62"
    workdir.mkdir()
    server = Redis62Server(free_port(), workdir)
    server.start()
    try:
        yield server
    finally:
        server.stop()
