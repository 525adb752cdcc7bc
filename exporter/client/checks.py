"""The logger's settings, checked when it is built: never on the hot path, never silently."""

from __future__ import annotations

import math
from numbers import Integral, Real

from exporter.client.sender import WIRE_MAX_BATCH

# The exporter rejects smaller rates (bad_sample_rate): 1/sample_rate is added per record.
MIN_SAMPLE_RATE = 1e-6
MAX_RETENTION_SECONDS = 10 * 366 * 86400.0  # MINID is the clock minus it: keep it positive
_WHOLE = frozenset({"batch_size", "max_queue", "stream_maxlen", "max_batch_bytes"})
_OPTIONAL = frozenset({"stream_maxlen", "retention"})


def check_settings(
    *,
    sample_rate: float,
    batch_size: int,
    flush_interval: float,
    max_queue: int,
    stream_maxlen: int | None,
    retention: float | None,
    max_batch_bytes: int,
    socket_timeout: float,
) -> None:
    """TypeError naming a setting that is not a number, ValueError for one that cannot work."""
    _check_types(locals())
    if not MIN_SAMPLE_RATE <= sample_rate <= 1.0:
        raise ValueError(f"sample_rate must be in [{MIN_SAMPLE_RATE:g}, 1]")
    if not 1 <= batch_size <= WIRE_MAX_BATCH:
        raise ValueError(f"batch_size must be in [1, {WIRE_MAX_BATCH}]")
    if not 0 < flush_interval < math.inf or max_queue < 1 or max_batch_bytes < 1024:
        raise ValueError(
            "flush_interval and max_queue must be positive, max_batch_bytes at least 1024"
        )
    if not 0 < socket_timeout < math.inf:
        raise ValueError("socket_timeout must be a positive number of seconds")
    _check_trim(stream_maxlen, retention)


def _check_types(settings: dict[str, object]) -> None:
    for name, value in settings.items():
        if value is None and name in _OPTIONAL:
            continue
        whole = name in _WHOLE
        if not _number(value, whole):
            kind = "an integer" if whole else "a number"
            raise TypeError(f"{name} must be {kind}, got {type(value).__name__}")


def _number(value: object, whole: bool) -> bool:
    """Python's or numpy's numbers, which orjson writes: a Fraction or a Decimal is a number
    too, but every record would then be dropped as unserialisable."""
    if isinstance(value, bool):
        return False
    if isinstance(value, int if whole else (int, float)):
        return True
    return type(value).__module__ == "numpy" and isinstance(value, Integral if whole else Real)


def _check_trim(stream_maxlen: int | None, retention: float | None) -> None:
    """One way to bound the streams, and one the XADD can carry."""
    if stream_maxlen is not None and retention is not None:
        raise ValueError("give stream_maxlen or retention, not both")
    if stream_maxlen is not None and not 1 <= stream_maxlen < 2**63:
        raise ValueError("stream_maxlen must be in [1, 2**63)")
    if retention is not None and not 0 < retention <= MAX_RETENTION_SECONDS:
        raise ValueError(f"retention must be in (0, {MAX_RETENTION_SECONDS:g}] seconds")
