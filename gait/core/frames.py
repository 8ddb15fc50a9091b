"""Frames: sensor -> body (the mounting), and body -> level (gravity-aligned, per sample).

Body frame
    Fixed to the trunk: ``v`` (up while standing), ``ap`` (forward), ``ml`` (left). Obtained
    from the mounting rotation (`gait.core.mounting`), stored or estimated.

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
from typing import TYPE_CHECKING

import numpy as np

from .._checks import check_rotation, check_same_length, check_session, check_vectors
from .._lazy import lazy_function
from ..constants import AP, ML, V
from ..errors import GaitInputError, Where, check_positive
from ..session import Session, SessionMetadata
from ._quaternions import (
    _blockwise,
    _orientation,
    _qrotate,
    _qrotate_inverse,
)
from .filters import butter_sos

if TYPE_CHECKING:
    from scipy.integrate import cumulative_trapezoid
    from scipy.signal import sosfiltfilt
else:
    cumulative_trapezoid = lazy_function("scipy.integrate", "cumulative_trapezoid")
    sosfiltfilt = lazy_function("scipy.signal", "sosfiltfilt")

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

    Parameters
    ----------
    vectors
        Shape ``(n, 3)``.
    rotvec
        Rotation vectors (axis times angle, rad), shape ``(n, 3)``, or one of shape ``(3,)``
        for all rows.

    Returns
    -------
    ndarray
        The rotated vectors, shape ``(n, 3)``.
    """
    v = check_vectors(vectors, "vectors")
    r = np.asarray(rotvec, dtype=float)
    if r.shape != (3,):
        r = check_vectors(r, "rotvec")
        check_same_length(v.shape[0], "vectors", rotvec=r)
    return _apply(v, _prepare(r))


def to_body_frame(session: Session, rotation: np.ndarray, *, calibration: str | None = None) -> Session:
    """Express a sensor-frame session in the body frame.

    ``rotation`` has the body axes (v, ap, ml) as rows, in sensor coordinates
    (`gait.core.mounting.MountingEstimate.rotation`).

    Parameters
    ----------
    session
        A sensor-frame session (a body-frame one is returned as it is).
    rotation
        3 x 3, the body axes as rows in sensor coordinates.
    calibration
        A note of the mounting's source for the metadata, or None.

    Returns
    -------
    Session
        The body-frame session.
    """
    check_session(session)
    R = check_rotation(rotation, "rotation")
    if session.frame == "body":
        return session
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
        sos = butter_sos(2, self.cutoff, self.fs)
        return sosfiltfilt(sos, xd, axis=0, padlen=min(self.m - 1, int(self.fs / self.cutoff)))

    def lowpass_columns(self, cols: tuple[np.ndarray, ...]) -> np.ndarray:
        """`lowpass` of the columns ``cols`` (1-D, contiguous), without stacking them first."""
        if self.short:
            return np.array([[c.mean() for c in cols]])
        k = self.m * self.q
        xd = np.column_stack([c[:k].reshape(self.m, self.q).mean(axis=1) for c in cols])
        sos = butter_sos(2, self.cutoff, self.fs)
        return sosfiltfilt(sos, xd, axis=0, padlen=min(self.m - 1, int(self.fs / self.cutoff)))

    def upsample_columns(self, y: np.ndarray) -> tuple[np.ndarray, ...]:
        """`upsample` of each column of ``y``, as contiguous 1-D arrays."""
        if self.short:
            return tuple(np.full(self.n, float(y[0, c])) for c in range(y.shape[1]))
        return tuple(np.ascontiguousarray(y[:, c])[self.j] for c in range(y.shape[1]))

    def upsample(self, y: np.ndarray) -> np.ndarray:
        """Coarse values back to every sample (each sample takes its block's value)."""
        if self.short:
            return np.broadcast_to(y[0], (self.n, *y.shape[1:])).copy()
        return y[self.j]


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


def _linear_upsample(grid: _Coarse, y: np.ndarray) -> np.ndarray:
    """Coarse values (one per block) back to every sample by linear interpolation between the
    block centres (used for the heading, which may turn quickly)."""
    if grid.short:
        return np.full(grid.n, float(y[0]))
    centres = (np.arange(grid.m) + 0.5) * grid.q - 0.5
    return np.interp(np.arange(grid.n, dtype=float), centres, y)


def _tilt_block(
    ux: np.ndarray, uy: np.ndarray, uz: np.ndarray, wy: np.ndarray, wz: np.ndarray
) -> tuple[np.ndarray, ...]:
    """From gravity (up) in the body frame ``u`` (one block): its magnitude, the cos and sin
    of pitch and roll, pitch, roll and the Euler yaw rate."""
    g_norm = np.sqrt(ux * ux + uy * uy + uz * uz)
    ux, uy, uz = ux / g_norm, uy / g_norm, uz / g_norm
    # exact pitch and roll of R = Rz(yaw) Ry(pitch) Rx(roll): the body's up vector is
    # (-sin p, cos p sin r, cos p cos r)
    cp = np.hypot(uy, uz)
    sp = -ux
    cr = uz / cp
    sr = uy / cp
    yaw_rate = (wy * sr + wz * cr) / cp
    return g_norm, cp, sp, cr, sr, np.arctan2(sp, cp), np.arctan2(uy, uz), yaw_rate


def _level_block(
    fx: np.ndarray,
    fy: np.ndarray,
    fz: np.ndarray,
    cp: np.ndarray,
    sp: np.ndarray,
    cr: np.ndarray,
    sr: np.ndarray,
    swing: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The specific force (forward, left, up; one block) rotated by roll, then pitch, then the
    yaw swing: forward, left and vertical in the level frame."""
    y1 = fy * cr - fz * sr
    z1 = fy * sr + fz * cr
    x2 = fx * cp + z1 * sp
    z2 = z1 * cp - fx * sp
    cy, sy = np.cos(swing), np.sin(swing)
    return x2 * cy - y1 * sy, x2 * sy + y1 * cy, z2


def level_frame(
    session: Session, *, gravity_acc: np.ndarray | None = None, gravity_mps2: float | None = None
) -> LevelSignals:
    """Level-frame specific force and trunk angles for a body-frame session (per segment).

    ``gravity_acc`` (body frame, like ``session.acc``) replaces the specific force in the
    estimate of the gravity magnitude (``LevelSignals.gravity``): a recording clipped at a bound
    gets its clipped runs bridged there (`gait.core.quality.bridge_clipped`), so the lost part does
    not bias the level the vertical acceleration is measured from. The tilt still comes from the
    signal as recorded: on the clipped Alcantara recordings bridging moves it by about 1 deg,
    which the event detector (calibrated on them) pays for with two missed steps of 285.
    ``gravity_mps2`` fixes the magnitude outright (the mean specific force of an unclipped
    standing period, when the running is clipped).

    With a gyroscope the trunk's orientation is integrated exactly (quaternions) and
    decomposed as yaw, then pitch, then roll (intrinsic z-y'-x''; see ``docs/tables.md``):

    1. The rates are integrated into an orientation relative to the first sample
       (`gyro_orientation`); the specific force is rotated into that frame, where gravity is
       constant but for the gyroscope's drift, and low-passed at `TILT_CUTOFF_HZ`.
    2. That gravity, rotated back into the body frame sample by sample, gives pitch and roll
       exactly (no small-angle split, no leak of one into the other).
    3. Yaw is the integral of the Euler yaw rate ``(w_left sin(roll) + w_up cos(roll)) /
       cos(pitch)``; its 0.25 Hz low-pass is the heading (turns, drift), and the rest is the
       rotation swing reported as ``yaw``.
    4. The specific force is rotated by roll, pitch and the swing: ``ap`` is the horizontal
       forward direction of the mean heading.

    Parameters
    ----------
    session
        A body-frame session (`to_body_frame`).
    gravity_acc
        Body-frame specific force for the gravity magnitude, m/s^2, shape ``(n, 3)`` like
        ``session.acc``; None uses ``session.acc``.
    gravity_mps2
        A fixed gravity magnitude, m/s^2 (finite, > 0); None estimates it.

    Returns
    -------
    LevelSignals
    """
    check_session(session)
    if session.frame != "body":
        raise GaitInputError(
            "not a body-frame session",
            expected="a body-frame session (call to_body_frame first)",
            found=f"frame {session.frame!r}",
            where=Where(parameter="session"),
        )
    n = session.n_samples
    if gravity_acc is not None:
        check_same_length(n, "session", gravity_acc=check_vectors(gravity_acc, "gravity_acc"))
    if gravity_mps2 is not None:
        check_positive(gravity_mps2, "gravity_mps2")
    acc_out = np.empty((n, 3))
    pitch = np.empty(n)
    roll = np.empty(n)
    yaw = np.full(n, np.nan)
    grav = np.empty(n)
    biaxial = np.isnan(session.acc[:, ML]).all() if n else False
    fs = session.sampling_rate_hz
    flu = [AP, ML, V]  # (v, ap, ml) columns in forward, left, up order
    for seg in session.segments():
        # column-contiguous copies: every step below works column by column
        f = np.array(session.acc[seg], dtype=float, order="F")
        fg = f if gravity_acc is None else np.array(gravity_acc[seg], dtype=float, order="F")
        if biaxial:
            f[:, ML] = 0.0
            fg[:, ML] = 0.0
        k = f.shape[0]
        grid = _Coarse(k, fs, TILT_CUTOFF_HZ)
        if session.gyr is None:
            g0 = grid.lowpass(f)
            gm = g0 if gravity_acc is None else grid.lowpass(fg)
            p0, r0, cs0 = _slow_tilt(grid, g0)
            grav[seg] = grid.upsample(np.sqrt(np.einsum("ij,ij->i", gm, gm)))
            acc_out[seg] = _untilt(f, cs0)
            pitch[seg] = grid.upsample(p0)
            roll[seg] = grid.upsample(r0)
            continue
        gyr = session.gyr[seg]
        wx, wy, wz = (np.asarray(gyr[:, c], dtype=float) for c in flu)  # views: no copy of the rates
        q = _orientation(wx, wy, wz, fs)
        del wx  # (arrays the size of the session are let go as soon as they are used)
        fx, fy, fz = (np.ascontiguousarray(f[:, c]) for c in flu)  # made after the orientation's peak
        # specific force in the initial body frame: gravity there moves only with gyro drift
        gx0, gy0, gz0 = grid.upsample_columns(grid.lowpass_columns(_qrotate(q, (fx, fy, fz))))
        g_mag: np.ndarray | None = None
        if gravity_acc is not None:
            src = tuple(np.ascontiguousarray(fg[:, c]) for c in flu)
            gb = grid.lowpass_columns(_qrotate(q, src))  # type: ignore[arg-type]
            g_mag = grid.upsample(np.sqrt(np.einsum("ij,ij->i", gb, gb)))
        ux, uy, uz = _qrotate_inverse(q, (gx0, gy0, gz0))  # gravity (up) in the body frame
        del q, gx0, gy0, gz0
        _, cp, sp, cr, sr, _, _, yaw_rate = _blockwise(
            _tilt_block, ux, uy, uz, wy, wz, out=(grav[seg], None, None, None, None, pitch[seg], roll[seg], None)
        )
        del ux, uy, uz, wy, wz
        if g_mag is not None:
            grav[seg] = g_mag
        psi = cumulative_trapezoid(yaw_rate, dx=1.0 / fs, axis=0, initial=0)
        del yaw_rate
        swing = psi - _linear_upsample(grid, grid.lowpass(psi))
        del psi
        yaw[seg] = swing
        _blockwise(
            _level_block, fx, fy, fz, cp, sp, cr, sr, swing, out=(acc_out[seg, AP], acc_out[seg, ML], acc_out[seg, V])
        )
    if biaxial:
        acc_out[:, ML] = np.nan
        roll[:] = np.nan
    if gravity_mps2 is not None:
        grav[:] = float(gravity_mps2)
    return LevelSignals(acc=acc_out, pitch=pitch, roll=roll, yaw=yaw, gravity=grav)
