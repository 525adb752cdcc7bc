"""Drift, quality and performance per segment value, corrected across features and segments.

A 1-sd shift in 15 % of the traffic barely moves a test over all of it; the same test over
that segment alone sees it. Testing many segments raises the false-alarm rate, so the
multiple-testing correction runs over every segment value's features of the model together.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from exporter.config import ModelConfig
from exporter.config.segments import SegmentConfig
from exporter.evaluate.baselines import Baseline, bound
from exporter.evaluate.drift import correct, dataset_share
from exporter.evaluate.estimate import Calibration, estimate
from exporter.evaluate.features import score_embeddings, score_features, with_histogram
from exporter.evaluate.fit import FittedReference, SegmentFit
from exporter.evaluate.performance import Pairs, realised
from exporter.evaluate.snapshot import Bound, FeatureSnapshot, SegmentSnapshot
from exporter.stats.kinds import Task
from exporter.window.labels import JoinedPairs
from exporter.window.ring import WindowView
from exporter.window.slices import column
from exporter.window.vocab import OTHER


@dataclass(frozen=True)
class _Group:
    """One segment value's rows: in the window, and among the labelled pairs."""

    value: str
    rows: np.ndarray
    pairs: np.ndarray
    named: frozenset[str] = frozenset()  # `__other__`'s: the values it leaves out


def groups(
    segment: SegmentConfig, codes: np.ndarray, values: Sequence[str], pair_codes: np.ndarray
) -> list[_Group]:
    """The `max_values` values with most traffic in the window, then every other as one."""
    present = codes >= 0
    counts = np.bincount(codes[present], minlength=len(values))[: len(values)]
    ranked = np.argsort(-counts, kind="stable")
    top = [int(c) for c in ranked if counts[c] > 0 and values[c] != OTHER][: segment.max_values]
    out = [_Group(values[c], codes == c, pair_codes == c) for c in top]
    rest = present & ~np.isin(codes, top)
    pairs_rest = (pair_codes >= 0) & ~np.isin(pair_codes, top)
    if rest.any() or pairs_rest.any():
        out.append(_Group(OTHER, rest, pairs_rest, frozenset(values[c] for c in top)))
    return out


def _reference(
    segment: SegmentConfig, fitted: FittedReference, group: _Group
) -> tuple[SegmentFit | None, bool]:
    """The segment value's own fitted features if it had enough reference rows, else the
    whole reference's; the segment's own feature is constant within it and left out.

    A feature key's `__other__` has only the rows of the values it pools, and only while the
    window names the values the reference was fitted without (Pool.fits): the whole reference,
    mostly of the named values, flagged healthy pools drifted every time. Otherwise it gets no
    decision.
    """
    own = fitted.segments.get(segment.name, {}).get(group.value)
    if group.value == OTHER and segment.feature is not None:
        matched = own is not None and own.pool is not None and own.pool.fits(group.named)
        return (own, True) if matched else (None, False)
    if own is not None:
        return own, True
    return _whole(segment, fitted), False


def _whole(segment: SegmentConfig, fitted: FittedReference) -> SegmentFit:
    """The whole reference's fitted features, but the segment's own feature."""
    others = [i for i, c in enumerate(fitted.features) if c.name != segment.feature]
    histograms = fitted.histograms
    return SegmentFit(
        tuple(fitted.features[i] for i in others),
        tuple(histograms[i] for i in others) if histograms else (),
        embeddings=fitted.embeddings,
    )


def _performance(
    model: ModelConfig, segment: SegmentConfig, baselines: tuple[Baseline, ...], pairs: JoinedPairs
) -> tuple[Pairs, tuple[tuple[str, bool], ...], tuple[Bound, ...]]:
    """Realised metrics over the segment's labelled pairs, which break their bounds, and those
    bounds: a `max_drop` measured from the first baseline that has the metric (the value's own
    reference metrics, then the model's; from the model's, a country that always scores lower
    broke it in 36 of 40 healthy windows), widened by the sampling error of both sides."""
    if len(pairs) < segment.min_samples:
        return (), (), ()
    metrics = realised(model, pairs.predicted, pairs.actual, pairs.scores, pairs.classes).metrics
    labelled = sum(
        p is not None and a is not None for p, a in zip(pairs.predicted, pairs.actual, strict=True)
    )
    configured = dict(model.performance)
    out, used = [], []
    for name, value in metrics:
        if name in configured:
            base = next((b for b in baselines if name in dict(b.metrics)), Baseline())
            low, high = bound(configured[name], name, base, labelled)
            used.append((name, low, high))
            out.append(
                (name, (low is not None and value < low) or (high is not None and value > high))
            )
    return metrics, tuple(out), tuple(used)


def _estimated(
    model: ModelConfig, segment: SegmentConfig, rows: WindowView, calibration: Calibration | None
) -> tuple[tuple[str, float], ...]:
    """A binary model's metrics estimated from the segment's scores; the window keeps only
    the positive-class score, so a multiclass model's estimates stay model-wide."""
    if model.task is not Task.BINARY:
        return ()
    known = ~np.isnan(rows.prediction)
    predicted = [rows.classes[int(c)] for c in rows.prediction[known]]
    scores = [None if s != s else s for s in rows.score[known].tolist()]
    at_segment = model.model_copy(update={"min_samples": segment.min_samples})
    return estimate(at_segment, calibration, predicted, scores)


def _raw(
    model: ModelConfig,
    segment: SegmentConfig,
    fitted: FittedReference,
    view: WindowView,
    pairs: JoinedPairs,
    group: _Group,
    calibration: Calibration | None,
) -> tuple[SegmentSnapshot, SegmentFit | None]:
    """One segment value's verdicts before the correction across segments, and the reference
    they were measured against (None: no decision)."""
    samples = int(group.rows.sum())
    reference, own = _reference(segment, fitted, group)
    if samples < segment.min_samples:
        return SegmentSnapshot(segment.name, group.value, samples, False, own), None
    # An __other__ whose pool is not the reference's keeps its quality and performance
    # checks against the whole reference; only its drift is not decided (see _reference).
    judged = reference if reference is not None else _whole(segment, fitted)
    rows = view.subset(group.rows)
    scalar = score_features(judged.columns, rows, segment.min_samples)
    drawn = tuple(
        with_histogram(f, h, rows) for f, h in zip(scalar, judged.histograms, strict=False)
    )
    features = drawn + scalar[len(drawn) :]
    features += score_embeddings(judged.embeddings, rows, segment.min_samples)
    if reference is None:
        features = tuple(replace(f, drift=None) for f in features)
    baselines = (judged.baseline, fitted.noise)
    performance, out_of_bounds, bounds = _performance(
        model, segment, baselines, pairs.subset(group.pairs)
    )
    return SegmentSnapshot(
        segment.name,
        group.value,
        samples,
        True,
        own,
        features,
        None,
        None,
        performance,
        out_of_bounds,
        _estimated(model, segment, rows, calibration),
        bounds,
    ), reference


def evaluate_segments(
    model: ModelConfig,
    fitted: FittedReference,
    view: WindowView,
    pairs: JoinedPairs,
    calibration: Calibration | None = None,
) -> tuple[SegmentSnapshot, ...]:
    """Every segment key's values, each feature's decision corrected across all of them."""
    raw: list[tuple[SegmentSnapshot, SegmentFit | None]] = []
    for index, segment in enumerate(model.segments):
        codes, values = view.segment(segment.name)
        pair_codes = column(pairs.slices, index)
        for group in groups(segment, codes, values, pair_codes):
            raw.append(_raw(model, segment, fitted, view, pairs, group, calibration))
    return _corrected(model, raw)


def _corrected(
    model: ModelConfig, raw: list[tuple[SegmentSnapshot, SegmentFit | None]]
) -> tuple[SegmentSnapshot, ...]:
    """Decisions on p-values adjusted over every evaluated segment value's features at once."""
    every: list[FeatureSnapshot] = [f for s, r in raw if r is not None for f in s.features]
    corrected = iter(correct(tuple(every), model.drift_correction))
    out = []
    for snap, reference in raw:
        if reference is None:
            out.append(snap)
            continue
        features = tuple(next(corrected) for _ in snap.features)
        share = dataset_share(reference.columns + reference.embeddings, features)
        detected = None if share is None else share >= model.drift_share
        out.append(replace(snap, features=features, drift_share=share, drift_detected=detected))
    return tuple(out)
