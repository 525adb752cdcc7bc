"""The class names the label join keeps: configured ones, else the first seen up to the cap,
every other one `__other__`, for predictions, labels and score keys alike.

Kept raw, one 100 KB class text in one record became string arrays of gigabytes in the
next evaluation, and thousands of distinct classes each a column of the estimate's score
matrix (8,000 of them: 9 s and 1.7 GB per evaluation).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from exporter.config import ModelConfig
from exporter.stats.kinds import Task
from exporter.window.vocab import MAX_VALUE_CHARS, OTHER

# A prediction's scores kept compactly: the positive-class probability, or interned class
# names with their probabilities, or None.
Compact = float | tuple[tuple[str, ...], tuple[float, ...]] | None
MAX_KEYSETS = 256
_Keyset = tuple[tuple[str, ...], list[int] | None]  # names, and each key's slot when folded


class ClassNames:
    """Bounded class names; the caller holds the lock that guards the join."""

    def __init__(self, model: ModelConfig) -> None:
        self._configured = model.classes is not None
        self._cap = model.max_new_categories
        self.names: list[str] = list(model.classes or ())
        if not self.names and model.task is Task.BINARY and model.positive_class:
            self.names.append(model.positive_class)
        self._keysets: dict[tuple[str, ...], _Keyset] = {}

    def bounded(self, cls: str) -> str:
        """The class itself when configured or among the first seen, else `__other__`."""
        if cls in self.names:
            return cls
        if not self._configured and len(self.names) < self._cap and len(cls) <= MAX_VALUE_CHARS:
            self.names.append(cls)
            return cls
        return OTHER

    def bounded_all(self, values: Sequence[Any]) -> list[Any]:
        """Each value's bounded name, every distinct one resolved once."""
        once = {v: self.bounded(str(v)) for v in set(values)}
        return list(map(once.__getitem__, values))

    def compact(self, scores: float | Mapping[str, float] | None) -> Compact:
        """Scores with bounded class names, interned so a million of them share one key tuple;
        keys that fold into `__other__` add up there."""
        if scores is None or isinstance(scores, float):
            return scores
        keys = tuple(scores)
        keyset = self._keysets.get(keys)
        if keyset is None:
            if len(self._keysets) >= MAX_KEYSETS:
                return None
            keyset = self._keysets.setdefault(keys, self._fold(keys))
        names, slots = keyset
        values = tuple(map(scores.__getitem__, keys))
        if slots is None:
            return names, values
        summed = [0.0] * len(names)
        for slot, value in zip(slots, values, strict=True):
            summed[slot] += value
        return names, tuple(summed)

    def _fold(self, keys: tuple[str, ...]) -> _Keyset:
        bounded = [self.bounded(key) for key in keys]
        if bounded == list(keys):
            return keys, None
        names = tuple(dict.fromkeys(bounded))
        return names, [names.index(name) for name in bounded]
