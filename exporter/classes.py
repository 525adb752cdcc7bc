"""The canonical text of a class, shared by the producer library and the daemon.

It lives at the bottom of the package so the producer (exporter.client) and the decoder
(exporter.decode) use one definition without the client importing any daemon stage.
"""

from __future__ import annotations

from typing import Any


def class_key(value: Any) -> str:
    """Canonical text of a class so that 1, 1.0, "1" and True/"true" compare as producers mean."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)
