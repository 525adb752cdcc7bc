"""Fast readers: a reference read column by column, numbers converted without a loop per value.

A reader here decides only what it can decide exactly like rows.py: on anything else (a value
that is not a number, infinities, a missing column, no rows) it raises Inexact and the
row-by-row reader runs instead, so what is accepted and every error message stay the same.
"""

from __future__ import annotations

import csv
import itertools
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from operator import itemgetter
from typing import Any, Protocol

import numpy as np

from exporter.classes import class_key, whole_number
from exporter.config import ModelConfig
from exporter.reference import csvtext
from exporter.reference.data import (
    OPTIONAL_COLUMNS,
    Inexact,
    ReferenceData,
    blank,
    category,
    floats,
    missing,
)
from exporter.stats.kinds import FeatureType, Task

BLOCK_ROWS = 4096  # rows of text alive at once in the stdlib CSV reader


class Table(Protocol):
    """A reference's columns, however they were read."""

    @property
    def rows(self) -> int:
        """Data rows."""

    def has_feature(self, name: str) -> bool:
        """Whether the reference has this feature column."""

    def has_optional(self, name: str) -> bool:
        """Whether the reference has this prediction, score or label column."""

    def numbers(self, name: str) -> np.ndarray:
        """A column as floats, NaN where missing; Inexact when a value is not a number."""

    def texts(self, name: str) -> tuple[str | None, ...]:
        """A column as class keys, None where missing."""


@dataclass(frozen=True)
class Wanted:
    """The columns a model reads, as numbers or as texts (a name can be both)."""

    numeric: frozenset[str]
    text: frozenset[str]

    @classmethod
    def of(cls, model: ModelConfig) -> Wanted:
        """Features by type; score as numbers; prediction and label as the task reads them."""
        numeric = {f.name for f in model.features if f.type is FeatureType.NUMERIC}
        text = {f.name for f in model.features if f.type is FeatureType.CATEGORICAL}
        numeric.add("score")
        (text if model.task.is_classification else numeric).update(("prediction", "label"))
        return cls(frozenset(numeric), frozenset(text))

    @property
    def names(self) -> frozenset[str]:
        """Every column the model reads."""
        return self.numeric | self.text


def _finite(values: np.ndarray) -> np.ndarray:
    if np.isinf(values).any():
        raise Inexact
    return values


def build(model: ModelConfig, table: Table, digest: str) -> ReferenceData:
    """The ReferenceData rows.parse_rows would return, or Inexact where it would raise."""
    if table.rows == 0 or not all(table.has_feature(f.name) for f in model.features):
        raise Inexact
    numeric = {
        f.name: _finite(table.numbers(f.name))
        for f in model.features
        if f.type is FeatureType.NUMERIC
    }
    categorical = {
        f.name: table.texts(f.name) for f in model.features if f.type is FeatureType.CATEGORICAL
    }
    present = [c for c in OPTIONAL_COLUMNS if table.has_optional(c)]
    score = _finite(table.numbers("score")) if "score" in present else None
    if model.task is Task.BINARY and score is not None and (np.abs(score - 0.5) > 0.5).any():
        raise Inexact  # a score that is no probability: the row reader names its row
    prediction = _target(model, table, "prediction") if "prediction" in present else None
    label = _target(model, table, "label") if "label" in present else None
    return ReferenceData(table.rows, numeric, categorical, prediction, score, label, digest)


def _target(model: ModelConfig, table: Table, column: str) -> tuple[Any, ...]:
    if model.task.is_classification:
        return table.texts(column)
    return tuple(_finite(table.numbers(column)))


# How pandas and Python's csv module (True), R and spreadsheets (TRUE) and JSON (true) write
# booleans: a CSV cell spelling one, in any case, is that boolean, as in JSON Lines and Parquet.
BOOLEANS = {"true": True, "false": False}


def boolean(text: str) -> bool | None:
    """The boolean a CSV cell spells, or None."""
    return BOOLEANS.get(text.lower()) if len(text) <= len("false") else None


def spelled(values: tuple[str | None, ...]) -> tuple[str | None, ...]:
    """CSV texts keyed as the JSON values they spell: "1.0", how pandas writes a float column
    of whole numbers, is the class 1, and "True" the class true, as in JSON Lines, Parquet
    and on the wire."""
    whole = {v: k for v in set(values) if v and (k := _class_of(v)) is not None}
    return tuple(whole.get(v, v) for v in values) if whole else values  # type: ignore[arg-type]


def _class_of(text: str) -> str | None:
    """The class a CSV cell spelling a boolean or a whole number is; None for other text."""
    flag = boolean(text)
    return whole_number(text) if flag is None else class_key(flag)


def csv_floats(cells: Sequence[str | None]) -> np.ndarray:
    """floats() of CSV cells, with true and false read as 1 and 0, as a numeric feature reads
    a JSON boolean (the CSV pandas writes of a bool column was refused)."""
    try:
        return floats(cells)
    except Inexact:
        return floats([c if c is None or (b := boolean(c)) is None else float(b) for c in cells])


def keys(values: Iterable[Any]) -> tuple[str | None, ...]:
    """Class keys of JSON or Parquet values, None where missing; Inexact at a value that is
    no class, for the row reader to name."""
    try:
        return tuple(None if missing(v) else category(v) for v in values)
    except ValueError:
        raise Inexact from None


class RowTable:
    """JSON Lines rows already parsed into dicts; columns gathered once per name."""

    def __init__(self, rows: list[dict[str, Any]]) -> None:
        """Keep the parsed rows."""
        self._rows = rows

    @property
    def rows(self) -> int:
        """Data rows."""
        return len(self._rows)

    def has_feature(self, name: str) -> bool:
        """In any row: Spark's JSON writer drops null fields, so a feature first logged late
        is absent from every earlier row."""
        return any(name in row for row in self._rows)

    def has_optional(self, name: str) -> bool:
        """In any row: a first row without a label must not drop the label column."""
        return any(name in row for row in self._rows)

    def numbers(self, name: str) -> np.ndarray:
        """The column through floats()."""
        return floats([row.get(name) for row in self._rows])

    def texts(self, name: str) -> tuple[str | None, ...]:
        """The column's class keys."""
        return keys(row.get(name) for row in self._rows)


class CsvTable:
    """CSV through the stdlib reader, a block of rows at a time, keeping only wanted columns."""

    def __init__(self, text: str, wanted: Wanted) -> None:
        """Read every row once; the columns are converted per block."""
        reader = csvtext.reader(text)
        blocks = _blocks(reader)
        first = next(blocks, [])
        if not first:
            raise Inexact  # no header: the row reader says there are no rows
        header = first[0]
        named = [name for name in header if name]  # unnamed columns are never read
        if len(set(named)) != len(named):
            raise Inexact  # a repeated column name: the row reader names it
        index = {name: i for i, name in enumerate(header)}
        self._names = frozenset(index)
        self._count = 0
        numeric = {n: index[n] for n in wanted.numeric if n in index}
        text_columns = {n: index[n] for n in wanted.text if n in index}
        parts: dict[str, list[np.ndarray]] = {n: [] for n in numeric}
        texts: dict[str, list[str | None]] = {n: [] for n in text_columns}
        for raw in blocks:
            block = [r for r in raw if r]  # csv.DictReader skips blank lines
            whole = all(len(r) == len(header) for r in block)
            if not whole and any(len(r) > len(header) for r in block):
                raise Inexact  # a row longer than the header: the row reader names it
            for name, j in numeric.items():
                parts[name].append(csv_floats(blank(_cells(block, j, whole))))
            for name, j in text_columns.items():
                texts[name].extend(v if v else None for v in _cells(block, j, whole))
            self._count += len(block)
        self._numbers = {n: np.concatenate(p) if p else np.empty(0) for n, p in parts.items()}
        self._texts = {n: tuple(v) for n, v in texts.items()}

    @property
    def rows(self) -> int:
        """Data rows (blank lines are not rows)."""
        return self._count

    def has_feature(self, name: str) -> bool:
        """In the header."""
        return name in self._names

    def has_optional(self, name: str) -> bool:
        """In the header."""
        return name in self._names

    def numbers(self, name: str) -> np.ndarray:
        """The converted column."""
        return self._numbers[name]

    def texts(self, name: str) -> tuple[str | None, ...]:
        """The column's texts, whole numbers as their class (see `spelled`)."""
        return spelled(self._texts[name])


def _blocks(reader: Any) -> Iterator[list[list[str]]]:
    """The header alone, then blocks of rows without csvtext's END_ROW; Inexact (for the row
    reader to name the line) on a csv.Error or when a quote is never closed."""
    block = _block(reader, 1)
    while block:
        following = _block(reader, BLOCK_ROWS)
        if not following:
            if block[-1] != csvtext.END_ROW:
                raise Inexact  # a quote never closed swallowed the end record
            block.pop()
        yield block
        block = following


def _block(reader: Any, rows: int) -> list[list[str]]:
    """The reader's next rows; a csv.Error (a cell too long) is for the row reader to name."""
    try:
        return list(itertools.islice(reader, rows))
    except csv.Error:
        raise Inexact from None


def _cells(block: Sequence[list[str]], j: int, whole: bool) -> list[str | None]:
    """Column j of a block; None in a short row, as csv.DictReader fills it."""
    if whole:
        return list(map(itemgetter(j), block))
    return [r[j] if j < len(r) else None for r in block]
