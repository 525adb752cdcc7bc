"""The exporter as users run it, for the benches: a config, a separate process, its /metrics."""

from __future__ import annotations

import re
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

NUMERIC = tuple(f"n{i}" for i in range(8))
CATEGORIES = {
    "channel": ("web", "ios", "android", "api"),
    "country": ("DE", "FR", "US", "GB", "IN", "BR", "JP"),
    "plan": ("free", "pro", "team"),
    "device": ("desktop", "mobile", "tablet"),
}
READ = re.compile(r"^mlmon_records_read_total\{([^}]*)\} (\S+)$", re.M)


def model_yaml(name: str) -> str:
    """A binary classifier over 8 numeric and 4 categorical features, evaluated hourly.

    Hourly, so no evaluation falls inside a timed run: what evaluations cost is measured
    by bench.evaluation; the first one runs at start-up, before any timing.
    """
    features = "".join(f"\n      - {{name: {n}, type: numeric}}" for n in NUMERIC) + "".join(
        f"\n      - {{name: {n}, type: categorical}}" for n in CATEGORIES
    )
    return f"""
  - name: {name}
    task: binary_classification
    positive_class: '1'
    reference: {{file: ref.csv}}
    window: {{duration: 1h, max_samples: 10000}}
    schedule: {{interval: 1h}}
    features:{features}
"""


def write_reference(path: Path, rows: int = 300) -> None:
    """The shared reference: the same distributions the producer draws from."""
    rng = np.random.default_rng(0)
    numeric = rng.normal(size=(rows, len(NUMERIC)))
    cats = [rng.choice(values, rows) for values in CATEGORIES.values()]
    score = rng.random(rows)
    lines = [",".join([*NUMERIC, *CATEGORIES, "prediction", "score", "label"])]
    for i in range(rows):
        row = [repr(float(v)) for v in numeric[i]] + [str(c[i]) for c in cats]
        pred = int(score[i] > 0.5)
        lines.append(",".join([*row, str(pred), repr(float(score[i])), str(pred)]))
    path.write_text("\n".join(lines) + "\n")


def write_config(
    directory: Path, redis_port: int, names: Sequence[str], linger: str = "null"
) -> Path:
    """config.yaml and ref.csv for the named models, in directory.

    The reader's linger (`redis.linger`) is off unless asked for: the throughput benches
    time a backlog until the reader waits in XREAD again, and the linger after the last,
    caught-up read would add up to its length of idle time to every timed run.
    """
    write_reference(directory / "ref.csv")
    path = directory / "config.yaml"
    path.write_text(
        f"redis: {{url: 'redis://127.0.0.1:{redis_port}/0', linger: {linger}}}\nmodels:"
        + "".join(model_yaml(n) for n in names)
    )
    return path


@dataclass(frozen=True)
class Daemon:
    """A running `python -m exporter` and the port it serves on."""

    proc: subprocess.Popen[bytes]
    port: int

    @classmethod
    def start(cls, config: Path, port: int, log: Path) -> Daemon:
        """Start the exporter the way a user does, its log kept for when it fails."""
        with log.open("wb") as out:
            proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "exporter",
                    f"--config.file={config}",
                    f"--web.listen-address=127.0.0.1:{port}",
                ],
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        return cls(proc, port)

    def get(self, path: str) -> tuple[int, bytes]:
        """Status and body of a GET; 0 while nothing listens."""
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}", timeout=30) as r:
                return int(r.status), bytes(r.read())
        except urllib.error.HTTPError as exc:
            return exc.code, b""
        except OSError:
            return 0, b""

    def wait_evaluated(self, models: int, seconds: float = 300.0) -> None:
        """Ready (/readyz) and every model evaluated once: the windows are rebuilt, the
        reader is on every stream's head and the start-up evaluations are over."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise SystemExit(f"the exporter exited with {self.proc.returncode}")
            if self.get("/readyz")[0] != 200:
                time.sleep(0.2)
                continue
            status, body = self.get("/metrics")
            if status == 200 and body.count(b"\nmlmon_window_samples{") == models:
                return
            time.sleep(1.0)  # a 100-model scrape costs the exporter a few tenths of a second
        raise SystemExit(f"the exporter did not evaluate its {models} models in {seconds:.0f} s")

    def records_read(self) -> float:
        """Prediction records the daemon counted as read, over all its models."""
        status, body = self.get("/metrics")
        if status != 200:
            raise SystemExit(f"/metrics answered {status}")
        return sum(
            float(v) for labels, v in READ.findall(body.decode()) if 'kind="predictions"' in labels
        )

    def stop(self) -> None:
        """End the exporter by its PID."""
        self.proc.terminate()
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)
