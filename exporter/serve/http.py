"""The HTTP listener: /metrics, /healthz, /readyz and a landing page."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from prometheus_client import CollectorRegistry
from prometheus_client.exposition import choose_encoder

log = logging.getLogger("exporter.http")

LANDING = b"""<!doctype html>
<html><head><meta charset="utf-8"><title>ml-monitoring-exporter</title></head>
<body><h1>ml-monitoring-exporter</h1>
<ul><li><a href="metrics">/metrics</a> (Prometheus and OpenMetrics)</li>
<li><a href="healthz">/healthz</a> (process alive)</li>
<li><a href="readyz">/readyz</a> (Redis reachable, every reference loaded)</li></ul>
</body></html>
"""


def parse_listen_address(address: str) -> tuple[str, int]:
    """Split HOST:PORT (IPv6 hosts in brackets); an empty host means every interface."""
    host, sep, port = address.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError(f"listen address {address!r}: expected HOST:PORT")
    return host.strip("[]") or "0.0.0.0", int(port)


class MetricsServer:
    """Serves the registry; readiness is a callable so the server knows nothing of Redis."""

    def __init__(self, address: str, registry: CollectorRegistry,
                 ready: Callable[[], tuple[bool, str]]) -> None:
        handler = _handler(registry, ready)
        self._server = ThreadingHTTPServer(parse_listen_address(address), handler)
        self._server.daemon_threads = True
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


def _handler(registry: CollectorRegistry,
             ready: Callable[[], tuple[bool, str]]) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "ml-monitoring-exporter"

        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            if path == "/metrics":
                encoder, content_type = choose_encoder(self.headers.get("Accept", ""))
                self._send(200, content_type, encoder(registry))
            elif path == "/healthz":
                self._send(200, "text/plain; charset=utf-8", b"ok\n")
            elif path == "/readyz":
                ok, why = ready()
                self._send(200 if ok else 503, "text/plain; charset=utf-8",
                           (why + "\n").encode())
            elif path == "/":
                self._send(200, "text/html; charset=utf-8", LANDING)
            else:
                self._send(404, "text/plain; charset=utf-8", b"not found\n")

        def _send(self, status: int, content_type: str, body: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            log.debug("%s " + format, self.address_string(), *args)

    return Handler
