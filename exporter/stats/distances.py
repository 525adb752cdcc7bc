"""Binned distances: one formula per name in BINNED_DISTANCES, and the method scoring by one."""

from __future__ import annotations

import math
from abc import abstractmethod
from collections.abc import Callable
from typing import Any, ClassVar

import numpy as np
import numpy.typing as npt

from exporter.stats.base import EPS, DriftMethod, FloatArray
from exporter.stats.lazy import scipy_distance, scipy_special


def smooth(proportions: npt.NDArray[np.float64], eps: float = EPS) -> FloatArray:
    """Clip shares below at eps, so an empty bucket on one side gives a large but finite term."""
    return np.clip(np.asarray(proportions, dtype=np.float64), eps, None)


def _pair(
    ref_prop: npt.NDArray[np.float64], win_prop: npt.NDArray[np.float64], what: str
) -> tuple[FloatArray, FloatArray]:
    """Both sides as float arrays of one shape, or an error naming the distance."""
    ref = np.asarray(ref_prop, dtype=np.float64)
    win = np.asarray(win_prop, dtype=np.float64)
    if ref.shape != win.shape:
        raise ValueError(f"{what}: proportion shapes differ: {ref.shape} vs {win.shape}")
    return ref, win


def psi_from_proportions(
    ref_prop: npt.NDArray[np.float64], win_prop: npt.NDArray[np.float64], eps: float = EPS
) -> float:
    """PSI = sum (w - r) ln(w / r) over smoothed shares, not renormalised; scipy has no PSI."""
    ref, win = _pair(ref_prop, win_prop, "psi")
    r, w = smooth(ref, eps), smooth(win, eps)
    return float(np.sum((w - r) * np.log(w / r)))


def kl_from_proportions(
    ref_prop: npt.NDArray[np.float64], win_prop: npt.NDArray[np.float64], eps: float = EPS
) -> float:
    """KL(reference || window) over smoothed shares renormalised to 1, as scipy.stats.entropy.

    Sums scipy.special.rel_entr, entropy's own term, directly: entropy's argument handling
    costs about half a millisecond a call, more than the sum. Rounding can dip below zero.
    """
    ref, win = _pair(ref_prop, win_prop, "kl_div")
    r, w = smooth(ref, eps), smooth(win, eps)
    return max(0.0, float(np.sum(scipy_special().rel_entr(r / r.sum(), w / w.sum()))))


def js_from_proportions(
    ref_prop: npt.NDArray[np.float64], win_prop: npt.NDArray[np.float64], eps: float = EPS
) -> float:
    """scipy's Jensen-Shannon distance (natural log, sqrt of the divergence) of smoothed shares.

    For near-equal shares scipy's divergence can round below zero and its square root to NaN;
    that is a distance of 0.
    """
    ref, win = _pair(ref_prop, win_prop, "jensenshannon")
    with np.errstate(invalid="ignore"):
        value = float(scipy_distance().jensenshannon(smooth(ref, eps), smooth(win, eps)))
    return 0.0 if math.isnan(value) else value


def hellinger_from_proportions(
    ref_prop: npt.NDArray[np.float64], win_prop: npt.NDArray[np.float64]
) -> float:
    """Hellinger distance sqrt(sum (sqrt r - sqrt w)^2 / 2) in [0, 1]; needs no smoothing."""
    ref, win = _pair(ref_prop, win_prop, "hellinger")
    total = float(np.sum((np.sqrt(ref) - np.sqrt(win)) ** 2))
    return min(1.0, float(np.sqrt(total / 2.0)))


# One formula per binned method name; the registry adds a numeric and a categorical method
# for each, so a new formula is one line here.
BINNED_DISTANCES: dict[str, Callable[[FloatArray, FloatArray], float]] = {
    "psi": psi_from_proportions,
    "kl_div": kl_from_proportions,
    "jensenshannon": js_from_proportions,
    "hellinger": hellinger_from_proportions,
}


class BinnedDistance(DriftMethod):
    """Scores a window by the formula its name picks from BINNED_DISTANCES; no p-value.

    Subclasses fix the buckets (reference-quantile bins, or categories) at fit and set the
    reference shares; the registry derives one subclass per formula from each of them.
    """

    is_test: ClassVar[bool] = False
    default_threshold: ClassVar[float] = 0.1
    handles_missing: ClassVar[bool] = True
    _ref_prop: FloatArray

    @abstractmethod
    def window_proportions(self, window: npt.NDArray[Any]) -> FloatArray:
        """A window's shares over the fitted buckets."""

    def _score(self, window: npt.NDArray[Any]) -> tuple[float, float | None]:
        """The distance between the window's bucket shares and the reference's."""
        return BINNED_DISTANCES[self.name](self._ref_prop, self.window_proportions(window)), None
