"""Which slice codes stored rows still use, so versions and tag values can give theirs back.

A version keeps its code while the window, a waiting prediction or a joined pair holds it: a
version comparison reads the labelled pairs of a version that has left the window. A tag value
keeps its code only while the window or a joined pair holds it: labels may come a day late,
and a day of waiting predictions of many tenants held every code, so a tenant that grew big
later folded into __other__ for as long. A waiting prediction whose tag value gives its code
back is counted under __other__ when its label comes.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import numpy as np

from exporter.window.labels import LabelJoin
from exporter.window.ring import Window
from exporter.window.slices import column


def reclaim_codes(window: Window, join: LabelJoin, clock: Callable[[], float]) -> None:
    """Tell the version and tag vocabularies which of their codes are still in use."""
    slicer = window.slicer
    slicer.versions.in_use = partial(_in_use, window, join, clock, -1, len(slicer.keys), True)
    for row, key in enumerate(slicer.tag_keys):
        index = slicer.keys.index(key)
        vocab = slicer.vocabulary(key)
        vocab.in_use = partial(_in_use, window, join, clock, row, index, False)
        vocab.on_release = partial(join.fold_slices, index)


def _in_use(
    window: Window,
    join: LabelJoin,
    clock: Callable[[], float],
    row: int,
    index: int,
    waiting: bool,
) -> set[int]:
    """Codes an evaluation may still see: the window's row, the joined pairs' (and the waiting
    predictions') key at `index`."""
    now = clock()
    joined = np.unique(column(join.slice_codes(now, waiting), index))
    return window.codes_in_use(now, row) | set(joined.tolist())
