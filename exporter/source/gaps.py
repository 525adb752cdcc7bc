"""Account for every stream entry: read, still unread (lag), or trimmed before it was read."""

from __future__ import annotations

import logging
from bisect import bisect_right
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from exporter.source.streams import ReaderMetrics

log = logging.getLogger("exporter.reader")
T = TypeVar("T")


def parse_id(entry_id: bytes) -> tuple[int, int]:
    """A stream ID as a comparable (milliseconds, sequence) pair."""
    ms, _, seq = entry_id.partition(b"-")
    return int(ms), int(seq or 0)


def _only(table: Mapping[bytes, T], keys: Collection[bytes]) -> dict[bytes, T]:
    """The streams a reload keeps; the others start over with a new baseline."""
    return {key: value for key, value in table.items() if key in keys}


@dataclass(frozen=True)
class StreamState:
    """One XINFO STREAM reply, reduced to what accounting needs; `added` is None before 7.0."""

    added: int | None
    length: int
    first: tuple[int, int]
    last_generated: tuple[int, int]

    @classmethod
    def of(cls, info: Mapping[str, Any]) -> StreamState:
        """Read the reply of redis-py's xinfo_stream."""
        added = info.get("entries-added")
        first = info.get("first-entry")
        last = info.get("last-generated-id")
        return cls(
            added=None if added is None else int(added),
            length=int(info["length"]),
            first=parse_id(first[0]) if first else (0, 0),
            last_generated=parse_id(last) if last else (0, 0),
        )


@dataclass(frozen=True)
class Seen:
    """Entries-added at the last check, and the entries read since past the newest ID then:
    a floor under entries-added for as long as the stream is the same one, whatever the
    reader's own count says (one entry credited twice took a stream for recreated)."""

    added: int
    newest: tuple[int, int]  # the stream's last ID at the check, or the newest read since
    read: int = 0

    @classmethod
    def of(cls, state: StreamState | None) -> Seen | None:
        """What a check (or the baseline) saw; a stream not there yet had nothing added."""
        if state is None:
            return cls(0, (0, 0))
        return None if state.added is None else cls(state.added, state.last_generated)

    def after(self, ids: Sequence[bytes]) -> Seen:
        """Count the entries read (oldest first) newer than any counted so far."""
        past = len(ids) - bisect_right(ids, self.newest, key=parse_id)
        return Seen(self.added, parse_id(ids[-1]), self.read + past) if past else self

    def recreated(self, state: StreamState, at: tuple[int, int]) -> bool:
        """Whether fewer entries were ever added than the same stream must have had: every
        entry read since is newer than the check, and so is all it holds when even its first
        entry is newer than anything read."""
        assert state.added is not None
        newer = state.length if state.length and state.first > max(self.newest, at) else 0
        return state.added < self.added + self.read + newer


class GapTracker:
    """Counts, per stream, entries added after our cursor that vanished before we read them.

    Redis keeps `entries-added` (every entry ever added) and `length`. The start-up baseline
    credits everything added up to the stream's last ID then, though the cursor may be below
    it (the labels replay stops where the predictions replay began): entries up to that ID are
    not credited again when read. From then on we count what we read. When the oldest entry
    left is newer than our cursor, whatever was added but neither read by us nor still in the
    stream was trimmed away unread. Redis before 7.0 has no `entries-added`: a trim past the
    cursor is then seen but not counted.
    """

    def __init__(self) -> None:
        self._accounted: dict[bytes, int] = {}
        self._checked: dict[bytes, int] = {}  # accounted at the end of the last check
        self._seen: dict[bytes, Seen] = {}  # what Redis said at the last check, and since
        self._through: dict[bytes, tuple[int, int]] = {}  # credited up to here, read or not

    def baseline(self, key: bytes, state: StreamState | None) -> None:
        """Everything added so far is accounted for: read, or read later but credited now."""
        self._accounted[key] = 0 if state is None or state.added is None else state.added
        self._note(key, state)

    def counts(self) -> dict[bytes, int]:
        """What has been accounted for, per stream."""
        return dict(self._accounted)

    def continue_from(self, old: GapTracker, keys: Collection[bytes]) -> None:
        """Continue a stopped reader's accounting of these streams (a reload)."""
        self._accounted.update(_only(old._accounted, keys))
        self._checked.update(_only(old._checked, keys))
        self._seen.update(_only(old._seen, keys))
        self._through.update(_only(old._through, keys))

    def knows(self, key: bytes) -> bool:
        """Whether the stream has a baseline already."""
        return key in self._accounted

    def read(self, key: bytes, ids: Sequence[bytes]) -> None:
        """Entries the reader consumed past its cursor, oldest first; those the baseline
        credited already are not counted twice."""
        fresh = len(ids)
        if (through := self._through.get(key)) is not None and ids:
            fresh -= bisect_right(ids, through, key=parse_id)
            if parse_id(ids[-1]) > through:
                del self._through[key]
        self._accounted[key] = self._accounted.get(key, 0) + fresh
        if ids and (seen := self._seen.get(key)) is not None:
            self._seen[key] = seen.after(ids)

    def _note(self, key: bytes, state: StreamState | None) -> None:
        """What Redis says of the stream now; entries up to its last ID are accounted for."""
        if (seen := Seen.of(state)) is not None:
            self._seen[key] = seen
        if state is not None:
            self._through[key] = state.last_generated

    def cut_off(self) -> None:
        """Redis went away: whatever the reader reads of a stream from now on was in Redis
        when it came back, so a stream it lost meanwhile is only credited with that."""
        self._checked = dict(self._accounted)

    def accounted(self, key: bytes) -> int:
        """Entries read or counted lost so far; the check takes it before its own read."""
        return self._accounted.get(key, 0)

    def skipped(
        self, key: bytes, state: StreamState | None, before: bytes, cursor: bytes, base: int
    ) -> int | None:
        """Entries lost since the last check; None when some may be lost but Redis cannot say
        how many. `before` and `base` are the cursor and the count before the check's own read,
        `cursor` the cursor after it: `state` must be at least as new.

        Exact when the reader has caught up, or when the oldest entry left is past where the
        check's read began: everything added between was trimmed unread. Otherwise settled at
        a later check.
        """
        try:
            return self._skipped(key, state, parse_id(before), parse_id(cursor), base)
        finally:
            self._checked[key] = self._accounted.get(key, 0)
            if state is not None and (seen := Seen.of(state)) is not None:
                self._seen[key] = seen  # a stream gone stays compared with what it was

    def _skipped(
        self,
        key: bytes,
        state: StreamState | None,
        before: tuple[int, int],
        at: tuple[int, int],
        base: int,
    ) -> int | None:
        if state is None:
            return 0
        if state.added is None:
            return None if state.length and state.first > at else 0
        accounted = self._accounted.get(key, 0)
        seen = self._seen.get(key)
        if seen is not None and seen.recreated(state, at):  # e.g. Redis lost its data
            base, accounted = self._recreated(key, state, accounted, base)
        elif state.added < accounted:  # read more than was added: our count is off, not Redis
            log.debug("stream accounting ahead of entries-added", extra={"stream": key.decode()})
            base = accounted = self._accounted[key] = state.added
        if state.last_generated <= at or state.length == 0:  # nothing left unread
            lost = state.added - accounted
        elif state.first > before:  # all that is left came after the read began
            lost = state.added - base - state.length
        else:
            return 0
        if lost <= 0:
            return 0
        self._accounted[key] = accounted + lost
        return lost

    def _recreated(
        self, key: bytes, state: StreamState, accounted: int, base: int
    ) -> tuple[int, int]:
        """Start the count over: of the new stream's entries, the reader can only have read
        those read since the last check. Treating its history as accounted counted nothing
        when Redis restarted empty and producers' trims ran before the exporter reconnected."""
        assert state.added is not None
        since_check = accounted - self._checked.get(key, 0)  # unknown: credit everything
        now = min(state.added, since_check)
        self._accounted[key] = now
        return max(0, now - (accounted - base)), now

    def behind(
        self, key: bytes, state: StreamState | None, cursor: bytes, model: str
    ) -> bytes | None:
        """The stream's last ID when it is below the cursor, where reading must go on from.

        A stream's last ID never decreases, so the stream is another one: restored from an
        older snapshot, on a replica that lagged, or recreated (by a server whose clock is
        behind, or with explicit IDs). Its entries may be ones read already (a snapshot) or
        new ones: rereading them would count a restored stream twice, so it is said, and
        reading goes on from its last ID, not from the old cursor it would not pass for as
        long as the clock takes to catch up.
        """
        if state is None or state.last_generated >= parse_id(cursor):
            return None
        log.warning(
            "stream's last ID is below the reader's position (restored, failed over or "
            "recreated): reading on from its last ID; the entries it holds are not read",
            extra={"model": model, "stream": key.decode(), "entries": state.length},
        )
        if state.added is not None:
            self._accounted[key] = state.added
        self._note(key, state)
        return b"%d-%d" % state.last_generated

    def unread(self, key: bytes, state: StreamState | None, cursor: bytes) -> int | None:
        """Entries added but not read yet; None before Redis 7.0."""
        if state is None:
            return 0
        if state.added is None:
            return None
        if state.length == 0 or state.last_generated <= parse_id(cursor):
            return 0
        # never more than the stream holds: a trim not settled yet is not unread
        return min(state.length, max(0, state.added - self._accounted.get(key, 0)))


def lag_seconds(state: StreamState | None, cursor: bytes) -> float:
    """Time from the reader's position (or the oldest entry kept) to the newest entry."""
    at = parse_id(cursor)
    if state is None or not state.length or state.last_generated <= at:
        return 0.0
    return max(0.0, (state.last_generated[0] - max(at, state.first)[0]) / 1000)


def export_lag(
    live: ReaderMetrics, labels: tuple[str, str], unread: int | None, seconds: float
) -> None:
    """Unread entries, and the time from the reader's position to the newest entry."""
    if unread is None:  # Redis before 7.0 cannot say: no series rather than a false 0
        live.lag_entries.remove_by_labels({"model": labels[0], "kind": labels[1]})
    else:
        live.lag_entries.labels(*labels).set(unread)
    live.lag_seconds.labels(*labels).set(seconds)


def report_trim(lost: int | None, key: bytes, model: str, warned: set[bytes]) -> None:
    """Log entries trimmed before they were read; before Redis 7.0, once per stream."""
    extra = {"model": model, "stream": key.decode()}
    if lost is None and key not in warned:
        warned.add(key)
        log.warning(
            "stream trimmed past the reader's position: entries may have "
            "been skipped, and redis before 7.0 cannot say how many",
            extra=extra,
        )
    elif lost:
        log.warning(
            "stream trimmed past the reader's position; entries skipped",
            extra={**extra, "skipped": lost},
        )
