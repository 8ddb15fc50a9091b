"""Vectorised searches within ranges of samples (one range per step or stance), used by
`gait.core.events`: the minimum of each range, a range id per sample, the first or last
crossing of a level in each range."""

from __future__ import annotations

import numpy as np


def _block_argmin(x: np.ndarray, bounds: np.ndarray) -> np.ndarray:
    """Index of the minimum of ``x`` in each block ``[bounds[j], bounds[j+1])`` (first if tied)."""
    return _ranges_argmin(x, bounds[:-1], bounds[1:])


def _ranges_argmin(x: np.ndarray, start: np.ndarray, stop: np.ndarray) -> np.ndarray:
    """Index of the minimum of ``x`` in each range ``[start[k], stop[k])`` (first if tied; a
    range shorter than one sample is read as one sample)."""
    starts = np.asarray(start, dtype=np.int64)
    lengths = np.maximum(np.asarray(stop, dtype=np.int64) - starts, 1)
    offs = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    owner = np.repeat(np.arange(starts.size), lengths)
    idx = np.clip(starts[owner] + np.arange(int(lengths.sum())) - offs[owner], 0, x.size - 1)
    vals = x[idx]
    mins = np.minimum.reduceat(vals, offs)
    hit = np.flatnonzero(vals == mins[owner])
    first = np.full(starts.size, -1, dtype=np.int64)
    first[owner[hit][::-1]] = idx[hit][::-1]  # reversed so the earliest hit wins
    return first


def _interval_ids(n: int, start: np.ndarray, stop: np.ndarray) -> np.ndarray:
    """Per sample, the index k of the interval ``[start[k], stop[k]]`` holding it, else -1.

    Intervals must be sorted and disjoint.
    """
    first = np.bincount(np.clip(start, 0, n), minlength=n + 1)
    mark = first - np.bincount(np.clip(stop + 1, 0, n), minlength=n + 1)
    inside = np.cumsum(mark[:n]) > 0
    ids = np.cumsum(first[:n]) - 1
    return np.where(inside, ids, -1)


def _crossings_up(x: np.ndarray, thr: np.ndarray) -> np.ndarray:
    a = x > thr
    return np.flatnonzero(~a[:-1] & a[1:]) + 1


def _crossings_down(x: np.ndarray, thr: np.ndarray) -> np.ndarray:
    a = x >= thr
    return np.flatnonzero(a[:-1] & ~a[1:]) + 1


def _last_down(x: np.ndarray, start: np.ndarray, stop: np.ndarray, level: np.ndarray) -> np.ndarray:
    """Fractional index of the last downward crossing of ``level[k]`` in ``(start[k], stop[k]]``."""
    n = x.size
    seg = _interval_ids(n, start, stop)
    thr = np.where(seg >= 0, level[np.clip(seg, 0, None)], np.inf)
    downs = _crossings_down(x, thr)  # index j: x[j-1] >= thr, x[j] < thr
    pos = np.searchsorted(downs, stop, side="right") - 1
    j = downs[np.clip(pos, 0, max(downs.size - 1, 0))] if downs.size else np.zeros(start.size, int)
    valid = (pos >= 0) & (j > start) & (downs.size > 0)
    x0, x1 = x[np.clip(j - 1, 0, n - 1)], x[np.clip(j, 0, n - 1)]
    frac = np.where(x0 != x1, (x0 - level) / np.where(x0 != x1, x0 - x1, 1.0), 0.0)
    return np.where(valid, j - 1 + frac, np.nan)


def _first_up(x: np.ndarray, start: np.ndarray, stop: np.ndarray, level: np.ndarray) -> np.ndarray:
    """Fractional index of the first upward crossing of ``level[k]`` in ``(start[k], stop[k]]``."""
    return _first_down(-x, start, stop, -level)


def _first_down(x: np.ndarray, start: np.ndarray, stop: np.ndarray, level: np.ndarray) -> np.ndarray:
    """Fractional index of the first downward crossing of ``level[k]`` in ``(start[k], stop[k]]``."""
    n = x.size
    seg = _interval_ids(n, start, stop)
    thr = np.where(seg >= 0, level[np.clip(seg, 0, None)], np.inf)
    downs = _crossings_down(x, thr)  # index j: x[j-1] >= thr, x[j] < thr
    # first crossing with j > start[k] (and j <= stop[k])
    pos = np.searchsorted(downs, start, side="right")
    valid = pos < downs.size
    j = downs[np.clip(pos, 0, max(downs.size - 1, 0))] if downs.size else np.zeros(start.size, int)
    valid &= (j <= stop) & (downs.size > 0)
    x0, x1 = x[np.clip(j - 1, 0, n - 1)], x[np.clip(j, 0, n - 1)]
    frac = np.where(x0 != x1, (x0 - level) / np.where(x0 != x1, x0 - x1, 1.0), 0.0)
    return np.where(valid, j - 1 + frac, np.nan)
