"""Windows and label horizons reaching back before 1970, and requests Redis rejects."""

from __future__ import annotations

import logging
import subprocess
import sys
from pathlib import Path
from typing import Any, cast

import numpy as np
import pytest
import redis

from exporter.config import load_config, load_config_text
from exporter.source.connect import RedisClient, down_because, report_failure
from exporter.source.tail import read_tail
from tests.conftest import RedisServer, free_port
from tests.helpers import (
    model_yaml,
    records,
    running,
    sample,
    value,
    wait_evaluated,
    write_reference,
    xadd_all,
)
from tests.test_lifecycle import ROOT

CENTURY_MS = 36500 * 86400 * 1000
INVALID_ID = "Invalid stream ID specified as stream command argument"


class _Ranges:
    """A client that records the lower bound of each XREVRANGE and has no entries."""

    def __init__(self) -> None:
        self.lower: list[object] = []

    def xrevrange(self, key: bytes, **kwargs: Any) -> list[object]:
        self.lower.append(kwargs["min"])
        return []


def test_a_rebuild_reaching_back_before_1970_reads_from_the_streams_start() -> None:
    client = _Ranges()
    now_ms = 1_800_000_000_000
    read_tail(cast(RedisClient, client), b"s", now_ms - CENTURY_MS, b"+", 100, 1 << 20)
    assert client.lower == [0]


def test_a_request_redis_rejects_is_logged_as_an_error_in_its_words_not_as_an_outage(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A negative stream ID read as "redis unavailable" and "redis unreachable", though
    Redis answered PING: what to fix was nowhere."""
    text = "redis: {url: 'redis://127.0.0.1:1/0'}\nmodels:" + model_yaml("m")
    config = load_config_text(text, base_dir=".")
    log = logging.getLogger("tests.rejected")
    with caplog.at_level(logging.WARNING, logger="tests.rejected"):
        report_failure(log, redis.ResponseError(INVALID_ID), config.redis)
        report_failure(log, redis.ConnectionError("Connection refused."), config.redis)
    rejected, down = caplog.records
    assert rejected.levelno == logging.ERROR and INVALID_ID in rejected.getMessage()
    assert down.levelno == logging.WARNING and "redis unavailable" in down.getMessage()
    assert down_because(redis.ResponseError(INVALID_ID)) == (
        "redis rejects the exporter's requests (see the log)"
    )
    assert down_because(redis.ResponseError("BUSY Redis is busy")) == "redis unreachable"
    assert down_because(redis.exceptions.ClusterDownError("down")) == "redis unreachable"


@pytest.mark.parametrize(
    ("key", "century"),
    [
        ("    schedule:", "    labels: {horizon: 36500d}\n    schedule:"),
        ("window: {duration: 1d", "window: {duration: 36500d"),
    ],
)
def test_a_century_long_horizon_or_window_passes_check_config_and_is_read_and_evaluated(
    redis_server: RedisServer, tmp_path: Path, key: str, century: str
) -> None:
    """check-config passed, then the rebuild asked Redis for a negative stream ID: nothing
    was ever read or evaluated, and Redis was reported unreachable though it answered."""
    rng = np.random.default_rng(31)
    write_reference(tmp_path / "ref.csv", sample(rng, 500))
    xadd_all(redis_server.client(), "mlmon:{m}:predictions", records(sample(rng, 60)))
    model = model_yaml("m").replace(key, century)
    assert century in model  # the helper's model still has what this replaces
    path = tmp_path / "config.yaml"
    path.write_text(
        f"redis: {{url: '{redis_server.url}', backoff_max: 1s}}\n"
        f"web: {{listen_address: '127.0.0.1:{free_port()}'}}\nmodels:" + model
    )
    checked = subprocess.run(
        [sys.executable, "-m", "exporter", "check-config", f"--config.file={path}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    with running(load_config(str(path))) as daemon:
        wait_evaluated(daemon, "m", 60, timeout=30)
        assert value(daemon, "mlmon_redis_up") == 1
        assert daemon.readiness() == (True, "ready")
