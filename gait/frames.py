"""Frames: sensor -> body (the mounting), and body -> level (gravity-aligned, per sample).

Body frame
    Fixed to the trunk: ``v`` (up while standing), ``ap`` (forward), ``ml`` (left). Obtained
    from the mounting rotation (`calibration.mounting`), stored or estimated.

Level frame
    Per sample, the body frame rotated so that ``v`` is the true vertical and ``ap`` the
    horizontal forward direction of the mean heading (the trunk's yaw oscillation removed).
    Vertical oscillation, impacts and braking are computed in it. The rotation has a slow part
    (trunk lean and lateral lean) and a fast part (the pitch, roll and yaw swing of each stride):

    1. Fast part, from the gyroscope: body rates, expressed about the slowly tilted axes,
       integrated and high-passed at 0.25 Hz (drift and turning removed).
    2. Slow part, from gravity: every sample is first rotated by its fast deviation, then
       low-passed at 0.25 Hz. Averaging the de-rotated specific force removes the bias a plain
       average would have (the dynamic vertical acceleration correlates with the trunk's swing
       and would tilt the apparent gravity by 1-2 deg).

    Without a gyroscope the fast part is zero and the slow part is the plain low-passed
    specific force (lean is then less accurate, and roll / yaw ranges are unavailable).

Notes
-----
This is a complementary filter written as linear zero-phase filters over a whole recording, so
it is vectorised (no per-sample loop); see Mahony et al. (2008) for the complementary-filter
principle and Asgari & Heller (2025) for why the accelerometer's part must be protected from
the running dynamics on a sacral sensor. Deviation: the gravity reference is de-rotated by the
gyroscope's fast deviation before averaging (no Kalman gain to tune).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.signal import butter, sosfiltfilt

from .constants import AP, ML, V
from .session import Session, SessionMetadata

__all__ = ["LevelSignals", "to_body_frame", "level_frame", "rotate"]

TILT_CUTOFF_HZ = 0.25


@dataclass(frozen=True)
class LevelSignals:
    """Specific force in the level frame and the trunk angles relative to the body frame.

    Attributes
    ----------
    acc
        Specific force, m/s^2, shape ``(n, 3)``, columns ``v, ap, ml`` of the level frame
        (``v`` is the true vertical; ``ml`` is NaN for a biaxial sensor).
    pitch, roll, yaw
        Trunk angles, rad: pitch (+ forward) and roll (+ right side down) of the body frame
        relative to the level frame; yaw is the rotation swing about the vertical with the
        heading removed (NaN without a gyroscope). Roll is NaN without a medio-lateral axis.
    """

    acc: np.ndarray
    pitch: np.ndarray
    roll: np.ndarray
    yaw: np.ndarray


def rotate(vectors: np.ndarray, rotvec: np.ndarray) -> np.ndarray:
    """Rotate each row of ``vectors`` by the matching rotation vector (Rodrigues), vectorised."""
    angle = np.linalg.norm(rotvec, axis=1, keepdims=True)
    small = angle < 1e-12
    k = np.where(small, 0.0, rotvec / np.where(small, 1.0, angle))
    c, s = np.cos(angle), np.sin(angle)
    kxv = np.cross(k, vectors)
    kdv = np.sum(k * vectors, axis=1, keepdims=True)
    return vectors * c + kxv * s + k * kdv * (1.0 - c)


def to_body_frame(session: Session, rotation: np.ndarray, *, calibration: str | None = None) -> Session:
    """Express a sensor-frame session in the body frame.

    ``rotation`` has the body axes (v, ap, ml) as rows, in sensor coordinates
    (`calibration.mounting.MountingEstimate.rotation`).
    """
    if session.frame == "body":
        return session
    R = np.asarray(rotation, dtype=float)
    acc = session.acc @ R.T
    gyr = None if session.gyr is None else session.gyr @ R.T
    meta: SessionMetadata = session.meta
    return Session(
        t=session.t, acc=acc, gyr=gyr, frame="body", meta=meta if calibration is None else _with_cal(meta, calibration)
    )


def _with_cal(meta: SessionMetadata, cal: str) -> SessionMetadata:
    import dataclasses

    return dataclasses.replace(meta, calibration=cal)


def _lowpass(x: np.ndarray, fs: float, cutoff_hz: float) -> np.ndarray:
    """Zero-phase 2nd-order Butterworth low-pass along axis 0.

    A segment shorter than four periods of the cutoff cannot be low-passed without its edges
    dominating; it gets its mean instead (a window of a few seconds, e.g. in the live view).
    """
    if x.shape[0] < 4.0 * fs / cutoff_hz:
        return np.broadcast_to(x.mean(axis=0), x.shape).copy()
    sos = butter(2, cutoff_hz, fs=fs, output="sos")
    return sosfiltfilt(sos, x, axis=0, padlen=int(fs / cutoff_hz))


def _cumtrapz(x: np.ndarray, dt: float) -> np.ndarray:
    out = np.zeros_like(x)
    out[1:] = np.cumsum((x[1:] + x[:-1]) * (dt / 2), axis=0)
    return out


def _tilt_from_gravity(g: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pitch (+ forward) and roll (+ right down) of the body given gravity in body axes."""
    pitch = np.arctan2(-g[:, AP], np.hypot(g[:, V], g[:, ML]))
    roll = np.arctan2(g[:, ML], g[:, V])
    return pitch, roll


def _tilt_rotvec(pitch: np.ndarray, roll: np.ndarray) -> np.ndarray:
    """Rotation vector (body -> level) of a pure pitch then roll, in (v, ap, ml) order."""
    rv = np.zeros((pitch.size, 3))
    rv[:, AP] = roll
    rv[:, ML] = pitch
    return rv


def level_frame(session: Session) -> LevelSignals:
    """Level-frame specific force and trunk angles for a body-frame session (per segment)."""
    if session.frame != "body":
        raise ValueError("level_frame needs a body-frame session (call to_body_frame first)")
    n = session.n_samples
    acc_out = np.empty((n, 3))
    pitch = np.empty(n)
    roll = np.empty(n)
    yaw = np.full(n, np.nan)
    biaxial = np.isnan(session.acc[:, ML]).all() if n else False
    fs = session.sampling_rate_hz
    for seg in session.segments():
        f = session.acc[seg].copy()
        if biaxial:
            f[:, ML] = 0.0
        w = None if session.gyr is None else session.gyr[seg]
        # first pass: slow tilt from the plain low-passed specific force
        g0 = _lowpass(f, fs, TILT_CUTOFF_HZ)
        p0, r0 = _tilt_from_gravity(g0)
        if w is not None:
            # rates about the slowly tilted axes, integrated, high-passed: the fast swing
            w_lvl = rotate(w, _tilt_rotvec(p0, r0))
            ang = _cumtrapz(w_lvl, 1.0 / fs)
            delta = ang - _lowpass(ang, fs, TILT_CUTOFF_HZ)
            # second pass: gravity from the de-rotated specific force (no rectification bias)
            f_mean = rotate(f, delta)
            g = _lowpass(f_mean, fs, TILT_CUTOFF_HZ)
            ps, rs = _tilt_from_gravity(g)
            level = rotate(rotate(f, _tilt_rotvec(ps, rs)), delta)
            pitch[seg] = ps + delta[:, ML]
            roll[seg] = rs + delta[:, AP]
            yaw[seg] = delta[:, V]
        else:
            ps, rs = p0, r0
            level = rotate(f, _tilt_rotvec(ps, rs))
            pitch[seg] = ps
            roll[seg] = rs
        acc_out[seg] = level
    if biaxial:
        acc_out[:, ML] = np.nan
        roll[:] = np.nan
    return LevelSignals(acc=acc_out, pitch=pitch, roll=roll, yaw=yaw)
