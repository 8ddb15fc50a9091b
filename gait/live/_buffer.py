"""The dashboard's sliding window: a ring buffer of the newest samples."""

from __future__ import annotations

import numpy as np

__all__ = ["RingBuffer"]


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
