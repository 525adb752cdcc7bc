"""The HTTP listener: /metrics, /healthz, /readyz, a landing page and the drill-down pages.

The server is cheroot (see exporter/web/listener.py for how it is bounded); what each path
answers is exporter/web/routes.py.
"""

from __future__ import annotations

import errno
import threading
from collections.abc import Callable
from wsgiref.types import WSGIApplication

from prometheus_client import CollectorRegistry

from exporter.expose.formats import negotiate
from exporter.web.httpconfig import Guard
from exporter.web.listener import Listener
from exporter.web.routes import TELEMETRY_PATH, Pages, Render, Routes
from exporter.web.webconfig import BasicAuth, WebSecurity, ssl_context

__all__ = ["ListenError", "MetricsServer", "Pages", "Render", "parse_listen_address"]


class ListenError(Exception):
    """The listener cannot bind; the message names the address and the flag that changes it."""


def _describe(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def parse_listen_address(address: str) -> tuple[str, int]:
    """Split HOST:PORT (IPv6 hosts in brackets); an empty host means every interface."""
    host, sep, port = address.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError(f"listen address {address!r}: expected HOST:PORT")
    return host.strip("[]"), int(port)


def bind(address: str, app: WSGIApplication, security: WebSecurity) -> Listener:
    """Bind and listen, turning the bare OSError (`[Errno 98] ...`) into one a user can act on.

    An empty host (`:10135`, as the chart and the image pass) listens on IPv6 and IPv4 at
    once, as Go exporters do: bound to 0.0.0.0 it was unreachable on an IPv6-only pod
    network. Where the kernel has no IPv6 it falls back to every IPv4 interface.
    """
    host, port = parse_listen_address(address)
    context = None if security.tls is None else ssl_context(security.tls)
    if not host:
        try:
            return Listener("::", port, app, context)
        except OSError as exc:
            if exc.errno not in (errno.EAFNOSUPPORT, errno.EADDRNOTAVAIL):
                raise _listen_error("", port, exc) from None
        host = "0.0.0.0"
    try:
        return Listener(host, port, app, context)
    except OSError as exc:
        raise _listen_error(host, port, exc) from None


def _listen_error(host: str, port: int, exc: OSError) -> ListenError:
    reason = (exc.strerror or str(exc)).lower()
    return ListenError(
        f"cannot listen on {_describe(host, port)}: {reason}; "
        "choose another with --web.listen-address"
    )


class MetricsServer:
    """Serves the registry; readiness is a callable so the server knows nothing of Redis."""

    def __init__(
        self,
        address: str,
        registry: CollectorRegistry,
        ready: Callable[[], tuple[bool, str]],
        security: WebSecurity | None = None,
        pages: Pages | None = None,
        render: Render | None = None,
        telemetry_path: str = TELEMETRY_PATH,
    ) -> None:
        security = security or WebSecurity()
        auth = BasicAuth(security.users)
        app = Routes(render or _plain(registry), ready, auth, pages, telemetry_path)
        self._listener = bind(address, Guard(app, security.http, security.rate_limit), security)
        self.scheme = "http" if security.tls is None else "https"
        self._prepared = threading.Event()
        # A daemon thread, so cheroot's worker threads (started from it) are daemons too: a
        # process that exits without stop() must not wait for them.
        self._thread = threading.Thread(target=self._serve, name="http", daemon=True)

    @property
    def port(self) -> int:
        """The bound port (useful when asked for port 0)."""
        return int(self._listener.bind_addr[1])

    def start(self) -> None:
        """Serve in background threads; returns once the workers are up."""
        self._thread.start()
        self._prepared.wait()

    def stop(self) -> None:
        """Finish the requests in progress (for a few seconds at most) and close the socket."""
        self._listener.close()
        if self._thread.is_alive():
            self._thread.join()

    def _serve(self) -> None:
        try:
            self._listener.prepare()
        finally:
            self._prepared.set()
        self._listener.serve()


def _plain(registry: CollectorRegistry) -> Render:
    """Render a whole registry per scrape, as client_python does."""

    def render(accept: str) -> tuple[bytes, str]:
        encoder, content_type = negotiate(accept)
        return encoder(registry), content_type

    return render
