"""Reference data that would fit without an error but monitor nothing, or monitor wrongly."""

from __future__ import annotations

import numpy as np

from exporter.classes import class_key
from exporter.config import ModelConfig
from exporter.reference.load import ReferenceData, ReferenceError
from exporter.stats.embedding import MIN_ROWS as MIN_EMBEDDING_ROWS
from exporter.stats.kinds import FeatureType, Task

SHOWN_CLASSES = 10


def check_reference(model: ModelConfig, data: ReferenceData) -> None:
    """Refuse what would otherwise pass silently; the message names the model and column."""
    _no_empty_features(model, data)
    _enough_vectors(model, data)
    _positive_class_seen(model, data)


def _no_empty_features(model: ModelConfig, data: ReferenceData) -> None:
    """A configured feature whose reference column is wholly blank had no drift method: it
    was never tested, with no log line, no series and no note on its page. One with its own
    `range` or `allowed` still has its out-of-range or unseen share watched, so it passes."""
    empty = [
        f.name
        for f in model.features
        if (
            f.range is None and bool(np.isnan(data.numeric[f.name]).all())
            if f.type is FeatureType.NUMERIC
            else f.allowed is None and all(v is None for v in data.categorical[f.name])
        )
    ]
    if empty and data.rows:
        raise ReferenceError(
            f"model {model.name!r}: the reference has no values of {', '.join(empty)} (every "
            "row blank), so their drift could not be tested: fill the column or remove the "
            "feature"
        )


def _enough_vectors(model: ModelConfig, data: ReferenceData) -> None:
    """An embedding with fewer complete reference vectors than its methods fit on had no
    method, as a blank scalar feature had: never tested, and nothing said."""
    for f in model.embeddings:
        complete = int(np.isfinite(data.embeddings[f.name]).all(axis=1).sum())
        if complete < MIN_EMBEDDING_ROWS and data.rows:
            raise ReferenceError(
                f"model {model.name!r}: the reference has {complete} complete vectors of "
                f"{f.name} (at least {MIN_EMBEDDING_ROWS} are needed), so its drift could not "
                "be tested: fill the column or remove the feature"
            )


def _positive_class_seen(model: ModelConfig, data: ReferenceData) -> None:
    """A positive class no reference label or prediction names (a typo, or `1` for labels
    true/false) read every label as negative: log loss and Brier looked excellent, and
    precision, recall, F1 and ROC AUC vanished without a word."""
    if model.task is not Task.BINARY or model.positive_class is None:
        return
    seen = {
        class_key(v)
        for column in (data.label, data.prediction)
        for v in column or ()
        if v is not None and v == v and v != ""
    }
    if not seen or class_key(model.positive_class) in seen:
        return
    shown = sorted(seen)[:SHOWN_CLASSES]
    more = ", ..." if len(seen) > SHOWN_CLASSES else ""
    raise ReferenceError(
        f"model {model.name!r}: positive_class {model.positive_class!r} is not among the "
        f"reference's labels or predictions ({', '.join(map(repr, shown))}{more}): set "
        "positive_class to the class the scores are the probability of"
    )
