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
    """A scheduler whose jobs also run once as soon as it starts: a cron model waited for
    its next tick, up to an hour for an hourly one, with no series after every restart and
    stale ones after a reload that changed it."""
    scheduler = BackgroundScheduler(timezone="UTC")
    for p in pipelines:
        scheduler.add_job(
            run,
            trigger_for(p.model.schedule),
            args=[p],
            id=p.model.name,
            name=f"evaluate {p.model.name}",
            max_instances=1,
            coalesce=True,
            misfire_grace_time=None,
            next_run_time=datetime.now(UTC),
        )
    return scheduler
