"""Read a stream's tail for a window rebuild, bounded by records and bytes, not entries.

A batch entry may hold thousands of records and an entry megabytes: counting entries let a
restart replay a million records (34 s, 1.4 GB) to fill a 10,000-record window.
"""

from __future__ import annotations

import bisect
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, cast

import orjson
import redis

from exporter.config import ModelConfig
from exporter.source.connect import RedisClient
from exporter.source.gaps import StreamState, parse_id
from exporter.source.streams import Entry

PAGE = 50  # entries per XREVRANGE: with megabyte entries a page stays tens of megabytes
MAX_BYTES = 256 * 1024 * 1024  # a rebuild reads at most this much, whatever the window
REPLAY_RECORDS = 10_000  # records a rebuild hands on at once


@dataclass(frozen=True)
class Tail:
    """The entries to replay, oldest first, and what was left out."""

    entries: list[Entry]
    newest: bytes | None  # the newest entry seen, kept or not: where reading goes on
    records: int
    oversized: int  # entries over max_entry_bytes: they would be rejected, so not replayed
    full: bool  # stopped because the window was full: older entries were not read

    def parts(self, records: int = REPLAY_RECORDS) -> Iterator[list[Entry]]:
        """The entries in runs of about `records` records, oldest first: a replay of a label
        horizon (up to max_pending records) is decoded a run at a time, not all at once."""
        step = max(1, len(self.entries) * records // max(self.records, 1))
        for start in range(0, len(self.entries), step):
            yield self.entries[start : start + step]

    def summary(self) -> dict[str, int | bool]:
        """What the rebuild replayed and left out, for its log line."""
        return {
            "entries": len(self.entries),
            "records": self.records,
            "oversized_entries_skipped": self.oversized,
            "older_entries_unread": self.full,
        }


def records_in(fields: dict[bytes, bytes]) -> int:
    """How many records an entry holds: 1 for `data`, the arrays' length for `batch` and
    `columns` (a `columns` entry's longest array; the decoder judges whether they agree)."""
    payload = fields.get(b"batch", fields.get(b"columns"))
    if payload is None or b"data" in fields:
        return 1
    try:
        parsed = orjson.loads(payload)
    except orjson.JSONDecodeError:
        try:  # NaN, as pandas data gives: the stdlib reads it, the decoder rejects its record
            parsed = json.loads(payload)
        except (ValueError, RecursionError):
            return 1
    if isinstance(parsed, dict) and b"batch" not in fields:
        parsed = max(_arrays(parsed), key=len, default=[])
    return max(len(parsed), 1) if isinstance(parsed, list) else 1


def _arrays(columns: dict[str, Any]) -> Iterator[list[Any]]:
    """The arrays of a `columns` object, those under `features` and `tags` included."""
    for value in columns.values():
        if isinstance(value, list):
            yield value
        elif isinstance(value, dict):
            yield from (v for v in value.values() if isinstance(v, list))


def record_field(fields: dict[bytes, bytes]) -> bytes:
    """The field holding an entry's records (empty when it has none), whose size is limited."""
    return fields.get(b"data", fields.get(b"batch", fields.get(b"columns", b"")))


def reach(model: ModelConfig, predictions: bool) -> float:
    """Seconds a rebuild reads back: the window, and the predictions that may still get
    labels (`labels.horizon`; at most `max_pending`). Predictions reach a window and a
    horizon back: a label inside the window may belong to one made a horizon before it,
    and its pair counts in the window's metrics."""
    window, horizon = model.window.duration_seconds, model.labels.horizon_seconds
    return window + horizon if predictions else max(window, horizon)


def read_tail(
    client: RedisClient,
    key: bytes,
    since_ms: int,
    upper: bytes,
    max_records: int,
    max_entry_bytes: int,
) -> Tail:
    """Newest entries up to `upper` and no older than since_ms, until max_records are held.

    A since_ms before 1970 reads from the stream's start: a window or label horizon longer
    than the time since then (`labels.horizon: 36500d`) asked XREVRANGE for a negative ID,
    which Redis refuses, so the rebuild never ended.
    """
    since_ms = max(since_ms, 0)
    kept: list[Entry] = []
    newest: bytes | None = None
    records = size = oversized = 0
    while records < max_records and size < MAX_BYTES:
        page = cast(list[Entry], client.xrevrange(key, max=upper, min=since_ms, count=PAGE))
        if not page:
            return Tail(kept[::-1], newest, records, oversized, False)
        newest = newest or page[0][0]
        for entry in page:
            fields = cast(dict[bytes, bytes], entry[1])
            length = sum(len(v) for v in fields.values())
            if len(record_field(fields)) > max_entry_bytes:
                oversized += 1  # as reading it live would reject it: by the field it decodes
                continue
            kept.append(entry)
            records += records_in(fields)
            size += length
            if records >= max_records or size >= MAX_BYTES:
                break
        upper = b"(" + page[-1][0]
    return Tail(kept[::-1], newest, records, oversized, True)


def split_at(entries: list[Entry], ms: int | None) -> tuple[list[Entry], list[Entry]]:
    """The entries before and from the time `ms` (all before without one), by their IDs."""
    if ms is None:
        return entries, []
    start = bisect.bisect_left(entries, (ms, 0), key=lambda e: parse_id(e[0]))
    return entries[:start], entries[start:]


def stream_state(client: RedisClient, key: bytes) -> StreamState | None:
    """XINFO STREAM of a stream, or None while it does not exist yet."""
    try:
        return StreamState.of(client.xinfo_stream(key))
    except redis.ResponseError:
        return None


def newest_id(client: RedisClient, key: bytes) -> bytes:
    """Where reading starts on a stream nothing was replayed from."""
    newest = cast(list[Entry], client.xrevrange(key, count=1))
    return newest[0][0] if newest else b"0-0"
