"""Notice entries trimmed away before the reader got to them, from XINFO STREAM counters."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def parse_id(entry_id: bytes) -> tuple[int, int]:
    """A stream ID as a comparable (milliseconds, sequence) pair."""
    ms, _, seq = entry_id.partition(b"-")
    return int(ms), int(seq or 0)


class GapTracker:
    """Counts, per stream, the entries added after our cursor that vanished before we read them.

    Redis keeps `entries-added` (every entry ever added) and `length`. At the backfill the
    cursor is the newest entry, so everything added so far is at or before it; from then on we
    count what we read. When the oldest entry left is newer than our cursor, whatever was
    added but neither read by us nor still in the stream was trimmed away unread.
    """

    def __init__(self) -> None:
        self._accounted: dict[bytes, int] = {}

    def baseline(self, key: bytes, info: Mapping[str, Any] | None) -> None:
        """Everything added so far is at or before the cursor."""
        self._accounted[key] = 0 if info is None else int(info["entries-added"])

    def read(self, key: bytes, entries: int) -> None:
        """Entries the reader consumed past its cursor."""
        self._accounted[key] = self._accounted.get(key, 0) + entries

    def skipped(self, key: bytes, info: Mapping[str, Any] | None, cursor: bytes) -> int:
        """Entries lost since the last check; re-baselines when the stream was recreated."""
        if info is None:
            return 0
        added, length = int(info["entries-added"]), int(info["length"])
        accounted = self._accounted.get(key, 0)
        if added < accounted:  # the stream was deleted and recreated (e.g. Redis lost its data)
            self._accounted[key] = added - length if parse_id(cursor) < _first(info) else added
            return 0
        first = _first(info)
        if length == 0 or first <= parse_id(cursor):
            return 0
        lost = added - accounted - length
        if lost <= 0:
            return 0
        self._accounted[key] = accounted + lost
        return lost


def _first(info: Mapping[str, Any]) -> tuple[int, int]:
    entry = info.get("first-entry")
    return parse_id(entry[0]) if entry else (0, 0)
