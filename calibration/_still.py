"""Still-segment detection: vectorised rolling statistics over a recording."""

from __future__ import annotations

import numpy as np

from gait.errors import GaitInputError, Where, check_positive
from gait.session import GAP_FACTOR, Session

__all__ = ["find_still_segments", "rolling_mean", "rolling_std"]


def _window_sums(x: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Sums of ``x`` and ``x**2`` over every window of ``n`` rows (rows ``j .. j+n-1``)."""
    xc = x - np.nanmean(x, axis=0) if x.shape[0] else x  # centred: cumulative sums stay small
    zero = np.zeros((1, x.shape[1]))
    c1 = np.concatenate([zero, np.cumsum(xc, axis=0)])
    c2 = np.concatenate([zero, np.cumsum(xc * xc, axis=0)])
    return c1[n:] - c1[:-n], c2[n:] - c2[:-n]


def rolling_mean(x: np.ndarray, n: int) -> np.ndarray:
    """Mean of every window of ``n`` consecutive rows of ``x`` (shape ``(len - n + 1, k)``)."""
    x = np.asarray(x, dtype=float)
    if x.shape[0] < n:
        return np.zeros((0, x.shape[1]))
    s1, _ = _window_sums(x, n)
    return s1 / n + (np.nanmean(x, axis=0) if x.shape[0] else 0.0)


def rolling_std(x: np.ndarray, n: int) -> np.ndarray:
    """Population standard deviation of every window of ``n`` consecutive rows of ``x``."""
    x = np.asarray(x, dtype=float)
    if x.shape[0] < n:
        return np.zeros((0, x.shape[1]))
    s1, s2 = _window_sums(x, n)
    m = s1 / n
    return np.sqrt(np.clip(s2 / n - m * m, 0.0, None))


def find_still_segments(
    session: Session,
    *,
    window_s: float = 0.5,
    min_duration_s: float = 1.0,
    acc_std_max_mps2: float = 0.15,
    gyr_std_max_rads: float = 0.05,
) -> list[slice]:
    """Stretches of a recording during which the sensor was still.

    A sample is still when, in the window of ``window_s`` centred on it, every accelerometer
    axis varies by less than ``acc_std_max_mps2`` and (when there is a gyroscope) every
    gyroscope axis by less than ``gyr_std_max_rads`` (standard deviations; the gyroscope's
    unknown bias does not matter). Runs of still samples are cut at gaps, shortened by half a
    window at each end (so that the start and end of a movement are left out) and kept when
    at least ``min_duration_s`` long.

    Parameters
    ----------
    session
        Raw recording, sensor frame.
    window_s
        Length of the rolling window, s.
    min_duration_s
        Shortest still stretch kept, s (after trimming).
    acc_std_max_mps2, gyr_std_max_rads
        Thresholds on the rolling standard deviations.

    Returns
    -------
    list of slice
        Sample slices of the still stretches, in time order.
    """
    check_positive(window_s, "window_s")
    check_positive(min_duration_s, "min_duration_s")
    check_positive(acc_std_max_mps2, "acc_std_max_mps2")
    check_positive(gyr_std_max_rads, "gyr_std_max_rads")
    fs = session.sampling_rate_hz
    n_win = max(round(window_s * fs), 2)
    n = session.n_samples
    if n < n_win:
        return []
    quiet = np.all(rolling_std(session.acc, n_win) < acc_std_max_mps2, axis=1)
    if session.gyr is not None:
        quiet &= np.all(rolling_std(session.gyr, n_win) < gyr_std_max_rads, axis=1)
    # a window containing a gap is not quiet: the signal across a gap is unknown
    gap = np.diff(session.t) > GAP_FACTOR / fs
    if gap.any():
        c = np.concatenate([[0], np.cumsum(gap)])
        quiet &= (c[n_win - 1 :] - c[: n - n_win + 1]) == 0
    half = n_win // 2
    centre = np.clip(np.arange(n) - half, 0, n - n_win)
    still = quiet[centre]
    # runs of still samples, cut at gaps
    edges = np.diff(np.concatenate([[False], still, [False]]).astype(np.int8))
    starts = np.flatnonzero(edges == 1)
    ends = np.flatnonzero(edges == -1)
    min_n = max(round(min_duration_s * fs), 1)
    out = []
    for a, b in zip(starts, ends):  # loop over segments, not samples
        a2, b2 = a + half, b - half
        if b2 - a2 >= min_n:
            out.append(slice(int(a2), int(b2)))
    return out


def describe_where(session: Session) -> Where:
    """Where a session came from, for error messages."""
    return Where(file=session.meta.source) if session.meta.source else Where(parameter="session")


def require_sensor_frame(session: Session, what: str) -> None:
    if session.frame != "sensor":
        raise GaitInputError(
            f"{what} needs raw sensor axes",
            expected="a session in the sensor frame",
            found=f"frame {session.frame!r}",
            where=describe_where(session),
            hint="Calibrate from the recording as the device wrote it, before any rotation to the body frame",
        )
