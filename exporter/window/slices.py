"""Which slice of traffic a record belongs to: its segment values and version, as codes.

A segment key that is a categorical feature reuses that feature's codes; a tag key and the
version get vocabularies of their own. The label join keeps a record's codes as one int32 row
(the keys in config order, the version last), each code whole: packed 12 bits a key into one
int64, a feature's codes from 4,094 on (a reference of 5,000 merchants) read back as
__other__, and those merchants lost their labelled pairs to it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import cast

import numpy as np

from exporter.config import ModelConfig
from exporter.decode.batch import PredictionBatch
from exporter.window.vocab import Vocabulary

ABSENT = -1  # a record without the key's value (or the version)
# A code given back while a waiting prediction held it: that prediction's label is counted
# under __other__, since no value owns this code.
FOLDED = np.iinfo(np.int32).max
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

    def stack(self, codes: Sequence[np.ndarray]) -> np.ndarray:
        """(records, keys + version) int32 codes, whole: any number of categories stays apart."""
        n = len(codes[0]) if codes else 0
        return np.array(codes, dtype=np.int32).reshape(len(codes), n).T.copy()


def folded(slices: np.ndarray, index: int, codes: Sequence[int]) -> np.ndarray:
    """The slice rows with key `index`'s `codes` made FOLDED, so read as __other__."""
    out = slices.copy()
    out[np.isin(slices[:, index], codes), index] = FOLDED
    return out


def column(slices: np.ndarray, index: int) -> np.ndarray:
    """The codes of key `index` (in `stack` order), -1 where a record had none."""
    if slices.ndim < 2 or index >= slices.shape[1]:  # pairs made without codes
        return np.full(len(slices), ABSENT, np.int32)
    return slices[:, index]


def as_bytes(slices: np.ndarray) -> list[bytes]:
    """Each row as the bytes of its codes: a joined pair keeps 41 bytes for a key and the
    version, where a tuple of the codes took 84."""
    rows = np.ascontiguousarray(slices, np.int32)
    return cast(list[bytes], rows.view(np.dtype((np.void, rows.shape[1] * 4))).ravel().tolist())


def from_bytes(rows: Iterable[bytes], width: int) -> np.ndarray:
    """The (rows, width) codes that `as_bytes` made."""
    return np.frombuffer(b"".join(rows), np.int32).reshape(-1, width)
