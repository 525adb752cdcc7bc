"""Embedding columns of a reference: one vector of a fixed dimension per row, or a blank.

JSON Lines and Parquet hold a vector as an array; a CSV cell holds it as JSON array text
("[0.1, -0.3, ...]"), the form pandas' to_csv of a list column writes. The scalar readers
ignore these columns, so they are read here, once, after them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import orjson

from exporter.config import ModelConfig
from exporter.reference.arrow import parquet_rows
from exporter.reference.columnar import Wanted
from exporter.reference.data import ReferenceError, missing
from exporter.reference.rows import rows_from_bytes
from exporter.stats.kinds import EMBEDDING_COMPONENT_MAX

__all__ = ["embedding_columns"]


def _in_float32_range(vector: np.ndarray) -> bool:
    return bool(np.isfinite(vector).all() and np.abs(vector).max() <= EMBEDDING_COMPONENT_MAX)


def embedding_columns(
    model: ModelConfig,
    content: bytes,
    fmt: str,
    where: str,
    rows: int,
    parsed: list[dict[str, Any]] | None = None,
) -> dict[str, np.ndarray]:
    """(rows, dimension) float32 per embedding feature, NaN rows where blank; `parsed` is the
    file's rows when the caller has read them already (JSON Lines)."""
    if not model.embeddings:
        return {}
    names = frozenset(f.name for f in model.embeddings)
    if parsed is not None:
        table = parsed
    elif fmt == "parquet":
        table = parquet_rows(content, Wanted(numeric=frozenset(), text=names), where)
    else:
        table = rows_from_bytes(content, fmt, where)
    if len(table) != rows:
        raise ReferenceError(f"{where}: {len(table)} rows hold embeddings, {rows} rows features")
    out = {}
    for feature in model.embeddings:
        if not any(feature.name in row for row in table):  # absent keys are missing values
            raise ReferenceError(
                f"{where}: reference for model {model.name!r} lacks embedding column "
                f"{feature.name!r}"
            )
        values = [row.get(feature.name) for row in table]
        out[feature.name] = _matrix(values, feature.name, feature.dimension or 0, where)
    return out


def _matrix(values: Sequence[Any], name: str, dimension: int, where: str) -> np.ndarray:
    """The column's vectors as float32 rows; the first bad one is named with its row."""
    out = np.full((len(values), dimension), np.nan, dtype=np.float32)
    for i, value in enumerate(values):
        if missing(value):
            continue
        vector = _vector(value)
        if vector is None or vector.shape != (dimension,) or not _in_float32_range(vector):
            raise ReferenceError(
                f"{where}: row {i + 1}: column {name!r}: expected an array of {dimension} "
                f"numbers within float32's range, got {_shown(value)}"
            )
        out[i] = vector
    return out


def _vector(value: Any) -> np.ndarray | None:
    """A 1-D float array from a list or JSON array text; None when it is neither."""
    if isinstance(value, str):
        try:
            value = orjson.loads(value)
        except orjson.JSONDecodeError:
            return None
    if not isinstance(value, list) or not all(
        type(v) in (int, float) for v in value
    ):  # bools and nested lists are not components
        return None
    return np.array(value, dtype=np.float64)


def _shown(value: Any) -> str:
    """A short description of a refused value: its length when it is a list, else its start."""
    if isinstance(value, list):
        return f"a list of {len(value)} items"
    text = repr(value)
    return text if len(text) <= 40 else f"{text[:37]}..."
