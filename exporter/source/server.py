"""What the reader adapts to: the Redis server's version, and the size of recent entries."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import redis

from exporter.source.connect import RedisClient
from exporter.source.streams import Entry, ReaderMetrics

log = logging.getLogger("exporter.reader")

MIN_REDIS_VERSION = (6, 2)
READ_BYTES = 8 * 1024 * 1024  # what one XREAD reply may hold, about, whatever the entry size
SIZE_SAMPLE = 16


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
    """Follows the size of recent entries, so one XREAD reply stays near READ_BYTES.

    Until a reply has shown their size, a read asks for SIZE_SAMPLE entries: guessing instead
    let the first read after a start take read_count entries of any size (4,000 batch entries
    of 44 kB, 175 MB, where READ_BYTES allows 191).
    """

    def __init__(self) -> None:
        self.entry_bytes: float | None = None

    def count(self, read_count: int) -> int:
        """Entries per XREAD: read_count, fewer when entries are large or of unknown size."""
        if self.entry_bytes is None:
            return min(read_count, SIZE_SAMPLE)
        return max(1, min(read_count, int(READ_BYTES / self.entry_bytes)))

    def learn(self, entries: Sequence[Entry]) -> None:
        """A moving average over a sample of each reply; the first and a jump up are taken as
        they are."""
        sample = entries[:SIZE_SAMPLE]
        mean = max(1.0, sum(len(v) for _, fields in sample for v in fields.values()) / len(sample))
        if self.entry_bytes is None or mean > self.entry_bytes:
            self.entry_bytes = mean
        else:
            self.entry_bytes = 0.7 * self.entry_bytes + 0.3 * mean
