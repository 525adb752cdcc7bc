"""An empty listen host (`:PORT`, as the chart and the image pass) serves IPv6 and IPv4."""

from __future__ import annotations

import errno
import http.client
import socket
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from exporter.web import http as web_http
from exporter.web.http import MetricsServer


def _ipv6_loopback() -> bool:
    if not socket.has_ipv6:
        return False
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as probe:
            probe.bind(("::1", 0))
    except OSError:
        return False
    return True


def _answers(host: str, port: int) -> bytes:
    conn = http.client.HTTPConnection(host, port, timeout=10)
    conn.request("GET", "/metrics")
    return conn.getresponse().read()


def _server() -> MetricsServer:
    return MetricsServer(
        ":0",
        CollectorRegistry(),
        lambda: (True, "ready"),
        render=lambda accept: (b"up 1\n", "text/plain"),
    )


@pytest.mark.skipif(not _ipv6_loopback(), reason="this machine has no IPv6 loopback")
def test_an_empty_host_answers_scrapes_over_ipv6_and_ipv4() -> None:
    server = _server()
    server.start()
    try:
        assert _answers("::1", server.port) == b"up 1\n"
        assert _answers("127.0.0.1", server.port) == b"up 1\n"
    finally:
        server.stop()


def test_an_empty_host_falls_back_to_ipv4_where_the_kernel_has_no_ipv6(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    real = web_http.Listener

    def no_ipv6(host: str, *args: Any) -> Any:
        if ":" in host:
            raise OSError(errno.EAFNOSUPPORT, "Address family not supported by protocol")
        return real(host, *args)

    monkeypatch.setattr(web_http, "Listener", no_ipv6)
    server = _server()
    server.start()
    try:
        assert _answers("127.0.0.1", server.port) == b"up 1\n"
    finally:
        server.stop()
