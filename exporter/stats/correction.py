"""Multiple-testing correction across one model's features, so many features do not page more."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

CORRECTIONS = ("fdr_bh", "bonferroni", "none")
DEFAULT_CORRECTION = "fdr_bh"


def adjust_p_values(p_values: npt.ArrayLike, how: str) -> npt.NDArray[np.float64]:
    """Adjusted p-values (Benjamini-Hochberg step-up or Bonferroni), compared with each alpha."""
    p = np.asarray(p_values, dtype=np.float64)
    m = p.size
    if how == "none" or m == 0:
        return p.copy()
    if how == "bonferroni":
        return np.minimum(p * m, 1.0)
    if how != "fdr_bh":
        raise ValueError(f"unknown correction {how!r} (known: {', '.join(CORRECTIONS)})")
    order = np.argsort(p)
    scaled = p[order] * m / np.arange(1, m + 1)
    stepped = np.minimum.accumulate(scaled[::-1])[::-1]
    adjusted = np.empty(m, dtype=np.float64)
    adjusted[order] = np.minimum(stepped, 1.0)
    return adjusted
