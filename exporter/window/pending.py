"""Predictions waiting for their label, in numpy columns with one sorted index of id hashes.

A dict of tuples holding a million waiting predictions costs about 400 bytes each; here one
costs about 60: its id's 64-bit hash, time, prediction and score in arrays (4 more per
segment key and the version for their codes, once a record carries one), and 12 bytes of
index. Ids are compared by hash; two ids of a million colliding is a one-in-ten-million event,
and would join one label to the wrong prediction.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from exporter.window.slices import ABSENT

CHUNK = 8192  # slots the newest, open chunk holds in a dict before the sorted index takes them
SCAN = 1024  # slots read first from the head when looking for what to expire or evict
Scores = list[Any] | np.ndarray


def objects(values: Sequence[Any]) -> np.ndarray:
    """An object array of exactly these values: numpy would read tuples as rows of their own."""
    return np.fromiter(values, dtype=object, count=len(values))


def keys_of(ids: Sequence[str]) -> np.ndarray:
    """The 64-bit hashes that stand for ids within this process."""
    return np.fromiter(map(hash, ids), np.int64, len(ids))


class Pending:
    """Arrival-ordered slots; a slot dies when joined, replaced, evicted or expired."""

    def __init__(self, limit: int, numeric: bool, width: int = 1) -> None:
        self._limit = limit
        self._numeric = numeric
        self._width = width  # slice codes a record carries: its segment keys' and version's
        self._slice: np.ndarray | None = None  # (slots, width) int32 once a record has one
        self._tail = 0
        empty = np.empty(0, np.int64)
        self._reset(empty, np.empty(0), self._column(0), np.empty(0), None, None)

    def __len__(self) -> int:
        return self._alive_count

    def slice_codes(self) -> np.ndarray:
        """The slice codes of the waiting predictions (none before any record had one)."""
        if self._slice is None:
            return np.empty((0, self._width), np.int32)
        return self._slice[: self._tail][self._alive[: self._tail]]

    def rewrite_slices(self, rewrite: Callable[[np.ndarray], np.ndarray]) -> None:
        """Replace the slice codes of every slot with `rewrite` of them."""
        if self._slice is not None:
            self._slice[: self._tail] = rewrite(self._slice[: self._tail])

    @property
    def nbytes(self) -> int:
        """Bytes of the arrays and the sorted index, not counting the open chunk's dict."""
        arrays = (
            self._key,
            self._ts,
            self._pred,
            self._score,
            self._slice,
            self._alive,
            self._extra,
        )
        index = self._sorted_keys.nbytes + self._sorted_at.nbytes
        return sum(a.nbytes for a in arrays if a is not None) + index

    def add(
        self,
        keys: np.ndarray,
        ts: np.ndarray,
        predicted: list[Any],
        scores: Scores,
        slices: np.ndarray | None = None,
    ) -> np.ndarray:
        """Append predictions, newest last; a key already waiting is replaced by the newer.
        Returns the times of the replaced ones (they can no longer be joined).

        scores: one per prediction, or an array of probabilities with NaN for none; slices:
        each prediction's row of segment and version codes (window.slices).
        """
        if slices is None or (self._slice is None and not (slices != ABSENT).any()):
            slices = None  # no segment or version yet: no column for it
        ordered = np.sort(keys)  # a quick look for repeats: ids are nearly always unique
        dropped = np.empty(0)
        if len(keys) > 1 and (ordered[1:] == ordered[:-1]).any():
            last = len(keys) - 1 - np.unique(keys[::-1], return_index=True)[1]
            keep = np.sort(last)  # the same id twice in one batch: the later one counts
            dropped = np.delete(ts, keep)
            keys, ts = keys[keep], ts[keep]
            slices = None if slices is None else slices[keep]
            predicted = [predicted[i] for i in keep]
            scores = scores[keep] if isinstance(scores, np.ndarray) else [scores[i] for i in keep]
        at = self._find(keys)
        replaced = np.concatenate([dropped, self._ts[at[at >= 0]]])
        self._kill(at)
        self._append(keys, ts, predicted, scores)
        if slices is not None:
            if self._slice is None:  # the first record with a segment or version
                self._slice = np.full((len(self._key), self._width), ABSENT, np.int32)
            self._slice[self._tail - len(keys) : self._tail] = slices
        elif self._slice is not None:
            self._slice[self._tail - len(keys) : self._tail] = ABSENT
        self._evict_beyond_limit()
        return replaced

    def take(self, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray, list[Any], list[Any]]:
        """(found, ts, predicted, scores) for each key; found ones stop waiting.

        The found ones' slice codes are in `taken_slices`, and their slots, which run in the
        order the predictions arrived, in `taken_rows`, until the next take.
        """
        first = np.zeros(len(keys), bool)
        first[np.unique(keys, return_index=True)[1]] = True  # a repeated label finds nothing
        at = np.where(first, self._find(keys), -1)
        found = at >= 0
        rows = at[found]
        extra = self._extra[rows].tolist() if self._extra is not None else [None] * len(rows)
        scores = [
            e if e is not None else (None if s != s else s)  # NaN: no float score
            for s, e in zip(self._score[rows].tolist(), extra, strict=True)
        ]
        ts, predicted, self.taken_rows = self._ts[rows], self._pred[rows].tolist(), rows
        self.taken_slices = (
            self._slice[rows]
            if self._slice is not None
            else np.full((len(rows), self._width), ABSENT, np.int32)
        )
        self._kill(at)
        return found, ts, predicted, scores

    def expire(self, oldest: float) -> None:
        """Drop waiting predictions from the oldest on, up to the first stamped at or after."""
        self._drop_front(
            self._slots_before(lambda a, b: self._alive[a:b] & (self._ts[a:b] >= oldest))
        )

    def _slots_before(self, wanted: Callable[[int, int], np.ndarray]) -> int:
        """Slots from the head up to the first one wanted (all of them when none is).

        Read in chunks that double from the head: the answer is nearly always near it, and
        a read of the whole span cost every read O(max_pending), 40 us at 200,000.
        """
        lo, step = self._head, SCAN
        while lo < self._tail:
            stop = min(self._tail, lo + step)
            found = np.flatnonzero(wanted(lo, stop))
            if found.size:
                return lo + int(found[0]) - self._head
            lo, step = stop, 2 * step
        return self._tail - self._head

    def _column(self, size: int) -> np.ndarray:
        return np.empty(size) if self._numeric else np.empty(size, dtype=object)

    def _reset(
        self,
        keys: np.ndarray,
        ts: np.ndarray,
        pred: np.ndarray,
        score: np.ndarray,
        slices: np.ndarray | None,
        extra: Any,
    ) -> None:
        """Hold exactly the given live slots, indexed afresh from position 0."""
        self._key, self._ts, self._pred, self._score, self._extra = keys, ts, pred, score, extra
        self._slice = slices
        self.taken_slices = np.empty((0, self._width), np.int32)
        self.taken_rows = np.empty(0, np.int64)
        self._alive = np.ones(len(keys), bool)
        self._head = self._pruned_to = 0
        self._tail = self._alive_count = len(keys)
        start = len(keys) // CHUNK * CHUNK
        order = np.argsort(keys[:start], kind="stable")
        self._sorted_keys, self._sorted_at = keys[order], order.astype(np.int32)
        self._open = dict(zip(keys[start:].tolist(), range(start, len(keys)), strict=True))

    def _index_chunk(self, chunk: int) -> None:
        """Merge a full chunk into the sorted index; equal keys stay in arrival order."""
        lo = chunk * CHUNK
        order = np.argsort(self._key[lo : lo + CHUNK], kind="stable")
        keys, at = self._key[lo + order], (order + lo).astype(np.int32)
        where = np.searchsorted(self._sorted_keys, keys, side="right")
        self._sorted_keys = np.insert(self._sorted_keys, where, keys)
        self._sorted_at = np.insert(self._sorted_at, where, at)

    def _find(self, keys: np.ndarray) -> np.ndarray:
        """The live position of each key, or -1; a key's newest slot decides."""
        listed = keys.tolist()
        if self._open.keys().isdisjoint(listed):  # new ids, the usual case: no lookups
            at = np.full(len(keys), -1, np.int64)
        else:
            at = np.fromiter(map(self._open.get, listed, [-1] * len(keys)), np.int64, len(keys))
        todo = np.flatnonzero(at < 0)
        if todo.size and self._sorted_keys.size:
            i = np.maximum(np.searchsorted(self._sorted_keys, keys[todo], side="right") - 1, 0)
            hit = self._sorted_keys[i] == keys[todo]  # the rightmost equal key: the newest slot
            at[todo[hit]] = self._sorted_at[i[hit]]
        live = at >= 0
        live[live] = self._alive[at[live]]
        return np.where(live, at, -1)

    def _kill(self, at: np.ndarray) -> None:
        self._forget(at[at >= 0])

    def _forget(self, rows: np.ndarray | slice) -> None:
        """Mark slots dead and let go of the score objects they held."""
        self._alive_count -= int(self._alive[rows].sum())
        self._alive[rows] = False
        if self._extra is not None:
            self._extra[rows] = None

    def _append(self, keys: np.ndarray, ts: np.ndarray, pred: list[Any], scores: Scores) -> None:
        n = len(keys)
        self._make_room(n)
        rows = slice(self._tail, self._tail + n)
        self._key[rows], self._ts[rows], self._alive[rows] = keys, ts, True
        self._pred[rows] = pred
        if isinstance(scores, np.ndarray):
            self._score[rows] = scores
            if self._extra is not None:
                self._extra[rows] = None
            scores = []
        else:
            self._score[rows] = [s if isinstance(s, float) else np.nan for s in scores]
        if scores and (self._extra is not None or any(isinstance(s, tuple) for s in scores)):
            if self._extra is None:
                self._extra = np.full(len(self._key), None, dtype=object)
            self._extra[rows] = objects([s if isinstance(s, tuple) else None for s in scores])
        start, listed = self._tail, keys.tolist()
        while start < self._tail + n:  # fill the open chunk; a full one gets its sorted index
            stop = min(self._tail + n, (start // CHUNK + 1) * CHUNK)
            part = listed[start - self._tail : stop - self._tail]
            self._open.update(zip(part, range(start, stop), strict=True))
            if stop % CHUNK == 0:
                self._index_chunk(start // CHUNK)
                self._open = {}
            start = stop
        self._tail += n
        self._alive_count += n

    def _make_room(self, n: int) -> None:
        """Squeeze out dead slots if they are half or more, else grow; room for twice the live."""
        if self._tail + n <= len(self._key):
            return
        if self._alive_count * 2 <= self._tail:
            live = np.flatnonzero(self._alive[: self._tail])
            extra = self._extra[live] if self._extra is not None else None
            key, ts, pred, score = (
                self._key[live],
                self._ts[live],
                self._pred[live],
                self._score[live],
            )
            slices = self._slice[live] if self._slice is not None else None
            self._reset(key, ts, pred, score, slices, extra)
        size = max(2 * self._tail + n, 1024)
        for name in ("_key", "_ts", "_pred", "_score", "_slice", "_alive", "_extra"):
            old = getattr(self, name)
            if old is not None:
                new = np.empty((size, *old.shape[1:]), old.dtype)
                new[: len(old)] = old
                setattr(self, name, new)

    def _evict_beyond_limit(self) -> None:
        """Drop the oldest live slots past the limit, read only as far from the head as needed."""
        excess = self._alive_count - self._limit
        if excess <= 0:
            return
        lo, step = self._head, 2 * excess + SCAN
        while True:
            counts = np.cumsum(self._alive[lo : lo + step])
            if counts[-1] >= excess:
                self._drop_front(lo - self._head + int(np.searchsorted(counts, excess)) + 1)
                return
            excess -= int(counts[-1])
            lo, step = lo + step, 2 * step

    def _drop_front(self, slots: int) -> None:
        """Kill the oldest slots and forget the indexes they no longer need."""
        self._forget(slice(self._head, self._head + slots))
        self._head += slots
        if self._head - self._pruned_to >= CHUNK:  # slots behind the head are never found again
            keep = self._sorted_at >= self._head
            self._sorted_keys, self._sorted_at = self._sorted_keys[keep], self._sorted_at[keep]
            self._pruned_to = self._head
