"""Ring buffers that grow as they fill: a window or a recent-predictions ring that never
fills never costs its cap."""

from __future__ import annotations

import numpy as np

FIRST_SIZE = 1024


def ring_order(next_row: int, size: int, length: int) -> np.ndarray:
    """Positions of a ring's `size` newest rows, oldest first, given where the next one goes."""
    return (next_row - size + np.arange(size)) % max(length, 1)


def grown_size(length: int, wanted: int, cap: int) -> int:
    """The buffer length to hold `wanted` rows: doubled up to the cap, or unchanged."""
    if wanted <= length or length == cap:
        return length
    return min(cap, max(2 * length, wanted, FIRST_SIZE))


def regrown(old: np.ndarray, order: np.ndarray, size: int) -> np.ndarray:
    """A buffer `size` long on its last axis, holding old's rows at `order` first."""
    new = np.empty((*old.shape[:-1], size), old.dtype)
    new[..., : len(order)] = old[..., order]
    return new


def ring_pieces(start: int, count: int, length: int) -> list[tuple[slice, slice]]:
    """(ring slice, source slice) pairs that write `count` <= `length` rows from `start` on:
    one or two plain copies, where an index array cost a gather per value."""
    first = min(count, length - start)
    pieces = [(slice(start, start + first), slice(0, first))]
    if first < count:
        pieces.append((slice(0, count - first), slice(first, count)))
    return pieces
