"""The class names the label join keeps: configured ones, else the first seen up to the cap,
every other one `__other__`, for predictions, labels and score keys alike.

Kept raw, one 100 KB class text in one record became string arrays of gigabytes in the
next evaluation, and thousands of distinct classes each a column of the estimate's score
matrix (8,000 of them: 9 s and 1.7 GB per evaluation).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from typing import Any

from exporter.config import ModelConfig
from exporter.stats.kinds import Task
from exporter.window.vocab import MAX_VALUE_CHARS, OTHER

# A prediction's scores kept compactly: the positive-class probability, or interned class
# names with their probabilities, or None.
Compact = float | tuple[tuple[str, ...], tuple[float, ...]] | None
MAX_KEYSETS = 256  # key sets (in any order) whose names are interned
MAX_ORDERS = 1024  # key orders read without sorting the keys again
LONG = OTHER + ":"  # a class text past MAX_VALUE_CHARS is kept as LONG + a digest of it
# A pair's prediction when it and its label both fold into __other__ but differ: folded to
# the same name they would count as correct (accuracy 1.0 for 0.02 in a review).
OTHER_MISMATCH = OTHER + "mismatch__"
_Keyset = tuple[tuple[str, ...], list[int] | None]  # names, each key's slot unless in their order


class ClassNames:
    """Bounded class names; the caller holds the lock that guards the join."""

    def __init__(self, model: ModelConfig) -> None:
        self._configured = model.classes is not None
        self._cap = model.max_new_categories
        self.names: list[str] = list(model.classes or ())
        if not self.names and model.task is Task.BINARY and model.positive_class:
            self.names.append(model.positive_class)
        self._orders: dict[tuple[str, ...], _Keyset] = {}  # keys as they came: see _order
        self._sets: dict[tuple[str, ...], tuple[tuple[str, ...], dict[str, int]]] = {}
        self._interned: dict[str, str] = {}  # one string per bounded name, for rows past the sets

    def bounded(self, cls: str) -> str:
        """The class itself when configured or among the first seen, else `__other__`."""
        if cls in self.names:
            return cls
        if (
            not self._configured
            and len(self.names) < self._cap
            and len(cls) <= MAX_VALUE_CHARS
            and not cls.startswith(LONG)
        ):
            self.names.append(cls)
            return cls
        return OTHER

    def take(self, old: ClassNames) -> list[str]:
        """Name the classes a former join of the model named, in the order they came, as far
        as this model's settings let it; returns the ones it no longer names.

        A reload that changed the model started the first-seen names afresh, while the
        counters kept every class named before: each reload added up to the cap in series.
        """
        for name in old.names:
            self.bounded(name)
        return [name for name in old.names if name not in self.names]

    def kept(self, values: Sequence[Any]) -> tuple[list[str], list[str]]:
        """Each value as kept to be compared (its text, or LONG and a digest past 128
        characters: distinct texts stay distinct) and as named (`bounded`); every distinct
        value resolved once, and equal ones then share one string."""
        once = {v: self._named(token(str(v))) for v in set(values)}
        return [once[v][0] for v in values], [once[v][1] for v in values]

    def pair(self, predicted: str, actual: str) -> tuple[str, str]:
        """A joined pair's kept prediction and label as named for the metrics: bounded, the
        prediction OTHER_MISMATCH where both fold into `__other__` but differ."""
        named_predicted, named_actual = self.bounded(predicted), self.bounded(actual)
        if named_predicted == named_actual and predicted != actual:
            return OTHER_MISMATCH, named_actual
        return named_predicted, named_actual

    def _named(self, kept: str) -> tuple[str, str]:
        return kept, self.bounded(kept)

    def compact(self, scores: float | Mapping[str, float] | None) -> Compact:
        """Scores with bounded class names, interned so a million of them share one key tuple;
        keys that fold into `__other__` add up there."""
        if scores is None or isinstance(scores, float):
            return scores
        keys = tuple(scores)
        names, slots = self._orders.get(keys) or self._order(keys)
        values = tuple(map(scores.__getitem__, keys))
        if slots is None:
            return names, values
        summed = [0.0] * len(names)
        for slot, value in zip(slots, values, strict=True):
            summed[slot] += value
        return names, tuple(summed)

    def _order(self, keys: tuple[str, ...]) -> _Keyset:
        """The names of a key set and each key's slot in this order: an argsort server writes
        each row's keys in another order, and keyed on the order, the 256 first orders kept
        their scores while every later row lost them (roc_auc on 303 rows of 6,000)."""
        ordered = tuple(sorted(keys))
        names, index = self._sets.get(ordered) or self._set(ordered)
        keyset = names, None if names == keys else [index[key] for key in keys]
        if len(self._orders) < MAX_ORDERS:
            self._orders[keys] = keyset
        return keyset

    def _set(self, ordered: tuple[str, ...]) -> tuple[tuple[str, ...], dict[str, int]]:
        """The bounded names of sorted keys and each key's slot among them; past MAX_KEYSETS
        sets (a top-k server over many classes) built for the record, not interned."""
        bounded = [self._interned.setdefault(name, name) for name in map(self.bounded, ordered)]
        names = tuple(dict.fromkeys(bounded))
        at = {name: slot for slot, name in enumerate(names)}
        found = names, {key: at[name] for key, name in zip(ordered, bounded, strict=True)}
        if len(self._sets) < MAX_KEYSETS:
            self._sets[ordered] = found
        return found


def token(text: str) -> str:
    """The text, or past MAX_VALUE_CHARS LONG and 16 hex digits of its BLAKE2b digest."""
    if len(text) <= MAX_VALUE_CHARS:
        return text
    return LONG + hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=8).hexdigest()
