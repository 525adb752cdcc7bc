"""Start-up's reference fits on a worker thread, while the caller waits and Redis is PINGed.

One 102 MiB reference took 22 s to fit: fitted on the main thread, a SIGTERM waited for it
past the 10 s exit deadline (exit 1). Here the main thread only waits for "fits done or
stopped", so a stop returns at once and abandons the fit in progress (a daemon thread, which
the process's exit ends). Meanwhile a probe PINGs Redis every PING_SECONDS: one PING before
the fits left `mlmon_redis_up` as it was then for all of them (0 for 12 s after Redis came
up, which a 2-minute start would have paged for as MLMonRedisUnreachable).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

import redis

from exporter.config import RedisConfig
from exporter.source.connect import RedisClient, describe, down_because
from exporter.source.reader import StreamReader

log = logging.getLogger("exporter.daemon")

PING_SECONDS = 2.0  # well within a scrape interval; a PING is bounded by the client's timeouts
POLL_SECONDS = 0.1  # how soon a stop is seen while the fits run


def fit_while_serving(
    fit: Callable[[], object], stopped: threading.Event, probe: RedisProbe
) -> bool:
    """Run `fit` on a worker thread and `probe` beside it; True once the fits are done, False
    as soon as `stopped` is set. An exception of `fit` is raised here."""
    done = threading.Event()
    failures: list[BaseException] = []

    def work() -> None:
        try:
            fit()
        except BaseException as exc:  # raised again on the waiting thread
            failures.append(exc)
        finally:
            done.set()

    threading.Thread(target=work, name="reference-fits", daemon=True).start()
    threading.Thread(target=probe.run, name="redis-probe", daemon=True).start()
    try:
        while not done.wait(POLL_SECONDS):
            if stopped.is_set():
                return False
    finally:
        probe.finish()
    if failures:
        raise failures[0]
    return not stopped.is_set()


class RedisProbe:
    """PINGs Redis until told to finish, keeping the reader's redis_up and down_because true.

    The caller checks once before it serves; run() goes on while the references fit.
    """

    def __init__(self, client: RedisClient, reader: StreamReader, cfg: RedisConfig) -> None:
        self._client, self._reader, self._cfg = client, reader, cfg
        self._lock = threading.Lock()  # no PING's answer is written once the reader owns it
        self._finished = threading.Event()
        self._answered: bool | None = None  # nothing known yet

    def check(self) -> None:
        """PING once and say the answer; before the listener opens, so the first scrape has it."""
        failure = self._ping()
        with self._lock:
            if self._finished.is_set():
                return
            self._reader.redis_up = failure is None
            if failure is not None:
                self._reader.down_because = down_because(failure)
        if (failure is None) != self._answered:
            self._log(failure, first=self._answered is None)
            self._answered = failure is None

    def run(self) -> None:
        """PING every PING_SECONDS until finish(); log when the answer changes."""
        while not self._finished.wait(PING_SECONDS):
            self.check()

    def finish(self) -> None:
        """End the PINGs; no answer is written after this returns (the reader's turn)."""
        with self._lock:
            self._finished.set()

    def _ping(self) -> BaseException | None:
        """None when Redis answers, else why not."""
        try:
            self._client.ping()
        except (redis.RedisError, redis.exceptions.RedisClusterException) as exc:  # no node
            return exc
        return None

    def _log(self, failure: BaseException | None, *, first: bool) -> None:
        """Say it at start-up when Redis does not answer: nothing did until the fits ended."""
        if failure is None:
            if not first:
                log.info("redis answers again; the references are still being fitted")
            return
        when = "at start-up" if first else "while the references are fitted"
        log.warning("redis does not answer %s, retrying: %s", when, describe(failure, self._cfg))
