"""Embedding methods fitted on reference vectors, and the sample a segment key's values share.

An embedding method keeps up to `reference_rows` reference vectors (6 MB at 384 dimensions for
mmd). Fitting one per segment value at that size would multiply it by up to 100 values per
key; instead a key's own values split one such sample between them (docs/segments.md).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from exporter.config import FeatureConfig, ModelConfig
from exporter.reference.load import ReferenceError
from exporter.stats import DEFAULT_METHOD
from exporter.stats.embedding import (
    EMBEDDING_METHODS,
    MIN_ROWS,
    EmbeddingMethod,
    make_embedding_method,
)
from exporter.stats.kinds import FeatureType


def embedding_method(
    model: ModelConfig, f: FeatureConfig, vectors: np.ndarray, reference_rows: int | None = None
) -> EmbeddingMethod | None:
    """The feature's method fitted on at most reference_rows (default: its own setting) of
    the vectors; none if fewer than MIN_ROWS are complete. Errors name model and feature."""
    if int(np.isfinite(vectors).all(axis=1).sum()) < MIN_ROWS:
        return None
    name = f.drift.method or DEFAULT_METHOD[FeatureType.EMBEDDING]
    settings = {} if reference_rows is None else {"reference_rows": max(reference_rows, MIN_ROWS)}
    try:
        method = make_embedding_method(name, f.drift.threshold, f.sample_rows, **settings)
        return method.fit(vectors)
    except ValueError as exc:
        raise ReferenceError(f"model {model.name!r} feature {f.name!r}: {exc}") from None


def kept_rows(f: FeatureConfig) -> int:
    """How many reference vectors the feature's model-wide method keeps at most."""
    method = EMBEDDING_METHODS.get(f.drift.method or DEFAULT_METHOD[FeatureType.EMBEDDING])
    if method is None:
        return MIN_ROWS
    if f.sample_rows is not None:
        return f.sample_rows * method.kept_per_sample_row
    return method.default_reference_rows


def shares(counts: Sequence[int], total: int) -> list[int]:
    """Rows each value keeps so that all keep at most total: equal shares, and what a value
    too small for its share leaves is split among the others (a small value keeps all)."""
    out = [0] * len(counts)
    left = total
    order = sorted(range(len(counts)), key=lambda i: counts[i])
    for done, i in enumerate(order):
        out[i] = min(counts[i], left // (len(counts) - done))
        left -= out[i]
    return out


def segment_embedding_rows(
    model: ModelConfig, embeddings: Mapping[str, np.ndarray], masks: Sequence[np.ndarray]
) -> list[dict[str, int]]:
    """Per segment value fitted on reference rows of its own (masks: each value's rows), the
    vectors each embedding feature keeps."""
    out: list[dict[str, int]] = [{} for _ in masks]
    for f in model.embeddings:
        complete = np.isfinite(embeddings[f.name]).all(axis=1)
        counts = [int((complete & mask).sum()) for mask in masks]
        for rows, quota in zip(out, shares(counts, kept_rows(f)), strict=True):
            rows[f.name] = quota
    return out
