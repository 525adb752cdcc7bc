"""What each path answers, as a WSGI application: /metrics, the probes, the pages.

The server library only moves bytes; everything a user sees is decided here: which paths
need credentials, gzip for /metrics when asked (as client_python does), HEAD wherever GET
works, 405 for other methods.
"""

from __future__ import annotations

import base64
import gzip
import html
import logging
from collections.abc import Callable, Iterable
from http import HTTPStatus
from wsgiref.types import StartResponse, WSGIEnvironment

from exporter.web.coalesce import Coalescer
from exporter.web.webconfig import BasicAuth

log = logging.getLogger("exporter.http")

TELEMETRY_PATH = "/metrics"
# The links are relative, so the page works behind a proxy that serves it under a prefix (the
# /models pages' links are too: pages.root_of).
LANDING = """<!doctype html>
<html><head><meta charset="utf-8"><title>ml-monitoring-exporter</title></head>
<body><h1>ml-monitoring-exporter</h1>
<ul><li><a href="{href}">{path}</a> (Prometheus and OpenMetrics)</li>
<li><a href="healthz">/healthz</a> (process alive)</li>
<li><a href="readyz">/readyz</a> (Redis reachable, every reference loaded)</li>
<li><a href="models">/models</a> (drift per model and feature, with histograms)</li></ul>
</body></html>
"""
# Paths the exporter answers itself, which --web.telemetry-path cannot take over.
RESERVED_PATHS = ("/", "/healthz", "/readyz", "/models")
# Probes need no credentials: they reveal only liveness and, on failure, why not ready.
OPEN_PATHS = frozenset({"/healthz", "/readyz"})
METHODS = ("GET", "HEAD")
TEXT = "text/plain; charset=utf-8"
# Level 6 (zlib's default, Go's gzip.DefaultCompression) is within a few percent of level 9's
# size for exposition text at a third of the time.
GZIP_LEVEL = 6
CHALLENGE = ("WWW-Authenticate", 'Basic realm="ml-monitoring-exporter"')

# (path, Accept) -> (status, content type, body), or None when the path is not a page
Pages = Callable[[str, str], "tuple[int, str, bytes] | None"]
# Accept header -> (body, content type) of /metrics
Render = Callable[[str], "tuple[bytes, str]"]  # of the telemetry path
Ready = Callable[[], "tuple[bool, str]"]
Response = tuple[int, list[tuple[str, str]], bytes]


def check_telemetry_path(path: str) -> str:
    """The path, if it can serve the metrics: absolute, plain, not another page's."""
    if not path.startswith("/") or any(c in path for c in "?#% \t\r\n"):
        raise ValueError(f"{path!r}: expected an absolute path such as /metrics")
    taken = [p for p in RESERVED_PATHS if path == p or (p != "/" and path.startswith(p + "/"))]
    if taken:
        raise ValueError(f"{path!r}: {taken[0]} is one of the exporter's own pages")
    return path


def landing_page(telemetry_path: str) -> bytes:
    """The page at /, linking to the metrics wherever they are served."""
    href = html.escape(telemetry_path.lstrip("/"))
    return LANDING.format(href=href, path=html.escape(telemetry_path)).encode()


def gzip_accepted(accept_encoding: str) -> bool:
    """True when Accept-Encoding lists gzip with a non-zero quality."""
    for item in accept_encoding.split(","):
        coding, _, params = item.partition(";")
        if coding.strip().lower() == "gzip":
            quality = params.strip().lower().removeprefix("q=")
            try:
                return not params.strip() or float(quality) > 0
            except ValueError:
                return True
    return False


class Routes:
    """The WSGI application: auth, then the path; metrics bodies shared by concurrent scrapes."""

    def __init__(
        self,
        render: Render,
        ready: Ready,
        auth: BasicAuth,
        pages: Pages | None,
        telemetry_path: str = TELEMETRY_PATH,
    ) -> None:
        self.telemetry_path = check_telemetry_path(telemetry_path)
        self._landing = landing_page(telemetry_path)
        self._render = render
        self._ready = ready
        self._auth = auth
        self._pages = pages
        self._metrics: Coalescer[tuple[str, bool], tuple[bytes, str]] = Coalescer(self._encode)

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        """Answer one request; HEAD gets GET's headers, Content-Length included, and no body."""
        method = environ["REQUEST_METHOD"]
        # The raw path: the drill-down pages unquote names themselves.
        path = str(environ.get("REQUEST_URI") or environ.get("PATH_INFO") or "/")
        path = path.split("?", 1)[0]
        status, headers, body = self.respond(method, path, environ)
        headers.append(("Content-Length", str(len(body))))
        start_response(f"{status} {HTTPStatus(status).phrase}", headers)
        log.debug('"%s %s" %d %d', method, path, status, len(body))
        return [] if method == "HEAD" else [body]

    def respond(self, method: str, path: str, environ: WSGIEnvironment) -> Response:
        """Status, headers (without Content-Length) and body for a request."""
        if method not in METHODS:
            return (
                405,
                [("Allow", ", ".join(METHODS)), ("Content-Type", TEXT)],
                b"method not allowed\n",
            )
        if path not in OPEN_PATHS and not self._authorized(environ.get("HTTP_AUTHORIZATION")):
            return 401, [CHALLENGE, ("Content-Type", TEXT)], b"unauthorized\n"
        accept = str(environ.get("HTTP_ACCEPT", ""))
        if path == self.telemetry_path:
            zipped = gzip_accepted(str(environ.get("HTTP_ACCEPT_ENCODING", "")))
            body, content_type = self._metrics.get((accept, zipped))
            headers = [("Content-Type", content_type), ("Vary", "Accept, Accept-Encoding")]
            return 200, headers + ([("Content-Encoding", "gzip")] if zipped else []), body
        if path == "/healthz":
            return 200, [("Content-Type", TEXT)], b"ok\n"
        if path == "/readyz":
            ok, why = self._ready()
            return 200 if ok else 503, [("Content-Type", TEXT)], (why + "\n").encode()
        if path == "/":
            return 200, [("Content-Type", "text/html; charset=utf-8")], self._landing
        page = self._pages(path, accept) if self._pages is not None else None
        if page is not None:
            # HTML or JSON by Accept: a shared cache must not serve one for the other
            return page[0], [("Content-Type", page[1]), ("Vary", "Accept")], page[2]
        return 404, [("Content-Type", TEXT)], b"not found\n"

    def _encode(self, key: tuple[str, bool]) -> tuple[bytes, str]:
        """One metrics body for an Accept header, gzipped when asked."""
        accept, zipped = key
        body, content_type = self._render(accept)
        return (gzip.compress(body, GZIP_LEVEL, mtime=0) if zipped else body), content_type

    def _authorized(self, header: object) -> bool:
        if not self._auth.enabled:
            return True
        scheme, _, encoded = str(header or "").partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            decoded = base64.b64decode(encoded.strip(), validate=True).decode()
        except ValueError:  # bad base64 or not UTF-8
            return False
        user, sep, password = decoded.partition(":")
        return bool(sep) and self._auth.check(user, password)
