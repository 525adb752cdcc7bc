"""Which reference rows a feature segment key's values are fitted on: each common value's own,
and for `__other__` the rows of every value the window pools into it.

`__other__` holds the values past the `max_values` with most traffic. Tested against the whole
reference, whose rows are mostly of the top values, a pool of countries with lower amounts read
as drifted in 12 of 12 healthy windows; its own rows are those of the values it pools.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, replace

import numpy as np

from exporter.config.segments import SegmentConfig
from exporter.reference.load import ReferenceData
from exporter.window.vocab import OTHER

OWN_VALUES = 100  # a key's most common reference values fitted on their own rows
MISMATCH = 0.02  # share of `__other__`'s reference rows whose values the window names otherwise


@dataclass(frozen=True)
class Pool:
    """What `__other__`'s reference rows are: those of the values past the reference's top."""

    named: frozenset[str]  # the reference's top max_values values, left out
    counts: Mapping[str, int]  # reference rows per value
    rows: int  # the pooled rows

    def fits(self, named: frozenset[str]) -> bool:
        """Whether the window's pool is these rows' values, but for values holding at most
        MISMATCH of them: among 5,000 merchants of 2 rows each, the top three by reference
        count are a tie the window's busiest never match, though they differ by 8 rows of 9,994."""
        differ = sum(self.counts.get(value, 0) for value in named ^ self.named)
        return differ <= MISMATCH * self.rows


@dataclass(frozen=True)
class ReferenceGroups:
    """A feature key's reference values with rows of their own, each with its rows' mask."""

    values: tuple[str, ...]
    masks: tuple[np.ndarray, ...]
    pool: Pool | None  # `__other__`'s, when it has min_samples rows


def reference_groups(segment: SegmentConfig, data: ReferenceData) -> ReferenceGroups:
    """The key's most common values with min_samples reference rows (fewer would fit a
    noisier baseline than the window compared with it), then `__other__`: the rows of every
    value past the reference's top max_values, when they are at least min_samples."""
    values = data.categorical[segment.feature or ""]
    counts = Counter(v for v in values if v is not None)
    counted = counts.most_common()
    kept = [value for value, count in counted[:OWN_VALUES] if count >= segment.min_samples]
    named = frozenset(value for value, _ in counted[: segment.max_values])
    index = {value: i for i, value in enumerate(kept)}
    code = (-1 if v is None else index.get(v, -1) for v in values)
    codes = np.fromiter(code, dtype=np.int32, count=len(values))
    masks = [codes == c for c in range(len(kept))]
    pooled = np.fromiter((v is not None and v not in named for v in values), bool, len(values))
    pool = Pool(named, dict(counts), int(pooled.sum()))
    if pool.rows < segment.min_samples:
        return ReferenceGroups(tuple(kept), tuple(masks), None)
    return ReferenceGroups((*kept, OTHER), (*masks, pooled), pool)


def segment_rows(data: ReferenceData, rows: np.ndarray) -> ReferenceData:
    """The feature columns of the given reference rows."""
    at = np.flatnonzero(rows).tolist()
    return replace(
        data,
        rows=len(at),
        numeric={n: v[rows] for n, v in data.numeric.items()},
        categorical={n: tuple(v[i] for i in at) for n, v in data.categorical.items()},
        embeddings={n: v[rows] for n, v in data.embeddings.items()},
    )
