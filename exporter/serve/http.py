"""The HTTP listener: /metrics, /healthz, /readyz and a landing page."""

from __future__ import annotations

import base64
import logging
import socket
import ssl
import sys
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from prometheus_client import CollectorRegistry
from prometheus_client.exposition import choose_encoder

from exporter.serve.webconfig import BasicAuth, WebSecurity, ssl_context

log = logging.getLogger("exporter.http")

LANDING = b"""<!doctype html>
<html><head><meta charset="utf-8"><title>ml-monitoring-exporter</title></head>
<body><h1>ml-monitoring-exporter</h1>
<ul><li><a href="metrics">/metrics</a> (Prometheus and OpenMetrics)</li>
<li><a href="healthz">/healthz</a> (process alive)</li>
<li><a href="readyz">/readyz</a> (Redis reachable, every reference loaded)</li>
<li><a href="models">/models</a> (drift per model and feature, with histograms)</li></ul>
</body></html>
"""
# Probes need no credentials: they reveal only liveness and, on failure, why not ready.
OPEN_PATHS = frozenset({"/healthz", "/readyz"})
REQUEST_TIMEOUT_SECONDS = 30.0
# (path, Accept) -> (status, content type, body), or None when the path is not a page
Pages = Callable[[str, str], "tuple[int, str, bytes] | None"]
# Accept header -> (body, content type) of /metrics
Render = Callable[[str], "tuple[bytes, str]"]


class ListenError(Exception):
    """The listener cannot bind; the message names the address and the flag that changes it."""


def _describe(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def bind(address: str, handler: type[BaseHTTPRequestHandler],
         context: ssl.SSLContext | None) -> _Server:
    """Bind and listen, turning the bare OSError (`[Errno 98] ...`) into one a user can act on."""
    host, port = parse_listen_address(address)
    try:
        return _Server((host, port), handler, context)
    except OSError as exc:
        reason = (exc.strerror or str(exc)).lower()
        raise ListenError(f"cannot listen on {_describe(host, port)}: {reason}; "
                          "choose another with --web.listen-address") from None


def parse_listen_address(address: str) -> tuple[str, int]:
    """Split HOST:PORT (IPv6 hosts in brackets); an empty host means every interface."""
    host, sep, port = address.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError(f"listen address {address!r}: expected HOST:PORT")
    return host.strip("[]") or "0.0.0.0", int(port)


class MetricsServer:
    """Serves the registry; readiness is a callable so the server knows nothing of Redis."""

    def __init__(self, address: str, registry: CollectorRegistry,
                 ready: Callable[[], tuple[bool, str]],
                 security: WebSecurity | None = None, pages: Pages | None = None,
                 render: Render | None = None) -> None:
        security = security or WebSecurity()
        handler = _handler(render or _plain(registry), ready, BasicAuth(security.users), pages)
        context = None if security.tls is None else ssl_context(security.tls)
        self._server = bind(address, handler, context)
        self.scheme = "http" if context is None else "https"
        self._thread = threading.Thread(target=self._server.serve_forever, name="http",
                                        daemon=True)

    @property
    def port(self) -> int:
        """The bound port (useful when asked for port 0)."""
        return int(self._server.server_address[1])

    def start(self) -> None:
        """Serve in a background thread."""
        self._thread.start()

    def stop(self) -> None:
        """Stop accepting requests and close the socket."""
        self._server.shutdown()
        self._server.server_close()


class _Server(ThreadingHTTPServer):
    """Wraps accepted sockets in TLS; the handshake runs in the request's thread, not accept's."""

    daemon_threads = True

    def __init__(self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler],
                 context: ssl.SSLContext | None) -> None:
        self.context = context
        if ":" in address[0]:  # an IPv6 host such as [::1]
            self.address_family = socket.AF_INET6
        super().__init__(address, handler)

    def get_request(self) -> tuple[socket.socket, tuple[str, int]]:
        """Accept, and wrap for TLS without handshaking yet."""
        sock, addr = super().get_request()
        if self.context is not None:
            sock = self.context.wrap_socket(sock, server_side=True,
                                            do_handshake_on_connect=False)
        return sock, addr

    def handle_error(self, request: object, client_address: object) -> None:
        """A failed handshake (plain HTTP, no client certificate) is the client's problem."""
        log.debug("connection from %s dropped: %s", client_address, sys.exc_info()[1])


def _plain(registry: CollectorRegistry) -> Render:
    """Render a whole registry per scrape, as client_python does."""
    def render(accept: str) -> tuple[bytes, str]:
        encoder, content_type = choose_encoder(accept)
        return encoder(registry), content_type
    return render


def _handler(render: Render, ready: Callable[[], tuple[bool, str]],
             auth: BasicAuth, pages: Pages | None) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "ml-monitoring-exporter"
        timeout = REQUEST_TIMEOUT_SECONDS

        def setup(self) -> None:
            super().setup()
            if isinstance(self.request, ssl.SSLSocket):
                self.request.do_handshake()

        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            if path not in OPEN_PATHS and not self._authorized():
                self._send(401, "text/plain; charset=utf-8", b"unauthorized\n",
                           {"WWW-Authenticate": 'Basic realm="ml-monitoring-exporter"'})
            elif path == "/metrics":
                body, content_type = render(self.headers.get("Accept", ""))
                self._send(200, content_type, body)
            elif path == "/healthz":
                self._send(200, "text/plain; charset=utf-8", b"ok\n")
            elif path == "/readyz":
                ok, why = ready()
                self._send(200 if ok else 503, "text/plain; charset=utf-8",
                           (why + "\n").encode())
            elif path == "/":
                self._send(200, "text/html; charset=utf-8", LANDING)
            elif pages is not None and (page := pages(path, self.headers.get("Accept", ""))):
                self._send(*page)
            else:
                self._send(404, "text/plain; charset=utf-8", b"not found\n")

        def _authorized(self) -> bool:
            if not auth.enabled:
                return True
            scheme, _, encoded = self.headers.get("Authorization", "").partition(" ")
            if scheme.lower() != "basic":
                return False
            try:
                decoded = base64.b64decode(encoded.strip(), validate=True).decode()
            except ValueError:  # bad base64 or not UTF-8
                return False
            user, sep, password = decoded.partition(":")
            return bool(sep) and auth.check(user, password)

        def _send(self, status: int, content_type: str, body: bytes,
                  headers: dict[str, str] | None = None) -> None:
            self.send_response(status)
            for name, text in (headers or {}).items():
                self.send_header(name, text)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            log.debug("%s " + format, self.address_string(), *args)

    return Handler
