"""Waiting predictions in columns behave exactly like the ordered dict they replace."""

from __future__ import annotations

from collections import OrderedDict, deque
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from exporter.window import pending
from exporter.window.pending import Pending, keys_of
from exporter.window.recent import Recent


class DictPending:
    """The former store: an ordered dict of id -> (ts, predicted, scores)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.items: OrderedDict[str, tuple[float, Any, Any]] = OrderedDict()

    def add(self, ids: list[str], ts: list[float], predicted: list[Any], scores: list[Any]) -> None:
        for row in zip(ids, ts, predicted, scores, strict=True):
            self.items[row[0]] = row[1:]
            self.items.move_to_end(row[0])
        while len(self.items) > self.limit:
            self.items.popitem(last=False)

    def take(self, ids: list[str]) -> list[tuple[float, Any, Any] | None]:
        return [self.items.pop(i, None) for i in ids]

    def expire(self, oldest: float) -> None:
        while self.items and next(iter(self.items.values()))[0] < oldest:
            self.items.popitem(last=False)


ids = st.integers(0, 40).map(lambda i: f"id-{i}")
score = st.none() | st.floats(0, 1) | st.just((("a", "b"), (0.25, 0.75)))
add = st.lists(st.tuples(ids, st.integers(0, 100), st.sampled_from("xyz"), score), max_size=12)
operation = (
    add.map(lambda rows: ("add", rows))
    | st.lists(ids, max_size=8).map(lambda batch: ("take", batch))
    | st.integers(0, 100).map(lambda t: ("expire", t))
)


@pytest.fixture
def small_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    """Chunks of four slots and scans of two, so a few operations cross many chunk, scan and
    compaction edges."""
    monkeypatch.setattr(pending, "CHUNK", 4)
    monkeypatch.setattr(pending, "SCAN", 2)


@pytest.mark.usefixtures("small_chunks")
@settings(
    max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(limit=st.integers(1, 30), operations=st.lists(operation, max_size=60))
def test_any_sequence_of_operations_matches_the_ordered_dict(
    limit: int, operations: list[tuple[str, Any]]
) -> None:
    ours, theirs = Pending(limit, numeric=False), DictPending(limit)
    for kind, arg in operations:
        if kind == "add" and arg:
            names, ts, predicted, scores = (list(column) for column in zip(*arg, strict=True))
            ours.add(keys_of(names), np.array(ts, float), predicted, scores)
            theirs.add(names, [float(t) for t in ts], predicted, scores)
        elif kind == "take":
            found, ts, predicted, scores = ours.take(keys_of(arg))
            got = iter(zip(ts.tolist(), predicted, scores, strict=True))
            expected = theirs.take(arg)
            assert found.tolist() == [row is not None for row in expected]
            assert [next(got) for row in expected if row is not None] == [
                row for row in expected if row is not None
            ]
        elif kind == "expire":
            ours.expire(float(arg))
            theirs.expire(float(arg))
        assert len(ours) == len(theirs.items)


def test_numeric_predictions_come_back_as_the_floats_they_were() -> None:
    store = Pending(10, numeric=True)
    store.add(keys_of(["a", "b"]), np.array([1.0, 2.0]), [0.5, -3.25], [None, 0.9])
    found, ts, predicted, scores = store.take(keys_of(["b", "c", "a"]))
    assert found.tolist() == [True, False, True]
    assert (ts.tolist(), predicted, scores) == ([2.0, 1.0], [-3.25, 0.5], [0.9, None])


def test_segment_codes_are_kept_once_a_record_has_one_and_survive_compaction() -> None:
    store = Pending(100_000, numeric=True, width=2)
    plain = keys_of([f"p{i}" for i in range(3000)])
    absent = np.full((3000, 2), -1, np.int32)
    store.add(plain, np.full(3000, 1.0), [0.5] * 3000, [None] * 3000, absent)
    assert store._slice is None  # no column until a record carries a segment or version
    coded = keys_of([f"c{i}" for i in range(3000)])
    codes = np.stack([np.arange(3000), np.full(3000, 5)], axis=1).astype(np.int32)
    store.add(coded, np.full(3000, 2.0), [0.5] * 3000, [None] * 3000, codes)
    assert store.take(plain[:2000])[0].all()  # dead slots: the next growth compacts
    more = keys_of([f"m{i}" for i in range(2000)])
    store.add(more, np.full(2000, 3.0), [0.5] * 2000, [None] * 2000, np.full((2000, 2), 7))
    found = store.take(keys_of(["p2500", "c10", "m5"]))[0]
    assert found.all()
    assert store.taken_slices.tolist() == [[-1, -1], [10, 5], [7, 7]]


def test_waiting_predictions_take_under_a_hundred_bytes_each() -> None:
    store = Pending(200_000, numeric=False)
    for start in range(0, 300_000, 50_000):
        names = [f"req-{i}" for i in range(start, start + 50_000)]
        store.add(keys_of(names), np.full(50_000, 1.0), ["yes"] * 50_000, [0.5] * 50_000)
    assert len(store) == 200_000
    assert store.nbytes / 200_000 < 100


def test_slots_of_joined_predictions_are_reused_rather_than_grown() -> None:
    store = Pending(200_000, numeric=True)
    for start in range(0, 400_000, 20_000):
        keys = keys_of([f"req-{i}" for i in range(start, start + 20_000)])
        store.add(keys, np.full(20_000, 1.0), [0.5] * 20_000, [None] * 20_000)
        assert store.take(keys)[0].all()
    assert len(store) == 0
    assert len(store._key) <= 4 * 20_000 + 2 * pending.CHUNK


@settings(max_examples=200, deadline=None)
@given(
    capacity=st.integers(1, 40),
    batches=st.lists(st.lists(st.tuples(st.integers(0, 100), score), max_size=30), max_size=12),
    cutoff=st.integers(0, 100),
)
def test_recent_predictions_keep_the_newest_like_a_bounded_deque(
    capacity: int, batches: list[list[tuple[int, Any]]], cutoff: int
) -> None:
    ours, theirs = Recent(capacity), deque(maxlen=capacity)
    for rows in batches:
        ts = [float(t) for t, _ in rows]
        ours.extend(np.array(ts, float), [f"p{t}" for t in ts], [s for _, s in rows])
        theirs.extend((t, f"p{t}", s) for t, (_, s) in zip(ts, rows, strict=True))
    kept = [row for row in theirs if row[0] >= cutoff]
    assert ours.since(float(cutoff)) == ([row[1] for row in kept], [row[2] for row in kept])
