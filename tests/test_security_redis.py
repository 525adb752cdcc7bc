"""Redis over TLS with client certificates and an ACL user, against a real redis-server."""

from __future__ import annotations

import logging
import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import redis
from prometheus_client import CollectorRegistry

from exporter.config import Config, ConfigError, load_config_text
from exporter.daemon import Daemon
from exporter.source.connect import make_client
from tests.conftest import RedisServer, free_port, require_tool, wait_for
from tests.helpers import model_yaml, records, sample, value, write_reference, xadd_all
from tests.test_security_web import Pki, make_pki

ACL_USER, ACL_PASSWORD = "mlmon-reader", "redis-Pa55-7d21e"
READ = "mlmon_records_read_total"


@dataclass
class TLSRedis:
    """A redis-server accepting only TLS with client certificates and one ACL user."""

    port: int
    pki: Pki
    process: subprocess.Popen[bytes]

    @property
    def url(self) -> str:
        return f"rediss://127.0.0.1:{self.port}/0"

    def admin(self) -> redis.Redis:
        """A client with the right credentials, for the test's own XADDs."""
        return redis.Redis(
            host="127.0.0.1",
            port=self.port,
            ssl=True,
            ssl_ca_certs=str(self.pki.ca),
            ssl_certfile=str(self.pki.client_cert),
            ssl_keyfile=str(self.pki.client_key),
            username=ACL_USER,
            password=ACL_PASSWORD,
            protocol=2,
        )


@contextmanager
def tls_redis(workdir: Path) -> Iterator[TLSRedis]:
    """Start a TLS-only redis-server with `--tls-auth-clients yes` and an ACL user."""
    binary = require_tool("redis-server")
    pki = make_pki(workdir)
    port = free_port()
    process = subprocess.Popen(
        [
            binary,
            "--port",
            "0",
            "--tls-port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--tls-cert-file",
            str(pki.server_cert),
            "--tls-key-file",
            str(pki.server_key),
            "--tls-ca-cert-file",
            str(pki.ca),
            "--tls-auth-clients",
            "yes",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(workdir),
            "--user",
            "default",
            "off",
            "--user",
            ACL_USER,
            "on",
            f">{ACL_PASSWORD}",
            "~mlmon:*",
            "+@all",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    server = TLSRedis(port, pki, process)
    try:
        wait_for(
            lambda: process.poll() is not None or server.admin().ping(),
            15,
            what=f"TLS redis-server on port {port}",
        )
        if process.poll() is not None:  # a build without TLS rejects --tls-port and exits
            out = process.stdout.read().decode() if process.stdout else ""
            reason = f"this redis-server does not run with TLS: {out.strip()[-300:]}"
            if os.environ.get("CI") == "true":
                pytest.fail(reason)
            pytest.skip(reason)
        yield server
    finally:
        if process.poll() is None:
            process.terminate()
            process.wait(10)


def tls_config(
    server: TLSRedis, tmp: Path, auth: str, cert: bool = True, environ: dict[str, str] | None = None
) -> Config:
    """A config reading model `m` from the TLS server; auth is the redis keys' YAML."""
    write_reference(tmp / "ref.csv", sample(np.random.default_rng(5), 300))
    pki = server.pki
    client = f", cert_file: '{pki.client_cert}', key_file: '{pki.client_key}'" if cert else ""
    text = (
        f"redis: {{url: '{server.url}', backoff_max: 1s, {auth}\n"
        f"        tls: {{ca_file: '{pki.ca}'{client}}}}}\n"
        f"web: {{listen_address: '127.0.0.1:{free_port()}'}}\nmodels:" + model_yaml("m")
    )
    return load_config_text(text, environ=environ or {}, base_dir=str(tmp))


@contextmanager
def started(config: Config) -> Iterator[Daemon]:
    """A running daemon with a fresh registry."""
    daemon = Daemon(config, registry=CollectorRegistry())
    daemon.start()
    try:
        yield daemon
    finally:
        daemon.stop()


@pytest.fixture
def server(tmp_path: Path) -> Iterator[TLSRedis]:
    with tls_redis(tmp_path) as s:
        yield s


def test_records_are_read_over_tls_with_the_password_from_the_environment(
    server: TLSRedis, tmp_path: Path
) -> None:
    config = tls_config(
        server,
        tmp_path,
        "username: mlmon-reader, password: '${REDIS_PASSWORD}',",
        environ={"REDIS_PASSWORD": ACL_PASSWORD},
    )
    with started(config) as daemon:
        assert daemon.reader.backfilled.is_set()
        xadd_all(
            server.admin(), "mlmon:{m}:predictions", records(sample(np.random.default_rng(2), 40))
        )
        wait_for(
            lambda: value(daemon, READ, model="m", kind="predictions") == 40,
            what="40 records read over TLS",
        )
        xadd_all(
            server.admin(),
            "mlmon:{m}:predictions",
            records(sample(np.random.default_rng(3), 10), start=40),
        )
        wait_for(
            lambda: value(daemon, READ, model="m", kind="predictions") == 50,
            what="10 more records read live",
        )
        assert value(daemon, "mlmon_redis_up") == 1


def test_records_are_read_with_the_password_from_a_mounted_file(
    server: TLSRedis, tmp_path: Path
) -> None:
    secret = tmp_path / "secret" / "password"
    secret.parent.mkdir()
    secret.write_text(ACL_PASSWORD + "\n")  # as `kubectl create secret --from-file` keeps it
    config = tls_config(server, tmp_path, f"username: mlmon-reader, password_file: '{secret}',")
    with started(config) as daemon:
        assert daemon.reader.backfilled.is_set()
        xadd_all(
            server.admin(), "mlmon:{m}:predictions", records(sample(np.random.default_rng(2), 25))
        )
        wait_for(
            lambda: value(daemon, READ, model="m", kind="predictions") == 25,
            what="25 records read with the password file",
        )
    assert make_client(config.redis).ping()


def test_a_wrong_password_is_a_logged_error_and_an_unready_exporter_not_a_crash(
    server: TLSRedis,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(
        "exporter.daemon.runtime.BACKFILL_WAIT_SECONDS", 0.5
    )  # Redis will refuse us
    config = tls_config(server, tmp_path, "username: mlmon-reader, password: not-it,")
    caplog.set_level(logging.WARNING, logger="exporter.reader")
    with started(config) as daemon:
        wait_for(
            lambda: "invalid username-password pair" in caplog.text,
            what="the authentication failure in the log",
        )
        assert daemon.readiness() == (False, "redis refuses the credentials (see the log)")
        assert value(daemon, "mlmon_redis_up") == 0
        assert daemon.reader._thread is not None and daemon.reader._thread.is_alive()
    assert "not-it" not in caplog.text


def test_a_missing_client_certificate_is_a_logged_tls_error_not_a_crash(
    server: TLSRedis,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(
        "exporter.daemon.runtime.BACKFILL_WAIT_SECONDS", 0.5
    )  # Redis will refuse us
    config = tls_config(
        server, tmp_path, f"username: mlmon-reader, password: {ACL_PASSWORD},", cert=False
    )
    caplog.set_level(logging.WARNING, logger="exporter.reader")
    with started(config) as daemon:
        wait_for(
            lambda: "require a client certificate (redis.tls.cert_file" in caplog.text,
            what="the TLS client-certificate failure in the log",
        )
        assert daemon.readiness() == (False, "redis unreachable")
        assert daemon.reader._thread is not None and daemon.reader._thread.is_alive()
    assert ACL_PASSWORD not in caplog.text


def test_an_unreadable_password_file_is_a_config_error_naming_the_key(tmp_path: Path) -> None:
    text = (
        f"redis: {{url: 'rediss://127.0.0.1:1/0', password_file: '{tmp_path}/absent'}}\n"
        "models:" + model_yaml("m")
    )
    with pytest.raises(ConfigError, match=r"^redis\.password_file: no such file"):
        load_config_text(text, base_dir=str(tmp_path))
    both = "redis: {password: a, password_file: " + f"'{tmp_path}'" + "}\nmodels:" + model_yaml("m")
    (tmp_path / "pw").write_text("a")
    with pytest.raises(ConfigError, match=r"redis\.password_file: and redis\.password"):
        load_config_text(both.replace(f"'{tmp_path}'", f"'{tmp_path}/pw'"), base_dir=str(tmp_path))


def test_a_non_string_password_is_rejected_without_echoing_it(tmp_path: Path) -> None:
    text = "redis: {password: 918273645}\nmodels:" + model_yaml("m")
    with pytest.raises(ConfigError) as err:
        load_config_text(text, base_dir=str(tmp_path))
    assert str(err.value).startswith("redis.password: must be a string")
    assert "918273645" not in str(err.value)


def test_a_password_changed_under_a_running_exporter_is_named_in_the_log_and_so_is_the_return(
    redis_server: RedisServer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Redis took a new password and dropped the connections: the log said only "Connection
    closed by server" for the whole outage, while /readyz said the credentials were refused
    and pointed at the log."""
    write_reference(tmp_path / "ref.csv", sample(np.random.default_rng(6), 300))
    text = (
        f"redis: {{url: '{redis_server.url}', backoff_max: 1s}}\n"
        f"web: {{listen_address: '127.0.0.1:{free_port()}'}}\nmodels:" + model_yaml("m")
    )
    config = load_config_text(text, environ={}, base_dir=str(tmp_path))
    caplog.set_level(logging.INFO, logger="exporter.reader")
    admin = redis_server.client()
    with started(config) as daemon:
        wait_for(lambda: daemon.readiness()[0], what="ready")
        admin.config_set("requirepass", "rotated-Pa55")
        admin = redis.Redis(port=redis_server.port, password="rotated-Pa55", protocol=2)
        admin.client_kill_filter(_type="normal", skipme=True)
        wait_for(
            lambda: "authentication failed" in caplog.text,
            what="the refused credentials in the log",
        )
        assert daemon.readiness() == (False, "redis refuses the credentials (see the log)")
        admin.config_set("requirepass", "")
        wait_for(lambda: "redis answers again" in caplog.text, what="the return in the log")
        assert daemon.readiness()[0]
