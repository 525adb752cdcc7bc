"""Times a record may carry: the one Redis gave its entry, and the bounds on the producer's."""

from __future__ import annotations

from exporter.decode.reasons import MAX_FUTURE_SKEW_SECONDS, Invalid, Reason


def entry_time(entry_id: bytes | str) -> float:
    """The epoch seconds encoded in a stream entry ID, the default record time."""
    text = entry_id.decode() if isinstance(entry_id, bytes) else entry_id
    return int(text.split("-", 1)[0]) / 1000.0


def check_ts(ts: float, entry_ts: float, max_age: float) -> float:
    """`ts` if it is plausible for an entry Redis stamped at entry_ts, else a bounded reason.

    A record outside these bounds would sit in a window forever (milliseconds read as
    seconds) or never enter one (a clock hours behind) while still counted as read.
    """
    if ts > entry_ts + MAX_FUTURE_SKEW_SECONDS:
        if entry_ts - max_age <= ts / 1000.0 <= entry_ts + MAX_FUTURE_SKEW_SECONDS:
            raise Invalid(Reason.TS_IN_MILLISECONDS)
        raise Invalid(Reason.TS_IN_FUTURE)
    if ts < entry_ts - max_age:
        raise Invalid(Reason.TS_TOO_OLD)
    return ts
