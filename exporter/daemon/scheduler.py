"""APScheduler jobs: one per model, never overlapping, missed runs coalesced into one."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from apscheduler.schedulers.background import BackgroundScheduler

from exporter.daemon.pipeline import ModelPipeline
from exporter.schedule import trigger_for

CATCH_UP_SECONDS = 5.0

Check = Callable[[ModelPipeline], bool]
Digest = Callable[[ModelPipeline], bytes | None]


class Ticks:
    """A model's evaluation at its tick, and again as soon as a tick it missed could run:
    an hourly model whose window or reference came a minute late was otherwise blind for
    the hour."""

    def __init__(self, can_run: Check, evaluate: Callable[[ModelPipeline], object], stored: Digest):
        self._can_run, self._evaluate, self._stored = can_run, evaluate, stored
        self._owed: set[str] = set()
        self._tried: dict[str, bytes] = {}  # a stored reference that failed is not retried
        self._running: set[str] = set()
        self._lock = threading.Lock()
        self._stopping = threading.Event()

    def stop(self) -> None:
        """Run nothing more: a shutdown waits for every job the pool has queued, and with 60
        models ticking together the clean stop passed its 10 s and exited 1."""
        self._stopping.set()

    def run(self, pipeline: ModelPipeline) -> None:
        """Evaluate if its window can be, and remember a tick that could not. The model's job
        and the catch-up both call it; one of them running makes the other skip."""
        name = pipeline.model.name
        with self._lock:
            if name in self._running or self._stopping.is_set():
                return
            self._running.add(name)
        try:
            if evaluated := self._can_run(pipeline):
                self._evaluate(pipeline)
            if evaluated and pipeline.reference_loaded:
                self._owed.discard(name)
            else:
                self._owed.add(name)
        finally:
            self._running.discard(name)

    def catch_up(self, pipeline: ModelPipeline) -> None:
        """Evaluate now if owed: the job never calls the scheduler, which deadlocked with a
        shutdown waiting for the job (it holds the job stores' lock meanwhile)."""
        if self.owed_now(pipeline):
            self.run(pipeline)

    def owed_now(self, pipeline: ModelPipeline) -> bool:
        """Owed an evaluation that would now find its window and its reference."""
        name = pipeline.model.name
        if name not in self._owed or name in self._running or not self._can_run(pipeline):
            return False
        if not pipeline.reference_loaded:
            digest = self._stored(pipeline)
            if digest is None or digest == self._tried.get(name):
                return False
            self._tried[name] = digest
        self._owed.discard(name)
        return True


def build_scheduler(pipelines: Sequence[ModelPipeline], ticks: Ticks) -> BackgroundScheduler:
    """A scheduler whose jobs also run once as soon as it starts: a cron model waited for
    its next tick, up to an hour for an hourly one, with no series after every restart and
    stale ones after a reload that changed it."""
    scheduler = BackgroundScheduler(timezone="UTC")
    for p in pipelines:
        scheduler.add_job(
            ticks.run,
            trigger_for(p.model.schedule),
            args=[p],
            id=p.model.name,
            name=f"evaluate {p.model.name}",
            max_instances=1,
            coalesce=True,
            misfire_grace_time=None,
            next_run_time=datetime.now(UTC),
        )
    for p in pipelines:  # one per model: owed models catch up side by side, as ticks do
        scheduler.add_job(
            ticks.catch_up,
            "interval",
            seconds=CATCH_UP_SECONDS,
            args=[p],
            id=f"catch up {p.model.name}",  # no model's name: those have no spaces
            name=f"evaluate {p.model.name} if a tick missed it",
            max_instances=2,  # a second finds the first evaluating and returns: no warning
            coalesce=True,
            # Late is fine: with the pool busy evaluating, a grace of 1 s logged "Run time of
            # job ... was missed" for every model every 5 s (500 lines a minute, 50 models).
            misfire_grace_time=None,
        )
    return scheduler
