"""Values a caller hands log() made into what orjson writes and the exporter reads."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from exporter.classes import class_key


def as_dict(value: Mapping[str, Any]) -> dict[str, Any]:
    """A mapping as a dict: orjson writes dicts only, and drops any other Mapping whole."""
    return value if type(value) is dict else dict(value)


def scores_value(scores: Any) -> Any:
    """Scores as the exporter reads them: a 0-d array (a torch or numpy scalar result) as its
    number, a mapping's classes as class texts (numpy keys, which orjson refuses, too), and no
    scores where a probability is NaN, as for a NaN score."""
    if getattr(scores, "ndim", None) == 0:
        return scores.item()
    if not isinstance(scores, Mapping):
        return scores
    out = {}
    for key, p in scores.items():
        if p != p:  # NaN: null would reject the whole record as bad_scores
            return None
        out[class_key(key.item() if hasattr(key, "item") else key)] = p
    return out
