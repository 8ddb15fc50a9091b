"""Virtual IMU: what a sensor fixed to a rigid body segment would measure, from its motion.

Given the pose of a rigid segment over time (the position ``p`` of a chosen sensor point and
the segment's orientation ``R``, both in a *world* frame whose third axis points up), a sensor
rigidly fixed to the segment at ``p`` with mounting ``M`` reports

.. math::

    f_s = M^T R^T (\\ddot p + g\\,e_{up}) \\qquad \\omega_s = M^T \\operatorname{vee}(R^T \\dot R)

- ``f_s``: specific force, m/s^2 (acceleration minus gravity: a still sensor reads
  ``+g`` along the upward axis, a sensor in free fall reads 0);
- ``omega_s``: angular rate, rad/s, right-hand rule about each sensor axis;
- ``R``: columns are the segment's forward, left and up axes in world coordinates (the body
  frame of `gait.simulator`: forward, left, up);
- ``M``: columns are the sensor's x, y, z axes in the segment frame, exactly as in
  `gait.simulator.MOUNTINGS` (``"belt_clip"``, ``"upside_down"``, ``"sideways"``,
  ``"aligned"``), ``"random"`` (a seeded uniform rotation) or any given rotation matrix;
- ``g`` = `gait.constants.G`; ``vee`` maps the skew-symmetric ``R^T dR/dt`` to its vector.

Both the position and the orientation are low-passed with the same zero-lag filter before they
are differentiated (a 2nd-order Butterworth run forward and backward; ``cutoff_hz`` is the
-3 dB point of that combined response, with Winter's correction for the double pass), then
interpolated by quintic splines whose analytic derivatives give velocity, acceleration and
``dR/dt``; the filtered orientation is projected back onto the rotations (nearest rotation
matrix, by SVD) before differentiation. A quintic spline differentiates a smooth signal
sampled at 150 Hz to about 1e-6 relative error, so the only approximation left is the filter.

Also here: a least-squares rigid-body fit of marker clusters (`rigid_fit`, which also bridges
markers that drop out, as long as three non-collinear ones remain), the pelvis anatomical
frame of the ISB recommendation (`pelvis_frame`), and two self-checks of a virtual IMU against
the motion it came from (`velocity_closure`, `orientation_closure`).

Notes
-----
Rigid fit: the singular-value-decomposition solution of Söderkvist & Wedin (1993),
"Determining the movements of the skeleton using well-configured markers", J Biomech
26:1473-1477 (weighted, so missing markers get weight 0). Pelvis frame: Wu et al. (2002),
"ISB recommendation on definitions of joint coordinate system of various joints for the
reporting of human joint motion - part I: ankle, hip, and spine", J Biomech 35:543-548.
Filter: Winter (2009), "Biomechanics and Motor Control of Human Movement", 4th ed., Wiley:
zero-lag Butterworth with the cutoff corrected for the second pass; the cutoff itself is
chosen per dataset by Winter's residual analysis (see ``docs/validation.md``).
Deviation: the orientation is filtered element-wise and re-projected onto the rotations
instead of being filtered on the rotation group; for the few-degree, few-hertz motions of a
pelvis the difference is far below the filter's own effect.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import ArrayLike
from scipy.interpolate import make_interp_spline
from scipy.signal import butter, sosfiltfilt
from scipy.spatial.transform import Rotation

from ..constants import G
from ..errors import GaitInputError, Where, check_positive
from ..session import Session, SessionMetadata
from ..simulator import MOUNTINGS
from ._rigid import as_rotations, as_vectors, pelvis_frame, rigid_fit, segment_template

__all__ = [
    "VirtualImu",
    "mounting_matrix",
    "rigid_fit",
    "segment_template",
    "pelvis_frame",
    "zero_lag_lowpass",
    "virtual_imu",
    "velocity_closure",
    "orientation_closure",
]

#: Winter's correction of a 2nd-order Butterworth cutoff for a forward-backward (two-pass)
#: application: design at ``cutoff / 0.802`` so the combined response is -3 dB at ``cutoff``.
DOUBLE_PASS_CORRECTION = 0.802
#: Default cutoff of the zero-lag low-pass applied before differentiating, Hz.
DEFAULT_CUTOFF_HZ = 20.0


def mounting_matrix(mounting: str | ArrayLike, *, seed: int | None = None) -> np.ndarray:
    """The sensor's axes in the segment frame (columns x, y, z; rows forward, left, up).

    Parameters
    ----------
    mounting
        A name of `gait.simulator.MOUNTINGS` (``"belt_clip"``, ``"upside_down"``,
        ``"sideways"``, ``"aligned"``), ``"random"``, or a 3x3 rotation matrix.
    seed
        Seed of the ``"random"`` mounting (required for it, so a run is reproducible).

    Returns
    -------
    ndarray, shape (3, 3)
    """
    if isinstance(mounting, str):
        if mounting == "random":
            if seed is None:
                raise GaitInputError(
                    "missing seed",
                    expected="an integer seed for the 'random' mounting",
                    found="None",
                    where=Where(parameter="seed"),
                )
            return np.asarray(Rotation.random(random_state=np.random.default_rng(seed)).as_matrix(), dtype=float)
        if mounting not in MOUNTINGS:
            raise GaitInputError(
                "unknown mounting",
                expected="one of " + ", ".join(repr(m) for m in [*MOUNTINGS, "random"]) + " or a 3x3 rotation matrix",
                found=repr(mounting),
                where=Where(parameter="mounting"),
            )
        return np.array(MOUNTINGS[mounting], dtype=float)
    m = np.asarray(mounting, dtype=float)
    if m.shape != (3, 3):
        raise GaitInputError(
            "bad mounting",
            expected="a 3x3 rotation matrix or a name",
            found=f"shape {m.shape}",
            where=Where(parameter="mounting"),
        )
    return as_rotations(m[None], "mounting")[0]


# ---------------------------------------------------------------------------------------
# filtering and differentiation
# ---------------------------------------------------------------------------------------
def zero_lag_lowpass(x: ArrayLike, *, sampling_rate_hz: float, cutoff_hz: float, axis: int = 0) -> np.ndarray:
    """2nd-order Butterworth low-pass run forward and backward (zero lag).

    ``cutoff_hz`` is the -3 dB frequency of the combined two-pass response (Winter's
    correction: the single pass is designed at ``cutoff_hz / 0.802``). The ends are padded
    by odd reflection (value and slope continuous) over up to one second.
    """
    fs = check_positive(sampling_rate_hz, "sampling_rate_hz")
    fc = check_positive(cutoff_hz, "cutoff_hz")
    design = fc / DOUBLE_PASS_CORRECTION
    if design >= fs / 2:
        raise GaitInputError(
            "cutoff too high",
            expected=f"cutoff_hz below {0.5 * fs * DOUBLE_PASS_CORRECTION:.4g} Hz at {fs:g} Hz sampling",
            found=f"{fc:g} Hz",
            where=Where(parameter="cutoff_hz"),
        )
    a = np.asarray(x, dtype=float)
    sos = butter(2, design, fs=fs, output="sos")
    n = a.shape[axis]
    if n < 16:
        raise GaitInputError(
            "too short to filter", expected="at least 16 samples", found=f"{n}", where=Where(parameter="x")
        )
    return sosfiltfilt(sos, a, axis=axis, padtype="odd", padlen=min(n - 1, int(fs)))


def _nearest_rotation(m: np.ndarray) -> np.ndarray:
    U, _, Vt = np.linalg.svd(m)
    d = np.sign(np.linalg.det(np.einsum("nij,njk->nik", U, Vt)))
    U[:, :, 2] *= d[:, None]
    return np.einsum("nij,njk->nik", U, Vt)


@dataclass(frozen=True)
class VirtualImu:
    """A virtual IMU recording and the motion it was computed from (all on its time grid).

    Attributes
    ----------
    session
        The sensor-frame `gait.Session` (specific force, m/s^2; angular rate, rad/s).
    t_s
        Sample times, s (``session.t``).
    position_m
        Filtered sensor-point position in the world, m, shape ``(n, 3)``.
    orientation
        Filtered segment orientation (segment -> world), shape ``(n, 3, 3)``.
    acc_world_mps2
        Specific force in world axes, m/s^2 (``d2p/dt2 + g e_up``).
    gyr_segment_rads
        Angular rate in segment axes, rad/s (before the mounting).
    mounting
        The mounting matrix ``M`` (columns: sensor axes in the segment frame).
    """

    session: Session
    t_s: np.ndarray
    position_m: np.ndarray
    orientation: np.ndarray
    acc_world_mps2: np.ndarray
    gyr_segment_rads: np.ndarray
    mounting: np.ndarray
    info: dict[str, Any] = field(default_factory=dict)


def virtual_imu(
    position_m: ArrayLike,
    orientation: ArrayLike,
    *,
    sampling_rate_hz: float,
    mounting: str | ArrayLike = "belt_clip",
    cutoff_hz: float | None = DEFAULT_CUTOFF_HZ,
    seed: int | None = None,
    t0_s: float = 0.0,
    trim_s: float = 0.2,
    device: str = "virtual IMU (motion capture)",
    extra: Mapping[str, Any] | None = None,
) -> VirtualImu:
    """Specific force and angular rate of a sensor fixed to a moving rigid segment.

    Parameters
    ----------
    position_m
        Sensor point in world coordinates (third axis up), m, shape ``(n, 3)``, uniformly
        sampled.
    orientation
        Segment orientation, shape ``(n, 3, 3)``: columns are the segment's forward, left and
        up axes in world coordinates.
    sampling_rate_hz
        Sampling rate of both, Hz (keyword-only, no default).
    mounting
        Sensor mounting on the segment (see `mounting_matrix`).
    cutoff_hz
        Zero-lag low-pass applied to position and orientation before differentiating
        (`zero_lag_lowpass`); ``None`` differentiates the input as given (for exact input).
    seed
        Seed of a ``"random"`` mounting.
    t0_s
        Time of the first input sample, s.
    trim_s
        Time dropped at each end, s: the filter and the spline derivatives are least accurate
        there (about two periods of the cutoff). 0 keeps every sample.
    device, extra
        Session metadata (``extra`` is stored in ``session.meta.extra`` with the mounting and
        the cutoff).

    Returns
    -------
    VirtualImu
        The sensor-frame session and the filtered motion it came from.

    Raises
    ------
    GaitInputError
        On bad shapes, non-finite values, matrices that are not rotations, a cutoff at or
        above the Nyquist frequency, or input too short for the trim.
    """
    fs = check_positive(sampling_rate_hz, "sampling_rate_hz")
    p = as_vectors(position_m, "position_m")
    R = as_rotations(orientation, "orientation")
    if R.shape[0] != p.shape[0]:
        raise GaitInputError(
            "length mismatch",
            expected=f"as many orientations as positions ({p.shape[0]})",
            found=f"{R.shape[0]}",
            where=Where(parameter="orientation"),
        )
    M = mounting_matrix(mounting, seed=seed)
    if not (np.isfinite(trim_s) and trim_s >= 0):
        raise GaitInputError(
            "bad trim", expected="a finite number >= 0", found=repr(trim_s), where=Where(parameter="trim_s")
        )
    k = round(trim_s * fs)
    n = p.shape[0]
    if n - 2 * k < 16:
        raise GaitInputError(
            "too short",
            expected=f"more than {2 * k + 16} samples (16 after trimming {trim_s:g} s at each end)",
            found=f"{n} samples",
            where=Where(parameter="position_m"),
        )
    if cutoff_hz is not None:
        p = zero_lag_lowpass(p, sampling_rate_hz=fs, cutoff_hz=cutoff_hz)
        R = _nearest_rotation(
            zero_lag_lowpass(R.reshape(n, 9), sampling_rate_hz=fs, cutoff_hz=cutoff_hz).reshape(n, 3, 3)
        )
    t = t0_s + np.arange(n) / fs
    sp = make_interp_spline(t, np.concatenate([p, R.reshape(n, 9)], axis=1), k=5, axis=0)
    d1 = sp.derivative(1)(t)
    d2 = sp.derivative(2)(t)
    acc_w = d2[:, :3].copy()
    acc_w[:, 2] += G
    Rdot = d1[:, 3:].reshape(n, 3, 3)
    W = np.einsum("nji,njk->nik", R, Rdot)  # R^T dR/dt: skew-symmetric
    W = (W - np.swapaxes(W, 1, 2)) / 2
    gyr_seg = np.column_stack([W[:, 2, 1], W[:, 0, 2], W[:, 1, 0]])
    acc_seg = np.einsum("nji,nj->ni", R, acc_w)
    keep = slice(k, n - k)
    acc_s = (acc_seg @ M)[keep]  # M^T v for each row v
    gyr_s = (gyr_seg @ M)[keep]
    meta_extra = {
        "mounting": mounting if isinstance(mounting, str) else "given",
        "mounting_matrix": np.round(M, 12).tolist(),
        "cutoff_hz": cutoff_hz,
        **dict(extra or {}),
    }
    meta = SessionMetadata(
        sampling_rate_hz=fs,
        device=device,
        units_as_recorded={"acc": "mps2", "gyr": "rads", "t": "s"},
        extra=meta_extra,
    )
    session = Session(t=t[keep], acc=acc_s, gyr=gyr_s, frame="sensor", meta=meta)
    return VirtualImu(
        session=session,
        t_s=t[keep],
        position_m=p[keep],
        orientation=R[keep],
        acc_world_mps2=acc_w[keep],
        gyr_segment_rads=gyr_seg[keep],
        mounting=M,
        info={"cutoff_hz": cutoff_hz, "trim_s": trim_s},
    )


# ---------------------------------------------------------------------------------------
# self-checks
# ---------------------------------------------------------------------------------------
def velocity_closure(
    acc_world_mps2: ArrayLike, starts: ArrayLike, stops: ArrayLike, *, sampling_rate_hz: float
) -> np.ndarray:
    """Vertical velocity change over each interval, from integrating the specific force.

    ``(f_up - g)`` integrated (trapezoid) from sample ``starts[k]`` to ``stops[k]``: over a
    whole stride of steady running the runner's vertical velocity returns to its starting
    value, so this is about 0 when the virtual specific force is right. m/s, one per interval.
    """
    fs = check_positive(sampling_rate_hz, "sampling_rate_hz")
    a = as_vectors(acc_world_mps2, "acc_world_mps2")[:, 2] - G
    c = np.concatenate([[0.0], np.cumsum((a[1:] + a[:-1]) / 2 / fs)])
    s = np.asarray(starts, dtype=np.int64)
    e = np.asarray(stops, dtype=np.int64)
    return c[e] - c[s]


def orientation_closure(
    gyr_segment_rads: ArrayLike,
    orientation: ArrayLike,
    starts: ArrayLike,
    stops: ArrayLike,
    *,
    sampling_rate_hz: float,
) -> np.ndarray:
    """Angle between the orientation at ``stops[k]`` and the one rebuilt from the rates, deg.

    From ``orientation[starts[k]]``, the segment-frame angular rate is integrated (rotation
    by the mean rate of each sample interval, composed on the right) up to ``stops[k]``; the
    result is compared with ``orientation[stops[k]]``. Vectorised over intervals (the loop
    runs over the samples of the longest interval).
    """
    fs = check_positive(sampling_rate_hz, "sampling_rate_hz")
    w = as_vectors(gyr_segment_rads, "gyr_segment_rads")
    R = as_rotations(orientation, "orientation")
    s = np.asarray(starts, dtype=np.int64)
    e = np.asarray(stops, dtype=np.int64)
    rot = Rotation.from_matrix(R[s])
    length = e - s
    for j in range(int(length.max()) if length.size else 0):
        active = j < length
        i = np.minimum(s + j, len(w) - 2)
        step = Rotation.from_rotvec(np.where(active[:, None], (w[i] + w[i + 1]) / 2 / fs, 0.0))
        rot = rot * step
    err = rot.inv() * Rotation.from_matrix(R[e])
    return np.degrees(err.magnitude())
