"""APScheduler jobs: one per model, never overlapping, missed runs coalesced into one."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from exporter.config import ScheduleConfig

if TYPE_CHECKING:
    from exporter.pipeline import ModelPipeline


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


def build_scheduler(
    pipelines: Sequence[ModelPipeline], run: Callable[[ModelPipeline], object]
) -> BackgroundScheduler:
    """A scheduler whose interval jobs also run once as soon as it starts."""
    scheduler = BackgroundScheduler(timezone="UTC")
    for p in pipelines:
        first = {} if p.model.schedule.cron is not None else {"next_run_time": datetime.now(UTC)}
        scheduler.add_job(
            run,
            trigger_for(p.model.schedule),
            args=[p],
            id=p.model.name,
            name=f"evaluate {p.model.name}",
            max_instances=1,
            coalesce=True,
            misfire_grace_time=None,
            **first,
        )
    return scheduler
