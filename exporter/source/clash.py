"""Stream keys the reader cannot read: read around them, not taken for Redis being down.

XREAD over many keys fails as a whole when one of them is, say, a string someone SET by
mistake, or a key outside the ACL user's key patterns: every model stopped reading and
/readyz said Redis was unreachable.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import TypeVar

import redis

log = logging.getLogger("exporter.reader")
T = TypeVar("T")


def answer(command: Callable[[], T]) -> T | redis.ResponseError:
    """A command's reply, or the error reply Redis gave (a pipeline's raise_on_error=False)."""
    try:
        return command()
    except redis.ResponseError as exc:
        return exc


def wrong_type(error: object) -> bool:
    """Whether a reply or exception is Redis's WRONGTYPE error."""
    return isinstance(error, redis.ResponseError) and str(error).startswith("WRONGTYPE")


def key_denied(error: object) -> bool:
    """Whether a reply or exception is NOPERM for a key, not for a whole command: those say
    "...permissions to run the '<command>' command" (and newer Redis names the user, whose
    name may hold any word)."""
    return isinstance(
        error, redis.exceptions.NoPermissionError
    ) and "permissions to run" not in str(error)


def unreadable(error: object) -> bool:
    """Whether a failed read says one of its keys cannot be read, rather than Redis failing."""
    return wrong_type(error) or key_denied(error)


def xinfo_denied(info: object) -> bool:
    """Whether XINFO STREAM is refused as a command: trims and lag cannot be counted."""
    return isinstance(info, redis.exceptions.NoPermissionError) and not key_denied(info)


class Clashes:
    """Keys found unreadable; reads leave them out until they read as streams again."""

    def __init__(self) -> None:
        self._keys: set[bytes] = set()
        self._no_xinfo = False

    def found(self, key: bytes, model: str, error: object = None) -> None:
        """Leave key out of reads; say so once, until it is a stream again."""
        if key not in self._keys:
            self._keys.add(key)
            why = (
                "the redis user may not read stream key (outside its ACL key patterns)"
                if key_denied(error)
                else "stream key holds another redis type"
            )
            log.warning(
                "%s; its model's entries there are not read until it can be read as a stream",
                why,
                extra={"model": model, "stream": key.decode()},
            )

    def xinfo_refused(self, info: object, key: bytes, model: str) -> bool:
        """Whether XINFO STREAM is refused to the redis user; said once. Trims past the reader
        and the lag are then unknown, as before Redis 7.0, instead of a silent 0."""
        if not xinfo_denied(info):
            return False
        if not self._no_xinfo:
            self._no_xinfo = True
            log.warning(
                "the redis user may not run XINFO STREAM: entries trimmed before they are "
                "read cannot be counted and lag is not exported; grant it +xinfo|stream",
                extra={"model": model, "stream": key.decode()},
            )
        return True

    def cleared(self, key: bytes, model: str) -> None:
        """key read as a stream again."""
        if key in self._keys:
            self._keys.discard(key)
            log.info("stream key is a stream again", extra={"model": model, "stream": key.decode()})

    def readable(self, keys: Iterable[bytes]) -> list[bytes]:
        """The keys not known to be unreadable."""
        return [key for key in keys if key not in self._keys]
