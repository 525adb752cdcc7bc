"""The `columns` layout of a batch: one array per key, as a data frame holds its records.

A producer that has its records as columns (a pandas or Arrow frame, a feature store's
batch) sends them without building an object per record, and the exporter reads each
column with one typed parse and one numpy conversion. Record i of an entry is made of the
i-th element of every array; a null element, like a null or absent array, is that record
without the key. Both layouts meet in `Fields`, which the fast path turns into columns.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import chain, repeat
from operator import attrgetter
from typing import Any

from exporter.decode.reasons import MAX_BATCH_RECORDS, Malformed, Reason

Getter = Any  # an attrgetter of a features struct's field


@dataclass(frozen=True, slots=True)
class Fields:
    """One run of records as a list per key, in stream order; features per feature."""

    ids: list[Any]
    ts: list[Any]
    versions: list[Any]
    status: list[Any]
    prediction: list[Any]
    scores: list[Any]
    latency: list[Any]
    rate: list[Any]
    tags: list[Any]
    numeric: list[Iterable[Any]]  # one iterable per numeric feature
    categorical: list[list[Any]]
    vectors: list[list[Any]]  # one list per embedding feature

    def __len__(self) -> int:
        return len(self.ids)


@dataclass(frozen=True, slots=True)
class Getters:
    """The fields of a model's features struct: numeric, categorical, embeddings."""

    numeric: list[Getter]
    categorical: list[Getter]
    vectors: list[Getter]


def from_records(records: list[Any], get: Getters) -> Fields | None:
    """The lists of decoded row records; None when one lacks its features object, which
    the per-record path rejects with its reason."""
    features = [r.features for r in records]
    if None in features:
        return None
    return Fields(
        # A comprehension reads a fixed field a quarter faster than an attrgetter (Python
        # 3.11 specialises the load); the feature fields vary by model, so they keep getters.
        ids=[r.id for r in records],
        ts=[r.ts for r in records],
        versions=[r.version for r in records],
        status=[r.status for r in records],
        prediction=[r.prediction for r in records],
        scores=[r.scores for r in records],
        latency=[r.latency_ms for r in records],
        rate=[r.sample_rate for r in records],
        tags=[r.tags for r in records],
        numeric=[map(g, features) for g in get.numeric],
        categorical=[list(map(g, features)) for g in get.categorical],
        vectors=[list(map(g, features)) for g in get.vectors],
    )


_KEYS = ("id", "ts", "version", "status", "prediction", "scores", "latency_ms", "sample_rate")


def from_columns(entries: list[Any], counts: list[int], get: Getters) -> Fields | None:
    """The lists of decoded `columns` entries of `counts` records each; None when a record
    lacks its features object, which the per-record path rejects with its reason."""
    if any(e.features is None for e in entries):
        return None
    column = {key: _chained(list(map(attrgetter(key), entries)), counts) for key in _KEYS}
    features = [e.features for e in entries]
    return Fields(
        ids=column["id"],
        ts=column["ts"],
        versions=column["version"],
        status=column["status"],
        prediction=column["prediction"],
        scores=column["scores"],
        latency=column["latency_ms"],
        rate=column["sample_rate"],
        tags=_chained([_tag_rows(e.tags, n) for e, n in zip(entries, counts, strict=True)], counts),
        numeric=[_chain(list(map(g, features)), counts) for g in get.numeric],
        categorical=[_chained(list(map(g, features)), counts) for g in get.categorical],
        vectors=[_chained(list(map(g, features)), counts) for g in get.vectors],
    )


def length(entry: Any) -> int | None:
    """An entry's record count: the length its arrays share; None when they differ."""
    arrays = [getattr(entry, key) for key in _KEYS]
    if entry.features is not None:
        arrays += [getattr(entry.features, f) for f in entry.features.__struct_fields__]
    if entry.tags is not None:
        arrays += list(entry.tags.values())
    lengths = {len(a) for a in arrays if a is not None}
    return lengths.pop() if len(lengths) == 1 else None


def _chained(columns: Sequence[list[Any] | None], counts: Sequence[int]) -> list[Any]:
    """One list of the entries' arrays, an absent one read as nulls."""
    if len(columns) == 1 and columns[0] is not None:
        return columns[0]
    return list(_chain(columns, counts))


def _chain(columns: Sequence[list[Any] | None], counts: Sequence[int]) -> Iterable[Any]:
    """The entries' arrays one after another, an absent one read as nulls."""
    parts = (repeat(None, n) if c is None else c for c, n in zip(columns, counts, strict=True))
    return chain.from_iterable(parts)


def _tag_rows(tags: dict[str, list[Any]] | None, n: int) -> list[Any] | None:
    """Tag arrays as each record's tags object, None for a record without one."""
    if tags is None:
        return None
    rows = [{k: v[i] for k, v in tags.items() if v[i] is not None} for i in range(n)]
    return [row or None for row in rows]


def rows(value: Any, features: frozenset[str] | None) -> list[dict[str, Any]]:
    """A parsed `columns` object as its records, for the per-record path that names reasons.

    features: the configured feature names (others are ignored whatever they hold, as in a
    record, but keep their names, which are checked); None for labels. An object that is
    not arrays of one length is `bad_batch`.
    """
    if not isinstance(value, dict):
        raise Malformed(Reason.BAD_BATCH)
    top = {k: v for k, v in value.items() if v is not None}
    given = top.pop("features", None) if features is not None else None
    tag_arrays = top.pop("tags", {}) if features is not None else {}
    if not isinstance(given, dict | None) or not isinstance(tag_arrays, dict):
        raise Malformed(Reason.BAD_BATCH)
    names = features or frozenset()  # labels have neither nested object: theirs are unknown keys
    configured = {k: v for k, v in (given or {}).items() if k in names and v is not None}
    others = {k: v for k, v in (given or {}).items() if k not in names}
    tag_arrays = {k: v for k, v in tag_arrays.items() if v is not None}
    n = _shared_length([*top.values(), *configured.values(), *tag_arrays.values()])
    records = [{k: v[i] for k, v in top.items() if v[i] is not None} for i in range(n)]
    tags = _tag_rows(tag_arrays, n) or [None] * n
    for i, record in enumerate(records):
        if given is not None:
            record["features"] = {k: v[i] for k, v in configured.items()}
            record["features"].update((k, None) for k, v in others.items() if _has(v, i, n))
        if tags[i] is not None:
            record["tags"] = tags[i]
    return records


def _has(value: Any, i: int, n: int) -> bool:
    """Whether record i has an unconfigured feature: its element is not null, or the value
    is not an array of one element per record (then every record has it)."""
    return not (isinstance(value, list) and len(value) == n) or value[i] is not None


def _shared_length(arrays: Iterable[Any]) -> int:
    """The one length of the arrays (0 when there are none), else the entry is unusable."""
    found = set()
    for array in arrays:
        if not isinstance(array, list):
            raise Malformed(Reason.BAD_BATCH)
        found.add(len(array))
    if len(found) > 1 or max(found, default=0) > MAX_BATCH_RECORDS:
        raise Malformed(Reason.BAD_BATCH)
    return max(found, default=0)
