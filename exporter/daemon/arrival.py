"""Records stamped ahead of the exporter's clock are timed by their arrival instead.

One XADD with an explicit ID in the future makes Redis stamp every later automatic ID of
that stream there too (and a Redis clock that ran ahead, then was corrected, does the same to
both streams): their records would outstay window.duration by as much, and labels joined to
predictions timed otherwise would read a delay of the skew, or miss labels.horizon.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import numpy as np

from exporter.decode.batch import PredictionBatch
from exporter.decode.reasons import MAX_FUTURE_SKEW_SECONDS
from exporter.decode.wire import Label

log = logging.getLogger("exporter.pipeline")

QUIET_SECONDS = 600.0  # the warning at most this often while it lasts


class Arrival:
    """Retimes one model's records stamped past now + the skew allowance, and says so."""

    def __init__(self, model: str, clock: Callable[[], float]) -> None:
        self._model, self._clock = model, clock
        self._quiet = 0.0  # until when the warning is not repeated

    def predictions(self, batch: PredictionBatch) -> None:
        """In place: the batch's times past the allowance become now."""
        now = self._clock()
        ahead = batch.ts > now + MAX_FUTURE_SKEW_SECONDS
        if count := int(np.count_nonzero(ahead)):
            batch.ts[ahead] = now
            self._say(now, count)

    def labels(self, labels: list[Label]) -> list[Label]:
        """The labels, those stamped past the allowance timed now."""
        now = self._clock()
        late = now + MAX_FUTURE_SKEW_SECONDS
        out = [x._replace(ts=now) if x.ts > late else x for x in labels]
        if count := sum(1 for new, old in zip(out, labels, strict=True) if new is not old):
            self._say(now, count)
        return out

    def _say(self, now: float, count: int) -> None:
        if now > self._quiet:
            self._quiet = now + QUIET_SECONDS
            log.warning(
                "records stamped over 5 minutes ahead of the clock (an explicit entry ID "
                "in the future?) are timed by their arrival",
                extra={"model": self._model, "records": count},
            )
