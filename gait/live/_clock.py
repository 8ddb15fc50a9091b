"""Sample times of a live stream: from the device clock, drift-corrected against host time.

Notifications arrive in bursts, late by a variable delay (connection interval, radio retries,
the host's scheduler), so their arrival time is a poor clock. The device stamps each packet
with its own clock; between resets that clock is exact up to a constant rate error (a crystal:
tens of ppm; an RC oscillator: up to a few percent). `SampleClock` therefore

1. turns device times into *global sample indices* ``n = n_ref + round((tau - tau_ref) * f)``
   on the device's sampling grid, so lost samples leave holes in ``n`` (gaps) and nothing is
   ever placed by arrival time;
2. starts a new *epoch* when the device clock jumps (a device reset: time runs backwards, or
   leaps further than the host clock moved), placing the new epoch on the same index axis
   from host time;
3. fits the device clock against host time, robustly: arrival = offset + rate * tau + delay
   with delay >= 0, so in every 2-second window the packet with the smallest
   ``arrival - tau`` is the one least delayed; the rate is the Theil-Sen slope through those
   window minima (pairs within an epoch only). The fit gives the clock drift in ppm and the
   host time of every sample.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

__all__ = ["ClockEstimate", "SampleClock"]


@dataclass(frozen=True)
class ClockEstimate:
    """The device clock measured against the host clock.

    Attributes
    ----------
    host_per_device
        Host seconds per device second (1 + drift).
    drift_ppm
        ``(host_per_device - 1) * 1e6``; positive when the device clock runs slow, i.e. its
        samples are really further apart than nominal.
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


@dataclass
class _Epoch:
    tau_ref: float  # device time of index n_ref, s
    n_ref: int
    taus: list[float]  # device time of each packet's last sample, s
    hosts: list[float]  # host arrival time of each packet, s

    def arrays(self) -> tuple[np.ndarray, np.ndarray]:
        return np.asarray(self.taus), np.asarray(self.hosts)


def _window_minima(tau: np.ndarray, host: np.ndarray, b: float, window_s: float) -> np.ndarray:
    """Indices of the least-delayed packet (smallest ``host - b * tau``) in each window."""
    k = np.floor(tau / window_s)
    order = np.lexsort((host - b * tau, k))
    first = np.ones(order.size, dtype=bool)
    first[1:] = k[order][1:] != k[order][:-1]
    return order[first]


class SampleClock:
    """Global sample indices from device time stamps, and the device clock's drift.

    Parameters
    ----------
    rate_hz
        Nominal sampling rate, in device-clock Hz.
    reset_tolerance_s
        A packet stamped more than this before the latest one (or further ahead than the host
        clock moved, plus this) means the device clock was reset.
    window_s
        Width of the windows whose least-delayed packets the drift fit uses.
    """

    def __init__(self, *, rate_hz: float, reset_tolerance_s: float = 1.0, window_s: float = 2.0) -> None:
        if not (rate_hz > 0 and math.isfinite(rate_hz)):
            raise ValueError(f"Invalid value for 'rate_hz': expected a finite rate > 0, got {rate_hz!r}")
        self.rate_hz = float(rate_hz)
        self.reset_tolerance_s = float(reset_tolerance_s)
        self.window_s = float(window_s)
        self._epochs: list[_Epoch] = []
        self._tau_max = -math.inf
        self._host_at_tau_max = 0.0
        self._n_max = -1
        self._estimate = _UNFITTED
        self._since_fit = 0

    # -- placing samples ----------------------------------------------------------------
    @property
    def n_epochs(self) -> int:
        """Number of device-clock epochs seen (1 + device resets)."""
        return len(self._epochs)

    @property
    def last_index(self) -> int:
        """Largest sample index placed so far (-1 before the first)."""
        return self._n_max

    def place(self, t_dev_s: np.ndarray, *, host_s: float) -> np.ndarray:
        """Global sample indices (int64) of one packet's samples.

        Parameters
        ----------
        t_dev_s
            Device times of the packet's samples, seconds (unwrapped, increasing).
        host_s
            Host monotonic time at which the packet arrived, seconds.
        """
        tau = np.asarray(t_dev_s, dtype=np.float64)
        if tau.size == 0:
            return np.zeros(0, dtype=np.int64)
        first, last = float(tau[0]), float(tau[-1])
        if not self._epochs:
            self._epochs.append(_Epoch(tau_ref=first, n_ref=0, taus=[], hosts=[]))
        elif self._is_reset(first, host_s):
            self._new_epoch(first, last, host_s)
        ep = self._epochs[-1]
        n = ep.n_ref + np.rint((tau - ep.tau_ref) * self.rate_hz).astype(np.int64)
        self._note(ep, last, host_s)
        if last > self._tau_max:
            self._tau_max = last
            self._host_at_tau_max = host_s
        self._n_max = max(self._n_max, int(n[-1]))
        return n

    def _is_reset(self, first: float, host_s: float) -> bool:
        if first < self._tau_max - self.reset_tolerance_s:
            return True
        host_elapsed = host_s - self._host_at_tau_max
        dev_elapsed = (first - self._tau_max) * self.estimate().host_per_device
        return dev_elapsed > host_elapsed + self.reset_tolerance_s

    def _new_epoch(self, first: float, last: float, host_s: float) -> None:
        est = self.estimate()
        b = est.host_per_device
        ep0 = self._epochs[0]
        # host time of index 0, and of this packet's first sample (assuming the least delay seen)
        h0 = self._offset(ep0, b) + b * ep0.tau_ref
        d_min = 0.0  # the least delay is the offset's reference: arrival - (offset + b tau) >= 0
        h_first = host_s - d_min - (last - first) * b
        n_ref = round((h_first - h0) * self.rate_hz / b)
        n_ref = max(n_ref, self._n_max + 2)  # a reset always leaves a gap; never goes back
        self._epochs.append(_Epoch(tau_ref=first, n_ref=n_ref, taus=[], hosts=[]))
        self._tau_max = -math.inf

    def _note(self, ep: _Epoch, tau: float, host_s: float) -> None:
        ep.taus.append(tau)
        ep.hosts.append(host_s)
        self._since_fit += 1

    @staticmethod
    def _offset(ep: _Epoch, b: float) -> float:
        """Host time at device time 0 of the epoch, from its least-delayed packet."""
        tau, host = ep.arrays()
        return float(np.min(host - b * tau))

    # -- the drift fit --------------------------------------------------------------------
    def estimate(self) -> ClockEstimate:
        """The current fit of the device clock against host time (cached; refitted every
        50 packets)."""
        if self._since_fit >= 50 or (self._estimate is _UNFITTED and self._since_fit):
            self._estimate = self._fit()
            self._since_fit = 0
        return self._estimate

    def refit(self) -> ClockEstimate:
        """Fit now, whatever the cache."""
        self._estimate = self._fit()
        self._since_fit = 0
        return self._estimate

    def _fit(self) -> ClockEstimate:
        b = 1.0
        for _ in range(2):  # the window minima depend on the slope: refine once
            b, span, n_windows = self._fit_once(b)
        slope = b - 1.0
        return ClockEstimate(
            host_per_device=b,
            drift_ppm=slope * 1e6,
            span_s=span,
            n_windows=n_windows,
            reliable=span >= 20.0 and n_windows >= 5,
        )

    def _fit_once(self, b: float) -> tuple[float, float, int]:
        slopes = []
        span = 0.0
        n_windows = 0
        for ep in self._epochs:
            tau, host = ep.arrays()
            if tau.size == 0:
                continue
            idx = _window_minima(tau, host, b, self.window_s)
            n_windows += idx.size
            if idx.size < 2:
                continue
            pts_t, pts_h = tau[idx], host[idx]
            span += float(pts_t.max() - pts_t.min())
            if idx.size > 300:  # keep the pair count bounded
                sel = np.linspace(0, idx.size - 1, 300).round().astype(int)
                pts_t, pts_h = pts_t[sel], pts_h[sel]
            i, j = np.triu_indices(pts_t.size, k=1)
            dt = pts_t[j] - pts_t[i]
            ok = dt != 0
            slopes.append((pts_h[j] - pts_h[i])[ok] / dt[ok])
        if not slopes or not any(s.size for s in slopes):
            return 1.0, span, n_windows
        return float(np.median(np.concatenate(slopes))), span, n_windows

    def host_time_of_index(self, n: int) -> float:
        """Host monotonic time (s) of sample index ``n`` in the first epoch's time base."""
        if not self._epochs or not self._epochs[0].taus:
            raise ValueError("no samples placed yet")
        b = self.estimate().host_per_device
        ep0 = self._epochs[0]
        return self._offset(ep0, b) + b * (ep0.tau_ref + (n - ep0.n_ref) / self.rate_hz)
