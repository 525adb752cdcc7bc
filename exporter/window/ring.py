"""Per-model columnar ring buffers of recent predictions, bounded by count and by time."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import cast

import numpy as np

from exporter.config import ModelConfig
from exporter.decode.batch import PredictionBatch
from exporter.stats.kinds import FeatureType, Task
from exporter.window.growth import grown_size, regrown, ring_order, ring_pieces
from exporter.window.slices import Slicer
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
    tags: dict[str, np.ndarray] = field(default_factory=dict)  # codes per tag segment key
    tag_values: dict[str, tuple[str, ...]] = field(default_factory=dict)
    versions: np.ndarray | None = None  # version codes, -1 where none
    version_values: tuple[str, ...] = ()
    embeddings: dict[str, np.ndarray] = field(default_factory=dict)  # (rows, dimension) each

    def __len__(self) -> int:
        return int(self.ts.shape[0])

    def segment(self, key: str) -> tuple[np.ndarray, tuple[str, ...]]:
        """Codes and their values of a segment key: a tag's, else the categorical feature's."""
        if key in self.tags:
            return self.tags[key], self.tag_values[key]
        return self.categorical[key], self.categories[key]

    def subset(self, rows: np.ndarray) -> WindowView:
        """The rows where the mask is true, for a per-segment evaluation."""
        return replace(
            self,
            ts=self.ts[rows],
            numeric={n: v[rows] for n, v in self.numeric.items()},
            categorical={n: v[rows] for n, v in self.categorical.items()},
            prediction=self.prediction[rows],
            score=self.score[rows],
            tags={n: v[rows] for n, v in self.tags.items()},
            versions=None if self.versions is None else self.versions[rows],
            embeddings={n: v[rows] for n, v in self.embeddings.items()},
        )


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
        for feature in model.features:  # allowed values are no new ones: they never fold
            if feature.allowed is not None and feature.name in self.vocabularies:
                self.vocabularies[feature.name].seed(feature.allowed)
        self.classes = Vocabulary(model.max_new_categories, lambda: fold("class"))
        self.classes.seed(model.classes or ())  # configured classes are no new ones either
        self.slicer = Slicer(model, self.vocabularies, lambda: fold("tag"))
        self._classification = model.task.is_classification
        self._positive = model.positive_class if model.task is Task.BINARY else None
        self._ts = np.zeros(0)  # buffers grow as they fill: see _grow
        self._num = np.zeros((len(self._numeric), 0))
        self._cat = np.zeros((len(self._categorical), 0), dtype=np.int32)
        self._pred = np.zeros(0)
        self._score = np.zeros(0)
        self._slices = np.zeros((len(self.slicer.tag_keys) + 1, 0), dtype=np.int32)
        # One (dimension, rows) float32 buffer per embedding feature: 4 * dimension bytes a row.
        self._embedding_names = [f.name for f in model.embeddings]
        self._emb = [np.zeros((f.dimension or 0, 0), dtype=np.float32) for f in model.embeddings]
        self._pos = 0
        self._size = 0
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return self._size

    def extend(self, batch: PredictionBatch) -> np.ndarray:
        """Append a batch column by column; the oldest rows fall out past the cap.

        Returns every record's segment and version codes (window.slices), for the label join.
        """
        n = len(batch)
        if not n:
            return np.zeros(0, dtype=np.int64)
        tags, versions = self.slicer.tag_codes(batch), self.slicer.version_codes(batch)
        keep = slice(max(0, n - self._cap), n)
        kept = min(n, self._cap)
        cat = np.array(
            [
                self.vocabularies[name].codes(batch.categorical[i])
                for i, name in enumerate(self._categorical)
            ],
            dtype=np.int32,
        ).reshape(len(self._categorical), n)
        rows: tuple[np.ndarray, ...] = (
            batch.ts[keep],
            batch.numeric[:, keep],
            cat[:, keep],
            self._predictions(batch.prediction[keep]),
            batch.positive(self._positive)[keep],
            tags[:, keep],
            versions[keep],
            *(vectors[keep].T for vectors in batch.embeddings),
        )
        with self._lock:
            self._grow(self._size + kept)
            buffers: tuple[np.ndarray, ...] = (self._ts, self._num, self._cat, self._pred)
            buffers += (self._score, self._slices[:-1], self._slices[-1], *self._emb)
            for to, at in ring_pieces(self._pos, kept, len(self._ts)):
                for buffer, values in zip(buffers, rows, strict=True):
                    buffer[..., to] = values[..., at]
            self._pos = int((self._pos + kept) % len(self._ts))
            self._size = min(self._cap, self._size + kept)
        return self._slices_of(cat, tags, versions)

    def _slices_of(self, cat: np.ndarray, tags: np.ndarray, versions: np.ndarray) -> np.ndarray:
        """The records' codes in the slicer's key order, the version last."""
        tag_rows = dict(zip(self.slicer.tag_keys, tags, strict=True))
        rows = [
            tag_rows[key] if key in tag_rows else cat[self._categorical.index(key)]
            for key in self.slicer.keys
        ]
        return self.slicer.stack([*rows, versions])

    def codes_in_use(self, now: float, row: int = -1) -> set[int]:
        """The codes of slice `row` (a tag key's in `slicer.tag_keys` order, -1 the version's)
        in the rows a view at `now` or later may show: the others may be reused (older rows
        are never shown again)."""
        with self._lock:
            held = self._slices[row, : self._size][self._ts[: self._size] >= now - self._duration]
            return set(np.unique(held).tolist())

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
            slices = self._slices[:, keep]
            embeddings = {
                n: np.ascontiguousarray(b[:, keep].T)
                for n, b in zip(self._embedding_names, self._emb, strict=True)
            }
        # Read after the rows: vocabularies only grow, so every copied code has its value.
        categories = {n: v.values for n, v in self.vocabularies.items()}
        tag_keys = self.slicer.tag_keys
        return WindowView(
            *rows,
            categories=categories,
            classes=self.classes.values,
            tags={k: slices[i] for i, k in enumerate(tag_keys)},
            tag_values={k: self.slicer.vocabulary(k).values for k in tag_keys},
            versions=slices[-1],
            version_values=self.slicer.versions.values,
            embeddings=embeddings,
        )

    def seed(self, categories: Mapping[str, Iterable[str]], classes: Iterable[str]) -> None:
        """Give the reference's categories and classes their codes; they never fold (nor do a
        feature's `allowed` values or the configured classes, seeded when the window is built)."""
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
        for name in ("_ts", "_pred", "_score", "_num", "_cat", "_slices"):
            setattr(self, name, regrown(getattr(self, name), order, size))
        self._emb = [regrown(buffer, order, size) for buffer in self._emb]
        self._pos = self._size
