"""Stream keys that hold another Redis type: read around them, not taken for Redis being down.

XREAD over many keys fails as a whole when one of them is, say, a string someone SET by
mistake: every model stopped reading and /readyz said Redis was unreachable.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

import redis

log = logging.getLogger("exporter.reader")


def wrong_type(error: object) -> bool:
    """Whether a reply or exception is Redis's WRONGTYPE error."""
    return isinstance(error, redis.ResponseError) and str(error).startswith("WRONGTYPE")


class Clashes:
    """Keys found holding another type; reads leave them out until they are streams again."""

    def __init__(self) -> None:
        self._keys: set[bytes] = set()

    def found(self, key: bytes, model: str) -> None:
        """Leave key out of reads; say so once, until it is a stream again."""
        if key not in self._keys:
            self._keys.add(key)
            log.warning(
                "stream key holds another redis type; its model's entries there are not "
                "read until it is a stream again",
                extra={"model": model, "stream": key.decode()},
            )

    def cleared(self, key: bytes, model: str) -> None:
        """key read as a stream again."""
        if key in self._keys:
            self._keys.discard(key)
            log.info("stream key is a stream again", extra={"model": model, "stream": key.decode()})

    def readable(self, keys: Iterable[bytes]) -> list[bytes]:
        """The keys not known to hold another type."""
        return [key for key in keys if key not in self._keys]
