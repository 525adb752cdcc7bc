"""Distances between two bucket distributions, sharing one zero-count smoothing step."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import numpy.typing as npt

from exporter.stats.base import EPS, FloatArray


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
    """PSI = sum (w - r) ln(w / r) over smoothed shares (no renormalisation)."""
    ref, win = _pair(ref_prop, win_prop, "psi")
    r, w = smooth(ref, eps), smooth(win, eps)
    return float(np.sum((w - r) * np.log(w / r)))


def kl_from_proportions(
    ref_prop: npt.NDArray[np.float64], win_prop: npt.NDArray[np.float64], eps: float = EPS
) -> float:
    """KL(reference || window) over smoothed shares renormalised to 1 (scipy.stats.entropy)."""
    ref, win = _pair(ref_prop, win_prop, "kl_div")
    r, w = smooth(ref, eps), smooth(win, eps)
    r, w = r / r.sum(), w / w.sum()
    return max(0.0, float(np.sum(r * np.log(r / w))))


def js_from_proportions(
    ref_prop: npt.NDArray[np.float64], win_prop: npt.NDArray[np.float64], eps: float = EPS
) -> float:
    """Jensen-Shannon distance (natural log, the square root of the divergence), as scipy's."""
    ref, win = _pair(ref_prop, win_prop, "jensenshannon")
    r, w = smooth(ref, eps), smooth(win, eps)
    r, w = r / r.sum(), w / w.sum()
    m = (r + w) / 2.0
    divergence = 0.5 * float(np.sum(r * np.log(r / m))) + 0.5 * float(np.sum(w * np.log(w / m)))
    return float(np.sqrt(max(divergence, 0.0)))


def hellinger_from_proportions(
    ref_prop: npt.NDArray[np.float64], win_prop: npt.NDArray[np.float64]
) -> float:
    """Hellinger distance sqrt(sum (sqrt r - sqrt w)^2 / 2) in [0, 1]; needs no smoothing."""
    ref, win = _pair(ref_prop, win_prop, "hellinger")
    total = float(np.sum((np.sqrt(ref) - np.sqrt(win)) ** 2))
    return min(1.0, float(np.sqrt(total / 2.0)))


def _psi(ref: FloatArray, win: FloatArray) -> float:
    return psi_from_proportions(ref, win, EPS)


def _kl(ref: FloatArray, win: FloatArray) -> float:
    return kl_from_proportions(ref, win, EPS)


def _js(ref: FloatArray, win: FloatArray) -> float:
    return js_from_proportions(ref, win, EPS)


# One formula per binned method name, shared by its numeric and categorical variants.
BINNED_DISTANCES: dict[str, Callable[[FloatArray, FloatArray], float]] = {
    "psi": _psi,
    "kl_div": _kl,
    "jensenshannon": _js,
    "hellinger": hellinger_from_proportions,
}
