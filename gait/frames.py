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
from scipy.signal import sosfiltfilt

from .constants import AP, ML, V
from .events import _butter_sos
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
    gravity
        Magnitude of the slowly varying gravity estimate, m/s^2, per sample: the vertical
        specific force minus this is the vertical acceleration, free of the sensor's scale
        error and bias along the vertical.
    """

    acc: np.ndarray
    pitch: np.ndarray
    roll: np.ndarray
    yaw: np.ndarray
    gravity: np.ndarray


def apply_matrix(R: np.ndarray, vectors: np.ndarray) -> np.ndarray:
    """``vectors @ R.T`` for an ``(n, 3)`` array, computed as ``(R @ vectors.T).T`` (much faster)."""
    return (np.asarray(R, dtype=float) @ vectors.T).T


def _prepare(rotvec: np.ndarray) -> tuple[np.ndarray, ...]:
    """Rodrigues coefficients of each rotation vector ``r`` (angle ``a = |r|``).

    ``v' = v (1 - c a^2) + s (r x v) + c r (r . v)`` with ``s = sin(a) / a`` and
    ``c = (1 - cos a) / a^2``. For small angles (all below 0.5 rad, as the swing of a stride)
    their Taylor series are exact to 3e-6 and need no square root, division or trigonometry.
    """
    r0, r1, r2 = np.ascontiguousarray(rotvec.T)
    a2 = r0 * r0 + r1 * r1 + r2 * r2
    if a2.size and float(a2.max()) <= 0.25:
        sc = 1.0 - a2 / 6.0 * (1.0 - a2 / 20.0 * (1.0 - a2 / 42.0))
        cc = 0.5 - a2 / 24.0 * (1.0 - a2 / 30.0 * (1.0 - a2 / 56.0))
    else:
        a = np.sqrt(a2)
        safe = np.where(a < 1e-8, 1.0, a)
        sc = np.where(a < 1e-8, 1.0, np.sin(a) / safe)
        cc = np.where(a < 1e-8, 0.5, (1.0 - np.cos(a)) / (safe * safe))
    return r0, r1, r2, sc, cc, a2


def _apply(vectors: np.ndarray, prep: tuple[np.ndarray, ...]) -> np.ndarray:
    r0, r1, r2, sc, cc, a2 = prep
    v0, v1, v2 = np.ascontiguousarray(vectors.T)
    dot = (r0 * v0 + r1 * v1 + r2 * v2) * cc
    keep = 1.0 - cc * a2
    # column-contiguous result (an F-ordered (n, 3) view): column access downstream is fast
    return np.vstack(
        [
            v0 * keep + (r1 * v2 - r2 * v1) * sc + r0 * dot,
            v1 * keep + (r2 * v0 - r0 * v2) * sc + r1 * dot,
            v2 * keep + (r0 * v1 - r1 * v0) * sc + r2 * dot,
        ]
    ).T


def _untilt(vectors: np.ndarray, cs: tuple[np.ndarray, ...]) -> np.ndarray:
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


class _Coarse:
    """A regular coarse grid over ``n`` samples (block means of ``q`` samples) and the block of
    every sample, computed once per segment."""

    def __init__(self, n: int, fs: float, cutoff_hz: float) -> None:
        self.n = n
        self.short = n < 4.0 * fs / cutoff_hz
        self.q = max(int(fs / (40.0 * cutoff_hz)), 1)
        self.m = max(n // self.q, 1)
        self.fs = fs / self.q
        self.cutoff = cutoff_hz
        if not self.short:
            # nearest block: the grid is 40 times finer than the cutoff, so the steps between
            # blocks are far below anything measured (< 0.01 deg of tilt)
            self.j = np.minimum(np.arange(n) // self.q, self.m - 1)

    def lowpass(self, x: np.ndarray) -> np.ndarray:
        """Zero-phase 2nd-order Butterworth low-pass on the coarse grid (values per block).

        A segment shorter than four periods of the cutoff cannot be low-passed without its
        edges dominating; it gets its mean (a window of a few seconds, e.g. the live view).
        """
        if self.short:
            return np.broadcast_to(x.mean(axis=0), (1, *x.shape[1:])).copy()
        xd = x[: self.m * self.q].reshape(self.m, self.q, *x.shape[1:]).mean(axis=1)
        sos = _butter_sos(2, self.cutoff, self.fs)
        return sosfiltfilt(sos, xd, axis=0, padlen=min(self.m - 1, int(self.fs / self.cutoff)))

    def upsample(self, y: np.ndarray) -> np.ndarray:
        """Coarse values back to every sample (each sample takes its block's value)."""
        if self.short:
            return np.broadcast_to(y[0], (self.n, *y.shape[1:])).copy()
        return y[self.j]


def _cumtrapz(x: np.ndarray, dt: float) -> np.ndarray:
    out = np.zeros_like(x, order="F")
    out[1:] = np.cumsum((x[1:] + x[:-1]) * (dt / 2), axis=0)
    return out


def _tilt_from_gravity(g: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pitch (+ forward) and roll (+ right down) of the body given gravity in body axes."""
    pitch = np.arctan2(-g[:, AP], np.hypot(g[:, V], g[:, ML]))
    roll = np.arctan2(g[:, ML], g[:, V])
    return pitch, roll


def _slow_tilt(grid: _Coarse, g: np.ndarray) -> tuple[np.ndarray, np.ndarray, tuple[np.ndarray, ...]]:
    """Pitch and roll on the coarse grid, and their cos / sin at every sample."""
    p, r = _tilt_from_gravity(g)
    cs = tuple(grid.upsample(a) for a in (np.cos(p), np.sin(p), np.cos(r), np.sin(r)))
    return p, r, cs


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
    grav = np.empty(n)
    biaxial = np.isnan(session.acc[:, ML]).all() if n else False
    fs = session.sampling_rate_hz
    for seg in session.segments():
        # column-contiguous copies: every step below works column by column
        f = np.asfortranarray(session.acc[seg])
        if biaxial:
            f[:, ML] = 0.0
        k = f.shape[0]
        w = None if session.gyr is None else np.asfortranarray(session.gyr[seg])
        grid = _Coarse(k, fs, TILT_CUTOFF_HZ)
        # first pass: slow tilt from the plain low-passed specific force (coarse grid)
        p0, r0, cs0 = _slow_tilt(grid, grid.lowpass(f))
        if w is not None:
            # rates about the slowly tilted axes, integrated, high-passed: the fast swing
            w_lvl = _untilt(w, cs0)
            ang = _cumtrapz(w_lvl, 1.0 / fs)
            delta = ang - grid.upsample(grid.lowpass(ang))
            swing = _prepare(delta)
            # second pass: gravity from the de-rotated specific force (no rectification bias)
            g = grid.lowpass(_apply(f, swing))
            ps, rs, cs = _slow_tilt(grid, g)
            grav[seg] = grid.upsample(np.sqrt(np.einsum("ij,ij->i", g, g)))
            level = _apply(_untilt(f, cs), swing)
            pitch[seg] = grid.upsample(ps) + delta[:, ML]
            roll[seg] = grid.upsample(rs) + delta[:, AP]
            yaw[seg] = delta[:, V]
        else:
            g0 = grid.lowpass(f)
            grav[seg] = grid.upsample(np.sqrt(np.einsum("ij,ij->i", g0, g0)))
            level = _untilt(f, cs0)
            pitch[seg] = grid.upsample(p0)
            roll[seg] = grid.upsample(r0)
        acc_out[seg] = level
    if biaxial:
        acc_out[:, ML] = np.nan
        roll[:] = np.nan
    return LevelSignals(acc=acc_out, pitch=pitch, roll=roll, yaw=yaw, gravity=grav)
