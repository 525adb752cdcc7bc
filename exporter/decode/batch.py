"""Valid prediction records of one read as columns, the form the window, join and counters take.

Column by column, numpy does per batch what a loop over records did per value.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from exporter.decode.wire import Prediction, Scores


@dataclass(frozen=True, slots=True)
class PredictionBatch:
    """Records in stream order: numeric features as rows of floats, the rest as lists."""

    ids: list[str | None]
    ts: np.ndarray  # epoch seconds
    versions: list[str | None]
    numeric: np.ndarray  # (numeric features, records); NaN where missing
    categorical: list[list[str | None]]  # one list per categorical feature
    prediction: list[float | str | None]  # None only for records with status error
    scores: list[Scores]
    latency: np.ndarray  # seconds; NaN where absent
    ok: np.ndarray  # bool: status ok
    sample_rate: np.ndarray
    tags: list[Mapping[str, str] | None]  # a record's attributes that are not features
    embeddings: tuple[np.ndarray, ...] = ()  # (records, dimension) float32 each; NaN rows missing
    _positive: dict[str | None, np.ndarray] = field(default_factory=dict, compare=False)

    def __len__(self) -> int:
        return len(self.ids)

    def positive(self, positive_class: str | None) -> np.ndarray:
        """The positive-class probability per record (see `positive_scores`), computed once for
        the window and the label join."""
        found = self._positive.get(positive_class)
        if found is None:
            found = self._positive[positive_class] = positive_scores(self.scores, positive_class)
        return found


def batch_of(
    records: Sequence[Prediction],
    features: Sequence[tuple[str, bool]],
    dimensions: Sequence[int] = (),
) -> PredictionBatch:
    """Records decoded one by one as columns; features are (name, is numeric) in model order,
    dimensions those of the model's embedding features."""
    n = len(records)
    numeric = [name for name, is_numeric in features if is_numeric]
    categorical = [name for name, is_numeric in features if not is_numeric]
    values = np.array(
        [[r.features.get(name) for r in records] for name in numeric], dtype=float
    ).reshape(len(numeric), n)
    latency = [r.latency_seconds for r in records]
    return PredictionBatch(
        ids=[r.id for r in records],
        ts=np.array([r.ts for r in records], dtype=float),
        versions=[r.version for r in records],
        numeric=values,
        categorical=[[_text(r.features.get(name)) for r in records] for name in categorical],
        prediction=[r.prediction for r in records],
        scores=[r.scores for r in records],
        latency=np.array(latency, dtype=float),
        ok=np.array([r.ok for r in records], dtype=bool),
        sample_rate=np.array([r.sample_rate for r in records], dtype=float),
        tags=[r.tags for r in records],
        embeddings=tuple(
            vectors([r.embeddings[i] if r.embeddings else None for r in records], dimension)
            for i, dimension in enumerate(dimensions)
        ),
    )


def vectors(values: Sequence[list[float] | None], dimension: int) -> np.ndarray:
    """Embedding vectors as float32 rows, a NaN row where a record sent none.

    float32 halves the window's bytes; embeddings from models carry no more precision.
    """
    if None not in values:
        return np.array(values, dtype=np.float32).reshape(len(values), dimension)
    out = np.full((len(values), dimension), np.nan, dtype=np.float32)
    for row, value in enumerate(values):
        if value is not None:
            out[row] = value
    return out


def concat(batches: Sequence[PredictionBatch]) -> PredictionBatch:
    """One batch holding the given ones (at least one) in order."""
    if len(batches) == 1:
        return batches[0]
    categorical = len(batches[0].categorical)
    return PredictionBatch(
        ids=[i for b in batches for i in b.ids],
        ts=np.concatenate([b.ts for b in batches]),
        versions=[v for b in batches for v in b.versions],
        numeric=np.concatenate([b.numeric for b in batches], axis=1),
        categorical=[[v for b in batches for v in b.categorical[c]] for c in range(categorical)],
        prediction=[p for b in batches for p in b.prediction],
        scores=[s for b in batches for s in b.scores],
        latency=np.concatenate([b.latency for b in batches]),
        ok=np.concatenate([b.ok for b in batches]),
        sample_rate=np.concatenate([b.sample_rate for b in batches]),
        tags=[t for b in batches for t in b.tags],
        embeddings=tuple(
            np.concatenate([b.embeddings[i] for b in batches])
            for i in range(len(batches[0].embeddings))
        ),
    )


def _text(value: float | str | None) -> str | None:
    """A decoded categorical value is text already; numbers came only from tests' records."""
    return value if value is None or isinstance(value, str) else str(value)


def positive_scores(scores: Sequence[Scores], positive: str | None) -> np.ndarray:
    """The positive-class probability per record, whichever form the producer sent; NaN where
    there is none."""
    if set(map(type, scores)) == {float}:  # the usual case: one number per record
        return np.fromiter(scores, float, len(scores))
    if positive is None:
        return np.array([s if isinstance(s, float) else np.nan for s in scores], dtype=float)
    nan = float("nan")
    return np.array(
        [s if isinstance(s, float) else nan if s is None else s.get(positive, nan) for s in scores],
        dtype=float,
    )
