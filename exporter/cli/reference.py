"""`reference load` writes a model's Redis key; `reference show` describes what the exporter reads.

Both go through exporter/reference/load.py, the code the daemon reads references with, so what
`show` prints (rows, sha256) is what the daemon fits, and a reference it refuses is refused
here with the same message.
"""

from __future__ import annotations

import argparse
from concurrent.futures import ThreadPoolExecutor
from typing import Any, cast

import orjson
import redis
from threadpoolctl import threadpool_limits

from exporter.config import Config, ConfigError, ModelConfig, load_config
from exporter.files import describe_size, read_regular_file
from exporter.reference import csvtext
from exporter.reference.arrow import parquet_columns
from exporter.reference.load import (
    MAX_REFERENCE_BYTES,
    ReferenceData,
    ReferenceError,
    encode_for_redis,
    format_of,
    parse_reference,
    store_encoded,
    unpack_from_redis,
)
from exporter.source.connect import describe, make_client


def _model(args: argparse.Namespace) -> tuple[Config, ModelConfig]:
    config = load_config(args.config_file)
    model = next((m for m in config.models if m.name == args.model), None)
    if model is None:
        raise ConfigError(f"--model: no model named {args.model!r} in {args.config_file}")
    return config, model


def _read_file(path: str, flag: str) -> tuple[str, bytes]:
    fmt = format_of(path)
    try:
        return fmt, read_regular_file(path, MAX_REFERENCE_BYTES)
    except OSError as exc:
        raise ReferenceError(f"{flag}: cannot read {path}: {exc.strerror or exc}") from None


def _fit(model: ModelConfig, data: ReferenceData) -> None:
    """Fit as the daemon does, so a reference it would refuse is refused here, same message."""
    from exporter.evaluate.fit import fit_reference  # only the commands that fit import it

    with threadpool_limits(limits=1, user_api="blas"):  # as the daemon fits: threads cost
        fit_reference(model, data)


def reference_load(args: argparse.Namespace) -> int:
    """Parse and fit the file as the daemon would, then write it into the model's key.

    The content is compressed on another thread while the fit runs (the compressor releases
    the GIL): for a 40 MB CSV that hides a quarter of a second; a refused fit writes nothing.
    """
    config, model = _model(args)
    key = model.reference.redis_key
    if key is None:
        raise ConfigError(f"models[{args.model}].reference: not a redis_key reference")
    fmt, content = _read_file(args.file, "--file")
    data = parse_reference(model, content, fmt, args.file)
    with ThreadPoolExecutor(1, thread_name_prefix="compress") as compressor:
        fields = compressor.submit(encode_for_redis, content, fmt, data.digest)
        _fit(model, data)
        encoded = fields.result()
    try:
        store_encoded(make_client(config.redis), key, encoded)
    except redis.RedisError as exc:
        raise ReferenceError(
            f"models[{model.name}].reference.redis_key: {describe(exc, config.redis, key)}"
        ) from None
    print(f"loaded {data.rows} rows for model {model.name} into {key}")
    return 0


def _from_redis(config: Config, key: str) -> tuple[str, bytes, int]:
    """Format, content and stored (compressed) size of the reference in a Redis key."""
    try:
        fields = cast("dict[bytes, bytes]", make_client(config.redis).hgetall(key))
    except redis.RedisError as exc:
        raise ReferenceError(f"redis key {key}: {describe(exc, config.redis, key)}") from None
    if not fields:
        raise ReferenceError(
            f"redis key {key} is empty: no reference loaded; "
            "run `ml-monitoring-exporter reference load`"
        )
    fmt, content = unpack_from_redis(key, fields)
    return fmt, content, len(fields.get(b"content", b""))


def columns(content: bytes, fmt: str) -> list[str]:
    """The columns of a reference: the CSV header, Parquet schema or every JSON Lines key."""
    if fmt == "parquet":
        return parquet_columns(content, "reference")
    if fmt == "csv":
        return csvtext.header(content.decode("utf-8-sig"))
    seen: dict[str, None] = {}
    for line in content.splitlines():
        if line.strip():
            seen.update(dict.fromkeys(cast("dict[str, Any]", orjson.loads(line))))
    return list(seen)


def reference_show(args: argparse.Namespace) -> int:
    """Print where the model's reference is, its sha256, rows, columns, format and size;
    refuse, exit 2, what the daemon's fit would refuse (that printed exit 0 in a review)."""
    config, model = _model(args)
    ref = model.reference
    if ref.redis_key is not None:
        fmt, content, stored = _from_redis(config, ref.redis_key)
        source, where = f"redis key {ref.redis_key}", f"redis key {ref.redis_key}"
        size = f"{describe_size(len(content))} ({describe_size(stored)} gzipped in Redis)"
    else:
        path = str(ref.file)
        fmt, content = _read_file(path, f"models[{model.name}].reference.file")
        source, where, size = f"file {path}", path, describe_size(len(content))
    data = parse_reference(model, content, fmt, where)
    _fit(model, data)  # a blank column or unseen positive_class parses, yet is refused
    print(f"model:   {model.name}")
    print(f"source:  {source}")
    print(f"format:  {fmt}")
    print(f"sha256:  {data.digest}")
    print(f"rows:    {data.rows}")
    print(f"columns: {', '.join(columns(content, fmt))}")
    print(f"size:    {size}")
    return 0
