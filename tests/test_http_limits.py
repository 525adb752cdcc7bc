"""Slow and silent clients: none holds the listener up, none holds a worker for ever."""

from __future__ import annotations

import contextlib
import http.client
import socket
import ssl
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from exporter.web import listener
from exporter.web.http import MetricsServer
from exporter.web.webconfig import TLSServerConfig, WebSecurity
from tests.test_security_web import client_context, make_pki

BIG = 64 * 1024 * 1024  # more than loopback socket buffers hold, so a slow reader lags
# A worker held by a silent client is freed only after IDLE_SECONDS; an answer within half of
# that shows no worker was held.
PROMPT = listener.IDLE_SECONDS / 2


@contextmanager
def serving(security: WebSecurity | None = None, body: bytes = b"up 1\n") -> Iterator[int]:
    """A started MetricsServer whose /metrics is `body`; yields its port."""
    server = MetricsServer(
        "127.0.0.1:0",
        CollectorRegistry(),
        lambda: (True, "ready"),
        security,
        render=lambda accept: (body, "text/plain"),
    )
    server.start()
    try:
        yield server.port
    finally:
        server.stop()


def silent(port: int, count: int, stack: ExitStack) -> None:
    """Open `count` connections that never send a byte, closed with the stack."""
    for _ in range(count):
        stack.enter_context(socket.create_connection(("127.0.0.1", port)))


def test_connections_that_send_nothing_do_not_hold_up_a_scrape() -> None:
    with serving() as port, ExitStack() as stack:
        silent(port, 3 * listener.WORKERS, stack)
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=PROMPT)
        conn.request("GET", "/metrics")
        assert conn.getresponse().read() == b"up 1\n"


def trickling(port: int, count: int, stack: ExitStack, start: bytes) -> None:
    """Open `count` connections that send `start` (never a whole head) and then nothing."""
    for _ in range(count):
        sock = stack.enter_context(socket.create_connection(("127.0.0.1", port)))
        sock.sendall(start)


def test_clients_trickling_their_headers_do_not_hold_up_a_scrape() -> None:
    with serving() as port, ExitStack() as stack:
        trickling(port, 3 * listener.WORKERS, stack, b"GET /metrics HTTP/1.1\r\nHost: x\r\nX")
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=PROMPT)
        conn.request("GET", "/healthz")
        assert conn.getresponse().status == 200
        conn.request("GET", "/metrics")
        assert conn.getresponse().read() == b"up 1\n"


def test_tls_clients_stalled_in_the_handshake_do_not_hold_up_a_scrape(tmp_path: Path) -> None:
    pki = make_pki(tmp_path)
    tls = TLSServerConfig(cert_file=str(pki.server_cert), key_file=str(pki.server_key))
    with serving(WebSecurity(tls=tls)) as port, ExitStack() as stack:
        trickling(port, 3 * listener.WORKERS, stack, b"\x16\x03\x01\x02\x00\x01")
        conn = http.client.HTTPSConnection(
            "127.0.0.1", port, timeout=PROMPT, context=client_context(pki)
        )
        conn.request("GET", "/metrics")
        assert conn.getresponse().read() == b"up 1\n"


def test_requests_sent_together_on_one_connection_are_all_answered_in_order() -> None:
    with serving() as port, socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n" * 2 + b"GET /healthz HTTP/1.1")
        answers = b""
        while answers.count(b"up 1\n") < 2:  # the third head's rest arrives after those
            answers += sock.recv(65536)
        sock.sendall(b"\r\nHost: x\r\nConnection: close\r\n\r\n")
        while chunk := sock.recv(65536):
            answers += chunk
    assert answers.count(b"HTTP/1.1 200 OK") == 3
    assert answers.count(b"up 1\n") == 2


def test_a_request_line_without_cr_is_refused_at_once() -> None:
    with serving() as port, socket.create_connection(("127.0.0.1", port), timeout=PROMPT) as sock:
        sock.sendall(b"GET /metrics HTTP/1.1\n")
        assert sock.recv(1024).startswith(b"HTTP/1.1 400 ")


def test_a_client_that_never_starts_the_tls_handshake_does_not_stop_the_others(
    tmp_path: Path,
) -> None:
    pki = make_pki(tmp_path)
    tls = TLSServerConfig(cert_file=str(pki.server_cert), key_file=str(pki.server_key))
    with serving(WebSecurity(tls=tls)) as port, ExitStack() as stack:
        silent(port, 3 * listener.WORKERS, stack)
        conn = http.client.HTTPSConnection(
            "127.0.0.1", port, timeout=PROMPT, context=client_context(pki)
        )
        conn.request("GET", "/metrics")
        assert conn.getresponse().read() == b"up 1\n"


def test_a_client_trickling_its_request_is_cut_off_at_the_deadline(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(listener, "REQUEST_SECONDS", 1.0)
    request = b"GET /metrics HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 100 + b"\r\n\r\n"
    with serving() as port, socket.create_connection(("127.0.0.1", port)) as sock:
        answer = b""
        for byte in request:  # a byte every 0.1 s: 14 s in all, the deadline is 1 s
            try:
                sock.sendall(bytes([byte]))
            except OSError:  # the server closed the connection
                break
            time.sleep(0.1)
        sock.settimeout(10)
        with contextlib.suppress(OSError):  # a reset: nothing to read
            answer = sock.recv(1024)
    assert answer == b"" or answer.startswith(b"HTTP/1.1 408 ")


def test_a_client_reading_the_response_too_slowly_is_cut_off_at_the_deadline(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(listener, "RESPONSE_SECONDS", 1.0)
    with serving(body=b"x" * BIG) as port, socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)  # little in flight
        sock.connect(("127.0.0.1", port))
        sock.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
        sock.settimeout(10)
        received, cut = 0, False
        for _ in range(3000):  # 64 KiB every 20 ms at most: 20 s for the whole body, 60 s bound
            try:
                chunk = sock.recv(64 * 1024)
            except ConnectionResetError:
                chunk = b""
            if not chunk:
                cut = True
                break
            received += len(chunk)
            time.sleep(0.02)
    assert cut and 0 < received < BIG


def test_the_tls_listener_survives_a_client_speaking_plain_http(tmp_path: Path) -> None:
    pki = make_pki(tmp_path)
    tls = TLSServerConfig(cert_file=str(pki.server_cert), key_file=str(pki.server_key))
    with serving(WebSecurity(tls=tls)) as port:
        plain = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        with pytest.raises((OSError, http.client.HTTPException)):
            plain.request("GET", "/metrics")
            plain.getresponse().read()
        conn = http.client.HTTPSConnection(
            "127.0.0.1", port, timeout=10, context=client_context(pki)
        )
        conn.request("GET", "/metrics")
        assert conn.getresponse().status == 200


def test_a_tls_client_without_the_required_certificate_is_refused_before_http(
    tmp_path: Path,
) -> None:
    pki = make_pki(tmp_path)
    tls = TLSServerConfig(
        cert_file=str(pki.server_cert),
        key_file=str(pki.server_key),
        client_auth_type="RequireAndVerifyClientCert",
        client_ca_file=str(pki.ca),
    )
    with serving(WebSecurity(tls=tls)) as port:
        anonymous = http.client.HTTPSConnection(
            "127.0.0.1", port, timeout=10, context=client_context(pki)
        )
        with pytest.raises((ssl.SSLError, OSError)):
            anonymous.request("GET", "/metrics")
            anonymous.getresponse().read()
        known = http.client.HTTPSConnection(
            "127.0.0.1", port, timeout=10, context=client_context(pki, with_cert=True)
        )
        known.request("GET", "/metrics")
        assert known.getresponse().read() == b"up 1\n"
