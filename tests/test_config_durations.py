"""Durations: seconds as a number, or a string with units such as 1h30m."""

from __future__ import annotations

import pytest

from exporter.config.scalars import parse_duration
from tests.config_cases import (
    load_doc,
    load_error,
    load_model,
    model_keys,
)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("30s", 30),
        ("10m", 600),
        ("1h", 3600),
        ("1d", 86400),
        ("1h30m", 5400),
        ("500ms", 0.5),
        ("1.5h", 5400),
        ("90", 90),
        ("2.5", 2.5),
        (" 1m ", 60),
        ("1m30s250ms", 90.25),
    ],
)
def test_durations_parse_from_unit_strings(text: str, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "10x", "-5s", "1h 30m", "h", "1.h", "5 s", "1e3"])
def test_malformed_durations_are_not_durations(text: str) -> None:
    assert parse_duration(text) is None


def test_durations_accept_plain_numbers_of_seconds() -> None:
    assert load_model(window={"duration": 45}).window.duration_seconds == 45.0
    assert load_model(window={"duration": 0.5}).window.duration_seconds == 0.5


def test_durations_from_env_variables_are_parsed() -> None:
    config = load_doc({"models": [model_keys(window={"duration": "${WINDOW:-2h}"})]}, {})
    assert config.models[0].window.duration_seconds == 7200.0


def test_the_readers_linger_defaults_to_100ms_and_null_reads_at_once() -> None:
    assert load_doc({"models": [model_keys()]}, {}).redis.linger_seconds == 0.1
    assert (
        load_doc({"models": [model_keys()], "redis": {"linger": "250ms"}}, {}).redis.linger_seconds
        == 0.25
    )
    assert (
        load_doc({"models": [model_keys()], "redis": {"linger": None}}, {}).redis.linger_seconds
        is None
    )


@pytest.mark.parametrize(
    ("keys", "path"),
    [
        ({"labels": {"horizon": "36526d"}}, "models[0].labels.horizon"),
        ({"window": {"duration": 1e10}}, "models[0].window.duration"),
        ({"schedule": {"interval": 1e20}}, "models[0].schedule.interval"),
    ],
)
def test_durations_over_100_years_are_refused_with_their_key(
    keys: dict[str, dict[str, object]], path: str
) -> None:
    """They passed check-config; the daemon then sent Redis a negative stream ID (a horizon
    or window past 1970) or failed to schedule (OverflowError for the interval)."""
    assert load_error({"models": [model_keys(**keys)]}).startswith(
        f"{path}: must be at most 100 years"
    )


def test_a_100_year_label_horizon_is_a_valid_duration() -> None:
    assert load_model(labels={"horizon": "36500d"}).labels.horizon_seconds == 36500 * 86400.0


@pytest.mark.parametrize("interval", ["1ms", "0.5s", 0.2])
def test_an_evaluation_interval_under_a_second_is_refused_with_its_key(interval: object) -> None:
    """`interval: 1ms` passed check-config, then logged 2,999 skipped-run warnings in 10 s."""
    error = load_error({"models": [model_keys(schedule={"interval": interval})]})
    assert error.startswith("models[0].schedule.interval: must be at least 1s")
    assert load_model(schedule={"interval": "1s"}).schedule.interval_seconds == 1.0
