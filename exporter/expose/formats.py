"""Content negotiation for /metrics, from a bounded set of formats.

client_python's `choose_encoder` raises on an OpenMetrics version it cannot parse ("abc") and
echoes any version it can ("1.0.7") into the content type. The content type keys the
exposition's caches, so every scrape with a new version string would leave a rendering
behind. Here a version other than 1.0.0 is answered as 1.0.0, the one this exporter writes,
and an Accept header client_python cannot read gets the classic text format.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4, choose_encoder, generate_latest
from prometheus_client.openmetrics import exposition as openmetrics

Encoder = Callable[[Any], bytes]
OPENMETRICS = "application/openmetrics-text"
_VERSION = "1.0.0"
_ESCAPING = "escaping="


def negotiate(accept: str) -> tuple[Encoder, str]:
    """The encoder and content type for a scrape's Accept header, one of a bounded few."""
    try:
        encoder, content_type = choose_encoder(accept)
    except (TypeError, ValueError):  # client_python comparing a version such as "abc"
        return generate_latest, CONTENT_TYPE_PLAIN_0_0_4
    if not content_type.startswith(OPENMETRICS) or f"version={_VERSION};" in content_type:
        return encoder, content_type
    escaping = content_type.rpartition(_ESCAPING)[2] if _ESCAPING in content_type else ""
    if escaping not in _ESCAPINGS:
        escaping = openmetrics.UNDERSCORES
    answer = f"{OPENMETRICS}; version={_VERSION}; charset=utf-8; {_ESCAPING}{escaping}"
    return partial(openmetrics.generate_latest, escaping=escaping, version=_VERSION), answer


_ESCAPINGS = frozenset(
    {openmetrics.ALLOWUTF8, openmetrics.UNDERSCORES, openmetrics.DOTS, openmetrics.VALUES}
)
