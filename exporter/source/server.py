"""What the reader adapts to: the Redis server's version, and the size of recent entries."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import redis

from exporter.source.connect import RedisClient
from exporter.source.replycap import ReplyTooLarge, capped
from exporter.source.streams import Entry, ReaderMetrics

log = logging.getLogger("exporter.reader")

MIN_REDIS_VERSION = (6, 2)
READ_BYTES = 8 * 1024 * 1024  # what one XREAD reply aims at, by the size of recent entries
SIZE_SAMPLE = 16
REPLY_BYTES = 4 * READ_BYTES  # a reply of several entries passing this is dropped, read again
T = TypeVar("T")


def check_version(client: RedisClient, live: ReaderMetrics) -> bool | None:
    """Expose whether the server is supported; True when it predates 7.0, None if unknown.

    Before 7.0 XINFO has no entries-added counter, so trims are noticed but not counted.
    """
    try:
        info: dict[str, Any] = client.info("server")
    except redis.ResponseError as exc:  # INFO renamed or denied by an ACL: carry on unknown
        log.debug("redis version unknown: %s", exc)
        return None
    text = info.get("redis_version")
    if text is None:  # a cluster answers per node: the oldest decides
        versions = [v.get("redis_version") for v in info.values() if isinstance(v, dict)]
        text = min((v for v in versions if v), key=version, default=None)
    if text is None:
        return None
    supported = version(str(text)) >= MIN_REDIS_VERSION
    live.redis_version(supported)
    if not supported:
        log.error("redis %s is older than the supported minimum 6.2; reading may fail", text)
    elif version(str(text)) < (7, 0):
        log.warning(
            "redis %s has no entries-added counter: trimmed entries are noticed but "
            "not counted, and mlmon_stream_lag_entries is not exported",
            text,
        )
    return version(str(text)) < (7, 0)


def version(text: str) -> tuple[int, ...]:
    """`7.2.4` as (7, 2, 4); parts that are not numbers end the tuple."""
    out: list[int] = []
    for part in text.split("."):
        if not part.isdigit():
            break
        out.append(int(part))
    return tuple(out)


class ReplySize:
    """Follows the size of recent entries, so one XREAD reply stays near READ_BYTES, and caps
    what a reply may bring whatever the entries that follow are (see exporter.source.replycap).

    Until a reply has shown their size, a read asks for SIZE_SAMPLE entries: guessing instead
    let the first read after a start take read_count entries of any size (4,000 batch entries
    of 44 kB, 175 MB, where READ_BYTES allows 191). Learning from replies already read cannot
    foresee large entries after small ones: a reply of more than one entry that passes
    REPLY_BYTES is dropped, and COUNT falls to an eighth, doubling back while a reply stays
    under a quarter of the cap (many streams read at once can fill it with small entries).
    """

    def __init__(self) -> None:
        self.entry_bytes: float | None = None
        self.ceiling: int | None = None  # entries per read since a reply passed REPLY_BYTES
        self.dropped = 0  # replies dropped for passing REPLY_BYTES

    def count(self, read_count: int) -> int:
        """Entries per XREAD: read_count, fewer when entries are large or of unknown size."""
        if self.entry_bytes is None:
            fits = min(read_count, SIZE_SAMPLE)
        else:
            fits = max(1, min(read_count, int(READ_BYTES / self.entry_bytes)))
        return fits if self.ceiling is None else min(fits, self.ceiling)

    def learn(self, entries: Sequence[Entry]) -> None:
        """A moving average over a sample of each reply; the first and a jump up are taken as
        they are."""
        sample = entries[:SIZE_SAMPLE]
        mean = max(1.0, sum(len(v) for _, fields in sample for v in fields.values()) / len(sample))
        if self.entry_bytes is None or mean > self.entry_bytes:
            self.entry_bytes = mean
        else:
            self.entry_bytes = 0.7 * self.entry_bytes + 0.3 * mean

    def read(self, command: Callable[[], T], count: int) -> T | None:
        """Run a command whose replies may hold `count` entries, each capped at REPLY_BYTES;
        None when one passed it. One entry is read whatever its size: Redis allows 512 MB,
        and a cap below it would stop the stream there for good."""
        try:
            with capped(REPLY_BYTES if count > 1 else None) as cap:
                result = command()
        except ReplyTooLarge:
            self.ceiling, self.dropped = max(1, count // 8), self.dropped + 1
            log.info(
                "an XREAD reply of up to %d entries passed %d bytes: read again in smaller steps",
                count,
                REPLY_BYTES,
            )
            return None
        if self.ceiling is not None and self.ceiling > count:  # not what limited this read
            self.ceiling = None
        elif self.ceiling is not None and cap.largest < REPLY_BYTES // 4:  # twice still fits
            self.ceiling *= 2
        return result
