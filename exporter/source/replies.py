"""XREAD without redis-py's per-entry reply post-processing.

redis-py turns every entry of an XREAD reply into a dict with `pairs_to_dict` (an iterator, a
zip and a function call per entry): under a backlog of one-record entries that was 14% of the
reader thread. The reader's client returns XREAD replies as hiredis built them instead, and
`entries_of` builds each entry's fields in one step, the usual one-field entry without a zip.
"""

from __future__ import annotations

from typing import Any

import redis

from exporter.source.connect import RedisClient
from exporter.source.streams import Entry, Reply


def raw_reply(response: Any, **options: Any) -> Any:
    """XREAD's reply as the parser built it: lists of stream, entries, id and field pairs."""
    return response


def skip_post_processing(client: RedisClient) -> None:
    """Make the client's XREAD (plain and pipelined) return raw replies; only the reader reads
    streams with XREAD. A cluster parses per node, so its replies keep redis-py's shape."""
    if isinstance(client, redis.Redis):
        client.set_response_callback("XREAD", raw_reply)


def entries_of(entries: list[Any]) -> list[Entry]:
    """(id, fields) entries from one stream's part of a raw reply, or a parsed one as it is."""
    if not entries or isinstance(entries[0][1], dict):  # parsed already (a cluster node)
        return entries
    return [
        (i, {f[0]: f[1]}) if len(f) == 2 else (i, dict(zip(f[::2], f[1::2], strict=True)))
        for i, f in entries
    ]


def replies_of(reply: Any) -> list[Reply]:
    """An XREAD reply, raw or parsed, as (stream, entries) pairs; nothing new is None."""
    return [(key, entries_of(entries)) for key, entries in reply or ()]


def caught_up(replies: list[list[Reply]], count: int) -> bool:
    """Whether reads brought entries and no stream filled its page (nothing left behind)."""
    pages = [len(entries) for reply in replies for _, entries in reply]
    return any(pages) and max(pages) < count
