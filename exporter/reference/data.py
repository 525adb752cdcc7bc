"""What a parsed reference is, and the rules every reader shares for missing and numeric values."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from exporter.classes import class_key

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
    """None (JSON's null, an absent key, Parquet's null, an empty CSV cell) or NaN.

    An empty text is not missing: on the wire `""` is a category like any other, so in JSON
    Lines and Parquet it is one too, and a reference dumped from the records producers send
    matches them. Only the CSV readers turn an empty cell into None, as CSV has no other way
    to write a missing value (and so no way to write the category "").
    """
    return value is None or (isinstance(value, float) and math.isnan(value))


def category(value: Any) -> str:
    """The class key of a present value; ValueError for one the wire refuses as a class.

    Bytes (a Parquet string column without the UTF8 annotation, as older Hive, Impala and
    Spark write them) are UTF-8 text; a struct, list or JSON object was read as its Python
    repr ("{'v': 'DE'}"), a category no record can send, so every live value was unseen.
    """
    if isinstance(value, bytes):
        return value.decode("utf-8")  # UnicodeDecodeError is a ValueError
    if isinstance(value, dict | list | tuple):
        raise ValueError("not a text, number or boolean")
    return class_key(value)


def blank(cells: list[str | None]) -> list[str | None]:
    """CSV cells with the empty ones None: in a CSV, an empty cell is a missing value."""
    return [None if c == "" else c for c in cells] if "" in cells else cells


def floats(values: Sequence[Any]) -> np.ndarray:
    """float() of every value, NaN where missing; Inexact when one is not a number.

    The same conversion as the row-by-row reader, in one pass without a Python loop when no
    value is missing, so the rows it accepts and the numbers it reads are the same.
    """
    try:
        if None in values:
            return np.array([math.nan if v is None else float(v) for v in values], np.float64)
        return np.fromiter(map(float, values), dtype=np.float64, count=len(values))
    except (TypeError, ValueError, OverflowError):
        raise Inexact from None
