"""`ml-monitoring-exporter demo` as a subprocess: its output as it comes, and its /metrics."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import IO

from prometheus_client.parser import text_string_to_metric_families


class DemoProcess:
    """A demo this test started; stdout and stderr lines are collected while it runs."""

    def __init__(self, port: int, drift_after: float, extra: Sequence[str] = ()) -> None:
        self.port = port
        self.base = f"http://127.0.0.1:{port}"
        self.out: list[str] = []
        self.err: list[str] = []
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "exporter",
                "demo",
                f"--web.listen-address=127.0.0.1:{port}",
                f"--drift-after={drift_after:g}",
                *extra,
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None and self.process.stderr is not None
        self._readers = [
            self._collect(self.process.stdout, self.out),
            self._collect(self.process.stderr, self.err),
        ]

    @staticmethod
    def _collect(stream: IO[str], into: list[str]) -> threading.Thread:
        def read() -> None:
            for line in stream:
                into.append(line.rstrip("\n"))

        thread = threading.Thread(target=read, daemon=True)
        thread.start()
        return thread

    def printed(self, text: str) -> bool:
        """Whether some stdout line so far contains text."""
        return any(text in line for line in list(self.out))

    def value(self, name: str, **labels: str) -> float | None:
        """A sample of the demo's /metrics, None when absent."""
        with urllib.request.urlopen(f"{self.base}/metrics", timeout=5) as resp:
            body = resp.read().decode()
        for family in text_string_to_metric_families(body):
            for sample in family.samples:
                if sample.name == name and all(
                    sample.labels.get(k) == v for k, v in labels.items()
                ):
                    return float(sample.value)
        return None

    def stop(self) -> int:
        """Ctrl-C, as a user would; killed (by PID) if it does not end. Returns the exit code."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        for thread in self._readers:
            thread.join(5)
        return int(self.process.returncode)


@contextmanager
def demo(port: int, drift_after: float, extra: Sequence[str] = ()) -> Iterator[DemoProcess]:
    """A running demo, stopped however the test ends."""
    process = DemoProcess(port, drift_after, extra)
    try:
        yield process
    finally:
        process.stop()
