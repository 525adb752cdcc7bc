"""Values a caller hands log() made into what orjson writes and the exporter reads."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from exporter.classes import class_key

_INFINITIES = (float("inf"), float("-inf"))


def as_dict(value: Mapping[str, Any]) -> dict[str, Any]:
    """A mapping as a dict: orjson writes dicts only, and drops any other Mapping whole."""
    return value if type(value) is dict else dict(value)


def one_value(value: Any) -> Any:
    """A 0-d or one-element array (`model.predict(x)` of one row) as its number: orjson
    writes it as a list, which the exporter rejects, features and all."""
    if getattr(value, "ndim", None) is None or not hasattr(value, "item"):
        return value
    if all(n == 1 for n in getattr(value, "shape", ())):  # () for 0-d, (1,) or (1, 1)
        return value.item()
    return value


def scores_value(scores: Any) -> Any:
    """Scores as the exporter reads them: a one-value array (a torch or numpy result) as its
    number, a mapping's classes as class texts (numpy keys, which orjson refuses, too), and no
    scores where a probability is NaN, as for a NaN score."""
    if not isinstance(scores, Mapping):
        return one_value(scores)
    out = {}
    for key, p in scores.items():
        if p != p:  # NaN: null would reject the whole record as bad_scores
            return None
        out[class_key(key.item() if hasattr(key, "item") else key)] = p
    return out


def numpy_fallback(value: Any) -> Any:
    """A numpy array orjson leaves to us (not C-contiguous: a Fortran row, X[:, 0], v[::2];
    0-d; strings) as Python values; anything else stays unserialisable."""
    if type(value).__module__ == "numpy" and callable(getattr(value, "tolist", None)):
        return value.tolist()
    raise TypeError(f"cannot serialise {type(value).__name__}")


def is_null(value: Any) -> bool:
    """None, NaN or an infinity: what orjson writes as null."""
    if value is None:
        return True
    if type(value) in (str, int, bool):
        return False
    try:
        return bool(value != value or value in _INFINITIES)
    except Exception:  # an array, or a value whose == raises: not a missing number
        return False


def known_tags(tags: Mapping[str, Any]) -> dict[str, Any]:
    """Tags without the missing ones (None, NaN, pandas' empty cell): the exporter refuses a
    null tag value, and with it the whole record (bad_tags)."""
    kept = as_dict(tags)
    if any(is_null(v) for v in kept.values()):
        return {k: v for k, v in kept.items() if not is_null(v)}
    return kept
