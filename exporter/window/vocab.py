"""Bounded string-to-code vocabularies, so a buggy producer cannot grow memory or series."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence

import numpy as np

OTHER = "__other__"
RECLAIM_EVERY = 1000  # folds between two looks for codes to give back (each scans the window)
RECLAIM_SECONDS = 10.0  # or this long: on a quiet model 1,000 folds took hours
# Longer values fold into __other__ too: categories and classes reach pages and label values,
# where a 500 KB string would make every scrape megabytes.
MAX_VALUE_CHARS = 128


class _Codes(dict[str | None, int]):
    """Value -> code, None -> -1; a lookup of a value without a code asks for one.

    So a column's codes take one C-level lookup per value (`map` over `__getitem__`), and
    only a value not seen before reaches Python.
    """

    def __init__(self, missing: Callable[[str], int]) -> None:
        super().__init__({None: -1})
        self._missing = missing

    def __missing__(self, value: str) -> int:
        return self._missing(value)


class Vocabulary:
    """Codes for a categorical column: known values plus a capped number of new ones."""

    def __init__(
        self,
        max_new: int,
        on_fold: Callable[[], object] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._codes = _Codes(self._missing)
        self._values: list[str] = []
        self._known: set[str] = set()
        self._max_new = max_new
        self._new = 0
        self._other: int | None = None
        self._on_fold = on_fold
        self._lock = threading.Lock()
        # Codes no stored row uses may be given to new values: `in_use` names the others.
        self.in_use: Callable[[], set[int]] | None = None
        self.released: list[str] = []  # values whose codes were given back, for the counters
        # Told the codes a look gave back, before any new value gets one: rows that keep a
        # code elsewhere can fold it into __other__ rather than read the next value's name.
        self.on_release: Callable[[list[int]], object] | None = None
        self._free: list[int] = []
        self._folds = 0
        self._clock = clock
        self._looked = -math.inf  # when the last look for codes to give back ran
        self._assigning: set[int] = set()  # codes given during the current codes() call
        self._column: Sequence[str | None] = ()  # the values the current codes() call codes

    def seed(self, values: Iterable[str]) -> None:
        """Add reference or allowed categories; they never count against the cap on new values."""
        with self._lock:
            for value in values:
                if value in self._known:
                    continue
                self._known.add(value)
                if value in self._codes:
                    self._new -= 1  # it came before its reference: give its slot back
                else:
                    self._add(value)

    def adopt(self, values: Iterable[str]) -> None:
        """Give codes to values a former window of the model held (a reload that changed it):
        like values of its own they count against the cap, and a look gives them back once no
        stored row uses them, so the counters' slots they hold are given back too."""
        with self._lock:
            for value in values:
                if value not in self._codes and value != OTHER:
                    self._new += value not in self._known
                    self._add(value)

    def code(self, value: str) -> int:
        """The value's code; past the cap every new value shares the `__other__` code."""
        return self._codes[value]

    def codes(self, values: Sequence[str | None]) -> np.ndarray:
        """Codes of a column, -1 for None; a folded value is counted at each occurrence."""
        self._assigning.clear()  # the codes of this column are not stored anywhere yet
        self._column = values
        try:
            return np.fromiter(map(self._codes.__getitem__, values), np.int32, len(values))
        finally:
            self._column = ()

    def _missing(self, value: str) -> int:
        code, folded = self._assign(value)
        if folded and self._on_fold is not None:
            self._on_fold()  # counted per folded value, so a storm shows its size
        return code

    def _assign(self, value: str) -> tuple[int, bool]:
        """A code for a value without one, and whether it folded into `__other__`."""
        with self._lock:
            code = self._codes.get(value)
            if code is not None:
                return code, False
            if value in self._known:
                return self._add(value), False
            if len(value) <= MAX_VALUE_CHARS and (self._new < self._max_new or self._reclaimed()):
                self._new += 1
                return self._add(value), False
            if self._other is None:
                self._other = self._add(OTHER)
            self._folds += 1
            return self._other, True

    def _reclaimed(self) -> bool:
        """Whether a code is free for a new value, looking (now and then) for codes that no
        stored row uses any more: a version that left the window gives its slot back."""
        if self._free or self.in_use is None:
            return bool(self._free)
        now = self._clock()
        if self._folds % RECLAIM_EVERY and now - self._looked < RECLAIM_SECONDS:
            return False
        self._looked = now
        # Codes this column looked up already are not stored yet either: a version back in
        # the same read as a new one lost its code to it, and its records the new one's name.
        looked_up = {self._codes.get(value) for value in set(self._column)} - {None}
        used = self.in_use() | self._assigning | looked_up
        for code, value in enumerate(self._values):
            kept = code in used or value == OTHER or value in self._known
            if not kept and self._codes.get(value) == code:  # not given back already
                del self._codes[value]
                self._free.append(code)
                self.released.append(value)
                self._new -= 1
        if self._free and self.on_release is not None:
            self.on_release(list(self._free))
        return bool(self._free)

    def _add(self, value: str) -> int:
        """A code for the value: a given-back one first, or the codes would grow past the cap."""
        if self._free:
            code = self._free.pop()
            self._values[code] = value
        else:
            code = len(self._values)
            self._values.append(value)
        self._codes[value] = code
        self._assigning.add(code)
        return code

    @property
    def values(self) -> tuple[str, ...]:
        """Every value with a code, in code order."""
        with self._lock:
            return tuple(self._values)

    def translate(self, reference: Mapping[str, int], unseen: int) -> np.ndarray:
        """Map our codes to a reference's codes; values the reference lacks map to `unseen`."""
        return translate(self.values, reference, unseen)

    def __len__(self) -> int:
        return len(self._values)


def translate(values: Sequence[str], reference: Mapping[str, int], unseen: int) -> np.ndarray:
    """Codes in `values` order re-expressed as a reference's codes; unknown values -> `unseen`."""
    return np.array([reference.get(v, unseen) for v in values] or [unseen], dtype=np.int64)
