"""Labels wait for their predictions, so a backlog cannot turn joinable labels into unmatched.

One XREAD reads every stream COUNT entries deep. Behind on a model, its labels page can reach
past its predictions page: those labels were answered to predictions not read yet, found
nothing to join and were counted unmatched for good (6,000 of 10,000 in one backlog).
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable, Mapping

from exporter.source.gaps import parse_id
from exporter.source.streams import Entry, Reply

MAX_SEQUENCE = 2**64 - 1


class LabelGate:
    """Holds back a model's labels past its predictions cursor while predictions are behind,
    and while `strict`: labels read apart from their predictions (the stream check's reads)
    may answer predictions added after those were read, which would find nothing to join."""

    def __init__(self, predictions_of: Mapping[bytes, bytes]) -> None:
        """predictions_of maps each labels stream to its model's predictions stream."""
        self._predictions_of = dict(predictions_of)
        self._predictions = set(self._predictions_of.values())
        self._behind: set[bytes] = set()
        self._replayed: dict[bytes, int] = {}  # predictions stream -> server ms its replay began
        self.strict = False

    def replaying(self, predictions: bytes, server_time: tuple[int, int]) -> None:
        """Note the server's time (TIME) as a predictions stream's replay begins."""
        self._replayed[predictions] = server_time[0] * 1000 + server_time[1] // 1000

    def replay_upper(self, key: bytes) -> bytes | None:
        """The newest ID a labels stream's replay may read: before the millisecond its model's
        predictions replay began, since labels added after may answer predictions that replay
        missed (read live, after them, instead); None where the replay may read to the end."""
        predictions = self._predictions_of.get(key)
        ms = self._replayed.get(predictions, 0) if predictions else 0
        return b"%d-%d" % (ms - 1, MAX_SEQUENCE) if ms > 0 else None

    def saw(self, reply: list[Reply], count: int, read: Iterable[bytes]) -> None:
        """Note which of the predictions streams read came back with a full page: more wait."""
        pages = {key: len(entries) for key, entries in reply}
        for key in read:
            if key in self._predictions and pages.get(key, 0) >= count:
                self._behind.add(key)
            elif key in self._predictions:
                self._behind.discard(key)

    def ordered(self, reply: list[Reply]) -> list[Reply]:
        """The reply's streams, every predictions page before any labels page."""
        return sorted(reply, key=lambda part: part[0] in self._predictions_of)

    def joinable(
        self, key: bytes, entries: list[Entry], cursors: Mapping[bytes, bytes]
    ) -> list[Entry]:
        """A labels page up to its predictions cursor while those are behind: only labels
        added in an earlier millisecond than the newest prediction read, since a label is
        added after its prediction, and the same millisecond may still hold unread ones."""
        predictions = self._predictions_of.get(key)
        if predictions is None or predictions not in cursors:
            return entries
        if predictions not in self._behind and not self.strict:
            return entries
        limit = parse_id(cursors[predictions])[0]
        return entries[: bisect_left(entries, limit, key=lambda entry: parse_id(entry[0])[0])]


def capped(bound: bytes | None, newest: bytes) -> bytes:
    """Where a replay with nothing to replay leaves the cursor: the stream's newest ID, or the
    bound where that is lower (a cursor above the stream's last ID reads as another stream,
    see GapTracker.behind)."""
    return bound if bound is not None and parse_id(bound) < parse_id(newest) else newest
