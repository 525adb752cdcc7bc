"""An ACL user with less than the exporter needs: told before a rollout, and read around after."""

from __future__ import annotations

import logging
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest
import redis

from exporter.config import load_config_text
from exporter.daemon.daemon import Daemon
from exporter.source.clash import key_denied, xinfo_denied
from exporter.source.connect import down_because
from tests.conftest import RedisServer, free_port, wait_for
from tests.helpers import model_yaml, records, running, sample, value, write_reference, xadd_all

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parent.parent
# The least-privilege user docs/security.md gives, for a standalone Redis.
DOCUMENTED = (
    "~mlmon:* resetchannels -@all +xread +xrevrange +xinfo|stream +time +info +ping +hget +hgetall"
)


def _user(redis: RedisServer, name: str, *rules: str) -> None:
    redis.client().acl_setuser(name, enabled=True, passwords=[f"+{name}-pw"], reset_keys=True)
    redis.client().execute_command("ACL", "SETUSER", name, *rules)


def _config_text(tmp: Path, redis: RedisServer, user: str, b_labels: str | None = None) -> str:
    write_reference(tmp / "ref.csv", sample(np.random.default_rng(2), 500))
    b = model_yaml("b")
    if b_labels is not None:
        b = b.replace(
            "    task: regression\n",
            f"    task: regression\n    streams: {{labels: '{b_labels}'}}\n",
        )
    return (
        f"redis: {{url: '{redis.url}', username: {user}, password: {user}-pw, backoff_max: 1s}}\n"
        f"web: {{listen_address: '127.0.0.1:{free_port()}'}}\nmodels:" + model_yaml("a") + b
    )


def _check_config(tmp: Path, text: str) -> subprocess.CompletedProcess[str]:
    path = tmp / "config.yaml"
    path.write_text(text)
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "exporter",
            "check-config",
            f"--config.file={path}",
            "--redis.connect",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )


@contextmanager
def _fed(
    redis: RedisServer, tmp: Path, text: str, caplog: pytest.LogCaptureFixture
) -> Iterator[Daemon]:
    """The daemon on the config, once model a has evaluated 50 records sent to it."""
    with (
        caplog.at_level(logging.WARNING),
        running(load_config_text(text, base_dir=str(tmp))) as daemon,
    ):
        rows = records(sample(np.random.default_rng(3), 50))
        xadd_all(redis.client(), "mlmon:{a}:predictions", rows)
        wait_for(lambda: value(daemon, "mlmon_window_samples", model="a") == 50, what="a evaluated")
        yield daemon


def test_check_config_names_a_stream_key_outside_the_users_key_patterns(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    """It passed, and the daemon then stopped every model with 'redis unreachable'."""
    _user(redis_server, "reader", "~mlmon:*", "+@all")
    done = _check_config(tmp_path, _config_text(tmp_path, redis_server, "reader", "ml:{b}:labels"))
    assert done.returncode == 2, done.stderr
    assert "models[b].streams.labels" in done.stderr and "ml:{b}:labels" in done.stderr


def test_check_config_names_a_command_the_user_may_not_run(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    """Without XINFO the daemon said ready and counted no trim, silently."""
    _user(redis_server, "noxinfo", "~mlmon:*", "+@all", "-xinfo")
    done = _check_config(tmp_path, _config_text(tmp_path, redis_server, "noxinfo"))
    assert done.returncode == 2, done.stderr
    assert "models[a].streams.predictions: XINFO STREAM" in done.stderr


def test_the_documented_least_privilege_user_passes_check_config_and_runs(
    redis_server: RedisServer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    _user(redis_server, "least", *DOCUMENTED.split())
    text = _config_text(tmp_path, redis_server, "least")
    done = _check_config(tmp_path, text)
    assert done.returncode == 0, done.stderr
    with _fed(redis_server, tmp_path, text, caplog) as daemon:
        assert value(daemon, "mlmon_stream_lag_entries", model="a", kind="predictions") == 0
    denied = [r for r in caplog.records if r.name.startswith("exporter") and r.levelno >= 30]
    assert not denied, caplog.text


def test_a_stream_key_outside_the_users_patterns_stops_only_its_own_model(
    redis_server: RedisServer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    _user(redis_server, "reader", "~mlmon:*", "+@all")
    text = _config_text(tmp_path, redis_server, "reader", "ml:{b}:labels")
    with _fed(redis_server, tmp_path, text, caplog) as daemon:
        assert value(daemon, "mlmon_redis_up") == 1
    assert any(
        "may not read stream key" in r.getMessage() and getattr(r, "stream", "") == "ml:{b}:labels"
        for r in caplog.records
    )


def test_a_user_without_xinfo_is_told_and_its_lag_is_unknown_not_zero(
    redis_server: RedisServer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    _user(redis_server, "noxinfo", "~mlmon:*", "+@all", "-xinfo")
    text = _config_text(tmp_path, redis_server, "noxinfo")
    with _fed(redis_server, tmp_path, text, caplog) as daemon:
        wait_for(lambda: "may not run XINFO STREAM" in caplog.text, what="the warning")
        assert value(daemon, "mlmon_stream_lag_entries", model="a", kind="predictions") is None


def test_a_user_refused_xread_makes_readyz_say_so_not_redis_unreachable(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    """/readyz said "redis unreachable" for a refusal that only an ACL change fixes."""
    _user(redis_server, "noxread", "~mlmon:*", "+@all", "-xread")
    text = _config_text(tmp_path, redis_server, "noxread")
    with running(load_config_text(text, base_dir=str(tmp_path))) as daemon:
        wait_for(
            lambda: (
                daemon.readiness() == (False, "redis refuses a command to the user (see the log)")
            ),
            what="readiness naming the refusal",
        )


@pytest.mark.parametrize(
    ("message", "key"),
    [
        ("this user has no permissions to access one of the keys used as arguments", True),
        ("No permissions to access a key", True),
        ("this user has no permissions to run the 'xinfo|stream' command", False),
        ("User mlmon-keyreader has no permissions to run the 'xinfo|stream' command", False),
    ],
)
def test_a_refused_key_is_told_from_a_refused_command_whatever_the_user_is_called(
    message: str, key: bool
) -> None:
    """'key' anywhere in the message, a user's name included, read as a refused key."""
    error = redis.exceptions.NoPermissionError(message)
    assert key_denied(error) is key and xinfo_denied(error) is not key


def test_a_refused_command_is_not_read_as_refused_credentials_whatever_the_user_is_called() -> None:
    """Newer Redis names the user: 'authentication-svc' made /readyz blame the password."""
    error = redis.exceptions.NoPermissionError(
        "User authentication-svc has no permissions to run the 'xread' command"
    )
    assert down_because(error) == "redis refuses a command to the user (see the log)"
