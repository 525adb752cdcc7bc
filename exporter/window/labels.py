"""Join late ground-truth labels to the predictions they belong to, by id, in bounded memory."""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, cast

import numpy as np

from exporter.config import ModelConfig
from exporter.decode.batch import PredictionBatch
from exporter.decode.wire import Label
from exporter.stats.kinds import Task
from exporter.window.classnames import OTHER_MISMATCH, ClassNames, Compact, token
from exporter.window.coverage import Coverage
from exporter.window.early import EarlyLabels
from exporter.window.joined import JoinedWindow, Target
from exporter.window.pending import Pending, keys_of
from exporter.window.recent import Recent
from exporter.window.slices import as_bytes, folded, from_bytes
from exporter.window.vocab import OTHER

__all__ = ["Compact", "JoinResult", "JoinedPairs", "LabelJoin", "Target"]


@dataclass(frozen=True)
class JoinedPairs:
    """Labelled predictions of the performance window, and the window's unlabelled scores."""

    predicted: tuple[Target, ...]
    actual: tuple[Target, ...]
    scores: tuple[Compact, ...] = ()
    coverage: float | None = None  # see Coverage
    classes: tuple[str, ...] = ()
    window_predicted: tuple[Target, ...] = ()
    window_scores: tuple[Compact, ...] = ()
    slices: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), np.int32))  # see slices

    def __len__(self) -> int:
        return len(self.predicted)

    def subset(self, rows: np.ndarray) -> JoinedPairs:
        """The pairs at the given positions (a segment's, a version's); no window scores."""
        at = np.flatnonzero(rows).tolist()
        return JoinedPairs(
            predicted=tuple(self.predicted[i] for i in at),
            actual=tuple(self.actual[i] for i in at),
            scores=tuple(self.scores[i] for i in at) if self.scores else (),
            classes=self.classes,
            slices=self.slices[rows],
        )


@dataclass(frozen=True)
class JoinResult:
    """What one batch of labels did: counts for the ingest-side counters."""

    unmatched: int
    delays: tuple[float, ...] = ()
    classes: tuple[tuple[str, str], ...] = ()
    values: tuple[tuple[float, float], ...] = ()
    errors: tuple[float, ...] = ()  # per joined label, a miss (0/1) or |error|: see _in_made_order
    times: tuple[float, ...] = ()  # the joined labels' times, in the errors' order
    folded: tuple[str, ...] = ()  # the classes of joined labels counted under __other__


class LabelJoin:
    """Remembers predictions for the label horizon and pairs each arriving label with its one."""

    def __init__(self, model: ModelConfig, clock: Callable[[], float]) -> None:
        self._model = model
        self._horizon = model.labels.horizon_seconds
        self._duration = model.window.duration_seconds
        self._clock = clock
        self._classification = model.task.is_classification
        self._width = len(model.segments) + 1  # slice codes: the segment keys', the version's
        self._pending = Pending(model.labels.max_pending, not self._classification, self._width)
        self._pairs = JoinedWindow(self._duration, model.window.max_samples)
        self._recent = Recent(model.window.max_samples if self._classification else 0)
        self._names = ClassNames(model)
        self._positive = model.positive_class if model.task is Task.BINARY else None
        self._early = EarlyLabels()
        self._coverage = Coverage(self._duration)
        self._lock = threading.Lock()

    def remember(
        self, batch: PredictionBatch, slices: np.ndarray | None = None, count: bool = True
    ) -> JoinResult | None:
        """Keep id, time, prediction, scores and slice codes of each record, oldest out first.

        Returns what the labels that came before these predictions did, if any were held
        (see EarlyLabels), with the held labels that expired counted unmatched; count=False
        (a replay, whose results are not counted): none expires.
        """
        kept = _present(batch.prediction)
        if slices is not None and kept is not None:
            slices = slices[kept]
        predicted = cast(list[Target], _pick(batch.prediction, kept))
        ts = batch.ts if kept is None else batch.ts[kept]
        ids = _pick(batch.ids, kept)
        waiting = _present(ids)
        keys = keys_of(cast(list[str], _pick(ids, waiting)))
        with self._lock:
            scores = self._scores(batch, kept)  # names the classes of score keys
            if self._classification:  # kept for the join, named for the estimates
                texts, named = self._names.kept(predicted)
                self._recent.extend(ts, named, _pick(scores, None))
                predicted = list(texts)
            if len(keys):
                made = ts if waiting is None else ts[waiting]
                replaced = self._pending.add(
                    keys,
                    made,
                    _pick(predicted, waiting),
                    scores if waiting is None else _pick(scores, waiting),
                    slices if slices is None or waiting is None else slices[waiting],
                )
                self._coverage.made(made)
                self._coverage.made(replaced, -1)
            now = self._clock()
            if count:  # a replay's labels come after its predictions: see join()
                self._pending.expire(now - self._horizon)
            claimed = self._early.claim(keys)
            joined = self._join(claimed, now, None) if claimed else JoinResult(0)
            result = self._with_expired(joined, now) if count else joined
            return result if claimed or result.unmatched else None

    def join(self, labels: Sequence[Label], count: bool = True) -> JoinResult:
        """Pair labels with remembered predictions; expired or unknown ones are unmatched.

        A label without its prediction waits a while for it (see EarlyLabels) rather than
        being unmatched at once. count=False: a replay's labels, counted by the process
        that read them first, are not counted unmatched when their wait ends; nor does a
        held label's wait end in a replay: labels a reload handed on end counted after it.
        Nor does a replay expire predictions by the clock: a label that came within the
        horizon of its prediction joins it, as it did live, however long ago that was (the
        pair counts while its label is in the window); the next live read expires them.
        """
        with self._lock:
            now = self._clock()
            if count:
                self._pending.expire(now - self._horizon)
            joined = self._join(labels, now, count)
            return self._with_expired(joined, now) if count else joined

    def expire_held(self) -> int:
        """Let go of the held labels past their grace, for when no record arrives to do it;
        returns how many (unmatched)."""
        with self._lock:
            return self._early.expire(self._clock())

    def take_over(self, old: LabelJoin) -> tuple[int, list[str]]:
        """Go on from the join a reload replaced: hold its early labels, and name its classes.

        Its held labels were counted read but not yet joined or unmatched; the new join's
        replay holds them as counted before, so dropped with the old join nothing counted
        their end. Returns how many held labels end now, unmatched (held in another form
        than this task's), and the class names this join no longer names (see ClassNames.take).
        """
        with self._lock, old._lock:
            if old._classification == self._classification:
                self._early, old._early = old._early, EarlyLabels()
                unmatched = 0
            else:
                unmatched = old._early.expire(math.inf)
            if not self._classification:
                return unmatched, list(old._names.names)
            return unmatched, self._names.take(old._names)

    def _with_expired(self, result: JoinResult, now: float) -> JoinResult:
        """The result with the held labels that waited too long counted unmatched."""
        expired = self._early.expire(now)
        return replace(result, unmatched=result.unmatched + expired) if expired else result

    def _join(self, labels: Sequence[Label], now: float, count: bool | None) -> JoinResult:
        """Pair labels with waiting predictions, under the lock; labels without one are held
        (count: whether their end counts as unmatched), or with count None unmatched."""
        unmatched, delays = 0, []
        classes: list[tuple[str, str]] = []
        values: list[tuple[float, float]] = []
        errors: list[float] = []
        label_times, made, folded = [], [], []
        arrived: list[int] = []
        keys = keys_of([x.id for x in labels])
        found, times, predictions, scores = self._pending.take(keys)
        taken = as_bytes(self._pending.taken_slices)
        rows = self._pending.taken_rows.tolist()
        matches = iter(zip(times.tolist(), predictions, scores, taken, rows, strict=True))
        for label, was_found in zip(labels, found.tolist(), strict=True):
            if not was_found:
                continue
            ts, predicted, score, codes, row = next(matches)
            if label.ts - ts > self._horizon:
                unmatched += 1
                continue
            made.append(ts)
            arrived.append(row)
            delays.append(max(0.0, label.ts - ts))
            label_times.append(label.ts)
            if self._classification:  # predicted: kept (see ClassNames.kept) when remembered
                kept = token(str(label.label))
                named_predicted, actual = self._names.pair(predicted, kept)
                self._pairs.add((label.ts, ts, named_predicted, actual, score, codes), now)
                counted = OTHER if named_predicted == OTHER_MISMATCH else named_predicted
                classes.append((actual, counted))
                errors.append(float(kept != predicted))
                folded += [kept] if actual != kept else []  # see ClassNames.bounded
            else:
                self._pairs.add((label.ts, ts, predicted, label.label, score, codes), now)
                values.append((float(predicted), float(label.label)))
                errors.append(abs(float(predicted) - float(label.label)))
        self._coverage.joined(np.array(made))
        missing = np.flatnonzero(~found).tolist()
        if count is None:
            unmatched += len(missing)
        elif missing:
            held = [self._kept(labels[i]) for i in missing]
            unmatched += self._early.hold(keys[missing].tolist(), held, now, count)
        ordered = _in_made_order(made, arrived, errors, label_times)
        return JoinResult(
            unmatched, tuple(delays), tuple(classes), tuple(values), *ordered, tuple(folded)
        )

    def _kept(self, label: Label) -> Label:
        """A label to hold: its class as kept (bounded in length), so the held ones stay
        small whatever text a producer sends."""
        return label._replace(label=token(str(label.label))) if self._classification else label

    def pairs(self, now: float) -> JoinedPairs:
        """The pairs whose label arrived within the window, coverage and the recent scores."""
        cutoff = now - self._duration
        with self._lock:
            recent = self._pairs.since(now)
            window_predicted, window_scores = self._recent.since(cutoff)
            classes = tuple(self._names.names)
            coverage = self._coverage.share(now)
        return JoinedPairs(
            predicted=tuple(p[2] for p in recent),
            actual=tuple(p[3] for p in recent),
            scores=tuple(p[4] for p in recent),
            classes=classes,
            coverage=coverage,
            window_predicted=tuple(window_predicted),
            window_scores=tuple(window_scores),
            slices=from_bytes((p[5] for p in recent), self._width),
        )

    def slice_codes(self, now: float, waiting: bool = True) -> np.ndarray:
        """Slice codes of the joined pairs pairs(now) still returns (labelled within the
        window's duration) and, unless waiting is False, of the waiting predictions."""
        with self._lock:
            kept = from_bytes((p[5] for p in self._pairs.since(now)), self._width)
            return np.concatenate([self._pending.slice_codes(), kept]) if waiting else kept

    def fold_slices(self, index: int, codes: list[int]) -> None:
        """Count the waiting predictions whose key `index` code is among `codes` under
        __other__: those codes are about to name other values."""
        with self._lock:
            self._pending.rewrite_slices(lambda slices: folded(slices, index, codes))

    @property
    def pending(self) -> int:
        """Predictions still waiting for a label."""
        return len(self._pending)

    def _scores(self, batch: PredictionBatch, kept: list[int] | None) -> Any:
        """A binary model's positive-class probability (NaN: none) is all its metrics read;
        other models keep their scores compactly."""
        if self._positive is not None:
            positive = batch.positive(self._positive)
            return positive if kept is None else positive[kept]
        return [self._names.compact(s) for s in _pick(batch.scores, kept)]


def _in_made_order(
    made: list[float], arrived: list[int], errors: list[float], times: list[float]
) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Errors and label times in the order the model made the predictions (by time, then as
    they arrived: a batch entry stamps all of its records alike), so the change detector
    watches the model over time, not the order a label feed writes."""
    order = np.lexsort((np.array(arrived, np.int64), np.array(made))).tolist()
    return tuple(errors[i] for i in order), tuple(times[i] for i in order)


def _present(values: Sequence[object]) -> list[int] | None:
    """Indexes of the values that are not None; None when that is all of them."""
    if None not in values:
        return None
    return [i for i, value in enumerate(values) if value is not None]


def _pick(values: Any, indexes: list[int] | None) -> list[Any]:
    """The values at indexes (all when None), as a list."""
    if isinstance(values, np.ndarray):
        values = values.tolist() if indexes is None else values[indexes].tolist()
        return [None if v != v else v for v in values]  # NaN: no score
    return list(values) if indexes is None else [values[i] for i in indexes]
