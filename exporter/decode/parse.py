"""Entry bytes to typed record structs, naming why bytes that are not usable JSON are not.

msgspec parses and type-checks in one pass. When it refuses the bytes themselves, the slow
stdlib parser runs only to name the reason (NaN, a lone surrogate, broken JSON), exactly as
when orjson was the parser; JSON that only the stdlib reads (UTF-16 text, say) is still
converted and checked against the same shape.
"""

from __future__ import annotations

import json
import math
import typing
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import msgspec

from exporter.decode.columnar import rows
from exporter.decode.reasons import MAX_BATCH_RECORDS, Invalid, Malformed, Reason
from exporter.decode.shapes import Refused, closed

_ENTRY_ERRORS = (msgspec.DecodeError, RecursionError)
RECORD_FIELDS = (b"data", b"batch", b"columns")  # an entry holds its records in one of them


class Reader:
    """Reads one record shape from entries: each record typed, or rejected with a reason."""

    def __init__(self, shape: type[Any], known: frozenset[str]) -> None:
        self._shape = shape
        self._known = known
        self._features = _feature_names(shape)
        self._closed = msgspec.json.Decoder(closed(shape))  # the common record: no key scan
        self._one = msgspec.json.Decoder(shape)
        self._batch = msgspec.json.Decoder(list[msgspec.Raw])
        self._keys = msgspec.json.Decoder(dict[str, msgspec.Raw])
        self._any = msgspec.json.Decoder()

    def sources(self, fields: Mapping[bytes, bytes], limit: int) -> Sequence[Any]:
        """The undecoded records of one entry: its `data`, or each element of its `batch`."""
        if sum(key in fields for key in RECORD_FIELDS) > 1:
            raise Malformed(Reason.DATA_AND_BATCH)
        if b"data" in fields:
            return [_checked(fields[b"data"], limit)]
        if b"columns" in fields:
            return self._rows(_checked(fields[b"columns"], limit))
        if b"batch" not in fields:
            raise Malformed(Reason.NO_DATA_FIELD)
        payload = _checked(fields[b"batch"], limit)
        try:
            items: Any = self._batch.decode(payload)
        except msgspec.ValidationError:  # not an array, unless not even JSON
            items = self._plain(payload)
        except _ENTRY_ERRORS:
            items = diagnose(payload, each=True, read=self._read)
        if not isinstance(items, list) or len(items) > MAX_BATCH_RECORDS:
            raise Malformed(Reason.BAD_BATCH)
        return items

    def _rows(self, payload: bytes) -> list[Any]:
        """A `columns` entry's records, each judged on its own as a batch's elements are.

        Read by the stdlib, which takes NaN and lone surrogates, so that such a value loses
        only its record; the fast path has already taken every entry without one.
        """
        return _each(rows(_loads(payload), self._features), self._read)

    def record(self, source: Any) -> tuple[Any, bool]:
        """One record as its typed struct, or as `Refused` when a field has the wrong type;
        and whether it may carry keys outside the wire format (then `unknown` says which).

        Most records have only known keys and decode in one pass with the closed shape; any
        refusal of it (an unknown key, a bad value, broken JSON) takes the open path below,
        which decides as before.
        """
        if isinstance(source, bytes | msgspec.Raw):
            try:
                return self._closed.decode(source), False
            except (msgspec.ValidationError, *_ENTRY_ERRORS):
                pass
        elif isinstance(source, Unusable):
            raise Invalid(source.reason)
        return self._open(source), True

    def _open(self, source: Any) -> Any:
        if isinstance(source, bytes | msgspec.Raw):
            try:
                return self._one.decode(source)
            except msgspec.ValidationError:
                source = self._plain(source)
            except _ENTRY_ERRORS:
                source = diagnose(bytes(source), read=self._read)
        if not isinstance(source, dict):
            raise Invalid(Reason.NOT_AN_OBJECT)
        try:
            return msgspec.convert(source, self._shape)
        except msgspec.ValidationError:
            return Refused(source, self._shape)

    def _plain(self, source: bytes | msgspec.Raw) -> Any:
        """The whole record parsed without a type, so broken JSON after its first type error
        still rejects the entry as it did when records were parsed before they were checked.
        """
        try:
            return self._any.decode(source)
        except msgspec.ValidationError as exc:  # a number beyond the float or int range
            overflow = str(exc).startswith("Number out of range")
            raise Malformed(Reason.NON_FINITE if overflow else Reason.INVALID_JSON) from None
        except _ENTRY_ERRORS:
            return diagnose(bytes(source), read=self._read)

    def _read(self, value: Any) -> Any:
        """What the shape reads of a parsed record, for the checks of NaN and lone surrogates:
        the values of keys outside the wire format, and of features not configured, are
        never read, so a pandas NaN in a feature nobody monitors no longer loses the record
        (1e999 there was accepted, NaN rejected it). Their names are still checked."""
        if not isinstance(value, dict):
            return value
        read = {k: v if k in self._known else None for k, v in value.items()}
        features = read.get("features")
        if isinstance(features, dict) and self._features is not None:
            read["features"] = {k: v if k in self._features else None for k, v in features.items()}
        return read

    def unknown(self, source: Any) -> tuple[str, ...]:
        """The record's top-level keys outside the wire format, sorted; often none."""
        if isinstance(source, dict):
            keys: Any = source
        else:
            try:
                keys = self._keys.decode(source)
            except _ENTRY_ERRORS:
                keys = diagnose(bytes(source), read=self._read)
        if self._known.issuperset(keys):
            return ()
        return tuple(sorted(str(k) for k in keys if k not in self._known))


def _checked(payload: bytes, limit: int) -> bytes:
    """The payload if it is within the size limit and valid UTF-8.

    msgspec skips the text of keys nobody reads without checking it; orjson refused broken
    UTF-8 anywhere, so the check stays (ASCII, the common case, costs next to nothing).
    """
    if len(payload) > limit:
        raise Malformed(Reason.TOO_LARGE)
    if not payload.isascii():
        try:
            payload.decode("utf-8")
        except UnicodeDecodeError:
            diagnose(payload)
    return payload


@dataclass(frozen=True)
class Unusable:
    """A batch element the stdlib could parse but no record can be made of, and why."""

    reason: Reason


def _whole(value: Any) -> Any:
    return value


def _feature_names(shape: type[Any]) -> frozenset[str] | None:
    """The wire names of a record shape's features, or None for a shape without them."""
    found = {f.name: f.type for f in msgspec.structs.fields(shape)}.get("features")
    for member in typing.get_args(found) or (found,):
        if isinstance(member, type) and issubclass(member, msgspec.Struct):
            return frozenset(f.encode_name for f in msgspec.structs.fields(member))
    return None


def diagnose(payload: bytes, each: bool = False, read: Callable[[Any], Any] = _whole) -> Any:
    """Parse what msgspec refused with the stdlib, to name why; the value if it is usable.

    each: the payload is a batch, whose elements are judged one by one (an element with a
    NaN or a lone surrogate becomes an Unusable), so one bad record does not lose the rest.
    read: the part of a record that is checked (Reader._read).
    """
    value = _loads(payload)
    if each and isinstance(value, list):
        return _each(value, read)
    if (reason := _unusable(read(value))) is not None:
        raise Malformed(reason)
    return value


def _loads(payload: bytes) -> Any:
    """The stdlib's reading of bytes msgspec refused (it takes NaN and lone surrogates)."""
    try:
        return json.loads(payload)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise Malformed(Reason.INVALID_JSON) from None


def _each(records: list[Any], read: Callable[[Any], Any]) -> list[Any]:
    """Each record, or an Unusable saying why it cannot be used: it alone is lost."""
    return [Unusable(r) if (r := _unusable(read(record))) else record for record in records]


def _unusable(value: Any) -> Reason | None:
    """Why a parsed value cannot be used, if it cannot: NaN and 1e999 (read as infinite) are
    not numbers of the wire format, and a lone surrogate escape is not text."""
    if not _finite(value):
        return Reason.NON_FINITE
    if not _encodable(value):
        return Reason.INVALID_UNICODE
    return None


def _finite(value: Any) -> bool:
    """False when any float inside is infinite or NaN."""
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, dict):
        return all(_finite(v) for v in value.values())
    if isinstance(value, list):
        return all(_finite(v) for v in value)
    return True


def _encodable(value: Any) -> bool:
    """False when any text inside, key or value, cannot be written as UTF-8."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return False
        return True
    if isinstance(value, dict):
        return all(_encodable(k) and _encodable(v) for k, v in value.items())
    if isinstance(value, list):
        return all(_encodable(v) for v in value)
    return True
