"""Reading around a Redis Cluster node that is down, so the other nodes' models go on.

In cluster mode the reader asks each model's node in turn. One master down (with
`cluster-require-full-coverage no`, or before its failover) raised at its first model and
ended the whole pass: no model after it was read until the node came back.
Its reads do not block either, so between passes that found nothing the reader pauses.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import TypeVar

import redis

log = logging.getLogger("exporter.reader")
T = TypeVar("T")
# What a node that does not answer raises; a reply (WRONGTYPE, NOPERM...) is not one of them.
NODE_DOWN = (redis.ConnectionError, redis.TimeoutError, redis.exceptions.ClusterDownError)


class NodeFailures:
    """Runs a step per model, past the ones whose node is down; raises only when all are."""

    def __init__(self) -> None:
        self.down = False  # some node failed in the last pass: logged once, until all answer

    def each(self, items: Iterable[T], step: Callable[[T], None]) -> None:
        """step(item) for every item; a node error skips the item, unless every item failed."""
        failed: list[Exception] = []
        done = 0
        for item in items:
            try:
                step(item)
                done += 1
            except NODE_DOWN as exc:
                failed.append(exc)
        if failed and not done:
            raise failed[0]
        if failed and not self.down:
            log.warning(
                "a redis cluster node does not answer: reading the models of the others (%s)",
                failed[0],
            )
        elif not failed and self.down:
            log.info("every redis cluster node answers again")
        self.down = bool(failed)


class IdlePause:
    """The pause after a cluster pass: doubling while nothing arrives, shortest once it does.

    A fixed 50 ms kept 10 idle models at 13 % of a core (100 at 28 %), polling twenty times a
    second for nothing; a stream that wakes up waits at most `longest` for its first read.
    """

    def __init__(self, shortest: float = 0.05, longest: float = 0.4) -> None:
        self.shortest, self.longest = shortest, longest
        self.seconds = shortest

    def after(self, got: bool) -> float:
        """Seconds to wait after a pass (0 when it read something)."""
        if got:
            self.seconds = self.shortest
            return 0.0
        pause, self.seconds = self.seconds, min(self.seconds * 2, self.longest)
        return pause
