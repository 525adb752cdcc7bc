"""The closed set of rejection reasons and the bounds that make records fire them."""

from __future__ import annotations

from enum import StrEnum

MAX_BATCH_RECORDS = 10000
# How far a record's `ts` may lie ahead of the time Redis gave its entry: producers' clocks
# drift a little; minutes ahead is a wrong clock or a wrong unit.
MAX_FUTURE_SKEW_SECONDS = 300.0
# Bounds on what one record may make the exporter keep: every text below ends up in memory
# for a window or a label horizon, some of it in label values.
MAX_ID_CHARS = 256
MAX_SCORE_KEYS = 100  # or the number of configured classes, when that is larger
MIN_SAMPLE_RATE = 1e-6  # 1/sample_rate is added per record: a million at most
MAX_TAGS = 32  # tags a record may carry; only the configured segment keys are kept
MAX_TAG_CHARS = 256
MAX_ABS_VALUE = 1e100  # squares and sums of regression values stay finite
# orjson, the parser before msgspec, read integers outside these as floats: ids and class
# texts keep the meaning they had then.
MIN_WIRE_INT = -(2**63)
MAX_WIRE_INT = 2**64 - 1


class Reason(StrEnum):
    """Why an entry or record was rejected; the closed set keeps label values bounded."""

    NO_DATA_FIELD = "no_data_field"
    DATA_AND_BATCH = "data_and_batch"  # which one the producer meant is anybody's guess
    TOO_LARGE = "too_large"
    INVALID_JSON = "invalid_json"
    NON_FINITE = "non_finite"
    NOT_AN_OBJECT = "not_an_object"
    BAD_BATCH = "bad_batch"
    BAD_ID = "bad_id"
    BAD_TIMESTAMP = "bad_timestamp"
    TS_IN_FUTURE = "ts_in_future"
    TS_TOO_OLD = "ts_too_old"
    TS_IN_MILLISECONDS = "ts_in_milliseconds"
    BAD_VERSION = "bad_version"
    MISSING_FEATURES = "missing_features"
    BAD_FEATURE_VALUE = "bad_feature_value"
    BAD_PREDICTION = "bad_prediction"
    BAD_SCORES = "bad_scores"
    BAD_LATENCY = "bad_latency"
    BAD_STATUS = "bad_status"
    BAD_SAMPLE_RATE = "bad_sample_rate"
    BAD_LABEL = "bad_label"
    BAD_TAGS = "bad_tags"
    INVALID_UNICODE = "invalid_unicode"
    TOO_MANY_SCORES = "too_many_scores"
    VALUE_TOO_LARGE = "value_too_large"
    BAD_EMBEDDING = "bad_embedding"  # not an array of the feature's dimension of numbers


class Invalid(Exception):
    """A record the exporter cannot use; carries the bounded reason."""

    def __init__(self, reason: Reason) -> None:
        super().__init__(reason.value)
        self.reason = reason


class Malformed(Invalid):
    """Bytes unusable as a whole: an entry (one reason for it, no record kept), or within a
    batch one element (a number beyond the float range), which rejects only that record."""
