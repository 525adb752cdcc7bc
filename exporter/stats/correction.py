"""Multiple-testing correction across one model's features, so many features do not page more."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from exporter.stats.lazy import scipy_stats

CORRECTIONS = ("fdr_bh", "bonferroni", "none")


def adjust_p_values(p_values: npt.ArrayLike, how: str) -> npt.NDArray[np.float64]:
    """Adjusted p-values, each compared with its own test's alpha.

    Benjamini-Hochberg is scipy's false_discovery_control (R's p.adjust "BH"); Bonferroni is
    a one-line clip. A NaN p-value makes the BH ranking undefined: scipy raises, so every
    adjusted value is NaN instead, which re-decides no test as drifted.
    """
    p = np.asarray(p_values, dtype=np.float64)
    if how == "none":
        return p.copy()
    if how == "bonferroni":
        return np.minimum(p * p.size, 1.0)
    if how != "fdr_bh":
        raise ValueError(f"unknown correction {how!r} (known: {', '.join(CORRECTIONS)})")
    if np.isnan(p).any():
        return np.full_like(p, np.nan)
    adjusted: npt.NDArray[np.float64] = scipy_stats().false_discovery_control(p, method="bh")
    return adjusted
