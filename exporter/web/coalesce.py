"""One render for a burst of scrapes: callers asking for the same key share a computation.

Five hundred scrapes arriving at once would otherwise render /metrics five hundred times,
one after another under the GIL, and the last would wait seconds. Here a caller joins the
computation that has not started yet for its key, or starts one; so a burst costs a few
renders, far fewer than it holds scrapes. A caller never gets a result computed before it
asked: a scrape sees every counter increment that happened before its request, as it would
with a render per scrape.

Under a sustained burst the renders would run back to back and take most of the GIL from the
threads answering the scrapes. So a computation that had to wait for the previous one of its
key also waits as long as that one took before it starts: rendering keeps at most half of
the time, and the callers answered meanwhile join this one (500 scrapes at once of five
models' metrics: 17 renders instead of 75, a quarter of the CPU). A lone scrape never waits.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

MAX_GATHER_SECONDS = 0.25  # the wait before a computation that followed another, at most


class _Flight(Generic[V]):
    """One computation and the callers waiting for it."""

    def __init__(self, after: _Flight[V] | None) -> None:
        self.after = after  # the computation of the same key still running when this one formed
        self.callers = 1
        self.took = 0.0  # seconds the computation ran
        self.done = threading.Event()
        self.value: V | None = None
        self.error: BaseException | None = None


class Coalescer(Generic[K, V]):
    """Calls compute(key) for concurrent callers of get(key) as few times as freshness allows."""

    def __init__(self, compute: Callable[[K], V]) -> None:
        self._compute = compute
        self._lock = threading.Lock()
        self._forming: dict[K, _Flight[V]] = {}  # not started: newcomers join these
        self._running: dict[K, _Flight[V]] = {}

    def get(self, key: K) -> V:
        """compute(key), from a computation that started after this call."""
        with self._lock:
            flight = self._forming.get(key)
            leader = flight is None
            if flight is None:
                flight = self._forming[key] = _Flight(self._running.get(key))
            else:
                flight.callers += 1
        if leader:
            self._lead(key, flight)
        flight.done.wait()
        if flight.error is not None:
            raise flight.error
        return flight.value  # type: ignore[return-value]  # set whenever error is not

    def waiting(self, key: K) -> int:
        """Callers waiting for a computation of key that has not started: how well a burst
        coalesces, for tests and debugging."""
        with self._lock:
            flight = self._forming.get(key)
            return 0 if flight is None else flight.callers

    def _lead(self, key: K, flight: _Flight[V]) -> None:
        """Wait for the previous computation of the key, then run this one for everybody."""
        if flight.after is not None:
            flight.after.done.wait()
            time.sleep(min(flight.after.took, MAX_GATHER_SECONDS))  # see the module docstring
            flight.after = None
        with self._lock:
            del self._forming[key]
            self._running[key] = flight
        start = time.perf_counter()
        try:
            flight.value = self._compute(key)
        except BaseException as exc:  # handed to every waiter, raised in each
            flight.error = exc
        finally:
            flight.took = time.perf_counter() - start
            with self._lock:
                del self._running[key]
            flight.done.set()
