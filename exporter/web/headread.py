"""A request's head, read without waiting, so a slow client holds only its own connection.

The listener's selector thread reads what a connection has sent (exporter/web/listener.py)
into a Pending buffer and hands the connection to a worker only once a worker can answer it
without waiting: its head (request line and headers) is complete, or it has broken a rule
cheroot answers at once (a line without CR, more than the header limit). The worker's reads
take the pending bytes first.
"""

from __future__ import annotations

import enum
import re
import socket
import ssl
from typing import Any

CHUNK = 16 * 1024
# The blank line ending a head, or a bare LF (cheroot answers 400 at the first line without
# its CR, so a worker need not wait for the rest).
_ANSWERABLE = re.compile(rb"\r\n\r\n|(?<!\r)\n")


class Outcome(enum.Enum):
    """What the selector does with a connection it read from."""

    WAIT = "wait"  # the head is incomplete: back to the selector
    READY = "ready"  # a worker can answer it without waiting for the client
    CLOSED = "closed"  # the client left, or its TLS handshake failed


def answerable(data: bytes | bytearray, start: int, limit: int) -> bool:
    """Whether a worker can answer these bytes without waiting (data[:start] was not)."""
    if len(data) > limit:
        return True  # cheroot answers 413 (or 414) from what has arrived
    return _ANSWERABLE.search(data, max(0, start - 3)) is not None


class Pending:
    """Bytes read ahead of the connection's buffered reader, which takes them first."""

    def __init__(self) -> None:
        self._data = bytearray()
        self._scanned = 0  # how much of it is known not to be answerable yet

    def __len__(self) -> int:
        return len(self._data)

    def take(self, buffer: Any) -> int:
        """Copy pending bytes into buffer (as socket.recv_into would); 0 when none."""
        count = min(len(buffer), len(self._data))
        memoryview(buffer)[:count] = self._data[:count]
        del self._data[:count]
        return count

    def unread(self, rfile: Any) -> None:
        """Put the bytes the reader buffered but did not use (a pipelined request) back first."""
        if rfile.has_data():
            buffered = bytes(rfile.peek(1))  # what is buffered: no socket read when some is
            rfile.read(len(buffered))
            self._data[:0] = buffered
            self._scanned = 0

    def fill(self, sock: socket.socket, limit: int) -> Outcome:
        """Read what has arrived, without blocking, until a worker can answer it.

        Raises BlockingIOError or ssl.SSLWantReadError when the socket has nothing more yet.
        """
        while not answerable(self._data, self._scanned, limit):
            self._scanned = len(self._data)
            chunk = sock.recv(CHUNK)
            if not chunk:
                return Outcome.CLOSED
            self._data += chunk
        self._scanned = 0  # the next head is scanned from its start
        return Outcome.READY


def read_ahead(sock: socket.socket, pending: Pending, limit: int) -> Outcome:
    """fill, on a socket made non-blocking for it; a TLS socket with data that needs a write
    (a renegotiation, say) goes to a worker, whose blocking reads have deadlines."""
    timeout = sock.gettimeout()
    sock.setblocking(False)
    try:
        return pending.fill(sock, limit)
    except (BlockingIOError, ssl.SSLWantReadError):
        return Outcome.WAIT
    except ssl.SSLWantWriteError:
        return Outcome.READY
    finally:
        sock.settimeout(timeout)


def handshake(sock: ssl.SSLSocket) -> Outcome:
    """One step of the TLS handshake, without blocking: READY once it is done."""
    timeout = sock.gettimeout()
    sock.setblocking(False)
    try:
        sock.do_handshake()
        return Outcome.READY
    except ssl.SSLWantReadError:
        return Outcome.WAIT
    finally:
        sock.settimeout(timeout)
