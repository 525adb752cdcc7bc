"""A model's multivariate drift fit: PCA over its numeric features, or why there is none."""

from __future__ import annotations

import numpy as np

from exporter.config import ModelConfig
from exporter.reference.load import ReferenceData
from exporter.stats.kinds import FeatureType
from exporter.stats.multivariate import PCAReconstruction


def fit_multivariate(
    model: ModelConfig, data: ReferenceData
) -> tuple[PCAReconstruction | None, tuple[str, ...], str]:
    """PCA over the numeric features where rebuilding a row can fail, else why it cannot."""
    names = tuple(f.name for f in model.features if f.type is FeatureType.NUMERIC)
    if not model.multivariate.enabled:
        return None, (), "disabled (multivariate.enabled: false)"
    if len(names) < 2:
        return None, (), f"not applicable: needs at least 2 numeric features, has {len(names)}"
    matrix = np.column_stack([data.numeric[n] for n in names])
    empty = [n for n, blank in zip(names, np.isnan(matrix).all(axis=0), strict=True) if blank]
    if empty:  # blank features pass check_reference when they have their own range
        return None, (), f"not applicable: the reference has no values of {', '.join(empty)}"
    pca = PCAReconstruction.fit(matrix, model.multivariate.variance)
    if not pca.applicable:
        return (
            None,
            (),
            (
                f"not applicable: variance {model.multivariate.variance:g} keeps all "
                f"{pca.kept} components of {len(names)} numeric features, so every "
                "row is rebuilt exactly (lower multivariate.variance to use it)"
            ),
        )
    return pca, names, ""
