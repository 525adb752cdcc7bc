"""The wire format's record shapes as msgspec types, and the reason each type error means.

Declaring the shapes lets msgspec check types and simple bounds while it parses, in C; what
a type cannot say (cross-field rules, plausible times, the regression bound) is checked by
the decoder afterwards. Every field is optional here so that a missing one is judged by the
decoder with its own reason, never by msgspec's "missing required field".

msgspec stops at a record's first type error, in the order of its keys on the wire; the
reasons have a fixed order of precedence instead. A refused record is therefore judged again
as a `Refused`, field by field, in the order the decoder asks for its fields.
"""

from __future__ import annotations

import typing
from collections.abc import Sequence
from types import GenericAlias
from typing import Annotated, Any, Literal

import msgspec

from exporter.decode.reasons import (
    MAX_ABS_VALUE,
    MAX_BATCH_RECORDS,
    MAX_ID_CHARS,
    MAX_TAG_CHARS,
    MAX_TAGS,
    MIN_SAMPLE_RATE,
    Invalid,
    Reason,
)
from exporter.stats.kinds import EMBEDDING_COMPONENT_MAX

# A bool is a JSON true/false, never a number: msgspec keeps them apart as the wire demands.
Scalar = str | int | float | bool | None
Number = float | None
Probability = Annotated[float, msgspec.Meta(ge=0.0, le=1.0)]
WireId = Annotated[str, msgspec.Meta(max_length=MAX_ID_CHARS)] | int | None
NumericFeature = float | bool | None  # a bool is 0 or 1 for a numeric feature, as before
TagText = Annotated[str, msgspec.Meta(max_length=MAX_TAG_CHARS)]
Tags = Annotated[dict[TagText, TagText | int | float | bool], msgspec.Meta(max_length=MAX_TAGS)]
_RECORDS = msgspec.Meta(min_length=1, max_length=MAX_BATCH_RECORDS)
_TAGS = msgspec.Meta(max_length=MAX_TAGS)
_NONE = type(None)

# The reason a type error under each top-level key means.
_FIELD_REASONS = {
    "id": Reason.BAD_ID,
    "ts": Reason.BAD_TIMESTAMP,
    "version": Reason.BAD_VERSION,
    "features": Reason.BAD_FEATURE_VALUE,
    "prediction": Reason.BAD_PREDICTION,
    "scores": Reason.BAD_SCORES,
    "latency_ms": Reason.BAD_LATENCY,
    "status": Reason.BAD_STATUS,
    "sample_rate": Reason.BAD_SAMPLE_RATE,
    "label": Reason.BAD_LABEL,
    "tags": Reason.BAD_TAGS,
}


def closed(shape: type[Any]) -> type[Any]:
    """The shape refusing keys outside it: the common record then decodes in one pass."""
    return msgspec.defstruct(shape.__name__, [], bases=(shape,), forbid_unknown_fields=True)


Component = Annotated[float, msgspec.Meta(ge=-EMBEDDING_COMPONENT_MAX, le=EMBEDDING_COMPONENT_MAX)]


def embedding_type(dimension: int) -> Any:
    """An embedding's vector: exactly `dimension` numbers, or null for a missing one."""
    vector = Annotated[list[Component], msgspec.Meta(min_length=dimension, max_length=dimension)]
    return vector | None


def prediction_shape(
    features: Sequence[tuple[str, bool]],
    classification: bool,
    max_scores: int,
    absent: float | None = None,
    embeddings: Sequence[tuple[str, int]] = (),
) -> type[Any]:
    """One model's prediction record: its features as named fields, its prediction's type.

    Feature names come from the config and may be any text, so the struct's fields are
    positional (f0, f1, ...) renamed to the configured names on the wire. `absent` is what
    an absent number (a numeric feature, ts, latency_ms, sample_rate) reads as: the fast path
    asks for NaN, which numpy takes far faster than None. Embedding vectors follow the
    scalar features, as fields f<n>, f<n+1>, ...
    """
    scalar: list[tuple[str, Any, Any]] = [
        (f"f{i}", NumericFeature if num else Scalar, absent if num else None)
        for i, (_, num) in enumerate(features)
    ]
    vectors = [
        (f"f{len(features) + i}", embedding_type(dimension), None)
        for i, (_, dimension) in enumerate(embeddings)
    ]
    names = [name for name, _ in features] + [name for name, _ in embeddings]
    feature_shape = msgspec.defstruct(
        "Features",
        scalar + vectors,
        rename={f"f{i}": name for i, name in enumerate(names)},
        gc=False,
    )
    scores = Annotated[dict[str, Probability], msgspec.Meta(max_length=max_scores)]
    fields: list[tuple[str, Any, Any]] = [
        ("id", WireId, None),
        ("ts", Number, absent),
        ("version", Scalar, None),
        ("features", feature_shape | None, None),
        ("prediction", Scalar if classification else Number, None),
        ("scores", Probability | scores | None, None),
        ("latency_ms", Annotated[float, msgspec.Meta(ge=0.0, le=MAX_ABS_VALUE)] | None, absent),
        ("status", Literal["ok", "error"], "ok"),
        ("sample_rate", Annotated[float, msgspec.Meta(ge=MIN_SAMPLE_RATE, le=1.0)] | None, absent),
        ("tags", Tags | None, None),
    ]
    return msgspec.defstruct("PredictionRecord", fields, gc=False)


def columns_shape(record: type[Any]) -> type[Any]:
    """A `columns` entry of a prediction record shape: each key an array of its values.

    An element's null, like a whole key's, is the record without that key. The shape is
    closed, so an unknown key sends the entry to the per-record path, which counts it.
    """
    fields: list[tuple[str, Any, Any]] = []
    for info in msgspec.structs.fields(record):
        kind: Any = info.type
        if info.name == "features":
            kind = _columns_of(next(t for t in typing.get_args(kind) if t is not _NONE)) | None
        elif info.name == "tags":
            kind = Annotated[dict[TagText, list[TagText | int | float | bool | None]], _TAGS]
        else:
            kind = _array(kind | None)
        fields.append((info.name, kind | None, None))
    return msgspec.defstruct("PredictionColumns", fields, forbid_unknown_fields=True, gc=False)


def _array(element: Any) -> Any:
    """An array of one value per record."""
    return Annotated[GenericAlias(list, (element,)), _RECORDS]


def _columns_of(features: type[Any]) -> type[Any]:
    """The features struct with an array of values in place of each value."""
    fields = msgspec.structs.fields(features)
    return msgspec.defstruct(
        "FeatureColumns",
        [(f.name, _array(f.type) | None, None) for f in fields],
        rename={f.name: f.encode_name for f in fields},
        gc=False,
    )


def label_shape(classification: bool) -> type[Any]:
    """One model's label record; its label has the type of the model's predictions."""
    fields: list[tuple[str, Any, Any]] = [
        ("id", WireId, None),
        ("label", Scalar if classification else Number, None),
        ("ts", Number, None),
    ]
    return msgspec.defstruct("LabelRecord", fields, gc=False)


class Refused:
    """A record msgspec refused, as a plain object whose fields are type-checked when read.

    The decoder reads fields in the order of the reasons' precedence, so the first field
    read that fails names the reason, whatever order the producer wrote the keys in.
    """

    def __init__(self, obj: dict[str, Any], shape: type[Any]) -> None:
        self._obj = obj
        self._fields = {f.name: f for f in msgspec.structs.fields(shape)}

    def __getattr__(self, name: str) -> Any:
        info = self._fields[name]
        value = self._obj.get(info.encode_name, info.default)
        try:
            return msgspec.convert(value, info.type)
        except msgspec.ValidationError as exc:
            raise Invalid(field_reason(name, str(exc))) from None


def field_reason(key: str, message: str) -> Reason:
    """The bounded reason for a type error in the value of one top-level key."""
    if message.startswith("Number out of range"):
        return Reason.NON_FINITE  # an integer of hundreds of digits, read as a number
    if key == "features" and " - at `$" not in message:
        return Reason.MISSING_FEATURES  # features is not an object at all
    if key == "features" and _embedding_error(message):
        return Reason.BAD_EMBEDDING
    if key == "scores" and "of length <=" in message:
        return Reason.TOO_MANY_SCORES
    return _FIELD_REASONS[key]


def _embedding_error(message: str) -> bool:
    """Whether a type error under features is an embedding's: only embeddings are arrays.

    msgspec says "Expected `array | null`" for a vector of the wrong type, names a length
    for one of the wrong length, and ends the path with an index for a bad component.
    """
    return message.startswith("Expected `array") or "of length" in message or message.endswith("]`")
