"""Gyroscope bias from a recording of the sensor lying still."""

from __future__ import annotations

import math

import numpy as np

from gait.constants import DEG_PER_RAD, RAD_PER_DEG
from gait.errors import GaitInputError, check_positive
from gait.session import Session

from ._still import describe_where, require_sensor_frame, rolling_mean, rolling_std
from ._types import GyroBiasCalibration, utc_now

__all__ = ["estimate_gyro_bias"]

#: The hint given whenever a gyroscope-bias recording has to be repeated.
REPEAT_HINT = "Put the sensor on a table or the floor, do not touch it, and record again"


def estimate_gyro_bias(
    session: Session,
    *,
    min_duration_s: float = 5.0,
    trim_s: float = 0.5,
    window_s: float = 0.5,
    motion_threshold_rads: float = 0.5 * RAD_PER_DEG,
    tilt_threshold_rad: float = 1.0 * RAD_PER_DEG,
    acc_std_max_mps2: float = 0.3,
) -> GyroBiasCalibration:
    """Gyroscope bias from a recording of the sensor lying still.

    The first and last ``trim_s`` are dropped (pressing a button, putting the sensor down);
    the rest must be still, and its mean angular rate is the bias.

    Motion is detected three ways, each vectorised over rolling windows of ``window_s``:
    the window means of the angular rate spread by more than ``motion_threshold_rads``
    (raised to 8 standard errors of a window mean when the sensor is noisier than that); the
    direction of gravity in the sensor changes by more than ``tilt_threshold_rad``; or the
    accelerometer's window standard deviation exceeds ``acc_std_max_mps2`` (a knock).

    Parameters
    ----------
    session
        Raw recording in the sensor frame, with a gyroscope.
    min_duration_s
        Shortest usable still stretch after trimming, s.
    trim_s
        Dropped at each end, s.
    window_s
        Rolling window for motion detection, s.
    motion_threshold_rads
        Largest allowed spread of the window-mean angular rate, rad/s (default 0.5 deg/s).
    tilt_threshold_rad
        Largest allowed change of the gravity direction, rad (default 1 deg).
    acc_std_max_mps2
        Largest allowed accelerometer standard deviation in a window, m/s^2.

    Returns
    -------
    GyroBiasCalibration

    Raises
    ------
    GaitInputError
        No gyroscope, not in the sensor frame, too short, non-finite samples, or the sensor
        moved (the message gives when and how much, and asks to record again).

    Notes
    -----
    The bias of a MEMS gyroscope at rest is its mean output over a still interval; with white
    noise of standard deviation sigma its standard error is ``sigma / sqrt(n)`` (Woodman 2007,
    "An introduction to inertial navigation", UCAM-CL-TR-696, sec. 5). The Earth's rotation
    (at most 0.004 deg/s) is ignored. Bias drifts with temperature and from one power-up to
    the next (turn-on bias), so the recording should be made with the sensor warmed up,
    ideally just before a run.
    """
    where = describe_where(session)
    require_sensor_frame(session, "gyroscope bias calibration")
    check_positive(min_duration_s, "min_duration_s")
    check_positive(window_s, "window_s")
    check_positive(motion_threshold_rads, "motion_threshold_rads")
    check_positive(tilt_threshold_rad, "tilt_threshold_rad")
    check_positive(acc_std_max_mps2, "acc_std_max_mps2")
    if trim_s < 0:
        check_positive(trim_s, "trim_s")
    if session.gyr is None:
        raise GaitInputError(
            "no gyroscope", expected="angular-rate columns (gyr_x, gyr_y, gyr_z)", found="none", where=where
        )
    fs = session.sampling_rate_hz
    n_trim = round(trim_s * fs)
    sl = slice(n_trim, max(session.n_samples - n_trim, n_trim))
    t, gyr, acc = session.t[sl], session.gyr[sl], session.acc[sl]
    span_s = float(t[-1] - t[0] + 1.0 / fs) if t.size else 0.0
    if span_s < min_duration_s:
        raise GaitInputError(
            "recording too short for a gyroscope bias",
            expected=f"at least {min_duration_s:g} s of the sensor lying still (plus {trim_s:g} s at each end)",
            found=f"{session.duration_s:.1f} s",
            where=where,
            hint="Record for longer",
        )
    if not (np.all(np.isfinite(gyr)) and np.all(np.isfinite(acc))):
        raise GaitInputError(
            "missing samples in a gyroscope bias recording",
            expected="finite acceleration and angular rate throughout",
            found=f"{int(np.sum(~np.isfinite(gyr)) + np.sum(~np.isfinite(acc)))} NaN or infinite values",
            where=where,
            hint=REPEAT_HINT,
        )
    _check_still(t, gyr, acc, fs, window_s, motion_threshold_rads, tilt_threshold_rad, acc_std_max_mps2, where)
    bias = gyr.mean(axis=0)
    return GyroBiasCalibration(
        bias_rads=bias,
        noise_rads=gyr.std(axis=0),
        duration_s=span_s,
        n_samples=int(t.size),
        created=utc_now(),
        source=session.meta.source,
    )


def _noise_sigma(x: np.ndarray) -> np.ndarray:
    """Robust per-axis white-noise estimate from first differences (blind to slow motion)."""
    d = np.diff(x, axis=0)
    mad = np.median(np.abs(d - np.median(d, axis=0)), axis=0)
    return mad / 0.6745 / math.sqrt(2.0)


def _check_still(t, gyr, acc, fs, window_s, motion_thr, tilt_thr, acc_thr, where) -> None:
    n_win = max(round(window_s * fs), 2)
    n_win = min(n_win, t.size)
    # 1. angular rate: spread of the window means against the noise floor
    means = rolling_mean(gyr, n_win)
    sigma = _noise_sigma(gyr)
    thr = np.maximum(motion_thr, 8.0 * sigma / math.sqrt(n_win))
    centre = np.median(means, axis=0)
    dev = np.abs(means - centre) / thr  # > 1: moving
    # 2. gravity direction against the median direction
    a_means = rolling_mean(acc, n_win)
    a_ref = np.median(a_means, axis=0)
    cosang = (a_means @ a_ref) / (np.linalg.norm(a_means, axis=1) * np.linalg.norm(a_ref) + 1e-12)
    tilt = np.arccos(np.clip(cosang, -1.0, 1.0))
    # 3. knocks and vibration
    a_std = rolling_std(acc, n_win).max(axis=1)
    moving = (dev.max(axis=1) > 1.0) | (tilt > tilt_thr) | (a_std > acc_thr)
    if not moving.any():
        return
    idx = np.flatnonzero(moving)
    t0 = float(t[idx[0]])
    t1 = float(t[min(idx[-1] + n_win - 1, t.size - 1)])
    peak_dps = float(np.max(np.abs(gyr - centre))) * DEG_PER_RAD
    found = f"movement between t={t0:.2f} s and t={t1:.2f} s (angular rate up to {peak_dps:.1f} deg/s from its mean"
    found += f", tilt up to {float(tilt.max()) * DEG_PER_RAD:.1f} deg)"
    raise GaitInputError(
        "the sensor moved during the gyroscope bias recording",
        expected=(
            f"the sensor lying still (angular rate steady within {float(thr.max()) * DEG_PER_RAD:.2f} deg/s, "
            f"tilt within {tilt_thr * DEG_PER_RAD:.1f} deg)"
        ),
        found=found,
        where=where,
        hint=REPEAT_HINT,
    )
