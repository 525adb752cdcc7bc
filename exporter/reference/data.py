"""What a parsed reference is, and the rules every reader shares for missing and numeric values."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

OPTIONAL_COLUMNS = ("prediction", "score", "label")


class ReferenceError(ValueError):
    """A reference that cannot be used; the message names the model and the culprit."""


class Inexact(Exception):
    """A fast reader cannot decide this input exactly: the row-by-row reader must (and explains)."""


@dataclass(frozen=True)
class ReferenceData:
    """Reference columns: numeric as float arrays (NaN missing), categorical as text or None."""

    rows: int
    numeric: Mapping[str, np.ndarray]
    categorical: Mapping[str, tuple[str | None, ...]]
    prediction: tuple[Any, ...] | None
    score: np.ndarray | None
    label: tuple[Any, ...] | None
    digest: str
    embeddings: Mapping[str, np.ndarray] = field(default_factory=dict)  # (rows, dimension) each


def missing(value: Any) -> bool:
    """None, an empty text or NaN: a blank cell, whatever the file format."""
    return value is None or value == "" or (isinstance(value, float) and math.isnan(value))


def floats(values: Sequence[Any]) -> np.ndarray:
    """float() of every value, NaN where missing; Inexact when one is not a number.

    The same conversion as the row-by-row reader, in one pass without a Python loop when no
    value is missing, so the rows it accepts and the numbers it reads are the same.
    """
    try:
        if None in values or "" in values:
            return np.array(
                [math.nan if v is None or v == "" else float(v) for v in values],
                dtype=np.float64,
            )
        return np.fromiter(map(float, values), dtype=np.float64, count=len(values))
    except (TypeError, ValueError, OverflowError):
        raise Inexact from None
