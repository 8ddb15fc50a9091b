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


def apply_matrix(R: np.ndarray, vectors: np.ndarray) -> np.ndarray:
    """``vectors @ R.T`` for an ``(n, 3)`` array, computed as ``(R @ vectors.T).T`` (much faster)."""
    return (np.asarray(R, dtype=float) @ vectors.T).T


def _prepare(rotvec: np.ndarray) -> tuple[np.ndarray, ...]:
    r0, r1, r2 = np.ascontiguousarray(rotvec.T)
    angle = np.sqrt(r0 * r0 + r1 * r1 + r2 * r2)
    safe = np.where(angle < 1e-12, 1.0, angle)
    return r0 / safe, r1 / safe, r2 / safe, np.cos(angle), np.sin(angle)


def _apply(vectors: np.ndarray, prep: tuple[np.ndarray, ...]) -> np.ndarray:
    k0, k1, k2, c, sn = prep
    v0, v1, v2 = np.ascontiguousarray(vectors.T)
    dot = (k0 * v0 + k1 * v1 + k2 * v2) * (1.0 - c)
    # column-contiguous result (an F-ordered (n, 3) view): column access downstream is fast
    return np.vstack(
        [
            v0 * c + (k1 * v2 - k2 * v1) * sn + k0 * dot,
            v1 * c + (k2 * v0 - k0 * v2) * sn + k1 * dot,
            v2 * c + (k0 * v1 - k1 * v0) * sn + k2 * dot,
        ]
    ).T


def _untilt(vectors: np.ndarray, cs: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]) -> np.ndarray:
    """Rotate body-frame vectors by roll about ``ap`` then pitch about ``ml``.

    With the pitch and roll of `_tilt_from_gravity` this maps gravity onto ``+v`` exactly.
    ``cs`` holds cos(pitch), sin(pitch), cos(roll), sin(roll).
    """
    cp, sp, cr, sr = cs
    u0, u1, u2 = np.ascontiguousarray(vectors.T)
    v = u0 * cr + u2 * sr  # about ap by roll: zeroes ml of gravity
    ml = u2 * cr - u0 * sr
    return np.vstack([v * cp - u1 * sp, u1 * cp + v * sp, ml]).T


def rotate(vectors: np.ndarray, rotvec: np.ndarray) -> np.ndarray:
    """Rotate each row of ``vectors`` by the matching rotation vector (Rodrigues), vectorised.

    Works on contiguous columns (``np.cross`` on rows is several times slower).
    """
    return _apply(vectors, _prepare(rotvec))


def to_body_frame(session: Session, rotation: np.ndarray, *, calibration: str | None = None) -> Session:
    """Express a sensor-frame session in the body frame.

    ``rotation`` has the body axes (v, ap, ml) as rows, in sensor coordinates
    (`calibration.mounting.MountingEstimate.rotation`).
    """
    if session.frame == "body":
        return session
    R = np.asarray(rotation, dtype=float)
    acc = apply_matrix(R, session.acc)
    gyr = None if session.gyr is None else apply_matrix(R, session.gyr)
    meta: SessionMetadata = session.meta
    return Session(
        t=session.t, acc=acc, gyr=gyr, frame="body", meta=meta if calibration is None else _with_cal(meta, calibration)
    )


def _with_cal(meta: SessionMetadata, cal: str) -> SessionMetadata:
    import dataclasses

    return dataclasses.replace(meta, calibration=cal)


def _lowpass_coarse(x: np.ndarray, fs: float, cutoff_hz: float) -> tuple[np.ndarray, np.ndarray]:
    """Zero-phase 2nd-order Butterworth low-pass for slow signals, on a coarse grid.

    The signal is averaged in blocks down to about 40 times the cutoff and filtered there (the
    result is smooth, so nothing is lost and it is much faster). Returns the coarse sample
    positions (in input samples) and the filtered values. A segment shorter than four periods
    of the cutoff cannot be low-passed without its edges dominating; it gets its mean instead
    (a window of a few seconds, e.g. in the live view).
    """
    n = x.shape[0]
    if n < 4.0 * fs / cutoff_hz:
        return np.array([0.0, max(n - 1, 1)]), np.stack([x.mean(axis=0)] * 2)
    q = max(int(fs / (40.0 * cutoff_hz)), 1)
    m = n // q
    xd = x[: m * q].reshape(m, q, *x.shape[1:]).mean(axis=1)
    fd = fs / q
    sos = butter(2, cutoff_hz, fs=fd, output="sos")
    yd = sosfiltfilt(sos, xd, axis=0, padlen=min(m - 1, int(fd / cutoff_hz)))
    return np.arange(m) * q + (q - 1) / 2.0, yd


def _upsample(pos: np.ndarray, y: np.ndarray, n: int) -> np.ndarray:
    ti = np.arange(n, dtype=float)
    if y.ndim == 1:
        return np.interp(ti, pos, y)
    return np.stack([np.interp(ti, pos, y[:, j]) for j in range(y.shape[1])], axis=1)


def _lowpass(x: np.ndarray, fs: float, cutoff_hz: float) -> np.ndarray:
    """`_lowpass_coarse` interpolated back to every input sample."""
    pos, y = _lowpass_coarse(x, fs, cutoff_hz)
    return _upsample(pos, y, x.shape[0])


def _cumtrapz(x: np.ndarray, dt: float) -> np.ndarray:
    out = np.zeros_like(x)
    out[1:] = np.cumsum((x[1:] + x[:-1]) * (dt / 2), axis=0)
    return out


def _tilt_from_gravity(g: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pitch (+ forward) and roll (+ right down) of the body given gravity in body axes."""
    pitch = np.arctan2(-g[:, AP], np.hypot(g[:, V], g[:, ML]))
    roll = np.arctan2(g[:, ML], g[:, V])
    return pitch, roll


def _slow_tilt(pos: np.ndarray, g: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray, tuple[np.ndarray, ...]]:
    """Pitch, roll and their cos / sin at every sample from gravity on a coarse grid."""
    p, r = _tilt_from_gravity(g)
    cs = tuple(_upsample(pos, a, n) for a in (np.cos(p), np.sin(p), np.cos(r), np.sin(r)))
    return _upsample(pos, p, n), _upsample(pos, r, n), cs


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
        k = f.shape[0]
        w = None if session.gyr is None else session.gyr[seg]
        # first pass: slow tilt from the plain low-passed specific force (coarse grid)
        pos, g0 = _lowpass_coarse(f, fs, TILT_CUTOFF_HZ)
        p0, r0, cs0 = _slow_tilt(pos, g0, k)
        if w is not None:
            # rates about the slowly tilted axes, integrated, high-passed: the fast swing
            w_lvl = _untilt(w, cs0)
            ang = _cumtrapz(w_lvl, 1.0 / fs)
            delta = ang - _lowpass(ang, fs, TILT_CUTOFF_HZ)
            swing = _prepare(delta)
            # second pass: gravity from the de-rotated specific force (no rectification bias)
            pos, g = _lowpass_coarse(_apply(f, swing), fs, TILT_CUTOFF_HZ)
            ps, rs, cs = _slow_tilt(pos, g, k)
            level = _apply(_untilt(f, cs), swing)
            pitch[seg] = ps + delta[:, ML]
            roll[seg] = rs + delta[:, AP]
            yaw[seg] = delta[:, V]
        else:
            level = _untilt(f, cs0)
            pitch[seg] = p0
            roll[seg] = r0
        acc_out[seg] = level
    if biaxial:
        acc_out[:, ML] = np.nan
        roll[:] = np.nan
    return LevelSignals(acc=acc_out, pitch=pitch, roll=roll, yaw=yaw)
