"""The row-by-row reader: every row a dict, every value checked alone, errors naming the row.

The fast readers in columnar.py and arrow.py hand any input they cannot decide exactly to this
one, so what is accepted and every error message stay those of the original reader.
"""

from __future__ import annotations

import csv
import io
from typing import Any

import numpy as np
import orjson

from exporter.classes import class_key
from exporter.config import ModelConfig
from exporter.reference.columnar import spelled
from exporter.reference.data import OPTIONAL_COLUMNS, ReferenceData, ReferenceError, missing
from exporter.stats.kinds import FeatureType


def rows_from_bytes(content: bytes, fmt: str, where: str) -> list[dict[str, Any]]:
    """Every row of a CSV or JSON Lines reference as a dict."""
    if fmt == "csv":
        try:
            text = content.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            reason = f"not UTF-8 text (byte {exc.start}: {exc.reason})"
            raise ReferenceError(f"{where}: {reason}") from None
        return [_spelled_row(r) for r in csv.DictReader(io.StringIO(text))]
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
            raise ReferenceError(
                f"{where}: row {i + 1}: column {name!r}: {value!r} is not a number"
            ) from None
    if np.isinf(out).any():
        raise ReferenceError(f"{where}: column {name!r} holds infinities")
    return out


def parse_rows(
    model: ModelConfig, rows: list[dict[str, Any]], where: str, digest: str
) -> ReferenceData:
    """Columns for the model's features and optional prediction/score/label columns."""
    if not rows:
        raise ReferenceError(f"{where}: reference for model {model.name!r} has no rows")
    for f in model.features:
        if not any(f.name in row for row in rows[:1000]):
            raise ReferenceError(
                f"{where}: reference for model {model.name!r} lacks feature column {f.name!r}"
            )
    numbers = {
        f.name: numeric(rows, f.name, where)
        for f in model.features
        if f.type is FeatureType.NUMERIC
    }
    categorical = {
        f.name: tuple(None if missing(r.get(f.name)) else class_key(r.get(f.name)) for r in rows)
        for f in model.features
        if f.type is FeatureType.CATEGORICAL
    }
    present = [c for c in OPTIONAL_COLUMNS if any(c in row for row in rows)]  # not just row 1
    prediction = label = None
    score = numeric(rows, "score", where) if "score" in present else None
    if "prediction" in present:
        prediction = _target(rows, "prediction", model, where)
    if "label" in present:
        label = _target(rows, "label", model, where)
    return ReferenceData(len(rows), numbers, categorical, prediction, score, label, digest)


def _target(
    rows: list[dict[str, Any]], column: str, model: ModelConfig, where: str
) -> tuple[Any, ...]:
    if model.task.is_classification:
        return tuple(None if missing(r.get(column)) else class_key(r.get(column)) for r in rows)
    return tuple(numeric(rows, column, where))


def _spelled_row(row: dict[str, Any]) -> dict[str, Any]:
    """A CSV row with whole-number texts as their class, as the columnar readers key them."""
    names = [k for k, v in row.items() if isinstance(v, str)]
    return {**row, **dict(zip(names, spelled(tuple(row[k] for k in names)), strict=True))}
