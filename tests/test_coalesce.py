"""Concurrent scrapes share renders, and none gets a body rendered before it asked."""

from __future__ import annotations

import threading
from concurrent.futures import Future, ThreadPoolExecutor

import pytest

from exporter.web.coalesce import Coalescer
from tests.conftest import wait_for


class GatedRender:
    """Counts renders; each one waits until the test opens its gate."""

    def __init__(self) -> None:
        self.started: list[threading.Event] = []
        self.gates: list[threading.Event] = []
        self._lock = threading.Lock()

    def __call__(self, key: str) -> str:
        with self._lock:
            number = len(self.started) + 1
            started, gate = threading.Event(), threading.Event()
            self.started.append(started)
            self.gates.append(gate)
        started.set()
        assert gate.wait(30), "the test never opened the gate"
        if key == "broken":
            raise ValueError(f"render {number} failed")
        return f"{key} #{number}"

    def open(self, number: int) -> None:
        wait_for(lambda: len(self.started) >= number, what=f"render {number} to start")
        self.gates[number - 1].set()


def test_callers_arriving_during_a_render_share_the_next_one() -> None:
    render = GatedRender()
    coalescer: Coalescer[str, str] = Coalescer(render)
    with ThreadPoolExecutor(6) as pool:
        first = pool.submit(coalescer.get, "text")
        wait_for(lambda: render.started and render.started[0].is_set(), what="render 1")
        later: list[Future[str]] = [pool.submit(coalescer.get, "text") for _ in range(5)]
        wait_for(lambda: coalescer.waiting("text") == 5, what="five callers waiting")
        render.open(1)
        render.open(2)
        assert first.result(30) == "text #1"
        # They asked while render 1 ran: its numbers may predate their request, so not that one.
        assert [f.result(30) for f in later] == ["text #2"] * 5
    assert len(render.started) == 2


def test_different_keys_render_separately_and_at_the_same_time() -> None:
    render = GatedRender()
    coalescer: Coalescer[str, str] = Coalescer(render)
    with ThreadPoolExecutor(2) as pool:
        text = pool.submit(coalescer.get, "text")
        openmetrics = pool.submit(coalescer.get, "openmetrics")
        wait_for(lambda: len(render.started) == 2, what="both renders running at once")
        render.open(1)
        render.open(2)
        results = sorted(r.rsplit(" ", 1)[0] for r in (text.result(30), openmetrics.result(30)))
    assert results == ["openmetrics", "text"] and len(render.started) == 2


def test_a_failed_render_fails_every_caller_waiting_for_it_and_the_next_call_retries() -> None:
    render = GatedRender()
    coalescer: Coalescer[str, str] = Coalescer(render)
    with ThreadPoolExecutor(3) as pool:
        first = pool.submit(coalescer.get, "broken")
        wait_for(lambda: render.started and render.started[0].is_set(), what="render 1")
        later = [pool.submit(coalescer.get, "broken") for _ in range(2)]
        wait_for(lambda: coalescer.waiting("broken") == 2, what="two callers waiting")
        render.open(1)
        with pytest.raises(ValueError, match="render 1 failed"):
            first.result(30)
        render.open(2)
        for caller in later:
            with pytest.raises(ValueError, match="render 2 failed"):
                caller.result(30)
        again = pool.submit(coalescer.get, "broken")
        render.open(3)  # a failure is not kept: the next call renders again
        with pytest.raises(ValueError, match="render 3 failed"):
            again.result(30)
