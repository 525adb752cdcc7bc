"""A reload that changes redis.url counts every record once: where the old reader stopped on
the same data however the URL spells it, and from the reload on for another server."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest

from exporter.config import RedisConfig
from exporter.daemon import Daemon
from tests.conftest import RedisServer, free_port, settles_at, wait_for
from tests.helpers import model_yaml, records, reloadable, sample, value, write_reference, xadd_all

PREDICTIONS = "mlmon:{m}:predictions"
READ = {"model": "m", "kind": "predictions"}


def _write(path: Path, url: str) -> None:
    path.write_text(
        f"redis: {{url: '{url}', backoff_max: 1s}}\n"
        f"web: {{listen_address: '127.0.0.1:{free_port()}'}}\nmodels:" + model_yaml("m")
    )


@contextmanager
def _daemon(tmp_path: Path, url: str) -> Iterator[tuple[Daemon, Path]]:
    """A started in-process daemon over model `m` reading `url`, and its config file."""
    write_reference(tmp_path / "ref.csv", sample(np.random.default_rng(3), 300))
    path = tmp_path / "config.yaml"
    _write(path, url)
    with reloadable(path) as daemon:
        yield daemon, path


def _read(daemon: Daemon) -> float | None:
    return value(daemon, "mlmon_records_read_total", **READ)


def _write_records(server: RedisServer, start: int, n: int) -> None:
    rows = records(sample(np.random.default_rng(start), n), start=start)
    xadd_all(server.client(), PREDICTIONS, rows)


def _reload(daemon: Daemon, path: Path, url: str) -> None:
    _write(path, url)
    assert daemon.reload()
    wait_for(daemon.reader.backfilled.is_set, 30, what="backfill after the reload")


def test_a_reload_that_respells_the_redis_url_counts_from_where_the_old_reader_stopped(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    """127.0.0.1 to localhost, the same server: the new reader counted from when it was made,
    so records the old one had not read yet were never counted (-20 of 1,330 under a 100
    records/s producer), and those it read after that twice (+10)."""
    with _daemon(tmp_path, f"redis://127.0.0.1:{redis_server.port}/0") as (daemon, path):
        _write_records(redis_server, 0, 100)
        settles_at(lambda: _read(daemon), 100, interval=0.2, what="records read")
        daemon.reader.stop()  # the old reader is behind: 50 records it never reads
        _write_records(redis_server, 100, 50)
        _reload(daemon, path, f"redis://localhost:{redis_server.port}")
        _write_records(redis_server, 150, 30)
        settles_at(lambda: _read(daemon), 180, interval=0.2, what="every record counted once")


def test_a_reload_to_another_server_counts_its_records_from_the_reload_on(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    """Its older records fill the window, as a restart's replay does, but were never read
    live: the records read go on from the reload, nothing counted twice."""
    other = RedisServer(free_port(), tmp_path / "other")
    (tmp_path / "other").mkdir()
    other.start()
    try:
        _write_records(other, 1000, 40)
        with _daemon(tmp_path, redis_server.url) as (daemon, path):
            _write_records(redis_server, 0, 100)
            settles_at(lambda: _read(daemon), 100, interval=0.2, what="records read")
            _reload(daemon, path, other.url)
            _write_records(other, 2000, 30)
            settles_at(lambda: _read(daemon), 130, interval=0.2, what="the new server's records")
    finally:
        other.stop()


@pytest.mark.parametrize(
    ("one", "other"),
    [
        ("redis://LocalHost:6379/0", "redis://localhost"),
        ("REDIS://localhost/0", "redis://localhost:6379/"),
        ("redis://localhost/2", "redis://localhost:6379?db=2"),
        ("rediss://u:p@Redis.example:6379/0", "rediss://u:p@redis.example/0"),
    ],
)
def test_spellings_of_one_redis_server_and_db_keep_the_windows_at_a_reload(
    one: str, other: str
) -> None:
    assert RedisConfig(url=one).same_server(RedisConfig(url=other))


@pytest.mark.parametrize(
    ("one", "other"),
    [
        ("redis://localhost/0", "redis://localhost/1"),
        ("redis://localhost:6379", "redis://localhost:6380"),
        ("redis://localhost", "redis://127.0.0.1"),  # no DNS: two spellings, two servers
        ("redis://localhost", "rediss://localhost"),
        ("redis://a:x@localhost", "redis://a:y@localhost"),
    ],
)
def test_another_server_db_or_account_is_another_server(one: str, other: str) -> None:
    assert not RedisConfig(url=one).same_server(RedisConfig(url=other))
