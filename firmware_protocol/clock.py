"""The device clock against the host clock: drift and offset, fitted robustly.

The device clock runs at its own rate (a crystal: tens of ppm off; an RC oscillator: up to a
few percent). `DriftFit` measures it against host time: a packet arrives after its newest
sample was taken, so ``arrival = offset + rate * device_time + delay`` with ``delay >= 0``; in
each 2-second window of device time the packet with the smallest ``arrival - rate *
device_time`` is the least delayed, and the rate is the Theil-Sen slope (median of pairwise
slopes) through those window minima, refined once with the new rate. Bursts after a stall
(packets queued for seconds, then delivered at once) and long delays cannot move a median of
slopes between minima; a least-squares line can. Pairs are only formed within one *epoch*
(the device clock's life between resets). The offset is the lower envelope of the latest
epoch's minima.

Used by `firmware_protocol.stream.StreamDecoder` (``decoder.clock``) and by the live recorder.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from gait.errors import GaitInputError, Where

__all__ = ["ClockEstimate", "DriftFit"]


@dataclass(frozen=True)
class ClockEstimate:
    """The device clock measured against the host clock.

    Attributes
    ----------
    host_per_device
        Host seconds per device second (``1 + drift``).
    drift_ppm
        ``(host_per_device - 1) * 1e6``; positive when the device clock runs slow (its
        samples are really further apart than its time stamps say).
    span_s
        Device time covered by the fit.
    n_windows
        Number of window minima the fit used.
    reliable
        True when the fit spans at least 20 s with 5 windows or more.
    """

    host_per_device: float
    drift_ppm: float
    span_s: float
    n_windows: int
    reliable: bool


_UNFITTED = ClockEstimate(host_per_device=1.0, drift_ppm=0.0, span_s=0.0, n_windows=0, reliable=False)


def _window_minima(tau: np.ndarray, host: np.ndarray, b: float, window_s: float) -> np.ndarray:
    """Indices of the least-delayed packet (smallest ``host - b * tau``) in each window."""
    k = np.floor(tau / window_s)
    order = np.lexsort((host - b * tau, k))
    first = np.ones(order.size, dtype=bool)
    first[1:] = k[order][1:] != k[order][:-1]
    return order[first]


class _Epoch:
    """The fit's points for one life of the device clock, in bounded memory.

    The open window (the newest ``window_s`` of device time) keeps every point; when a point
    of a later window arrives, the open window is reduced to the vertices of its lower convex
    hull in the (device time, host time) plane and appended to flat arrays. The least-delayed
    point of a window for any slope (the minimum of ``host - b * device`` that the fit looks
    for) is always one of those vertices, so the reduction changes no fit; it keeps a handful
    of points per 2-s window instead of every packet (a 3-hour stream at 22 packets/s: about
    30 000 points instead of 240 000). A late point of an already closed window is stored as it
    is (a superset of the hull is as good).
    """

    __slots__ = ("_hold_host", "_hold_tau", "_host", "_n", "_open_k", "_tau", "n_added", "window_s")

    def __init__(self, window_s: float) -> None:
        self.window_s = window_s
        self._tau = np.empty(256)
        self._host = np.empty(256)
        self._n = 0
        self._hold_tau: list[float] = []
        self._hold_host: list[float] = []
        self._open_k: float | None = None
        self.n_added = 0

    def add(self, tau: float, host: float) -> None:
        self.n_added += 1
        k = math.floor(tau / self.window_s)
        if self._open_k is None or k == self._open_k:
            self._open_k = k
            self._hold_tau.append(tau)
            self._hold_host.append(host)
        elif k > self._open_k:
            self._close()
            self._open_k = k
            self._hold_tau, self._hold_host = [tau], [host]
        else:  # a late point of a closed window
            self._store(np.array([tau]), np.array([host]))

    def _close(self) -> None:
        if self._hold_tau:
            tau, host = _lower_hull(np.asarray(self._hold_tau), np.asarray(self._hold_host))
            self._store(tau, host)
        self._hold_tau, self._hold_host = [], []

    def _store(self, tau: np.ndarray, host: np.ndarray) -> None:
        m = tau.size
        if self._n + m > self._tau.size:
            cap = max(2 * self._tau.size, self._n + m)
            self._tau = np.concatenate([self._tau[: self._n], np.empty(cap - self._n)])
            self._host = np.concatenate([self._host[: self._n], np.empty(cap - self._n)])
        self._tau[self._n : self._n + m] = tau
        self._host[self._n : self._n + m] = host
        self._n += m

    def arrays(self) -> tuple[np.ndarray, np.ndarray]:
        """Every point kept (the closed windows' hulls and the open window's points)."""
        tau = np.concatenate([self._tau[: self._n], np.asarray(self._hold_tau, dtype=float)])
        host = np.concatenate([self._host[: self._n], np.asarray(self._hold_host, dtype=float)])
        return tau, host

    @property
    def n_kept(self) -> int:
        return self._n + len(self._hold_tau)


def _lower_hull(tau: np.ndarray, host: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Vertices of the lower convex hull of the points (Andrew's monotone chain)."""
    order = np.lexsort((host, tau))
    tau, host = tau[order], host[order]
    if tau.size <= 2:
        return tau, host
    keep: list[int] = []
    for i in range(tau.size):  # a few dozen points per window, once per window: not a hot path
        while len(keep) >= 2:
            a, b = keep[-2], keep[-1]
            cross = (tau[b] - tau[a]) * (host[i] - host[a]) - (host[b] - host[a]) * (tau[i] - tau[a])
            if cross <= 0:
                keep.pop()
            else:
                break
        keep.append(i)
    idx = np.asarray(keep)
    return tau[idx], host[idx]


class DriftFit:
    """Robust fit of device time against host arrival time; see the module docstring.

    Memory is bounded by the number of 2-s windows, not of packets (`_Epoch`).

    Parameters
    ----------
    window_s
        Width of the device-time windows whose least-delayed packet the fit uses.
    refit_every
        `estimate` refits after this many new points (cheap in between).
    """

    def __init__(self, *, window_s: float = 2.0, refit_every: int = 50) -> None:
        if not (window_s > 0 and math.isfinite(window_s)):
            raise ValueError(f"Invalid value for 'window_s': expected a finite number > 0, got {window_s!r}")
        self.window_s = float(window_s)
        self.refit_every = int(refit_every)
        self._epochs: list[_Epoch] = [_Epoch(self.window_s)]
        self._estimate = _UNFITTED
        self._since_fit = 0

    @property
    def n_epochs(self) -> int:
        return sum(1 for e in self._epochs if e.n_added) or 1

    @property
    def n_points_kept(self) -> int:
        """Points held in memory (for tests of the memory bound)."""
        return sum(e.n_kept for e in self._epochs)

    def add(self, device_s: float, host_s: float) -> None:
        """One packet: device time of its newest sample and its host arrival time, seconds."""
        self._epochs[-1].add(float(device_s), float(host_s))
        self._since_fit += 1

    def new_epoch(self) -> None:
        """The device clock restarted: later points are not paired with earlier ones."""
        if self._epochs[-1].n_added:
            self._epochs.append(_Epoch(self.window_s))

    def estimate(self) -> ClockEstimate:
        """The current fit (refitted every ``refit_every`` points)."""
        if self._since_fit >= self.refit_every or (self._estimate is _UNFITTED and self._since_fit):
            return self.refit()
        return self._estimate

    def refit(self) -> ClockEstimate:
        """Fit now."""
        b = 1.0
        span, n_windows = 0.0, 0
        for _ in range(2):  # the window minima depend on the slope: refine once
            b, span, n_windows = self._fit_once(b)
        self._since_fit = 0
        self._estimate = ClockEstimate(
            host_per_device=b,
            drift_ppm=(b - 1.0) * 1e6,
            span_s=span,
            n_windows=n_windows,
            reliable=span >= 20.0 and n_windows >= 5,
        )
        return self._estimate

    def _fit_once(self, b: float) -> tuple[float, float, int]:
        slopes = []
        span = 0.0
        n_windows = 0
        for epoch in self._epochs:
            if not epoch.n_added:
                continue
            tau, host = epoch.arrays()
            idx = _window_minima(tau, host, b, self.window_s)
            n_windows += idx.size
            if idx.size < 2:
                continue
            pt, ph = tau[idx], host[idx]
            span += float(pt.max() - pt.min())
            if idx.size > 300:  # keep the pair count bounded (45k pairs)
                sel = np.linspace(0, idx.size - 1, 300).round().astype(int)
                pt, ph = pt[sel], ph[sel]
            i, j = np.triu_indices(pt.size, k=1)
            dt = pt[j] - pt[i]
            ok = dt != 0
            slopes.append((ph[j] - ph[i])[ok] / dt[ok])
        if not slopes or not any(s.size for s in slopes):
            return 1.0, span, n_windows
        return float(np.median(np.concatenate(slopes))), span, n_windows

    def _latest(self) -> tuple[np.ndarray, np.ndarray]:
        for epoch in reversed(self._epochs):
            if epoch.n_added:
                return epoch.arrays()
        raise GaitInputError(
            "no clock data",
            expected="at least one packet with a host time",
            found="none",
            where=Where(parameter="clock"),
        )

    @property
    def drift_ppm(self) -> float:
        """Device clock rate error seen from the host, parts per million."""
        self._latest()
        return self.estimate().drift_ppm

    @property
    def offset_s(self) -> float:
        """Host time of device time 0 in the latest epoch (lower envelope of the arrivals)."""
        tau, host = self._latest()
        b = self.estimate().host_per_device
        return float(np.min(host - b * tau))

    def to_host(self, device_t_s: float | np.ndarray) -> float | np.ndarray:
        """Host time of device time ``device_t_s`` (latest epoch)."""
        offset, b = self.offset_s, self.estimate().host_per_device
        if np.ndim(device_t_s):
            return offset + b * np.asarray(device_t_s, dtype=float)
        return offset + b * float(device_t_s)
