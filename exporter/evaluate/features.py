"""A feature's drift and data quality over a window copy, before any multiple-testing correction."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import numpy as np

from exporter.evaluate.drift import score_column
from exporter.evaluate.fit import FittedColumn, share
from exporter.evaluate.histograms import ReferenceHistogram, categorical_window, numeric_window
from exporter.evaluate.snapshot import FeatureSnapshot
from exporter.stats.kinds import FeatureType
from exporter.window.ring import WindowView
from exporter.window.vocab import OTHER, translate


def _numeric(column: FittedColumn, values: np.ndarray, min_samples: int) -> FeatureSnapshot:
    missing = np.isnan(values)
    present = values[~missing]
    out_of_range = None
    if column.low is not None and column.high is not None:
        out_of_range = share((present < column.low) | (present > column.high))
    return FeatureSnapshot(
        column.name,
        score_column(column, values, min_samples),
        share(missing),
        out_of_range_ratio=out_of_range,
        reference_missing_ratio=column.missing,
    )


def reference_codes(column: FittedColumn, values: Sequence[str], codes: np.ndarray) -> np.ndarray:
    """Window codes re-expressed as reference codes; a value the reference lacks gets a code
    of its own from k (the reference's categories) on: the methods pool those as
    `__other__`, and chi2 tells them apart."""
    assert column.codes is not None
    table = translate(values, column.codes, -1)
    unseen = table < 0
    table[unseen] = len(column.codes) + np.arange(int(unseen.sum()))
    out: np.ndarray = table[codes]
    if OTHER in column.codes or OTHER not in values:
        return out
    # Values folded past the vocabulary's cap (max_new_categories) are many distinct ones
    # of the long tail; as one column with a reference count of 0, chi2 flagged every
    # healthy window once the cap filled. Each counts as a category of its own, so chi2
    # pools them with the rare ones (the distances pool every code >= k anyway).
    folded = codes == values.index(OTHER)
    out[folded] = len(column.codes) + len(values) + np.arange(int(folded.sum()))
    return out


def _categorical(
    column: FittedColumn, values: Sequence[str], codes: np.ndarray, min_samples: int
) -> FeatureSnapshot:
    missing = codes < 0
    present = codes[~missing].astype(np.int64)
    allowed = column.allowed or frozenset()
    known = np.array([v in allowed for v in values] or [False])
    unseen = share(~known[present])
    with_missing = np.where(missing, -1, reference_codes(column, values, np.maximum(codes, 0)))
    drift = score_column(column, with_missing.astype(np.int64), min_samples)
    return FeatureSnapshot(
        column.name,
        drift,
        share(missing),
        unseen_category_ratio=unseen,
        reference_missing_ratio=column.missing,
        expected_unseen_category_ratio=column.unseen,
    )


def with_histogram(
    feature: FeatureSnapshot, ref: ReferenceHistogram, view: WindowView
) -> FeatureSnapshot:
    """Attach the reference-versus-window picture the drill-down page draws."""
    if ref.numeric:
        histogram = numeric_window(ref, view.numeric[feature.name])
    else:
        histogram = categorical_window(
            ref, view.categories[feature.name], view.categorical[feature.name]
        )
    return replace(feature, histogram=histogram)


def score_features(
    columns: Sequence[FittedColumn], view: WindowView, min_samples: int
) -> tuple[FeatureSnapshot, ...]:
    """Each column's raw drift verdict and data quality over the view."""
    out = []
    for column in columns:
        if column.type is FeatureType.NUMERIC:
            out.append(_numeric(column, view.numeric[column.name], min_samples))
        else:
            codes = view.categorical[column.name]
            values = view.categories[column.name]
            out.append(_categorical(column, values, codes, min_samples))
    return tuple(out)


def score_embeddings(
    columns: Sequence[FittedColumn], view: WindowView, min_samples: int
) -> tuple[FeatureSnapshot, ...]:
    """Each embedding's raw drift verdict and the share of records that sent no vector."""
    out = []
    for column in columns:
        rows = view.embeddings[column.name]
        missing = ~np.isfinite(rows).all(axis=1)
        drift = score_column(column, rows, min_samples)
        out.append(
            FeatureSnapshot(
                column.name, drift, share(missing), reference_missing_ratio=column.missing
            )
        )
    return tuple(out)
