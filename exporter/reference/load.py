"""Read a model's reference data set from CSV or JSON Lines, on disk or in a Redis key."""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import math
import zlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import numpy as np
import orjson

from exporter.config import ModelConfig
from exporter.decode.wire import class_key
from exporter.files import MiB, describe_size, read_regular_file
from exporter.source.connect import RedisClient
from exporter.stats.kinds import FeatureType

OPTIONAL_COLUMNS = ("prediction", "score", "label")
# A reference is parsed whole into memory (several times its size), so it is capped: a
# bigger file, /dev/zero or a gzip bomb in a Redis key is refused instead of exhausting RAM.
MAX_REFERENCE_BYTES = 256 * MiB


class ReferenceError(ValueError):
    """A reference that cannot be used; the message names the model and the culprit."""


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


def _rows_from_bytes(content: bytes, fmt: str, where: str) -> list[dict[str, Any]]:
    if fmt == "csv":
        text = content.decode("utf-8-sig")
        return [dict(r) for r in csv.DictReader(io.StringIO(text))]
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


def format_of(path: str) -> str:
    """csv or jsonl, from the file name; anything else is an error naming the file."""
    suffix = Path(path).suffix.lower()
    if suffix == ".csv":
        return "csv"
    if suffix in (".jsonl", ".ndjson", ".json"):
        return "jsonl"
    raise ReferenceError(f"{path}: reference must be .csv, .jsonl or .ndjson")


def _missing(value: Any) -> bool:
    return value is None or value == "" or (isinstance(value, float) and math.isnan(value))


def _numeric(rows: list[dict[str, Any]], name: str, where: str) -> np.ndarray:
    out = np.full(len(rows), np.nan)
    for i, row in enumerate(rows):
        value = row.get(name)
        if _missing(value):
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


def parse_reference(model: ModelConfig, content: bytes, fmt: str, where: str) -> ReferenceData:
    """Columns for the model's features and optional prediction/score/label columns."""
    rows = _rows_from_bytes(content, fmt, where)
    if not rows:
        raise ReferenceError(f"{where}: reference for model {model.name!r} has no rows")
    for f in model.features:
        if not any(f.name in row for row in rows[:1000]):
            raise ReferenceError(
                f"{where}: reference for model {model.name!r} lacks feature column {f.name!r}"
            )
    numeric = {
        f.name: _numeric(rows, f.name, where)
        for f in model.features
        if f.type is FeatureType.NUMERIC
    }
    categorical = {
        f.name: tuple(None if _missing(r.get(f.name)) else class_key(r.get(f.name)) for r in rows)
        for f in model.features
        if f.type is FeatureType.CATEGORICAL
    }
    present = [c for c in OPTIONAL_COLUMNS if c in rows[0]]
    prediction = label = None
    score = _numeric(rows, "score", where) if "score" in present else None
    if "prediction" in present:
        prediction = _target(rows, "prediction", model, where)
    if "label" in present:
        label = _target(rows, "label", model, where)
    return ReferenceData(
        len(rows),
        numeric,
        categorical,
        prediction,
        score,
        label,
        hashlib.sha256(content).hexdigest(),
    )


def _target(
    rows: list[dict[str, Any]], column: str, model: ModelConfig, where: str
) -> tuple[Any, ...]:
    if model.task.is_classification:
        return tuple(None if _missing(r.get(column)) else class_key(r.get(column)) for r in rows)
    return tuple(_numeric(rows, column, where))


def read_reference_file(model: ModelConfig, path: str) -> ReferenceData:
    """Load a reference from disk; errors name model and path.

    Only a regular file of at most MAX_REFERENCE_BYTES is read, opened without blocking, so
    a reference pointing at a FIFO, a device or a directory fails at once.
    """
    fmt = format_of(path)
    try:
        content = read_regular_file(path, MAX_REFERENCE_BYTES)
    except OSError as exc:
        raise ReferenceError(
            f"model {model.name!r}: cannot read reference {path}: {exc.strerror or exc}"
        ) from None
    return parse_reference(model, content, fmt, path)


def encode_for_redis(content: bytes, fmt: str) -> dict[str, bytes]:
    """The hash fields `reference load` writes: compressed content, format and digest."""
    return {
        "format": fmt.encode(),
        "content": gzip.compress(content),
        "sha256": hashlib.sha256(content).hexdigest().encode(),
    }


def store_in_redis(client: RedisClient, key: str, content: bytes, fmt: str) -> None:
    """Write a reference where `redis_key` references are read from."""
    client.hset(key, mapping=cast(Any, encode_for_redis(content, fmt)))


def decode_from_redis(model: ModelConfig, key: str, fields: Mapping[bytes, bytes]) -> ReferenceData:
    """Parse the hash written by `reference load`."""
    fmt, content = unpack_from_redis(key, fields)
    return parse_reference(model, content, fmt, f"redis key {key}")


def unpack_from_redis(key: str, fields: Mapping[bytes, bytes]) -> tuple[str, bytes]:
    """Format and decompressed content of the hash written by `reference load`."""
    try:
        fmt = fields[b"format"].decode()
        content = _gunzip(fields[b"content"], MAX_REFERENCE_BYTES)
    except (KeyError, OSError, EOFError, UnicodeDecodeError, zlib.error):
        raise ReferenceError(
            f"redis key {key}: not a reference written by `ml-monitoring-exporter reference load`"
        ) from None
    if content is None:
        raise ReferenceError(
            f"redis key {key}: reference is larger than the "
            f"{describe_size(MAX_REFERENCE_BYTES)} limit once decompressed"
        )
    return fmt, content


def _gunzip(data: bytes, limit: int) -> bytes | None:
    """One gzip member decompressed, or None past limit: a gzip bomb stops at limit + 1 bytes."""
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    content = inflater.decompress(data, limit + 1)
    if len(content) > limit:
        return None
    if not inflater.eof:
        raise EOFError("truncated gzip data")
    return content


def categories(values: Iterable[str | None]) -> list[str]:
    """The distinct present values, sorted for stable codes."""
    return sorted({v for v in values if v is not None})
