"""The row-by-row reader: every row a dict, every value checked alone, errors naming the row.

The fast readers in columnar.py and arrow.py hand any input they cannot decide exactly to this
one, so what is accepted and every error message stay those of the original reader.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import orjson

from exporter.classes import whole_number
from exporter.config import ModelConfig
from exporter.reference.columnar import boolean
from exporter.reference.csvtext import records
from exporter.reference.data import (
    OPTIONAL_COLUMNS,
    ReferenceData,
    ReferenceError,
    blank,
    category,
    missing,
)
from exporter.stats.kinds import FeatureType, Task


def rows_from_bytes(content: bytes, fmt: str, where: str) -> list[dict[str, Any]]:
    """Every row of a CSV or JSON Lines reference as a dict."""
    if fmt == "csv":
        try:
            text = content.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            reason = f"not UTF-8 text (byte {exc.start}: {exc.reason})"
            raise ReferenceError(f"{where}: {reason}") from None
        return _csv_rows(text, where)
    rows = []
    for n, line in enumerate(content.splitlines(), 1):
        if line.strip():
            try:
                row = orjson.loads(line)
            except orjson.JSONDecodeError as exc:
                raise ReferenceError(f"{where}: line {n}: invalid JSON ({exc})") from None
            if not isinstance(row, dict):
                raise ReferenceError(f"{where}: line {n}: expected a JSON object")
            rows.append(row)
    return rows


def _csv_rows(text: str, where: str) -> list[dict[str, Any]]:
    """Rows as csv.DictReader reads them (a short row's missing cells None), but a repeated
    column name or a row longer than the header is an error: both were read silently, the
    first as its last column, the second with its extra cells dropped (an unquoted comma
    shifts every later cell of the row into the wrong column)."""
    lines = records(text, where)
    header = next(lines, (0, []))[1]
    repeated = sorted({name for name in header if name and header.count(name) > 1})
    if repeated:
        raise ReferenceError(f"{where}: the header names column {repeated[0]!r} twice")
    rows = []
    for line, row in lines:
        if len(row) > len(header):
            reason = f"{len(row)} fields where the header has {len(header)} (an unquoted comma?)"
            raise ReferenceError(f"{where}: line {line}: {reason}")
        if row:  # csv.DictReader skips blank lines
            cells = blank([*row, *[None] * (len(header) - len(row))])
            rows.append(_spelled_row(dict(zip(header, cells, strict=True))))
    return rows


def numeric(rows: list[dict[str, Any]], name: str, where: str) -> np.ndarray:
    """A column as floats; the first value that is not a number is named with its row."""
    out = np.full(len(rows), np.nan)
    for i, row in enumerate(rows):
        value = row.get(name)
        if missing(value):
            continue
        try:
            out[i] = float(value)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            hint = " (a missing value is null or an absent key)" if value == "" else ""
            raise ReferenceError(
                f"{where}: row {i + 1}: column {name!r}: {value!r} is not a number{hint}"
            ) from None
    if np.isinf(out).any():
        raise ReferenceError(f"{where}: column {name!r} holds infinities")
    return out


def classes(rows: list[dict[str, Any]], name: str, where: str) -> tuple[str | None, ...]:
    """A column's class keys; the first value that is no class is named with its row."""
    out: list[str | None] = []
    for i, row in enumerate(rows):
        value = row.get(name)
        try:
            out.append(None if missing(value) else category(value))
        except ValueError as exc:
            shown = repr(value) if len(repr(value)) <= 40 else f"{repr(value)[:37]}..."
            reason = "not UTF-8 text" if isinstance(value, bytes) else str(exc)
            raise ReferenceError(
                f"{where}: row {i + 1}: column {name!r}: {shown} is {reason}"
            ) from None
    return tuple(out)


def parse_rows(
    model: ModelConfig, rows: list[dict[str, Any]], where: str, digest: str
) -> ReferenceData:
    """Columns for the model's features and optional prediction/score/label columns."""
    if not rows:
        raise ReferenceError(f"{where}: reference for model {model.name!r} has no rows")
    for f in model.features:
        if not any(f.name in row for row in rows):  # in any row: absent keys are missing values
            raise ReferenceError(
                f"{where}: reference for model {model.name!r} lacks feature column {f.name!r}"
            )
    numbers = {
        f.name: numeric(rows, f.name, where)
        for f in model.features
        if f.type is FeatureType.NUMERIC
    }
    categorical = {
        f.name: classes(rows, f.name, where)
        for f in model.features
        if f.type is FeatureType.CATEGORICAL
    }
    present = [c for c in OPTIONAL_COLUMNS if any(c in row for row in rows)]  # not just row 1
    prediction = label = None
    score = numeric(rows, "score", where) if "score" in present else None
    if model.task is Task.BINARY and score is not None:
        _probabilities(score, where)
    if "prediction" in present:
        prediction = _target(rows, "prediction", model, where)
    if "label" in present:
        label = _target(rows, "label", model, where)
    return ReferenceData(len(rows), numbers, categorical, prediction, score, label, digest)


def _probabilities(score: np.ndarray, where: str) -> None:
    """A binary model's score column is its positive-class probability, as on the wire."""
    outside = np.flatnonzero(np.abs(score - 0.5) > 0.5)  # NaN (missing) is not outside
    if outside.size:
        row, value = int(outside[0]) + 1, float(score[outside[0]])
        reason = f"{value!r} is not a probability (0 to 1)"
        raise ReferenceError(f"{where}: row {row}: column 'score': {reason}")


def _target(
    rows: list[dict[str, Any]], column: str, model: ModelConfig, where: str
) -> tuple[Any, ...]:
    if model.task.is_classification:
        return classes(rows, column, where)
    return tuple(numeric(rows, column, where))


def _spelled_row(row: dict[str, Any]) -> dict[str, Any]:
    """A CSV row read as the columnar readers read it: true and false (any case) booleans,
    whole-number texts their class; other cells stay as written, for errors to quote."""
    return {k: _cell(v) for k, v in row.items()}


def _cell(value: str | None) -> str | bool | None:
    if not value:
        return value
    flag = boolean(value)
    if flag is not None:
        return flag
    return whole_number(value) or value
