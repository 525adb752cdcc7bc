"""Records packed for the wire by hand: batches under both bounds, XADDs in RESP2."""

from __future__ import annotations

from collections.abc import Iterator
from operator import itemgetter


def chunks(payloads: list[bytes], max_records: int, max_bytes: int) -> Iterator[list[bytes]]:
    """Split serialised records into batches under both the record and the byte bound."""
    if not payloads:
        return
    if len(payloads) <= max_records and 2 + sum(map(len, payloads)) + len(payloads) <= max_bytes:
        yield payloads  # the usual case, checked without a Python loop per record
        return
    chunk: list[bytes] = []
    size = 2  # the brackets
    for p in payloads:
        if chunk and (len(chunk) >= max_records or size + len(p) + 1 > max_bytes):
            yield chunk
            chunk, size = [], 2
        chunk.append(p)
        size += len(p) + 1
    if chunk:
        yield chunk


def payload_bytes(records: list[tuple[str, bytes]]) -> int:
    """The records' serialised size, summed without a Python loop per record."""
    return sum(map(len, map(itemgetter(1), records)))


def xadd(stream: str, trim: tuple[bytes, ...], chunk: list[bytes]) -> bytes:
    """One batch entry's XADD."""
    return resp((b"XADD", stream.encode(), *trim, b"*", b"batch", b"[" + b",".join(chunk) + b"]"))


def resp(args: tuple[bytes, ...]) -> bytes:
    """One command in RESP2, far cheaper than redis-py's pipeline packing of a large value."""
    parts = [b"*%d\r\n" % len(args)]
    for arg in args:
        parts += (b"$%d\r\n" % len(arg), arg, b"\r\n")
    return b"".join(parts)
