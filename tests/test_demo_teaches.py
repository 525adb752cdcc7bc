"""The demo teaches: it says what to open and watch, announces the drift, shows the drifting
model's prediction drift and live roc_auc, and a taken port ends it at once with a clear error."""

from __future__ import annotations

import errno
import socket
import subprocess
import sys
from collections.abc import Iterator

import pytest
from prometheus_client import CollectorRegistry

from exporter.web.http import ListenError, MetricsServer
from tests.conftest import free_port, wait_for
from tests.demoproc import DemoProcess, demo

DRIFT_AFTER = 8.0
DEFAULT_PORT = 10135
# A demo that finds its port taken must end rather than hang or run on; this is how long a
# start-up may take on a busy machine before that counts as hanging.
EXIT_DEADLINE = 30.0


@pytest.fixture(scope="module")
def drifting_demo() -> Iterator[DemoProcess]:
    """One demo for the module: its fraud model drifts after a few seconds."""
    with demo(free_port(), DRIFT_AFTER) as process:
        wait_for(lambda: process.printed("Ctrl-C"), 60, 0.2, "the demo's introduction")
        yield process


def test_the_demo_says_which_pages_to_open_and_which_series_to_watch(
    drifting_demo: DemoProcess,
) -> None:
    base = drifting_demo.base
    for expected in (
        f"{base}/models ",
        f"{base}/models/fraud ",
        f"{base}/metrics",
        'mlmon_feature_drift_detected{model="fraud"}',
        'mlmon_prediction_drift_detected{model="fraud"}',
        "redis-cli -h 127.0.0.1 -p",
    ):
        assert drifting_demo.printed(expected), f"the demo did not print {expected!r}"


def test_the_demo_announces_the_moment_the_drift_starts(drifting_demo: DemoProcess) -> None:
    started = "fraud: drift started now: amount, country and the merchant_text embedding shift;"
    wait_for(
        lambda: drifting_demo.printed(started),
        DRIFT_AFTER + 30,
        0.2,
        "the line announcing the drift",
    )
    line = next(line for line in drifting_demo.out if started in line)
    assert 'mlmon_feature_drift_detected{model="fraud"}' in line
    assert drifting_demo.out.index(line) > next(
        i for i, text in enumerate(drifting_demo.out) if "Ctrl-C" in text
    )
    assert sum(started in text for text in drifting_demo.out) == 1


def test_the_drifting_demo_model_shows_prediction_drift_and_live_roc_auc(
    drifting_demo: DemoProcess,
) -> None:
    wait_for(
        lambda: drifting_demo.value("mlmon_prediction_drift_detected", model="fraud") == 1,
        120,
        1.0,
        "the fraud model's prediction drift",
    )
    auc = wait_for(
        lambda: drifting_demo.value(
            "mlmon_model_performance_ratio", model="fraud", metric="roc_auc"
        ),
        60,
        1.0,
        "live roc_auc",
    )
    assert auc is not None and 0.5 < auc < 1.0
    assert drifting_demo.value("mlmon_prediction_drift_detected", model="eta") == 0


def test_the_drifting_demo_models_embedding_is_flagged_and_the_steady_model_stays_quiet(
    drifting_demo: DemoProcess,
) -> None:
    embedding = {"model": "fraud", "feature": "merchant_text"}
    wait_for(
        lambda: drifting_demo.value("mlmon_feature_drift_detected", **embedding) == 1,
        120,
        1.0,
        "the merchant_text embedding's drift",
    )
    p_value = drifting_demo.value("mlmon_feature_drift_p_value", method="pca_ks", **embedding)
    assert p_value is not None and p_value < 0.001
    assert drifting_demo.value("mlmon_dataset_drift_detected", model="eta") == 0


def _occupy(port: int) -> socket.socket:
    """Listen on 127.0.0.1:port ourselves, so the demo finds it taken."""
    sock = socket.socket()
    try:
        sock.bind(("127.0.0.1", port))
        sock.listen()
    except OSError:
        sock.close()
        raise
    return sock


def _demo_on_taken_port(args: list[str]) -> subprocess.CompletedProcess[str]:
    """Run the demo and require it to end within the deadline (a hang fails, not blocks)."""
    try:
        return subprocess.run(
            [sys.executable, "-m", "exporter", "demo", *args],
            capture_output=True,
            text=True,
            timeout=EXIT_DEADLINE,
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"the demo did not give up within {EXIT_DEADLINE:g}s")


def test_a_taken_port_ends_the_demo_at_once_naming_the_address_and_the_flag() -> None:
    port = free_port()
    with _occupy(port):
        done = _demo_on_taken_port([f"--web.listen-address=127.0.0.1:{port}"])
    assert done.returncode == 1
    assert f"127.0.0.1:{port}" in done.stderr and "--web.listen-address" in done.stderr
    assert "Traceback" not in done.stderr + done.stdout


def test_the_default_port_taken_ends_the_demo_with_the_same_clear_error() -> None:
    try:
        sock = _occupy(DEFAULT_PORT)
    except OSError as exc:
        if exc.errno != errno.EADDRINUSE:
            raise
        pytest.skip(f"port {DEFAULT_PORT} is held by another process, which may let it go")
    with sock:
        done = _demo_on_taken_port([])
    assert done.returncode == 1
    assert f"127.0.0.1:{DEFAULT_PORT}" in done.stderr and "--web.listen-address" in done.stderr
    assert "Traceback" not in done.stderr + done.stdout


def test_the_metrics_server_names_a_taken_address_and_the_flag() -> None:
    port = free_port()
    with _occupy(port), pytest.raises(ListenError) as info:
        MetricsServer(f"127.0.0.1:{port}", CollectorRegistry(), lambda: (True, "ready"))
    assert str(info.value) == (
        f"cannot listen on 127.0.0.1:{port}: address already in use; "
        "choose another with --web.listen-address"
    )
