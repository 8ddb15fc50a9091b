"""Buffers of the live recorder: a reorder (jitter) buffer before the file, a ring for the dashboard."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["Block", "ReorderBuffer", "RingBuffer"]


@dataclass(frozen=True)
class Block:
    """Samples by global index: ``n`` (int64, increasing), ``acc`` and ``gyr`` (n, 3) in SI."""

    n: np.ndarray
    acc: np.ndarray
    gyr: np.ndarray

    @property
    def size(self) -> int:
        return int(self.n.size)


def _empty() -> Block:
    return Block(np.zeros(0, dtype=np.int64), np.zeros((0, 3)), np.zeros((0, 3)))


class ReorderBuffer:
    """Holds the newest samples briefly so packets that arrive out of order are put back in order.

    Samples are released (`pop_ready`) once they are ``horizon`` indices older than the newest
    sample received; a sample that arrives after its place was released is *late* (counted,
    dropped: the file only ever grows forwards). A sample index received twice is a
    *duplicate* (counted, the first copy kept).

    Parameters
    ----------
    horizon
        Reorder window, in samples (e.g. 0.25 s worth).
    """

    def __init__(self, *, horizon: int) -> None:
        self.horizon = int(horizon)
        self._chunks: list[Block] = []
        self._newest = -1
        self._released = -1  # largest index released
        self._recent = np.zeros(0, dtype=np.int64)  # indices released lately (to tell late from duplicate)
        self.n_duplicate = 0
        self.n_late = 0

    @property
    def released_max(self) -> int:
        return self._released

    def __len__(self) -> int:
        return sum(c.size for c in self._chunks)

    def push(self, n: np.ndarray, acc: np.ndarray, gyr: np.ndarray) -> None:
        n = np.asarray(n, dtype=np.int64)
        if n.size == 0:
            return
        old = n <= self._released
        if old.any():
            dup = np.isin(n[old], self._recent)
            self.n_duplicate += int(dup.sum())
            self.n_late += int((~dup).sum())
            keep = ~old
            n, acc, gyr = n[keep], acc[keep], gyr[keep]
            if n.size == 0:
                return
        self._chunks.append(Block(n, np.asarray(acc, dtype=float), np.asarray(gyr, dtype=float)))
        self._newest = max(self._newest, int(n.max()))

    def pop_ready(self) -> Block:
        """Samples old enough to be final, in index order, without duplicates."""
        return self._pop(self._newest - self.horizon)

    def pop_all(self) -> Block:
        """Everything held (at the end of a recording)."""
        return self._pop(self._newest)

    def _pop(self, upto: int) -> Block:
        if not self._chunks or upto <= self._released:
            return _empty()
        if len(self._chunks) == 1:
            b = self._chunks[0]
        else:
            b = Block(
                np.concatenate([c.n for c in self._chunks]),
                np.concatenate([c.acc for c in self._chunks]),
                np.concatenate([c.gyr for c in self._chunks]),
            )
        order = np.argsort(b.n, kind="stable")
        n_sorted = b.n[order]
        first = np.ones(n_sorted.size, dtype=bool)
        first[1:] = n_sorted[1:] != n_sorted[:-1]
        self.n_duplicate += int((~first).sum())
        order = order[first]
        n_sorted = n_sorted[first]
        cut = int(np.searchsorted(n_sorted, upto, side="right"))
        out_idx, keep_idx = order[:cut], order[cut:]
        self._chunks = [Block(b.n[keep_idx], b.acc[keep_idx], b.gyr[keep_idx])] if keep_idx.size else []
        if cut == 0:
            return _empty()
        out = Block(b.n[out_idx], b.acc[out_idx], b.gyr[out_idx])
        self._released = int(out.n[-1])
        self._recent = np.concatenate([self._recent, out.n])[-4 * max(self.horizon, 64) :]
        return out


class RingBuffer:
    """The last ``capacity`` samples (t, acc, gyr), for the dashboard's sliding window."""

    def __init__(self, capacity: int) -> None:
        self.capacity = int(capacity)
        self._t = np.zeros(self.capacity)
        self._acc = np.zeros((self.capacity, 3))
        self._gyr = np.zeros((self.capacity, 3))
        self._next = 0  # total samples ever appended
        self.version = 0  # bumps on every append

    def __len__(self) -> int:
        return min(self._next, self.capacity)

    def append(self, t: np.ndarray, acc: np.ndarray, gyr: np.ndarray) -> None:
        k = int(np.asarray(t).size)
        if k == 0:
            return
        if k >= self.capacity:
            t, acc, gyr = t[-self.capacity :], acc[-self.capacity :], gyr[-self.capacity :]
            self._next += k - self.capacity
            k = self.capacity
        idx = (self._next + np.arange(k)) % self.capacity
        self._t[idx] = t
        self._acc[idx] = acc
        self._gyr[idx] = gyr
        self._next += k
        self.version += 1

    def snapshot(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Copies of the held samples, oldest first."""
        n = len(self)
        idx = (self._next - n + np.arange(n)) % self.capacity
        return self._t[idx].copy(), self._acc[idx].copy(), self._gyr[idx].copy()
