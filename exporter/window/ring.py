"""Per-model columnar ring buffers of recent predictions, bounded by count and by time."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from exporter.config import ModelConfig
from exporter.decode.wire import Prediction
from exporter.stats.kinds import FeatureType, Task
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
        self._ts = np.zeros(cap)
        self._num = np.full((len(self._numeric), cap), np.nan)
        self._cat = np.full((len(self._categorical), cap), -1, dtype=np.int32)
        self._pred = np.full(cap, np.nan)
        self._score = np.full(cap, np.nan)
        self._pos = 0
        self._size = 0
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return self._size

    def extend(self, records: Sequence[Prediction]) -> None:
        """Append a batch column by column; the oldest rows fall out past the cap."""
        if not records:
            return
        records = records[-self._cap :]
        ts = np.fromiter((r.ts for r in records), float, len(records))
        num = np.array(
            [[r.features.get(n) for r in records] for n in self._numeric], dtype=float
        ).reshape(len(self._numeric), len(records))  # None -> NaN
        cat = np.array(
            [[self._code(n, r.features.get(n)) for r in records] for n in self._categorical],
            dtype=np.int32,
        ).reshape(len(self._categorical), len(records))
        pred = np.fromiter((self._pred_value(r.prediction) for r in records), float, len(records))
        score = np.fromiter((self._score_value(r) for r in records), float, len(records))
        with self._lock:
            idx = (self._pos + np.arange(len(records))) % self._cap
            self._ts[idx] = ts
            self._num[:, idx] = num
            self._cat[:, idx] = cat
            self._pred[idx] = pred
            self._score[idx] = score
            self._pos = int((self._pos + len(records)) % self._cap)
            self._size = min(self._cap, self._size + len(records))

    def view(self, now: float) -> WindowView:
        """Copy the rows no older than the window duration, oldest first."""
        with self._lock:
            start = (self._pos - self._size) % self._cap
            order = (start + np.arange(self._size)) % self._cap
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

    def _code(self, name: str, value: object) -> int:
        return -1 if value is None else self.vocabularies[name].code(str(value))

    def _pred_value(self, value: float | str | None) -> float:
        if value is None:
            return float("nan")
        if self._classification:
            return float(self.classes.code(str(value)))
        return float(value)

    def _score_value(self, record: Prediction) -> float:
        """The positive-class probability, whichever form the producer sent."""
        scores = record.scores
        if scores is None:
            return float("nan")
        if isinstance(scores, float):
            return scores
        if self._positive is not None and self._positive in scores:
            return float(scores[self._positive])
        return float("nan")
