"""Reference values from a segment's known motion, with the analysis' own definitions.

To compare like with like, every per-step quantity here is computed exactly as
`gait.core.metrics.step_table` computes it from a sensor, but from the true motion:

- Angles (`analysis_angles`): `gait.core.frames` defines pitch and roll from the direction of
  gravity in the body frame (``pitch = atan2(-g_ap, hypot(g_v, g_ml))``,
  ``roll = atan2(g_ml, g_v)``) and yaw as the rotation about the vertical with the heading
  removed. These are exactly the intrinsic Z-Y-X (yaw, pitch, roll) Cardan angles of the body
  frame (forward, left, up) relative to a level frame whose forward axis is the direction of
  travel: pitch + forward, roll + right side down, yaw + to the left. Yaw has its content
  below 0.25 Hz removed (`gait.core.frames.TILT_CUTOFF_HZ`), as the analysis removes heading.
- The body frame (`ideal_body_frame`) is the one the analysis estimates for a sensor
  (`gait.core.mounting`): vertical from the standing posture, forward from running, fixed
  to the segment. Zero lean is the mean standing pitch.
- Per step, contact ``k`` to contact ``k + 1`` (`step_truth`): ``lean_deg`` the mean pitch
  minus the standing reference; ``vertical_oscillation_m`` the max - min of the sensor
  point's height (its lowest point in stance to its highest in flight; on a treadmill the
  height does not drift). ``vertical_oscillation_contact_line_m`` is the previous definition,
  kept for comparison: the same with the straight line between the heights at the two
  contacts removed. It is not a fair reference: the sacrum falls at 0.6-0.8 m/s at contact,
  so 5 ms of error in a reference contact moves it by 0.2-0.3 cm a step, and it takes the
  0.8-1.0 cm by which the sacrum lands lower on one side than on the other (RBDS) for drift,
  tilting each step's line by it. Over the stride (this step and the next): ``lateral_lean_deg`` the mean roll,
  ``roll_range_deg`` and ``yaw_range_deg`` max - min; ``pelvic_drop_deg`` the largest roll
  excursion in stance towards the swing side, relative to the stride's mean roll.
  Samples are taken on the sensor's grid from the rounded contact sample to the rounded next
  contact sample, both included, as in `gait.core.metrics`.

Clinical pelvis angles (`clinical_pelvis_angles`) are given beside them: the anatomical pelvis
frame relative to the level frame in the rotation-obliquity-tilt sequence that Baker (2001)
showed matches the clinical meaning of the terms. They are not what the analysis estimates
(its sensor frame is levelled at standing, and its Cardan order is yaw-pitch-roll); the
validation compares the analysis with the definitions above and reports the clinical values
for reference.

Notes
-----
Baker R (2001). Pelvic angles: a mathematically rigorous definition which is consistent with a
conventional clinical understanding of the terms. Gait & Posture 13:1-6.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from scipy.signal import butter, sosfiltfilt
from scipy.spatial.transform import Rotation

from ..constants import DEG_PER_RAD
from ..core.frames import TILT_CUTOFF_HZ
from ..errors import GaitInputError, Where, check_positive

__all__ = [
    "analysis_angles",
    "clinical_pelvis_angles",
    "ideal_body_frame",
    "remove_heading",
    "step_truth",
    "TRUTH_COLUMNS",
]

#: Columns of `step_truth`, in order.
TRUTH_COLUMNS = [
    "ic_s",
    "to_s",
    "side",
    "contact_time_s",
    "step_time_s",
    "vertical_oscillation_m",
    "vertical_oscillation_contact_line_m",
    "lean_deg",
    "lateral_lean_deg",
    "pelvic_drop_deg",
    "roll_range_deg",
    "yaw_range_deg",
]


def analysis_angles(orientation: ArrayLike) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pitch, roll and yaw (rad) of body frames (columns forward, left, up) in a level frame.

    Intrinsic Z-Y-X Cardan angles: ``R = Rz(yaw) Ry(pitch) Rx(roll)``; the same numbers
    `gait.core.frames` computes from gravity and the gyroscope (module docstring).
    """
    R = np.asarray(orientation, dtype=float)
    yaw, pitch, roll = Rotation.from_matrix(R).as_euler("ZYX").T
    return pitch, roll, np.unwrap(yaw)


def clinical_pelvis_angles(orientation: ArrayLike) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Tilt, obliquity and rotation (rad) of an anatomical pelvis frame (Baker 2001).

    Rotation-obliquity-tilt sequence: ``R = Rz(rotation) Rx(obliquity) Ry(tilt)`` with the
    level frame's axes (forward, left, up). Tilt + anterior, obliquity + right side down,
    rotation + to the left (counter-clockwise seen from above).
    """
    R = np.asarray(orientation, dtype=float)
    rotation, obliquity, tilt = Rotation.from_matrix(R).as_euler("ZXY").T
    return tilt, obliquity, np.unwrap(rotation)


def ideal_body_frame(orientation: ArrayLike, *, standing: ArrayLike, running: ArrayLike) -> np.ndarray:
    """The body frame, in segment coordinates, that the analysis' mounting estimate aims at.

    Vertical: the mean upward direction over the ``standing`` samples; forward: the mean
    direction of travel over the ``running`` samples, made horizontal in the standing
    posture. Both expressed in the segment frame, so the body frame is fixed to the segment.

    Parameters
    ----------
    orientation
        Segment orientations (segment -> level world frame, forward, left, up), ``(n, 3, 3)``.
    standing, running
        Boolean masks of the samples of each.

    Returns
    -------
    ndarray, shape (3, 3)
        ``C`` with columns the body axes (forward, left, up) in segment coordinates: the body
        orientation is ``orientation @ C``.
    """
    R = np.asarray(orientation, dtype=float)
    st = np.asarray(standing, dtype=bool)
    rn = np.asarray(running, dtype=bool)
    if not st.any() or not rn.any():
        raise GaitInputError(
            "no reference posture",
            expected="some standing and some running samples",
            found=f"{int(st.sum())} standing, {int(rn.sum())} running",
            where=Where(parameter="standing" if not st.any() else "running"),
        )
    up = R[st, 2, :].mean(axis=0)  # world up in segment coordinates (row 2 of R: e_up^T R)
    up /= np.linalg.norm(up)
    fwd = R[rn, 0, :].mean(axis=0)
    fwd -= up * (fwd @ up)
    fwd /= np.linalg.norm(fwd)
    left = np.cross(up, fwd)
    return np.column_stack([fwd, left, up])


def remove_heading(yaw: ArrayLike, *, sampling_rate_hz: float) -> np.ndarray:
    """Yaw minus its zero-phase 2nd-order low-pass at `gait.core.frames.TILT_CUTOFF_HZ`."""
    fs = check_positive(sampling_rate_hz, "sampling_rate_hz")
    y = np.asarray(yaw, dtype=float)
    sos = butter(2, TILT_CUTOFF_HZ, fs=fs, output="sos")
    return y - sosfiltfilt(sos, y, padlen=min(y.size - 1, int(fs / TILT_CUTOFF_HZ)))


def _windows(start: np.ndarray, stop: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Flat sample indices of ``[start[k], stop[k]]`` (both included), owner and offsets."""
    length = np.maximum(stop - start + 1, 1)
    offsets = np.concatenate([[0], np.cumsum(length)[:-1]])
    owner = np.repeat(np.arange(start.size), length)
    idx = start[owner] + np.arange(int(length.sum())) - offsets[owner]
    return idx, owner, offsets


def step_truth(
    *,
    t_s: ArrayLike,
    ic_s: ArrayLike,
    to_s: ArrayLike,
    side: ArrayLike,
    pitch: ArrayLike,
    roll: ArrayLike,
    yaw: ArrayLike,
    height_m: ArrayLike,
    standing_pitch_rad: float,
) -> pd.DataFrame:
    """Per-step reference metrics with the analysis' definitions (module docstring).

    Parameters
    ----------
    t_s
        Sample times of the per-sample signals, s (uniform within the running part).
    ic_s, to_s, side
        Initial contact and toe-off times (s) and side (``"L"``/``"R"``) of every step, in
        time order, all inside ``t_s``.
    pitch, roll, yaw
        Body-frame angles per sample, rad (`analysis_angles`; yaw after `remove_heading`).
    height_m
        Height of the sensor point per sample, m.
    standing_pitch_rad
        Mean pitch of the standing reference, rad.

    Returns
    -------
    DataFrame
        `TRUTH_COLUMNS`, one row per step; the last step has no step time, oscillation or
        lean, and the last two have no stride metrics (NaN).
    """
    t = np.asarray(t_s, dtype=float)
    ic = np.asarray(ic_s, dtype=float)
    to = np.asarray(to_s, dtype=float)
    sd = np.asarray(side, dtype=object)
    if ic.size and (np.any(np.diff(ic) <= 0) or ic[0] < t[0] or to[-1] > t[-1] or np.any(to <= ic)):
        raise GaitInputError(
            "bad events",
            expected="increasing contacts inside the signal, each toe-off after its contact",
            found=f"{ic.size} contacts from {ic[0]:.3f} to {ic[-1]:.3f} s; signal {t[0]:.3f} to {t[-1]:.3f} s",
            where=Where(parameter="ic_s"),
        )
    m = ic.size
    i_ic = np.clip(np.searchsorted(t, ic - 0.5 * np.median(np.diff(t))), 0, t.size - 1)
    i_to = np.clip(np.searchsorted(t, to - 0.5 * np.median(np.diff(t))), 0, t.size - 1)
    p, r, y, z = (np.asarray(a, dtype=float) for a in (pitch, roll, yaw, height_m))
    has_next = np.arange(m) < m - 1
    has_stride = np.arange(m) < m - 2
    nxt = np.where(has_next, np.roll(i_ic, -1), i_ic)
    nxt2 = np.where(has_stride, np.roll(i_ic, -2), i_ic)

    idx, owner, offs = _windows(i_ic, nxt)
    # height with the straight line between the two contacts removed
    s, e = i_ic[owner], nxt[owner]
    frac = (idx - s) / np.maximum(e - s, 1)
    zd = z[idx] - (z[s] + frac * (z[e] - z[s]))
    osc_line = np.maximum.reduceat(zd, offs) - np.minimum.reduceat(zd, offs)
    osc = np.maximum.reduceat(z[idx], offs) - np.minimum.reduceat(z[idx], offs)
    cnt = np.bincount(owner, minlength=m)
    lean = (np.add.reduceat(p[idx], offs) / cnt - standing_pitch_rad) * DEG_PER_RAD

    idx, owner, offs = _windows(i_ic, nxt2)
    cnt = np.bincount(owner, minlength=m)
    roll_mean = np.add.reduceat(r[idx], offs) / cnt
    roll_range = (np.maximum.reduceat(r[idx], offs) - np.minimum.reduceat(r[idx], offs)) * DEG_PER_RAD
    yaw_range = (np.maximum.reduceat(y[idx], offs) - np.minimum.reduceat(y[idx], offs)) * DEG_PER_RAD

    idx, owner, offs = _windows(i_ic, np.maximum(i_to, i_ic))
    sgn = np.where(sd == "L", 1.0, np.where(sd == "R", -1.0, np.nan))
    drop = np.maximum.reduceat(sgn[owner] * (r[idx] - roll_mean[owner]), offs) * DEG_PER_RAD

    nan = np.nan
    return pd.DataFrame(
        {
            "ic_s": ic,
            "to_s": to,
            "side": sd,
            "contact_time_s": to - ic,
            "step_time_s": np.where(has_next, np.roll(ic, -1) - ic, nan),
            "vertical_oscillation_m": np.where(has_next, osc, nan),
            "vertical_oscillation_contact_line_m": np.where(has_next, osc_line, nan),
            "lean_deg": np.where(has_next, lean, nan),
            "lateral_lean_deg": np.where(has_stride, roll_mean * DEG_PER_RAD, nan),
            "pelvic_drop_deg": np.where(has_stride, drop, nan),
            "roll_range_deg": np.where(has_stride, roll_range, nan),
            "yaw_range_deg": np.where(has_stride, yaw_range, nan),
        },
        columns=TRUTH_COLUMNS,
    )
