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


class DriftFit:
    """Robust fit of device time against host arrival time; see the module docstring.

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
        self._epochs: list[tuple[list[float], list[float]]] = [([], [])]
        self._estimate = _UNFITTED
        self._since_fit = 0

    @property
    def n_epochs(self) -> int:
        return sum(1 for taus, _ in self._epochs if taus) or 1

    def add(self, device_s: float, host_s: float) -> None:
        """One packet: device time of its newest sample and its host arrival time, seconds."""
        taus, hosts = self._epochs[-1]
        taus.append(float(device_s))
        hosts.append(float(host_s))
        self._since_fit += 1

    def new_epoch(self) -> None:
        """The device clock restarted: later points are not paired with earlier ones."""
        if self._epochs[-1][0]:
            self._epochs.append(([], []))

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
        for taus, hosts in self._epochs:
            if not taus:
                continue
            tau, host = np.asarray(taus), np.asarray(hosts)
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
        for taus, hosts in reversed(self._epochs):
            if taus:
                return np.asarray(taus), np.asarray(hosts)
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
