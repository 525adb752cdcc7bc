"""When a model is evaluated: its schedule as a trigger, and the seconds between two runs."""

from __future__ import annotations

from datetime import UTC, datetime

from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from exporter.config import ScheduleConfig


def trigger_for(schedule: ScheduleConfig) -> BaseTrigger:
    """An interval or crontab trigger, in UTC so that cron lines mean the same everywhere."""
    if schedule.cron is not None:
        return CronTrigger.from_crontab(schedule.cron, timezone="UTC")
    assert schedule.interval_seconds is not None
    return IntervalTrigger(seconds=schedule.interval_seconds, timezone="UTC")


def interval_seconds(schedule: ScheduleConfig, now: datetime | None = None) -> float:
    """Seconds between runs; for a cron line, between its next two runs after now."""
    if schedule.cron is None:
        assert schedule.interval_seconds is not None
        return schedule.interval_seconds
    trigger = CronTrigger.from_crontab(schedule.cron, timezone="UTC")
    first = trigger.get_next_fire_time(None, now or datetime.now(UTC))
    second = trigger.get_next_fire_time(first, first)
    if first is None or second is None:
        return 0.0
    return float((second - first).total_seconds())
