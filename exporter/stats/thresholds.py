"""Thresholds that follow the window's size: learned ones (NannyML), and the noise floor that
keeps a fixed distance threshold from firing on chance alone."""

from __future__ import annotations

import math
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from exporter.stats.base import present
from exporter.stats.kinds import FeatureType

if TYPE_CHECKING:
    from exporter.stats.base import DriftMethod

Scorer = Callable[[npt.NDArray[Any]], float]
DEFAULT_K = 3.0
MIN_CHUNKS = 5
MAX_CHUNKS = 50
_CACHED_SIZES = 8
# A noise floor keeps this many reference values (160 kB a column) and scores samples of the
# window's size drawn from them, at most RESAMPLE_MAX; larger windows are carried (see
# NoiseFloor).
NOISE_SAMPLE = 20_000
NOISE_CHUNKS = 20  # a reference needs 20 x _SMALLEST_CHUNK values for a floor
RESAMPLE_MAX = 5_000  # largest sample drawn for the floor; larger windows are carried
_SMALLEST_CHUNK = 10  # below, a reference is too small to say what chance does
# A learned threshold is measured on chunks of the window's size rounded down to sizes 4.4 %
# apart and carried to it: measuring costs 0.4-1.3 s of CPU at a 100k-row reference
# (wasserstein, ks), and the present values of a window with nulls change every evaluation.
LEARNED_STEPS = 16


# Divergences and the squared test statistics (chi-square, G, Cramer-von Mises) spread as
# (1/n + 1/m) itself; distances (Wasserstein, KS's D, Jensen-Shannon's and Hellinger's
# distances, z) as its square root. Anderson-Darling's statistic is standardised around 0,
# which no ratio carries over (docs/statistics.md).
SQUARED = frozenset({"psi", "kl_div", "chi2", "chisquare", "g_test", "cramervonmises"})
# Methods whose score no ratio carries from reference chunks to windows: anderson's statistic
# is standardised around 0 (often negative), and a learned cut flagged 13-14 % of healthy
# windows. The config refuses `threshold: learned` for them.
NOT_LEARNABLE = frozenset({"anderson"})


def _stepped(size: int, per_octave: int) -> int:
    """size rounded down to sizes 2 ** (1 / per_octave) apart, so a few measured sizes serve
    every window: a window's present values vary from one evaluation to the next."""
    return int(2 ** (math.floor(per_octave * math.log2(max(size, 1))) / per_octave))


def _independent(size: int, chunk: int, rows: int, power: float) -> float:
    """From a chunk of the reference (chunk of its rows values) scored against the reference
    it is part of, to an independent window of size values: how much further apart by chance.
    A part of the reference spreads from it as 1/c - 1/m, a window as 1/n + 1/m."""
    return float(((1 / size + 1 / rows) / (1 / chunk - 1 / rows)) ** power)


def _spread(reference: npt.NDArray[Any], score: Scorer, size: int, chunks: int, k: float) -> float:
    """Mean + k sd of the scores of reference chunks of `size` values (shuffled already):
    `chunks` disjoint ones, or MAX_CHUNKS drawn afresh (fixed seed) when fewer fit.

    An sd from 5 chunks is often far too small (4 degrees of freedom): at 5,000 rows and
    windows of 1,000, 7 % of healthy windows crossed mean + 3 sd. Slices at random offsets
    were no cure: overlapping, their scores moved together, so the sd still rested on about
    five values and one reference's cut flagged 19 % of healthy windows (a binary feature,
    chi2), up to 57 % over 100 references. Each chunk is now its own draw without
    replacement, 50 independent random parts of the reference.
    """
    parts: Iterable[npt.NDArray[Any]]  # one at a time: 50 drawn copies are 50 windows' worth
    if chunks >= MAX_CHUNKS:
        parts = (reference[i * size : (i + 1) * size] for i in range(MAX_CHUNKS))
    else:
        rng = np.random.default_rng(size)
        parts = (
            reference[rng.choice(len(reference), size, replace=False)] for _ in range(MAX_CHUNKS)
        )
    return _mean_plus_k_sd([score(part) for part in parts], k)


def _mean_plus_k_sd(scores: list[float], k: float) -> float:
    values = np.asarray(scores)
    return float(values.mean() + k * values.std(ddof=1))


class _ChunkRule:
    """Mean + k sd of the scores of reference chunks, measured once per chunk size (the last
    few kept) and carried to an independent window (see `_independent`)."""

    def __init__(
        self, values: npt.NDArray[Any], rows: int, score: Scorer, k: float, power: float
    ) -> None:
        """values: the shuffled reference values chunks are cut from, of a reference of rows;
        `power`: how the score spreads with 1/n + 1/m (1 for a divergence)."""
        self._values = values
        self._rows = rows
        self._score = score
        self._k = k
        self._power = power
        self._cache: OrderedDict[int, float] = OrderedDict()
        self._lock = threading.Lock()

    def _measured(self, size: int, measure: Callable[[], float]) -> float:
        """The rule's mean + k sd at a sample size, measured on first use (the last few
        sizes kept)."""
        with self._lock:
            measured = self._cache.get(size)
            if measured is not None:
                self._cache.move_to_end(size)
                return measured
        measured = measure()
        with self._lock:
            self._cache[size] = measured
            while len(self._cache) > _CACHED_SIZES:
                self._cache.popitem(last=False)
        return measured

    def _carried(self, size: int, chunk: int) -> float:
        """The rule measured on chunks of `chunk` values, for a window of `size`."""
        chunks = min(self._values.size // chunk, MAX_CHUNKS)
        measured = self._measured(
            chunk, lambda: _spread(self._values, self._score, chunk, chunks, self._k)
        )
        return measured * _independent(size, chunk, self._rows, self._power)


class LearnedThreshold(_ChunkRule):
    """Scores reference chunks with the fitted method once per window size, and caches the cut."""

    def __init__(
        self,
        reference: npt.NDArray[Any],
        score: Scorer,
        k: float = DEFAULT_K,
        seed: int = 0,
        power: float = 0.5,
    ) -> None:
        """Shuffle once with a fixed seed, so chunks are random but the threshold reproducible."""
        values = np.random.default_rng(seed).permutation(np.asarray(reference))
        super().__init__(values, values.size, score, k, power)

    def for_size(self, size: int) -> float | None:
        """mean + k sd of the chunk scores, carried to an independent window of that size (see
        `_independent`); None when the reference has < MIN_CHUNKS chunks.

        The chunks are scored against the reference they are part of, so closer to it than a
        new window: unscaled, 8 to 27 % of healthy windows crossed the cut at k = 3.
        """
        if self._rows // max(size, 1) < MIN_CHUNKS:
            return None
        return self._carried(size, _stepped(size, LEARNED_STEPS))


class NoiseFloor(_ChunkRule):
    """What a distance reaches by chance at a window's size: its fixed threshold's lower bound.

    A distance's fixed threshold (0.1 for Wasserstein and Jensen-Shannon, Evidently's
    defaults) was crossed by chance alone in 7 of 10 evaluations of a healthy feature at 100
    rows (docs/statistics.md). The floor is mean + k sd of the score of MAX_CHUNKS samples of
    the window's size drawn with replacement from the reference (at most RESAMPLE_MAX values,
    and 19 % apart, so a few sizes serve every window), scaled from their spread, 1/s, to
    that of an independent window against the reference, 1/n + 1/m (square roots for a
    distance). Chunks a twentieth of the reference, carried to the window's size, set it too
    low for a feature of many rare categories, whose distance does not grow as that ratio
    says: at 5,000 rows and 1,000-row windows of a 200-category feature the floor sat under
    the healthy mean and flagged 5-38 % of healthy windows.
    """

    def __init__(
        self,
        reference: npt.NDArray[Any],
        score: Scorer,
        k: float = DEFAULT_K,
        seed: int = 0,
        power: float = 0.5,
    ) -> None:
        """Keep a fixed-seed random NOISE_SAMPLE of the reference, so floors are reproducible."""
        values = np.asarray(reference)
        rng = np.random.default_rng(seed)
        keep = min(values.size, NOISE_SAMPLE)
        sample = rng.choice(values, keep, replace=False) if keep else values
        super().__init__(sample, values.size, score, k, power)

    def for_size(self, size: int) -> float | None:
        """The floor for a window of size values; None when the reference is too small."""
        if size < 1 or self._values.size < NOISE_CHUNKS * _SMALLEST_CHUNK:
            return None
        drawn = max(min(_stepped(size, 4), RESAMPLE_MAX), _SMALLEST_CHUNK)
        measured = self._measured(drawn, lambda: self._draws(drawn))
        # A draw spreads from the kept values as 1/s, and they from the reference as
        # 1/kept - 1/m; a window spreads from the reference as 1/n + 1/m.
        kept, rows = self._values.size, self._rows
        spread = 1 / drawn + 1 / kept - 1 / rows
        return measured * float(((1 / size + 1 / rows) / spread) ** self._power)

    def _draws(self, size: int) -> float:
        """Mean + k sd of the scores of MAX_CHUNKS fixed-seed draws of size kept values."""
        rng = np.random.default_rng(size)
        draws = (self._values[rng.integers(0, self._values.size, size)] for _ in range(MAX_CHUNKS))
        return _mean_plus_k_sd([self._score(draw) for draw in draws], self._k)


def size_rules(
    method: DriftMethod, reference: npt.NDArray[Any], k: float, learned: bool
) -> tuple[LearnedThreshold | None, NoiseFloor | None]:
    """The learned threshold a column asked for, or a fixed distance threshold's noise floor;
    tests need neither, their p-values already account for the window's size.

    Both are sized by the values the method scores (see `score_column`), so a method that
    drops missing values learns from the present reference values only: sized by rows, a
    reference or window half null gave the threshold of twice the values, and 8-17 % of
    healthy half-null windows were flagged instead of 0.5-2 %.
    """

    def score(chunk: npt.NDArray[Any]) -> float:
        return method.score(chunk).score if method.usable(chunk).size else 0.0

    if not method.scores_missing:
        reference = present(reference)
    power = 1.0 if method.label in SQUARED else 0.5
    if method.tests:  # a test's chunks holding new codes learn a cut no shift reaches
        return (LearnedThreshold(reference, score, k, power=power) if learned else None), None
    sampled = with_unseen(method, reference)
    if learned:
        return LearnedThreshold(sampled, score, k, power=power), None
    return None, NoiseFloor(sampled, score, k, power=power)


def with_unseen(method: DriftMethod, reference: npt.NDArray[Any]) -> npt.NDArray[Any]:
    """Reference codes with a Good-Turing share of them (the share of rows whose category
    the reference holds once) turned into a category the reference lacks, for a distance's
    noise floor and learned threshold to sample from. Not for tests: chisquare's chunks
    holding such codes (its empty `__other__` expects 1e-4 of the rows) learned a cut no
    shift reached.

    Samples of the reference itself never hold a new category, but healthy windows of a
    long-tail feature do (1.5-5 % of rows of a 500-value Zipf feature), all in the
    `__other__` bucket the reference has empty: the floor sat under the healthy score and
    flagged 27-100 % of healthy windows. Features without singletons are unchanged.
    """
    if method.feature_types != frozenset({FeatureType.CATEGORICAL}):
        return reference
    codes = np.asarray(reference)
    present = codes[codes >= 0]
    missing_mass = unseen_share(present)
    if not missing_mass:
        return reference
    new = (np.random.default_rng(present.size).random(codes.size) < missing_mass) & (codes >= 0)
    return np.where(new, getattr(method, "n_categories", 0), codes)


def unseen_share(present: npt.NDArray[Any]) -> float:
    """Good-Turing's estimate of the share of new data in categories a sample lacks: the
    share of the sample's rows (category codes, none missing) whose category it holds once."""
    if not present.size:
        return 0.0
    return int(np.count_nonzero(np.bincount(present) == 1)) / present.size


def expected_unseen(
    present: npt.NDArray[Any], cats: Sequence[str], allowed: Sequence[str] | None
) -> float | None:
    """The share of a healthy window outside the allowed set (MLMonFeatureUnseenCategories'
    baseline): the reference rows' own share, or without `allowed` the share new categories
    take (unseen_share). present: reference codes into cats, none missing."""
    if not present.size:
        return None
    if allowed is None:
        return unseen_share(present)
    outside = np.array([c not in allowed for c in cats])
    return float(outside[present].mean())
