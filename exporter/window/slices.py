"""Which slice of traffic a record belongs to: its segment values and version, as small codes.

A segment key that is a categorical feature reuses that feature's codes; a tag key and the
version get vocabularies of their own. The label join keeps all of a record's codes packed in
one 64-bit integer, so segments cost a waiting prediction 8 bytes, not a column per key.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import numpy as np

from exporter.config import ModelConfig
from exporter.decode.batch import PredictionBatch
from exporter.window.vocab import Vocabulary

BITS = 12  # per key: codes up to OVERFLOW - 1 kept; larger ones read back as OVERFLOW
OVERFLOW = (1 << BITS) - 2  # a code past the packable range: counted under __other__
MAX_KEYS = 64 // BITS  # segment keys and the version packed in one int64
# Distinct values of a tag key holding a code at once; a code comes back once no window row
# or joined pair uses it (see window.reclaim), and values past it fold into __other__. Top
# values are picked among these, so a key with millions of values costs bounded memory.
MAX_TAG_VALUES = 1000
VERSION = "version"


class Slicer:
    """Codes of a batch's records per segment key (config order) and, last, per version."""

    def __init__(
        self,
        model: ModelConfig,
        features: Mapping[str, Vocabulary],
        on_fold: Callable[[], object] | None = None,
    ) -> None:
        self.keys = tuple(s.name for s in model.segments)
        self._features = {s.name: features[s.feature] for s in model.segments if s.feature}
        self._tags = {s.name: Vocabulary(MAX_TAG_VALUES, on_fold) for s in model.segments if s.tag}
        self.versions = Vocabulary(model.max_versions)

    def __len__(self) -> int:
        return len(self.keys) + 1

    def tag_codes(self, batch: PredictionBatch) -> np.ndarray:
        """(tag keys, records) codes, -1 where a record lacks the tag."""
        rows = [
            vocab.codes([t.get(name) if t else None for t in batch.tags])
            for name, vocab in self._tags.items()
        ]
        for vocab in self._tags.values():
            vocab.released.clear()  # no series outlives a snapshot's tag values: none to drop
        return np.array(rows, dtype=np.int32).reshape(len(rows), len(batch))

    def version_codes(self, batch: PredictionBatch) -> np.ndarray:
        """Codes of the records' versions, -1 where a record names none."""
        return self.versions.codes(batch.versions)

    def vocabulary(self, key: str) -> Vocabulary:
        """The vocabulary a segment key's codes index."""
        return self._features.get(key) or self._tags[key]

    @property
    def tag_keys(self) -> tuple[str, ...]:
        """The segment keys read from tags, in the order of `tag_codes`' rows."""
        return tuple(self._tags)

    def pack(self, codes: Sequence[np.ndarray]) -> np.ndarray:
        """One int64 per record holding every key's code (absent: 0, else code + 1)."""
        n = len(codes[0]) if codes else 0
        packed = np.zeros(n, dtype=np.int64)
        for i, row in enumerate(codes):
            stored = np.minimum(row.astype(np.int64), OVERFLOW) + 1
            packed |= stored << (BITS * i)
        return packed


def folded(packed: np.ndarray, index: int, codes: Sequence[int]) -> np.ndarray:
    """The packed codes with key `index`'s `codes` read back as OVERFLOW, so as __other__."""
    shift = BITS * index
    mask = np.int64(((1 << BITS) - 1) << shift)
    other = np.int64((OVERFLOW + 1) << shift)
    hit = np.isin(unpack(packed, index), codes)
    out: np.ndarray = np.where(hit, (packed & ~mask) | other, packed)
    return out


def unpack(packed: np.ndarray, index: int) -> np.ndarray:
    """The codes of key `index` (in `pack` order), -1 where a record had none."""
    mask = (1 << BITS) - 1
    out: np.ndarray = ((packed >> (BITS * index)) & mask).astype(np.int32) - 1
    return out
