"""The socket side of the HTTP server: cheroot, bounded and with deadlines.

cheroot gives a fixed pool of worker threads, a selector that parks idle keep-alive
connections without holding a worker, a queue for connections waiting for a worker (full: 503)
and a configurable listen backlog. Four things are ours:

- A connection goes to a worker only once its whole request head (request line and headers)
  has arrived: the selector thread reads what each connection sends without waiting
  (exporter/web/headread.py). cheroot hands a connection to a worker as soon as it sends a
  byte, where a client trickling its headers (slowloris) held the worker for up to
  REQUEST_SECONDS, and 64 such clients held them all. Now a slow client holds only its own
  connection, which is closed if its head is not in REQUEST_SECONDS after its first byte.
- TLS uses the context built from the web config (client-certificate verification included;
  its SNI callback switches a connection to re-read certificates, exporter/web/tlscontext.py).
  The handshake runs in the selector thread too, without waiting, a step each time the client
  sends something: cheroot's own adapter handshakes blocking in its accept loop, where one
  client that connects and stays silent stops every other connection (cherrypy/cheroot#748).
  After it, a client certificate without any of client_allowed_sans ends the connection
  before a request is read.
- Every read and write in a worker makes progress within IDLE_SECONDS, and the response goes
  out within RESPONSE_SECONDS: a client reading it a byte at a time holds a worker for that
  long, never forever.
- The socket is bound at construction, so a taken port fails before anything starts.
"""

from __future__ import annotations

import logging
import math
import socket
import ssl
import time
from collections.abc import Callable
from typing import Any

from cheroot import wsgi
from cheroot.makefile import MakeFile
from cheroot.server import HTTPConnection, HTTPRequest
from cheroot.ssl import Adapter

from exporter.web.headread import Outcome, Pending, handshake, read_ahead
from exporter.web.tlscontext import ServerContext

log = logging.getLogger("exporter.http")

# Threads answering requests. Rendering holds the GIL, but the scrapes of a burst that sit in
# workers share one render (exporter/web/coalesce.py), so more workers means fewer renders
# per burst: 500 scrapes at once had a p99 of 3.3 s with 4 workers, 1.7 s with 16 and 0.6 s
# with 64 (bench/scrape_concurrency.py). And slow clients must be that many to take them all.
WORKERS = 64
BACKLOG = 1024  # connections the kernel holds before we accept them (capped by somaxconn)
QUEUED = 2048  # accepted connections waiting for a worker; past this they get 503
KEEP_ALIVE = 64  # idle keep-alive connections kept open (Prometheus keeps one per target)
IDLE_SECONDS = 10  # a read or write that makes no progress for this long ends the connection
REQUEST_SECONDS = 10.0  # the request line and headers, from their first byte on
RESPONSE_SECONDS = 30.0  # rendering and sending the response, however slowly the client reads
SHUTDOWN_SECONDS = 5  # stop() waits this long for requests in progress
MAX_HEADER_BYTES = 64 * 1024
MAX_BODY_BYTES = 64 * 1024  # nothing here takes a body

MakeFileFn = Callable[..., Any]


class _Deadline:
    """The connection's socket as its buffered files see it: no read or write past a deadline."""

    def __init__(self, sock: socket.socket, idle: float) -> None:
        self._sock = sock
        self._idle = idle
        self._deadline = math.inf
        self.pending = Pending()  # read by the selector thread ahead of the worker

    def restart(self, seconds: float) -> None:
        """A new request begins: it has `seconds` from now."""
        self._deadline = time.monotonic() + seconds

    def _arm(self) -> None:
        left = self._deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("timed out")  # cheroot answers 408 when nothing was sent yet
        self._sock.settimeout(min(self._idle, left))

    def recv_into(self, buffer: Any) -> int:
        """socket.recv_into (as socket.SocketIO calls it): pending bytes, or within the deadline."""
        if self.pending:
            return self.pending.take(buffer)
        self._arm()
        return self._sock.recv_into(buffer)

    def send(self, data: Any) -> int:
        """socket.send (as socket.SocketIO calls it), within the deadline."""
        self._arm()
        return self._sock.send(data)

    def do_handshake(self) -> None:
        """The TLS handshake, within the deadline (the SSL socket times it as a whole)."""
        assert isinstance(self._sock, ssl.SSLSocket)
        self._arm()
        self._sock.do_handshake()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sock, name)


class _Request(HTTPRequest):
    """A cheroot request whose response gets a deadline of its own."""

    def respond(self) -> None:
        """Answer, within RESPONSE_SECONDS (the headers have been read)."""
        self.conn.deadline.restart(RESPONSE_SECONDS)
        super().respond()


class _Connection(HTTPConnection):
    """A cheroot connection whose reads and writes keep to a per-request deadline."""

    RequestHandlerClass = _Request

    def __init__(self, server: Any, sock: socket.socket, makefile: MakeFileFn = MakeFile) -> None:
        self.deadline = _Deadline(sock, float(server.timeout))
        self._handshake_pending = isinstance(sock, ssl.SSLSocket)
        self._used: float | None = None
        self.head_started: float | None = None  # time.time() of the head's first byte
        super().__init__(
            server, sock, lambda _sock, mode, size: makefile(self.deadline, mode, size)
        )

    @property
    def last_used(self) -> float | None:
        """ConnectionManager closes a connection in the selector IDLE_SECONDS after this: so
        an idle one then, and one whose head is arriving REQUEST_SECONDS after its first byte."""
        if self.head_started is None or self._used is None:
            return self._used
        return min(self._used, self.head_started + REQUEST_SECONDS - float(self.server.timeout))

    @last_used.setter
    def last_used(self, when: float | None) -> None:
        self._used = when

    def read_ahead(self) -> Outcome:
        """Take what the client has sent, without waiting: READY once a worker can answer it."""
        if self.head_started is None:
            self.head_started = time.time()
        self.deadline.pending.unread(self.rfile)
        try:
            outcome = self._read_step()
        except OSError as exc:  # a failed handshake, a reset
            log.debug("connection from %s dropped: %s", self.remote_addr, exc)
            return Outcome.CLOSED
        if outcome is Outcome.READY:
            self.head_started = None
        return outcome

    def _read_step(self) -> Outcome:
        if self._handshake_pending:
            assert isinstance(self.socket, ssl.SSLSocket)
            try:
                if handshake(self.socket) is Outcome.WAIT:
                    return Outcome.WAIT
            except ssl.SSLWantWriteError:  # rare: the worker finishes it, blocking, in time
                return Outcome.READY
            self._handshake_pending = False
            if not self._peer_allowed():
                return Outcome.CLOSED
        return read_ahead(self.socket, self.deadline.pending, MAX_HEADER_BYTES)

    def communicate(self) -> bool:
        """Serve the next request on this connection; True keeps it open for another."""
        self.deadline.restart(REQUEST_SECONDS)  # what is left of the head, if anything
        try:
            if self._handshake_pending:  # the selector thread could not finish it
                self.deadline.do_handshake()
                self._handshake_pending = False
                if not self._peer_allowed():
                    return False
            return bool(super().communicate())  # type: ignore[no-untyped-call]
        except OSError as exc:  # a failed handshake, or out of time while answering an error
            log.debug("connection from %s dropped: %s", self.remote_addr, exc)
            return False

    def _peer_allowed(self) -> bool:
        """client_allowed_sans: a client certificate without any of them ends the connection."""
        context = self.server.ssl_adapter.context
        sock = self.socket
        if not isinstance(context, ServerContext) or not isinstance(sock, ssl.SSLSocket):
            return True
        if context.peer_allowed(sock.getpeercert()):
            return True
        log.info("connection from %s refused: no allowed SAN in its certificate", self.remote_addr)
        return False


class _TLS(Adapter):
    """Our SSLContext; sockets are wrapped without handshaking (see _Connection)."""

    def __init__(self, context: ssl.SSLContext) -> None:  # the context holds the certificates
        self.certificate = self.private_key = self.certificate_chain = self.ciphers = None
        self.private_key_password = None
        self.context = context

    def bind(self, sock: socket.socket) -> socket.socket:
        """The listening socket stays plain."""
        return sock

    def wrap(self, sock: socket.socket) -> tuple[ssl.SSLSocket, dict[str, str]]:
        """TLS around an accepted socket, handshake deferred; no WSGI environ entries."""
        return self.context.wrap_socket(sock, server_side=True, do_handshake_on_connect=False), {}

    def get_environ(self) -> dict[str, str]:
        """Nothing: the application reads no TLS details."""
        return {}

    def makefile(self, sock: socket.socket, mode: str = "r", bufsize: int = -1) -> Any:
        """cheroot's own buffered socket files."""
        return MakeFile(sock, mode, bufsize)


class Listener(wsgi.Server):
    """cheroot's WSGI server, bound at construction, with our limits, TLS and logging."""

    ConnectionClass = _Connection
    keep_alive_conn_limit = KEEP_ALIVE
    max_request_header_size = MAX_HEADER_BYTES
    max_request_body_size = MAX_BODY_BYTES

    def __init__(
        self, host: str, port: int, app: Callable[..., Any], context: ssl.SSLContext | None
    ) -> None:
        """Bind and listen; raises OSError (address in use, say) with nothing left open."""
        super().__init__(
            (host, port),
            app,
            numthreads=WORKERS,
            max=WORKERS,
            server_name="ml-monitoring-exporter",
            request_queue_size=BACKLOG,
            timeout=IDLE_SECONDS,
            shutdown_timeout=SHUTDOWN_SECONDS,
            accepted_queue_size=QUEUED,
            accepted_queue_timeout=0,
        )
        self.ssl_adapter = None if context is None else _TLS(context)
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        sock = self.prepare_socket(
            self.bind_addr, family, socket.SOCK_STREAM, 0, self.nodelay, self.ssl_adapter
        )
        try:
            sock.bind(self.bind_addr)
            sock.listen(BACKLOG)
        except OSError:
            sock.close()
            raise
        self.bind_addr = sock.getsockname()[:2]  # the real port when asked for 0
        self._bound: socket.socket = sock

    def bind(self, family: int, type: int, proto: int = 0) -> socket.socket:
        """The socket bound at construction (prepare() would bind a new one)."""
        self.socket = self._bound
        return self._bound

    def process_conn(self, conn: HTTPConnection) -> None:
        """A connection goes to a worker once its head is in; until then it waits in the selector.

        ConnectionManager.put() marks a connection with last_used; a new one has none yet.
        """
        assert isinstance(conn, _Connection)
        if conn.last_used is None:
            super().put_conn(conn)
            return
        outcome = conn.read_ahead()
        if outcome is Outcome.READY:
            super().process_conn(conn)
        elif outcome is Outcome.WAIT:
            super().put_conn(conn)
        else:
            conn.close()

    def put_conn(self, conn: HTTPConnection) -> None:
        """A kept-alive connection that already holds bytes of its next request is read on."""
        assert isinstance(conn, _Connection)
        if conn.deadline.pending or conn.rfile.has_data():
            self.process_conn(conn)
        else:
            super().put_conn(conn)

    def close(self) -> None:
        """Stop serving, if started, and release the port."""
        self.stop()
        self._bound.close()
        # cheroot registers every server's statistics globally; they reference the server.
        getattr(logging, "statistics", {}).pop(f"Cheroot HTTPServer {id(self)}", None)

    def error_log(self, msg: str = "", level: int = logging.INFO, traceback: bool = False) -> None:
        """cheroot's messages go to our log: errors as errors, the rest (lost clients) as debug."""
        log.log(
            logging.ERROR if level >= logging.ERROR else logging.DEBUG,
            "%s",
            msg,
            exc_info=traceback,
        )
