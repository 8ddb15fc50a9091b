"""Sample times of a live stream: sample indices on the device's grid, drift fitted to host time.

`firmware_protocol.stream.StreamDecoder` turns notifications into samples stamped with the
device clock (unwrapped, continuous across restarts) and marks every hole with a `Gap` that
says how many samples are missing. Two things remain for the recorder:

*Indices.* The canonical session file stores a time column that must be uniform at the
declared rate within each contiguous segment (`docs/session-format.md`). `SampleIndexer`
numbers the samples on the device's sampling grid: consecutive samples differ by one, a gap
of ``k`` missing samples by ``k + 1``. The file's times are then ``n / rate``: uniform,
exact, and the gaps are exactly the samples that never arrived. Nothing is placed by arrival
time.

*Drift.* The device clock runs at its own rate; `firmware_protocol.clock.DriftFit` measures it
against host time (robust Theil-Sen fit through the least-delayed packets; see that module).
"""

from __future__ import annotations

import math

import numpy as np

from firmware_protocol.clock import ClockEstimate, DriftFit

__all__ = ["ClockEstimate", "DriftFit", "SampleIndexer"]


class SampleIndexer:
    """Global sample indices from the decoder's output (see the module docstring).

    Also measures the sampling rate in device time over the contiguous stretches (the device
    may sample at a rate a little off its nominal one, and its time stamps show it).
    """

    def __init__(self) -> None:
        self._next = 0  # index of the next sample if no gap
        self._seg: tuple[int, float] | None = None  # (index, device time) of the segment's first sample
        self._last: tuple[int, float] | None = None
        self._dn = 0  # samples spanned by closed contiguous stretches
        self._dt = 0.0  # device time spanned by them

    @property
    def next_index(self) -> int:
        return self._next

    def indices(self, t_dev_s: np.ndarray, gap_before: np.ndarray, samples_lost: list[int]) -> np.ndarray:
        """Indices of one decoded chunk.

        Parameters
        ----------
        t_dev_s
            Device times of the chunk's samples.
        gap_before
            True on each sample that follows missing samples.
        samples_lost
            Samples missing before each of those, in order (``Gap.samples_lost``).
        """
        t_dev_s = np.asarray(t_dev_s, dtype=float)
        m = t_dev_s.size
        if m == 0:
            return np.zeros(0, dtype=np.int64)
        inc = np.ones(m, dtype=np.int64)
        pos = np.flatnonzero(gap_before)
        if pos.size != len(samples_lost):
            raise ValueError(f"{pos.size} gap markers but {len(samples_lost)} gaps")
        inc[pos] += np.asarray(samples_lost, dtype=np.int64)
        if self._last is None:  # the very first sample
            inc[0] = 0
            base = self._next
        else:
            base = self._next - 1
        n = base + np.cumsum(inc)
        # rate bookkeeping: contiguous stretches are cut at every gap
        start = 0
        for cut in [*pos.tolist(), m]:
            if cut > start:
                if self._seg is None:
                    self._seg = (int(n[start]), float(t_dev_s[start]))
                self._last = (int(n[cut - 1]), float(t_dev_s[cut - 1]))
            if cut < m:
                self._close()
            start = cut
        self._next = int(n[-1]) + 1
        return n

    def _close(self) -> None:
        if self._seg is not None and self._last is not None:
            self._dn += self._last[0] - self._seg[0]
            self._dt += self._last[1] - self._seg[1]
        self._seg = None

    def device_rate_hz(self) -> float:
        """Samples per second of device time over all contiguous stretches (NaN if too short)."""
        dn, dt = self._dn, self._dt
        if self._seg is not None and self._last is not None:
            dn += self._last[0] - self._seg[0]
            dt += self._last[1] - self._seg[1]
        return dn / dt if dt > 0 and dn >= 2 else math.nan
