"""The listener under a burst of scrapes, and what /metrics answers to gzip and HEAD.

A daemon with five evaluated models (a few hundred series) serves real HTTP on loopback; the
scrapes come from threads of this process. Latency is not asserted here (bench/
scrape_concurrency.py measures it); that every scrape is served is.
"""

from __future__ import annotations

import gzip
import http.client
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families

from exporter.daemon import Daemon
from tests.helpers import make_config, records, sample, write_reference
from tests.test_scrape import NoCommands

MODELS = tuple(f"m{i}" for i in range(5))
CONCURRENT = 500
TIMEOUT_SECONDS = 60.0  # per scrape: bounds the test, far above what a healthy burst takes


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daemon]:
    """A started daemon with five evaluated models; it never talks to Redis."""
    tmp = tmp_path_factory.mktemp("load")
    rng = np.random.default_rng(16)
    write_reference(tmp / "ref.csv", sample(rng, 2000))
    daemon = Daemon(
        make_config(tmp, "redis://127.0.0.1:1/0", MODELS),
        client=NoCommands(port=1),
        registry=CollectorRegistry(),
    )
    now_ms = int(time.time() * 1000)
    for pipeline in daemon.pipelines:
        pipeline.ingest_predictions(
            [
                (f"{now_ms + i}-0".encode(), {b"data": p})
                for i, p in enumerate(records(sample(rng, 500)))
            ]
        )
        assert pipeline.evaluate(None)
    daemon.http.start()
    try:
        yield daemon
    finally:
        daemon.http.stop()


def request(
    port: int, method: str = "GET", path: str = "/metrics", headers: dict[str, str] | None = None
) -> tuple[int, dict[str, str], bytes]:
    """Status, headers and body of one request on a new connection."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=TIMEOUT_SECONDS)
    try:
        conn.request(method, path, headers=headers or {})
        resp = conn.getresponse()
        return resp.status, dict(resp.getheaders()), resp.read()
    finally:
        conn.close()


def _series(body: bytes) -> int:
    return sum(len(f.samples) for f in text_string_to_metric_families(body.decode()))


def test_five_hundred_concurrent_scrapes_are_all_served(daemon: Daemon) -> None:
    port = daemon.http.port
    body = request(port)[2]
    assert _series(body) >= 300  # a realistically sized /metrics
    families = body.count(b"\n# TYPE ")
    start = threading.Barrier(CONCURRENT)

    def scrape(_: int) -> tuple[int, int] | str:
        start.wait()
        try:
            status, _, body = request(port)  # a short body raises IncompleteRead
        except (OSError, http.client.HTTPException) as exc:  # refused, reset, timed out
            return repr(exc)
        return status, body.count(b"\n# TYPE ")

    with ThreadPoolExecutor(CONCURRENT) as pool:
        results = list(pool.map(scrape, range(CONCURRENT)))
    failures = [r for r in results if r != (200, families)]
    assert not failures, f"{len(failures)} of {CONCURRENT} failed, e.g. {failures[:3]}"


def test_gzip_is_sent_when_asked_and_decompresses_to_the_same_text(daemon: Daemon) -> None:
    status, headers, plain = request(daemon.http.port)
    assert status == 200 and "Content-Encoding" not in headers
    status, headers, zipped = request(daemon.http.port, headers={"Accept-Encoding": "gzip"})
    assert status == 200 and headers["Content-Encoding"] == "gzip"
    assert len(zipped) < len(plain) / 3
    # Counters may tick between the two scrapes; the series and their names may not.
    text = gzip.decompress(zipped)
    assert [f.name for f in text_string_to_metric_families(text.decode())] == [
        f.name for f in text_string_to_metric_families(plain.decode())
    ]
    assert _series(text) == _series(plain)


def test_a_refused_gzip_gets_plain_text(daemon: Daemon) -> None:
    _, headers, body = request(daemon.http.port, headers={"Accept-Encoding": "gzip;q=0, br"})
    assert "Content-Encoding" not in headers and body.startswith(b"# HELP")


@pytest.mark.parametrize(
    "path", ["/metrics", "/", "/healthz", "/readyz", "/models", "/models/m0", "/nope"]
)
def test_head_answers_with_the_headers_of_get_and_no_body(daemon: Daemon, path: str) -> None:
    for encoding in ("identity", "gzip"):
        sent = {"Accept-Encoding": encoding}
        get_status, get_headers, body = request(daemon.http.port, "GET", path, sent)
        head_status, head_headers, empty = request(daemon.http.port, "HEAD", path, sent)
        assert head_status == get_status and empty == b""
        get_headers.pop("Date"), head_headers.pop("Date")
        if path != "/metrics":  # a counter may have ticked between the two renders
            assert head_headers == get_headers
        else:
            assert head_headers.keys() == get_headers.keys()
            assert head_headers["Content-Type"] == get_headers["Content-Type"]
            assert head_headers.get("Content-Encoding") == get_headers.get("Content-Encoding")
        assert int(get_headers["Content-Length"]) == len(body)


def test_other_methods_are_not_allowed_and_say_which_are(daemon: Daemon) -> None:
    for method in ("POST", "PUT", "DELETE"):
        status, headers, _ = request(daemon.http.port, method)
        assert status == 405 and headers["Allow"] == "GET, HEAD"
