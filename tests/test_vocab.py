"""Bounded vocabularies: reference values are free, new ones are capped, the rest fold."""

from __future__ import annotations

from collections import deque

from exporter.window.vocab import OTHER, Vocabulary


def test_new_values_past_the_cap_share_the_other_code_and_each_fold_is_counted() -> None:
    folds: list[int] = []
    vocab = Vocabulary(max_new=2, on_fold=lambda: folds.append(1))
    vocab.seed(["a", "b"])
    codes = [vocab.code(v) for v in ["a", "x", "y", "z", "w", "b", "z"]]
    assert codes[:3] == [0, 2, 3]
    assert codes[3] == codes[4] == codes[6] == vocab.values.index(OTHER)
    assert len(folds) == 3


def test_a_value_seen_before_its_reference_was_loaded_gives_its_slot_back() -> None:
    vocab = Vocabulary(max_new=1)
    vocab.code("a")
    vocab.seed(["a"])
    assert vocab.code("new") != vocab.code("a")
    assert OTHER not in vocab.values


def test_translation_maps_unknown_values_to_the_unseen_code() -> None:
    vocab = Vocabulary(max_new=5)
    for v in ["b", "zz", "a"]:
        vocab.code(v)
    assert list(vocab.translate({"a": 0, "b": 1}, unseen=2)) == [1, 2, 0]


def test_codes_given_back_are_reused_so_the_vocabulary_never_outgrows_its_cap() -> None:
    """A reclaim both lowered the count of new values and freed the codes, so later values
    took fresh codes while freed ones waited: 135 codes for max_new 20, and as many series."""
    vocab = Vocabulary(max_new=20)
    window: deque[int] = deque(maxlen=5000)  # the codes a 5,000-record window still holds
    vocab.in_use = lambda: set(window)
    for start in range(0, 300_000, 500):  # a new version per record, read 500 at a time
        window.extend(vocab.codes([f"v{i}" for i in range(start, start + 500)]).tolist())
        assert len(vocab) <= 20 + 1  # the cap, and __other__
    named = {vocab.values[c] for c in window} - {OTHER}
    assert 0 < len(named) <= 20


def test_a_slot_freed_on_a_quiet_model_is_given_to_a_new_version_within_seconds() -> None:
    """After a look that freed nothing the next came 1,000 folds later: at a few records a
    minute a new version stayed in __other__ for hours after the old ones had gone."""
    now = [0.0]
    vocab = Vocabulary(max_new=2, clock=lambda: now[0])
    used = set(vocab.codes(["v1", "v2"]).tolist())
    vocab.in_use = lambda: used
    assert vocab.codes(["v3"])[0] == vocab.code(OTHER)  # both slots held: pooled, and looked
    now[0] += 1.0
    assert vocab.codes(["v3"])[0] == vocab.code(OTHER)  # too soon to look again
    used = set()  # v1 and v2 have left the window and the label join
    now[0] += 10.0
    assert vocab.codes(["v3"])[0] != vocab.code(OTHER)
    assert "v3" in vocab.values and vocab.released


def test_a_version_back_in_the_read_that_brings_a_new_one_keeps_its_own_code() -> None:
    """Its code, free while the version was away, went to the new version in that very
    read: the returning version's records were stored under the new one's name."""
    vocab = Vocabulary(max_new=2)
    vocab.codes(["v1", "v2"])
    vocab.in_use = set  # v1 and v2 left the window and the label join
    codes = vocab.codes(["v2"] * 3 + ["v4"] * 3).tolist()
    assert [vocab.values[c] for c in codes] == ["v2"] * 3 + ["v4"] * 3
