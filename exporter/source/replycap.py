"""A byte cap on one Redis reply, counted as it arrives, whatever the size of its entries.

XREAD has no byte limit, only COUNT, and the reader picks COUNT from the size of entries it
has already read: one small entry followed by 80 of 5 MB read all 80 in one reply (RSS 140 →
521 MB). Nothing cheap tells an entry's size before reading it (a Lua walk of the entries
costs as much as reading them), so the cap is kept where the bytes arrive: a reply read under
`capped()` that passes the cap is abandoned, its connection closed, and read again in smaller
steps. What a reply can make the process hold is then the cap, not COUNT × entry size.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import redis
from redis._parsers import _HiredisParser

_ARMED = threading.local()  # the cap of the replies this thread reads now, if any


class ReplyTooLarge(redis.RedisError):
    """A reply passed its cap: its connection is closed (the rest is never read), and the
    command was not carried out as far as the caller is concerned.

    Not a ConnectionError, which redis-py would retry as it is, the same reply again."""


@dataclass
class Cap:
    """The cap of the replies read inside one `capped()` block, and the largest one read."""

    limit: int | None
    largest: int = 0


@contextmanager
def capped(limit: int | None) -> Iterator[Cap]:
    """Replies this thread reads inside the block (each one apart) hold at most `limit` bytes
    on the wire, or raise ReplyTooLarge; None leaves them uncapped. Thread-local, so other
    threads sharing the client are not capped."""
    before = getattr(_ARMED, "cap", None)
    _ARMED.cap = cap = Cap(limit)
    try:
        yield cap
    finally:
        _ARMED.cap = before


class CappedParser(_HiredisParser):
    """redis-py's hiredis parser, counting the bytes fed for the reply being read.

    The count is taken around each socket read (at most socket_read_size, 64 KiB), so a reply
    stops within that much of the cap, before the rest is buffered or parsed."""

    fed = 0

    def read_response(self, *args: Any, **kwargs: Any) -> Any:
        """Read one reply, its byte count starting from nothing."""
        self.fed = 0
        response = super().read_response(*args, **kwargs)
        if (cap := getattr(_ARMED, "cap", None)) is not None:
            cap.largest = max(cap.largest, self.fed)
        return response

    def read_from_socket(self, *args: Any, **kwargs: Any) -> Any:
        """Read from the socket as usual; raise ReplyTooLarge once a capped reply passes its
        cap. hiredis's buffer only grows when fed, so its length before and after is what
        this read brought."""
        cap: Cap | None = getattr(_ARMED, "cap", None)
        reader = self._reader
        if cap is None or reader is None:
            return super().read_from_socket(*args, **kwargs)  # type: ignore[no-untyped-call]
        before = reader.len()
        done = super().read_from_socket(*args, **kwargs)  # type: ignore[no-untyped-call]
        self.fed += reader.len() - before
        if cap.limit is not None and self.fed > cap.limit:
            raise ReplyTooLarge(f"reply passed {cap.limit} bytes")
        return done
