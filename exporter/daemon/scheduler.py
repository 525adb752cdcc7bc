"""APScheduler jobs: one per model, never overlapping, missed runs coalesced into one."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from apscheduler.schedulers.background import BackgroundScheduler

from exporter.daemon.pipeline import ModelPipeline
from exporter.schedule import trigger_for


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
