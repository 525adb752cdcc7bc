"""scipy's modules, imported on first use rather than when exporter.stats is.

The config loader imports the method table from this package; importing scipy.stats costs
about a second on a busy core, which a refused config or `--help` should not pay.
"""

from __future__ import annotations

from functools import cache
from typing import Any

# Cached: `from scipy import stats` goes through scipy's module __getattr__ on every call,
# about a millisecond each, which an evaluation of many features and segments pays per test.


@cache
def scipy_stats() -> Any:
    """scipy.stats (tests, distributions, energy distance, FDR control)."""
    from scipy import stats  # type: ignore[import-untyped]

    return stats


@cache
def scipy_special() -> Any:
    """scipy.special (rel_entr)."""
    from scipy import special

    return special


@cache
def scipy_distance() -> Any:
    """scipy.spatial.distance (jensenshannon)."""
    from scipy.spatial import distance  # type: ignore[import-untyped]

    return distance
