"""The README's first command: the demo serves drift for both models and stops on Ctrl-C."""

from __future__ import annotations

import signal
import subprocess
import sys
import urllib.request

from tests.conftest import free_port, wait_for


def _metrics(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as resp:
        return str(resp.read().decode())


def _has_drift(body: str, model: str) -> bool:
    return any(
        line.startswith("mlmon_feature_drift_score{") and f'model="{model}"' in line
        for line in body.splitlines()
    )


def test_demo_shows_drift_for_both_models_and_flags_the_drifting_one() -> None:
    port = free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "exporter",
            "demo",
            f"--web.listen-address=127.0.0.1:{port}",
            "--drift-after=15",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_for(
            lambda: all(_has_drift(_metrics(port), m) for m in ("fraud", "eta")),
            60,
            0.5,
            "drift values for both models",
        )
        wait_for(
            lambda: 'mlmon_dataset_drift_detected{model="fraud"} 1.0' in _metrics(port),
            90,
            0.5,
            "the fraud model's drift to be detected",
        )
        body = _metrics(port)
        assert 'mlmon_dataset_drift_detected{model="eta"} 0.0' in body
        assert 'mlmon_model_regression_error{metric="mae",model="eta"}' in body
        proc.send_signal(signal.SIGINT)
        assert proc.wait(30) == 0
        out = proc.stdout.read() if proc.stdout else ""
        assert "redis-cli -h 127.0.0.1 -p" in out and f":{port}/metrics" in out
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
