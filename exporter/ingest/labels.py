"""Join late ground-truth labels to the predictions they belong to, by id, in bounded memory."""

from __future__ import annotations

import threading
from collections import OrderedDict, deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from exporter.config.model import ModelConfig
from exporter.ingest.wire import Label, Prediction


@dataclass(frozen=True)
class JoinedPairs:
    """Predictions and their labels joined inside the performance window, oldest first."""

    predicted: tuple[float | str, ...]
    actual: tuple[float | str, ...]

    def __len__(self) -> int:
        return len(self.predicted)


class LabelJoin:
    """Remembers predictions for the label horizon and pairs each arriving label with its one."""

    def __init__(self, model: ModelConfig, clock: Callable[[], float]) -> None:
        self._horizon = model.labels.horizon_seconds
        self._max_pending = model.labels.max_pending
        self._duration = model.window.duration_seconds
        self._clock = clock
        self._pending: OrderedDict[str, tuple[float, float | str]] = OrderedDict()
        self._pairs: deque[tuple[float, float | str, float | str]] = deque(
            maxlen=model.window.max_samples)
        self._lock = threading.Lock()

    def remember(self, records: Sequence[Prediction]) -> None:
        """Keep the id and prediction of each record that has both, dropping the oldest first."""
        with self._lock:
            for r in records:
                if r.id is not None and r.prediction is not None:
                    self._pending[r.id] = (r.ts, r.prediction)
                    self._pending.move_to_end(r.id)
            while len(self._pending) > self._max_pending:
                self._pending.popitem(last=False)
            oldest = self._clock() - self._horizon
            while self._pending and next(iter(self._pending.values()))[0] < oldest:
                self._pending.popitem(last=False)

    def join(self, labels: Sequence[Label]) -> int:
        """Pair labels with remembered predictions; returns how many found none."""
        unmatched = 0
        with self._lock:
            for label in labels:
                found = self._pending.pop(label.id, None)
                if found is None:
                    unmatched += 1
                else:
                    self._pairs.append((label.ts, found[1], label.label))
        return unmatched

    def pairs(self, now: float) -> JoinedPairs:
        """The joined pairs whose label arrived within the window duration."""
        with self._lock:
            recent = [p for p in self._pairs if p[0] >= now - self._duration]
        return JoinedPairs(tuple(p[1] for p in recent), tuple(p[2] for p in recent))

    @property
    def pending(self) -> int:
        """Predictions still waiting for a label."""
        return len(self._pending)
