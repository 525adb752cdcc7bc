"""The canonical text of a class, shared by the producer library and the daemon.

It lives at the bottom of the package so the producer (exporter.client) and the decoder
(exporter.decode) use one definition without the client importing any daemon stage.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

_WHOLE = re.compile(r"-?(0|[1-9][0-9]*)\.0+")


def class_key(value: Any) -> str:
    """Canonical text of a class so that 1, 1.0, "1" and True/"true" compare as producers mean."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def whole_number(text: str) -> str | None:
    """The class of a text that spells a whole number as JSON writes a float ("1.0" is "1"),
    for text that stands for a number: CSV cells, JSON object keys; None for other text."""
    return class_key(float(text)) if _WHOLE.fullmatch(text) else None


def spelled_keys(scores: Any, prediction: object) -> Any:
    """Class keys as the prediction spells its class. JSON keys are text, so json.dumps writes
    {1.0: p} as "1.0" while the prediction 1.0 is the class "1": when the prediction's class is
    a key only once whole-number keys are read as numbers, they are read so."""
    if not isinstance(scores, Mapping) or prediction is None or prediction in scores:
        return scores
    read = {whole_number(k) or k: p for k, p in scores.items()}
    return read if prediction in read else scores
