"""Evaluations a model's tick could not run are run as soon as they can, not an interval later."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any

import pytest

from exporter.daemon.scheduler import Ticks
from tests.conftest import wait_for


@dataclass
class _Model:
    name: str = "clf"


@dataclass
class _Pipeline:
    model: _Model = field(default_factory=_Model)
    reference_loaded: bool = True
    evaluations: int = 0


@dataclass
class _World:
    """What the ticks see: whether windows are rebuilt, and the stored reference's digest."""

    rebuilt: bool = False
    digest: bytes | None = None
    fits: bool = True

    def ticks(self) -> Ticks:
        return Ticks(self._can_run, self._evaluate, lambda p: self.digest)

    def _can_run(self, p: Any) -> bool:
        return self.rebuilt

    def _evaluate(self, p: Any) -> None:
        p.evaluations += 1
        if self.digest is not None and self.fits:
            p.reference_loaded = True


def test_a_tick_before_the_windows_are_rebuilt_is_owed_until_they_are() -> None:
    world, p = _World(), _Pipeline()
    ticks = world.ticks()
    ticks.run(p)  # type: ignore[arg-type]
    assert p.evaluations == 0
    assert not ticks.owed_now(p)  # type: ignore[arg-type]
    world.rebuilt = True
    assert ticks.owed_now(p)  # type: ignore[arg-type]
    assert not ticks.owed_now(p)  # type: ignore[arg-type]  # asked for once


def test_a_model_evaluated_at_its_tick_is_owed_nothing() -> None:
    world, p = _World(rebuilt=True), _Pipeline()
    ticks = world.ticks()
    ticks.run(p)  # type: ignore[arg-type]
    assert p.evaluations == 1
    assert not ticks.owed_now(p)  # type: ignore[arg-type]


def test_a_reference_stored_after_the_tick_is_fitted_at_once() -> None:
    world, p = _World(rebuilt=True), _Pipeline(reference_loaded=False)
    ticks = world.ticks()
    ticks.run(p)  # type: ignore[arg-type]
    assert not ticks.owed_now(p)  # type: ignore[arg-type]  # nothing stored yet
    world.digest = b"a"
    assert ticks.owed_now(p)  # type: ignore[arg-type]
    ticks.run(p)  # type: ignore[arg-type]
    assert p.reference_loaded and not ticks.owed_now(p)  # type: ignore[arg-type]


def test_a_stored_reference_that_fails_to_fit_is_retried_only_when_it_changes() -> None:
    world, p = _World(rebuilt=True, digest=b"a", fits=False), _Pipeline(reference_loaded=False)
    ticks = world.ticks()
    ticks.run(p)  # type: ignore[arg-type]
    assert ticks.owed_now(p)  # type: ignore[arg-type]  # stored after the tick's attempt?
    ticks.run(p)  # type: ignore[arg-type]
    assert not ticks.owed_now(p)  # type: ignore[arg-type]  # the same bytes fail again
    world.digest, world.fits = b"b", True
    assert ticks.owed_now(p)  # type: ignore[arg-type]


def test_a_shutdown_during_a_catch_up_returns(monkeypatch: pytest.MonkeyPatch) -> None:
    """The catch-up rescheduled the model's job from inside a job: a shutdown waiting for it
    held the lock that needed, and a reload or a stop hung for ever."""
    from exporter.config import ScheduleConfig
    from exporter.daemon import scheduler as module

    monkeypatch.setattr(module, "CATCH_UP_SECONDS", 0.1)
    shutting, asked = threading.Event(), threading.Event()

    def stored(p: Any) -> bytes:  # a busy Redis answers once the stop has begun
        asked.set()
        shutting.wait(10)
        time.sleep(0.2)
        return b"digest"

    p = _Pipeline(reference_loaded=False)
    p.model.schedule = ScheduleConfig(interval_seconds=3600)  # type: ignore[attr-defined]
    scheduler = module.build_scheduler([p], Ticks(lambda _: True, lambda _: None, stored))  # type: ignore[list-item]
    scheduler.start()
    assert asked.wait(10), "the catch-up never asked for the reference"
    shutting.set()
    stopper = threading.Thread(target=scheduler.shutdown, kwargs={"wait": True}, daemon=True)
    stopper.start()
    stopper.join(10)
    assert not stopper.is_alive(), "scheduler.shutdown hung"


def test_owed_models_catch_up_side_by_side_not_one_after_another(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """One catch-up job evaluated every owed model in turn: after a slow start-up the last of
    eight waited for seven evaluations, and a stop waited for all of them."""
    from exporter.config import ScheduleConfig
    from exporter.daemon import scheduler as module

    monkeypatch.setattr(module, "CATCH_UP_SECONDS", 0.1)
    rebuilt, release = threading.Event(), threading.Event()
    started: list[str] = []

    def evaluate(p: Any) -> None:
        started.append(p.model.name)
        release.wait(10)

    models = []
    for name in "abcd":
        p = _Pipeline(_Model(name))
        p.model.schedule = ScheduleConfig(interval_seconds=3600)  # type: ignore[attr-defined]
        models.append(p)
    asked: set[str] = set()

    def can_run(p: Any) -> bool:
        asked.add(p.model.name)
        return rebuilt.is_set()

    scheduler = module.build_scheduler(models, Ticks(can_run, evaluate, lambda _: None))  # type: ignore[arg-type]
    scheduler.start()
    try:
        wait_for(lambda: len(asked) == 4, 10, what="each first tick, before the windows")
        rebuilt.set()
        wait_for(lambda: len(set(started)) == 4, 10, what="all four evaluating at once")
    finally:
        release.set()
        scheduler.shutdown(wait=True)


def test_a_stop_lets_the_running_evaluations_finish_and_starts_none_of_the_queued() -> None:
    """Sixty models tick together and the pool runs ten: the shutdown also ran every queued
    evaluation, so the clean stop passed its 10 s and the exporter exited 1."""
    from exporter.config import ScheduleConfig
    from exporter.daemon import scheduler as module

    release = threading.Event()
    started: list[str] = []

    def evaluate(p: Any) -> None:
        started.append(p.model.name)
        release.wait(10)

    models = []
    for i in range(15):
        p = _Pipeline(_Model(f"m{i}"))
        p.model.schedule = ScheduleConfig(interval_seconds=3600)  # type: ignore[attr-defined]
        models.append(p)
    ticks = Ticks(lambda _: True, evaluate, lambda _: None)
    scheduler = module.build_scheduler(models, ticks)  # type: ignore[arg-type]
    scheduler.start()
    wait_for(lambda: len(started) == 10, 10, what="the pool's ten evaluations running")
    ticks.stop()
    stopper = threading.Thread(target=scheduler.shutdown, kwargs={"wait": True}, daemon=True)
    stopper.start()
    release.set()
    stopper.join(10)
    assert not stopper.is_alive(), "scheduler.shutdown hung"
    assert len(started) == 10


def test_catch_ups_delayed_by_busy_evaluations_log_no_missed_run_warnings(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """With the pool evaluating for over a second, every model's catch-up logged "Run time of
    job ... was missed": 500 warning lines a minute from a healthy exporter of 50 models."""
    import logging

    from exporter.config import ScheduleConfig
    from exporter.daemon import scheduler as module

    monkeypatch.setattr(module, "CATCH_UP_SECONDS", 0.1)
    release = threading.Event()
    started: list[str] = []

    def evaluate(p: Any) -> None:
        started.append(p.model.name)
        release.wait(10)

    models = []
    for i in range(10):
        p = _Pipeline(_Model(f"m{i}"))
        p.model.schedule = ScheduleConfig(interval_seconds=3600)  # type: ignore[attr-defined]
        models.append(p)
    caplog.set_level(logging.WARNING, logger="apscheduler")
    scheduler = module.build_scheduler(models, Ticks(lambda _: True, evaluate, lambda _: None))  # type: ignore[arg-type]
    scheduler.start()
    try:
        wait_for(lambda: len(started) == 10, 10, what="the pool busy with ten evaluations")
        deadline = time.monotonic() + 1.5  # catch-ups fall due every 0.1 s meanwhile
        wait_for(lambda: time.monotonic() > deadline, 5, what="a second and a half busy")
    finally:
        release.set()
        scheduler.shutdown(wait=True)
    assert not [r for r in caplog.records if "was missed by" in r.getMessage()]
