"""Applying a calibration to a session, and finding the stored one for its device."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np

from gait.errors import GaitInputError, Where, check_choice
from gait.session import Session

from ._still import describe_where
from ._store import CalibrationStore
from ._types import Calibration, created_datetime

__all__ = ["apply_calibration", "apply_stored_calibration", "load_calibration", "mounting_for"]

#: Key of ``SessionMetadata.extra`` holding the parameters that were applied.
EXTRA_KEY = "calibration_parameters"


def apply_calibration(session: Session, calibration: Calibration, *, on_calibrated: str = "skip") -> Session:
    """Correct a raw session's sensor errors with ``calibration``.

    The gyroscope bias is subtracted and its scale corrected when measured
    (``w = gyr_scale * (w_raw - bias)``), and the accelerometer corrected
    (``a = matrix @ (a_raw - bias)``); the samples stay in the sensor frame. The mounting
    rotation, if any, is *not* applied here: it is ``calibration.mounting.rotation``, for
    the step that rotates the session into the body frame. ``meta.calibration`` is set to
    ``calibration.id`` and ``meta.extra["calibration_parameters"]`` to the parameters used,
    so a file written afterwards says exactly what was done to it.

    Parameters
    ----------
    session
        Raw recording in the sensor frame.
    calibration
        What to apply (e.g. ``CalibrationStore().current(device_id)``).
    on_calibrated
        What to do when ``session.meta.calibration`` is already set: ``"skip"`` returns the
        session unchanged (so a calibration is never applied twice), ``"raise"`` raises.

    Returns
    -------
    Session
        A new session; the input is not modified.

    Raises
    ------
    GaitInputError
        Session not in the sensor frame, already calibrated (with ``on_calibrated="raise"``),
        a calibration of another device, or an accelerometer axis missing.
    """
    check_choice(on_calibrated, "on_calibrated", ("skip", "raise"))
    where = describe_where(session)
    if session.meta.calibration is not None:
        if on_calibrated == "skip":
            return session
        raise GaitInputError(
            "session already calibrated",
            expected="a raw session (no 'calibration' in its metadata)",
            found=f"calibration {session.meta.calibration!r}",
            where=where,
            hint="A calibration is never applied twice",
        )
    if not isinstance(calibration, Calibration):
        raise GaitInputError(
            "not a calibration",
            expected="a calibration.Calibration",
            found=type(calibration).__name__,
            where=Where(parameter="calibration"),
        )
    if session.frame != "sensor":
        raise GaitInputError(
            "cannot calibrate a body-frame session",
            expected="a session in the sensor frame (sensor errors are per sensor axis)",
            found=f"frame {session.frame!r}",
            where=where,
        )
    dev, cal_dev = session.meta.device_id, calibration.device_id
    if dev is not None and cal_dev is not None and dev != cal_dev:
        raise GaitInputError(
            "calibration of another device",
            expected=f"a calibration of device {dev!r}",
            found=f"one of device {cal_dev!r}",
            where=Where(parameter="calibration"),
        )
    acc, gyr = session.acc, session.gyr
    if calibration.accel is not None:
        if session.missing_acc_axes:
            raise GaitInputError(
                "cannot apply a 3-axis accelerometer calibration",
                expected="three accelerometer axes",
                found="no data for axis " + ", ".join(session.missing_acc_axes),
                where=where,
            )
        acc = (acc - calibration.accel.bias_mps2) @ calibration.accel.matrix.T
    if gyr is not None and calibration.gyro is not None:
        gyr = gyr - calibration.gyro.bias_rads
    if gyr is not None and calibration.accel is not None and calibration.accel.axes == "gyroscope":
        gyr = gyr * calibration.accel.gyr_scale
    extra = dict(session.meta.extra)
    extra[EXTRA_KEY] = calibration.to_dict(with_poses=False)
    out = session.replace(acc=np.asarray(acc), gyr=gyr)
    return out.with_meta(calibration=calibration.id, extra=extra)


def load_calibration(device_id: str | None, *, store: CalibrationStore | None = None) -> Calibration | None:
    """The current calibration of ``device_id`` in ``store`` (default store), or ``None``.

    ``None`` also when ``device_id`` is ``None`` (a file that does not name its device).
    A corrupt store file raises `GaitInputError` (see `CalibrationStore`).
    """
    if device_id is None:
        return None
    return (store or CalibrationStore()).current(device_id)


def apply_stored_calibration(session: Session, *, store: CalibrationStore | None = None) -> Session:
    """Apply the stored calibration of the session's device, if there is one.

    The hook for ``gait analyze`` and ``gait record``: returns the session unchanged when it
    is already calibrated, is not in the sensor frame, names no device, or its device has no
    stored calibration; otherwise `apply_calibration` with ``store.current(device_id)``.
    """
    if session.meta.calibration is not None or session.frame != "sensor":
        return session
    cal = load_calibration(session.meta.device_id, store=store)
    if cal is None or cal.is_empty:
        return session
    return apply_calibration(session, cal)


def mounting_for(session: Session, calibration: Calibration | None, *, max_age_h: float = 12.0) -> np.ndarray | None:
    """The stored mounting rotation, if it can be trusted for ``session``; else ``None``.

    A clip sits differently every time it is put on, so a stored mounting is used only when
    it was calibrated within ``max_age_h`` hours of the session's start (before or after:
    the same outing). ``None`` (estimate the mounting from the session itself) when there is
    no stored mounting, the session's ``start_time`` is unknown or unreadable, or the
    mounting is older than that.

    Returns
    -------
    numpy.ndarray or None
        ``(3, 3)`` rotation, rows ``(v, ap, ml)`` in sensor axes.
    """
    if calibration is None or calibration.mounting is None or not session.meta.start_time:
        return None
    try:
        start = datetime.fromisoformat(str(session.meta.start_time).replace("Z", "+00:00"))
    except ValueError:
        return None
    if start.tzinfo is None:
        start = start.replace(tzinfo=UTC)  # naive times are taken as UTC
    age_h = abs((start - created_datetime(calibration.mounting.created)).total_seconds()) / 3600.0
    return np.array(calibration.mounting.rotation) if age_h <= max_age_h else None
