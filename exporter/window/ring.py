"""Per-model columnar ring buffers of recent predictions, bounded by count and by time."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import cast

import numpy as np

from exporter.config import ModelConfig
from exporter.decode.batch import PredictionBatch
from exporter.stats.kinds import FeatureType, Task
from exporter.window.growth import grown_size, regrown, ring_order
from exporter.window.vocab import Vocabulary


@dataclass(frozen=True)
class WindowView:
    """A consistent copy of the rows inside the window's duration, for one evaluation."""

    ts: np.ndarray
    numeric: dict[str, np.ndarray]
    categorical: dict[str, np.ndarray]
    prediction: np.ndarray
    score: np.ndarray
    categories: dict[str, tuple[str, ...]]  # code -> value per categorical feature, as of the copy
    classes: tuple[str, ...]  # code -> class of a classifier's prediction

    def __len__(self) -> int:
        return int(self.ts.shape[0])


class Window:
    """Holds the newest `max_samples` records; evaluation trims by `duration` when it copies."""

    def __init__(self, model: ModelConfig, on_fold: Callable[[str], object] | None = None) -> None:
        cap = model.window.max_samples
        self._cap = cap
        self._duration = model.window.duration_seconds
        self._numeric = [f.name for f in model.features if f.type is FeatureType.NUMERIC]
        self._categorical = [f.name for f in model.features if f.type is FeatureType.CATEGORICAL]
        fold = on_fold or (lambda kind: None)
        self.vocabularies = {
            n: Vocabulary(model.max_new_categories, lambda: fold("category"))
            for n in self._categorical
        }
        self.classes = Vocabulary(model.max_new_categories, lambda: fold("class"))
        self._classification = model.task.is_classification
        self._positive = model.positive_class if model.task is Task.BINARY else None
        self._ts = np.zeros(0)  # buffers grow as they fill: see _grow
        self._num = np.zeros((len(self._numeric), 0))
        self._cat = np.zeros((len(self._categorical), 0), dtype=np.int32)
        self._pred = np.zeros(0)
        self._score = np.zeros(0)
        self._pos = 0
        self._size = 0
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return self._size

    def extend(self, batch: PredictionBatch) -> None:
        """Append a batch column by column; the oldest rows fall out past the cap."""
        n = len(batch)
        if not n:
            return
        keep = slice(max(0, n - self._cap), n)
        kept = min(n, self._cap)
        cat = np.array(
            [
                self.vocabularies[name].codes(batch.categorical[i][keep])
                for i, name in enumerate(self._categorical)
            ],
            dtype=np.int32,
        ).reshape(len(self._categorical), kept)
        pred = self._predictions(batch.prediction[keep])
        score = batch.positive(self._positive)[keep]
        with self._lock:
            self._grow(self._size + kept)
            idx = (self._pos + np.arange(kept)) % len(self._ts)
            self._ts[idx] = batch.ts[keep]
            self._num[:, idx] = batch.numeric[:, keep]
            self._cat[:, idx] = cat
            self._pred[idx] = pred
            self._score[idx] = score
            self._pos = int((self._pos + kept) % len(self._ts))
            self._size = min(self._cap, self._size + kept)

    def view(self, now: float) -> WindowView:
        """Copy the rows no older than the window duration, oldest first."""
        with self._lock:
            order = self._order()
            keep = order[self._ts[order] >= now - self._duration]
            rows = (
                self._ts[keep].copy(),
                {n: self._num[i, keep].copy() for i, n in enumerate(self._numeric)},
                {n: self._cat[i, keep].copy() for i, n in enumerate(self._categorical)},
                self._pred[keep].copy(),
                self._score[keep].copy(),
            )
        # Read after the rows: vocabularies only grow, so every copied code has its value.
        categories = {n: v.values for n, v in self.vocabularies.items()}
        return WindowView(*rows, categories=categories, classes=self.classes.values)

    def seed(self, categories: Mapping[str, Iterable[str]], classes: Iterable[str]) -> None:
        """Give the reference's categories and classes their codes; they never fold."""
        for name, values in categories.items():
            self.vocabularies[name].seed(values)
        self.classes.seed(classes)

    def _predictions(self, values: list[float | str | None]) -> np.ndarray:
        """Class codes of a classifier's predictions, a regressor's values; NaN where none."""
        if not self._classification:
            return np.array(values, dtype=float)
        codes = self.classes.codes(cast(list[str | None], values))  # a classifier's are text
        return np.where(codes < 0, np.nan, codes)

    def _order(self) -> np.ndarray:
        """Buffer positions of the kept rows, oldest first."""
        return ring_order(self._pos, self._size, len(self._ts))

    def _grow(self, wanted: int) -> None:
        """Double the buffers up to the cap as the window fills."""
        size = grown_size(len(self._ts), wanted, self._cap)
        if size == len(self._ts):
            return
        order = self._order()
        for name in ("_ts", "_pred", "_score", "_num", "_cat"):
            setattr(self, name, regrown(getattr(self, name), order, size))
        self._pos = self._size
