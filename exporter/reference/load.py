"""Read a model's reference data set from CSV, JSON Lines or Parquet, on disk or in a Redis key."""

from __future__ import annotations

import contextlib
import ctypes
import gzip
import hashlib
import sys
import zlib
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any, cast

from exporter.config import ModelConfig
from exporter.files import MiB, describe_size, read_regular_file
from exporter.reference.arrow import csv_table, parquet_rows, parquet_table
from exporter.reference.columnar import CsvTable, RowTable, Table, Wanted, build
from exporter.reference.data import OPTIONAL_COLUMNS, Inexact, ReferenceData, ReferenceError
from exporter.reference.rows import parse_rows, rows_from_bytes
from exporter.reference.vectors import embedding_columns
from exporter.source.connect import RedisClient

# A reference is parsed whole into memory (several times its size), so it is capped: a
# bigger file, /dev/zero or a gzip bomb in a Redis key is refused instead of exhausting RAM.
MAX_REFERENCE_BYTES = 256 * MiB
# Level 1: a 40 MB CSV compresses in a quarter of level 9's time to 7 % more bytes; ISA-L's
# level 1 (the `isal` package) writes slightly fewer bytes than zlib's in a quarter of its time.
GZIP_LEVEL = 1
FORMATS = ("csv", "jsonl", "parquet")  # what format_of names, and a Redis hash's `format` holds

__all__ = [
    "OPTIONAL_COLUMNS",
    "ReferenceData",
    "ReferenceError",
    "categories",
    "format_of",
    "naming",
    "parse_reference",
    "read_reference_file",
]


def format_of(path: str) -> str:
    """csv, jsonl or parquet, from the file name; anything else is an error naming the file."""
    suffix = Path(path).suffix.lower()
    if suffix == ".csv":
        return "csv"
    if suffix in (".jsonl", ".ndjson", ".json"):
        return "jsonl"
    if suffix in (".parquet", ".pq"):
        return "parquet"
    raise ReferenceError(f"{path}: reference must be .csv, .jsonl, .ndjson or .parquet")


def parse_reference(model: ModelConfig, content: bytes, fmt: str, where: str) -> ReferenceData:
    """Columns for the model's features and optional prediction/score/label columns.

    Read column by column (pyarrow when installed); an input the fast readers cannot decide
    exactly is read again row by row, which accepts the same files with the same messages.
    """
    # JSON Lines is read as rows by every reader: parsed once, for all of them.
    rows = rows_from_bytes(content, fmt, where) if fmt == "jsonl" else None
    data = _scalar_columns(model, content, fmt, where, rows)
    if not model.embeddings:
        return data
    vectors = embedding_columns(model, content, fmt, where, data.rows, rows)
    return replace(data, embeddings=vectors)


def _scalar_columns(
    model: ModelConfig, content: bytes, fmt: str, where: str, rows: list[dict[str, Any]] | None
) -> ReferenceData:
    """Every column but the embeddings, by the fastest reader that decides the input."""
    digest = hashlib.sha256(content).hexdigest()
    wanted = Wanted.of(model)
    try:
        return build(model, _table(content, fmt, wanted, where, rows), digest)
    except Inexact:
        pass
    if rows is None:
        rows = (
            parquet_rows(content, wanted, where)
            if fmt == "parquet"
            else rows_from_bytes(content, fmt, where)
        )
    return parse_rows(model, rows, where, digest)


def _table(
    content: bytes, fmt: str, wanted: Wanted, where: str, rows: list[dict[str, Any]] | None
) -> Table:
    """The fastest reader available for the format; JSON Lines' rows come parsed."""
    if fmt == "parquet":
        return parquet_table(content, wanted, where)
    if fmt == "csv":
        table = csv_table(content, wanted)
        if table is not None:
            return table
        try:
            return CsvTable(content.decode("utf-8-sig"), wanted)
        except UnicodeDecodeError:
            raise Inexact from None
    assert rows is not None  # JSON Lines: parse_reference parsed it
    return RowTable(rows)


def read_reference_file(model: ModelConfig, path: str) -> ReferenceData:
    """Load a reference from disk; errors name model and path.

    Only a regular file of at most MAX_REFERENCE_BYTES is read, opened without blocking, so
    a reference pointing at a FIFO, a device or a directory fails at once.
    """
    with naming(model):
        fmt = format_of(path)
        try:
            content = read_regular_file(path, MAX_REFERENCE_BYTES)
        except OSError as exc:
            raise ReferenceError(f"cannot read reference {path}: {exc.strerror or exc}") from None
        return parse_reference(model, content, fmt, path)


@contextlib.contextmanager
def naming(model: ModelConfig) -> Iterator[None]:
    """Put the model first in a reference error: a bad row named only the file, not which of
    the models sharing it (or of 30 models) failed."""
    try:
        yield
    except ReferenceError as exc:
        if f"model {model.name!r}" in str(exc):
            raise
        raise ReferenceError(f"model {model.name!r}: {exc}") from None


def gzipped(content: bytes, level: int) -> bytes:
    """One gzip member, by ISA-L when installed: zlib's level 1 took a second for a 40 MB CSV."""
    if level > 0:
        try:
            from isal import igzip
        except ImportError:  # a platform without its wheel: zlib writes the same format
            pass
        else:
            return igzip.compress(content, compresslevel=level)  # ISA-L's levels: 0 to 3
    return gzip.compress(content, compresslevel=level)


def encode_for_redis(content: bytes, fmt: str, digest: str | None = None) -> dict[str, bytes]:
    """The hash fields `reference load` writes: compressed content, format and digest.

    digest, when the caller has parsed the content already, is its sha256 (saves a pass).
    """
    level = 0 if fmt == "parquet" else GZIP_LEVEL  # Parquet pages are compressed already
    return {
        "format": fmt.encode(),
        "content": gzipped(content, level),
        "sha256": (digest or hashlib.sha256(content).hexdigest()).encode(),
    }


def store_in_redis(
    client: RedisClient, key: str, content: bytes, fmt: str, digest: str | None = None
) -> None:
    """Write a reference where `redis_key` references are read from."""
    store_encoded(client, key, encode_for_redis(content, fmt, digest))


def store_encoded(client: RedisClient, key: str, fields: Mapping[str, bytes]) -> None:
    """Write the hash fields encode_for_redis made, in one HSET."""
    client.hset(key, mapping=cast(Any, fields))


def decode_from_redis(model: ModelConfig, key: str, fields: Mapping[bytes, bytes]) -> ReferenceData:
    """Parse the hash written by `reference load`; errors name the model and the key."""
    with naming(model):
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
    if fmt not in FORMATS:  # the hash is anyone's to write: an `assert` later killed the daemon
        raise ReferenceError(
            f"redis key {key}: unknown reference format {fmt!r} (csv, jsonl or parquet, as "
            "`ml-monitoring-exporter reference load` writes it)"
        )
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
    distinct = set(values)  # built in C: a set comprehension took 7 ms per 100k values
    distinct.discard(None)
    return sorted(cast("set[str]", distinct))


def release_freed_memory() -> None:
    """Hand what parsing freed back to the system, so RSS after a fit is what the fit keeps.

    pyarrow's allocator and glibc's heap both keep freed blocks for reuse: after a 100k x 200
    reference that is hundreds of MB of RSS that nothing uses until the next reload.
    """
    arrow = sys.modules.get("pyarrow")
    if arrow is not None:
        arrow.default_memory_pool().release_unused()
    with contextlib.suppress(OSError, AttributeError):  # glibc; elsewhere nothing to call
        ctypes.CDLL(None).malloc_trim(0)


# glibc raises its mmap threshold to the size of each large block freed (up to 32 MB), after
# which blocks that size come from the heap and stay resident: an embedding's 32 MB kernels
# then kept 60 MB more RSS than a fixed threshold (docs/benchmarks.md).
MMAP_THRESHOLD = 1 * MiB
_M_MMAP_THRESHOLD = -3  # mallopt's parameter number in glibc's malloc.h


def fix_mmap_threshold() -> None:
    """Blocks of MMAP_THRESHOLD or more mapped apart, so each free hands them back at once."""
    with contextlib.suppress(OSError, AttributeError):  # glibc; elsewhere nothing to call
        ctypes.CDLL(None).mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)
