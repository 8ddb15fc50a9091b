"""Simulated calibration recordings with exact truth, through the simulator's sensor model.

Each recording is a sequence of still *holds* joined by smooth hand movements (a rotation
along the shortest path with a raised-cosine speed profile, plus a small lift), sampled and
passed through exactly the sensor error model of `gait.simulator` (`SensorModel`: scale,
misalignment, bias, noise, range, int16 quantisation). The truth (gain matrix, biases,
orientation of every hold) comes with it, so tests and benchmarks check recovery exactly.

`gait.simulator.SensorModel` models the accelerometer misalignment as a small rotation of
the triad, which gravity cannot see (it is part of the mounting). Real triads are also
non-orthogonal; ``nonorthogonality_rad`` adds that here by bending the sensitive axes before
the simulator's model is applied.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import numpy as np
from scipy.spatial.transform import Rotation

from gait.constants import RAD_PER_DEG, G
from gait.errors import GaitInputError, Where, check_positive
from gait.session import Session, SessionMetadata
from gait.simulator import SensorModel
from gait.simulator._sensor import sensor_errors

from ._types import nonorthogonality_rad

__all__ = [
    "SIX_FACES",
    "TWELVE_POSES",
    "CalibrationRecording",
    "gain_matrix",
    "nonorthogonal_triad",
    "random_sensor_model",
    "simulate_poses",
    "simulate_still",
]

#: "Up" direction in sensor axes for the six-face procedure (+x up, -x up, ...).
SIX_FACES = np.array(
    [[1, 0, 0], [-1, 0, 0], [0, 1, 0], [0, -1, 0], [0, 0, 1], [0, 0, -1]],
    dtype=float,
)
_S = 1.0 / math.sqrt(2.0)
#: Six faces plus six edges (the sensor resting on an edge, tilted about 45 degrees).
TWELVE_POSES = np.vstack(
    [
        SIX_FACES,
        [[_S, _S, 0], [-_S, -_S, 0], [0, _S, _S], [0, -_S, -_S], [_S, 0, _S], [-_S, 0, -_S]],
    ]
)


@dataclass(frozen=True, eq=False)
class CalibrationRecording:
    """A simulated calibration recording and its truth.

    Attributes
    ----------
    session
        Raw sensor-frame recording.
    up_sensor
        Unit "up" direction in sensor axes during each hold, shape ``(n_holds, 3)``.
    holds_s
        ``(start_s, end_s)`` of each hold.
    sensor
        The sensor model used.
    gain
        True accelerometer gain matrix: ``a_raw = gain @ f + bias`` before noise.
    """

    session: Session
    up_sensor: np.ndarray
    holds_s: tuple[tuple[float, float], ...]
    sensor: SensorModel
    gain: np.ndarray

    @property
    def acc_bias_mps2(self) -> np.ndarray:
        return np.asarray(self.sensor.acc_bias_mps2, dtype=float)

    @property
    def gyr_bias_rads(self) -> np.ndarray:
        return np.asarray(self.sensor.gyr_bias_rads, dtype=float)

    @property
    def scale(self) -> np.ndarray:
        """True sensitivity of each axis (row norms of `gain`)."""
        return np.linalg.norm(self.gain, axis=1)

    @property
    def misalignment_rad(self) -> np.ndarray:
        """True non-orthogonality ``(y-z, z-x, x-y)``, rad."""
        return nonorthogonality_rad(self.gain)


def nonorthogonal_triad(nonorthogonality_rad: tuple[float, float, float] | np.ndarray) -> np.ndarray:
    """Unit sensitive directions (rows) whose pairs ``(y-z, z-x, x-y)`` deviate from 90 deg by the given angles.

    ``x`` is along the sensor x axis and ``y`` in the x-y plane (the convention of Tedaldi et
    al. 2014).
    """
    a_yz, a_zx, a_xy = (float(v) for v in np.asarray(nonorthogonality_rad, dtype=float))
    ux = np.array([1.0, 0.0, 0.0])
    uy = np.array([math.sin(a_xy), math.cos(a_xy), 0.0])
    p = math.sin(a_zx)
    q = (math.sin(a_yz) - uy[0] * p) / uy[1]
    uz = np.array([p, q, math.sqrt(max(1.0 - p * p - q * q, 0.0))])
    return np.vstack([ux, uy, uz])


def _misalignment_matrix(sm: SensorModel) -> np.ndarray:
    m = np.asarray(sm.acc_misalignment_rad, dtype=float)
    return np.array([[1.0, -m[2], m[1]], [m[2], 1.0, -m[0]], [-m[1], m[0], 1.0]])


def gain_matrix(sensor: SensorModel, nonorthogonality_rad: tuple[float, float, float] = (0.0, 0.0, 0.0)) -> np.ndarray:
    """The accelerometer gain matrix of ``sensor`` (``a_raw = gain @ f + bias``).

    Obtained by passing the unit vectors through `gait.simulator._sensor.sensor_errors` with noise,
    bias, range and quantisation switched off, so it is the simulator's model by
    construction.
    """
    clean = dataclasses.replace(
        sensor,
        acc_noise_mps2=0.0,
        gyr_noise_rads=0.0,
        acc_bias_mps2=(0.0, 0.0, 0.0),
        gyr_bias_rads=(0.0, 0.0, 0.0),
        quantize=False,
        acc_range_g=1e6,
        gyr_range_dps=1e9,
    )
    n = nonorthogonal_triad(nonorthogonality_rad)
    cols, _ = sensor_errors(np.eye(3) @ n.T, np.zeros((3, 3)), clean, np.random.default_rng(0))
    return cols.T


def random_sensor_model(
    seed: int | np.random.Generator,
    *,
    acc_bias_sd_mps2: float = 0.3,
    scale_sd: float = 0.02,
    misalignment_sd_rad: float = 0.01,
    gyr_bias_sd_rads: float = 2.0 * RAD_PER_DEG,
    base: SensorModel | None = None,
) -> SensorModel:
    """A sensor with random errors of typical consumer-MEMS size (noise and range from ``base``).

    Defaults: accelerometer bias 0.3 m/s^2 (about 30 mg), scale 2 %, misalignment 0.6 deg and
    gyroscope bias 2 deg/s, one standard deviation each.
    """
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    base = base or SensorModel()
    return dataclasses.replace(
        base,
        acc_bias_mps2=tuple(rng.normal(0, acc_bias_sd_mps2, 3).tolist()),
        acc_scale=tuple((1.0 + rng.normal(0, scale_sd, 3)).tolist()),
        acc_misalignment_rad=tuple(rng.normal(0, misalignment_sd_rad, 3).tolist()),
        gyr_bias_rads=tuple(rng.normal(0, gyr_bias_sd_rads, 3).tolist()),
    )


def _rotation_to_up(up: np.ndarray, yaw: float) -> Rotation:
    """A sensor-to-world rotation whose world-up is ``up`` in sensor axes, turned by ``yaw``."""
    up = up / np.linalg.norm(up)
    align, _ = Rotation.align_vectors([[0.0, 0.0, 1.0]], [up])  # maps sensor `up` onto world z
    return Rotation.from_rotvec([0.0, 0.0, yaw]) * align


def _as_up_vectors(poses: str | np.ndarray, n_random: int, rng: np.random.Generator) -> np.ndarray:
    if isinstance(poses, str):
        if poses == "six":
            return SIX_FACES.copy()
        if poses == "twelve":
            return TWELVE_POSES.copy()
        if poses == "random":
            v = rng.normal(size=(n_random, 3))
            return v / np.linalg.norm(v, axis=1, keepdims=True)
        raise GaitInputError(
            "invalid value",
            expected="'six', 'twelve', 'random' or an (n, 3) array of up directions",
            found=repr(poses),
            where=Where(parameter="poses"),
        )
    v = np.asarray(poses, dtype=float)
    if v.ndim != 2 or v.shape[1] != 3 or v.shape[0] < 1 or np.any(np.linalg.norm(v, axis=1) == 0):
        raise GaitInputError(
            "bad poses", expected="an (n, 3) array of non-zero up directions", found=f"shape {v.shape}",
            where=Where(parameter="poses"),
        )  # fmt: skip
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def simulate_poses(
    *,
    poses: str | np.ndarray = "six",
    n_random: int = 12,
    hold_s: float = 3.0,
    transition_s: float = 1.5,
    sampling_rate_hz: float = 200.0,
    sensor: SensorModel | None = None,
    tilt_deg: float = 2.0,
    lift_m: float = 0.05,
    nonorthogonality_rad: tuple[float, float, float] = (0.0, 0.0, 0.0),
    seed: int = 0,
    device_id: str = "sim-calibration",
) -> CalibrationRecording:
    """A recording of the sensor held still in a sequence of orientations.

    Parameters
    ----------
    poses
        ``"six"`` (each axis up then down), ``"twelve"`` (six faces and six edges),
        ``"random"`` (``n_random`` uniformly random orientations), or an ``(n, 3)`` array of
        "up" directions in sensor axes.
    n_random
        Number of poses for ``poses="random"``.
    hold_s, transition_s
        Duration of each still hold and of each movement between holds, s.
    sampling_rate_hz
        Sampling rate.
    sensor
        Sensor errors (default: `gait.simulator.SensorModel()`, noise and quantisation only).
    tilt_deg
        Standard deviation of the random tilt of each hold from its nominal direction (a
        table that is not level, a housing that is not square), deg.
    lift_m
        Height the sensor is lifted during each movement, m.
    nonorthogonality_rad
        Non-orthogonality of the accelerometer triad ``(y-z, z-x, x-y)``, rad.
    seed
        Random seed; the same seed gives the same recording.
    device_id
        Written to the session metadata.
    """
    fs = check_positive(sampling_rate_hz, "sampling_rate_hz")
    check_positive(hold_s, "hold_s")
    check_positive(transition_s, "transition_s")
    sm = sensor or SensorModel()
    rng = np.random.default_rng(seed)
    rng_pose, rng_err = (np.random.default_rng(s) for s in rng.integers(0, 2**63, 2))
    up = _as_up_vectors(poses, n_random, rng_pose)
    if tilt_deg > 0:
        tilts = Rotation.from_rotvec(rng_pose.normal(0, tilt_deg * RAD_PER_DEG, (len(up), 3)))
        up = tilts.apply(up)
    yaws = rng_pose.uniform(-np.pi, np.pi, len(up))
    rots = [_rotation_to_up(u, y) for u, y in zip(up, yaws)]
    k = len(rots)
    n_hold = round(hold_s * fs)
    n_tr = round(transition_s * fs)
    n = k * n_hold + (k - 1) * n_tr
    t = np.arange(n) / fs
    # per-sample orientation (as rotation vectors relative to the previous hold) and rates
    quats = np.empty((n, 4))
    w_s = np.zeros((n, 3))
    lift_acc = np.zeros(n)
    holds = []
    for i, r in enumerate(rots):  # loop over holds, vectorised within each
        a = i * (n_hold + n_tr)
        quats[a : a + n_hold] = r.as_quat()
        holds.append((float(t[a]), float(t[a + n_hold - 1] + 1.0 / fs)))
        if i == k - 1:
            break
        b = a + n_hold
        tau = (np.arange(n_tr) + 0.5) / n_tr  # samples strictly inside the movement
        s = 0.5 - 0.5 * np.cos(np.pi * tau)
        ds = 0.5 * np.pi * np.sin(np.pi * tau) / transition_s
        rv = (r.inv() * rots[i + 1]).as_rotvec()  # in the sensor frame of hold i
        quats[b : b + n_tr] = (r * Rotation.from_rotvec(np.outer(s, rv))).as_quat()
        w_s[b : b + n_tr] = np.outer(ds, rv)  # body rate of r * exp(s rv) is s' rv
        om = 2 * np.pi / transition_s
        lift_acc[b : b + n_tr] = lift_m / 2 * om**2 * np.cos(om * tau * transition_s)
    rot = Rotation.from_quat(quats)
    f_world = np.column_stack([np.zeros(n), np.zeros(n), G + lift_acc])
    f_s = rot.inv().apply(f_world)
    triad = nonorthogonal_triad(nonorthogonality_rad)
    acc, gyr = sensor_errors(f_s @ triad.T, w_s, sm, rng_err)
    meta = SessionMetadata(
        sampling_rate_hz=fs,
        device="simulator",
        device_id=device_id,
        units_as_recorded={"acc": "mps2", "gyr": "rads", "t": "s"},
        notes="simulated calibration recording",
    )
    session = Session(t=t, acc=acc, gyr=gyr if sm.has_gyro else None, frame="sensor", meta=meta)
    return CalibrationRecording(
        session=session,
        up_sensor=np.asarray(up),
        holds_s=tuple(holds),
        sensor=sm,
        gain=gain_matrix(sm, nonorthogonality_rad),
    )


def simulate_still(
    *,
    duration_s: float = 10.0,
    sampling_rate_hz: float = 200.0,
    sensor: SensorModel | None = None,
    up: tuple[float, float, float] | np.ndarray | None = None,
    bump: tuple[float, float, float] | None = None,
    seed: int = 0,
    device_id: str = "sim-calibration",
) -> CalibrationRecording:
    """A recording of the sensor lying still, optionally disturbed once.

    Parameters
    ----------
    duration_s, sampling_rate_hz
        Length and rate of the recording.
    sensor
        Sensor errors (default `SensorModel()`).
    up
        "Up" direction in sensor axes (default: random).
    bump
        ``(start_s, duration_s, angle_deg)``: the sensor is tilted by ``angle_deg`` about a
        random horizontal axis and back, with a raised-cosine profile (someone knocks the
        table, picks the sensor up).
    seed
        Random seed.
    device_id
        Written to the session metadata.
    """
    fs = check_positive(sampling_rate_hz, "sampling_rate_hz")
    check_positive(duration_s, "duration_s")
    sm = sensor or SensorModel()
    rng = np.random.default_rng(seed)
    rng_pose, rng_err = (np.random.default_rng(s) for s in rng.integers(0, 2**63, 2))
    u = rng_pose.normal(size=3) if up is None else np.asarray(up, dtype=float)
    u = u / np.linalg.norm(u)
    r0 = _rotation_to_up(u, float(rng_pose.uniform(-np.pi, np.pi)))
    n = round(duration_s * fs)
    t = np.arange(n) / fs
    angle = np.zeros(n)
    rate = np.zeros(n)
    axis_s = np.array([1.0, 0.0, 0.0])
    if bump is not None:
        start, dur, amp_deg = (float(v) for v in bump)
        check_positive(dur, "bump duration")
        tau = (t - start) / dur
        inside = (tau > 0) & (tau < 1)
        amp = amp_deg * RAD_PER_DEG
        angle[inside] = amp * np.sin(np.pi * tau[inside]) ** 2
        rate[inside] = amp * np.pi / dur * np.sin(2 * np.pi * tau[inside])
        horiz = np.cross(u, rng_pose.normal(size=3))
        axis_s = horiz / np.linalg.norm(horiz)  # a horizontal axis, in sensor coordinates
    rot = r0 * Rotation.from_rotvec(np.outer(angle, axis_s))
    f_s = rot.inv().apply(np.array([0.0, 0.0, G]))
    w_s = np.outer(rate, axis_s)
    acc, gyr = sensor_errors(f_s, w_s, sm, rng_err)
    meta = SessionMetadata(
        sampling_rate_hz=fs,
        device="simulator",
        device_id=device_id,
        units_as_recorded={"acc": "mps2", "gyr": "rads", "t": "s"},
        notes="simulated still recording",
    )
    session = Session(t=t, acc=acc, gyr=gyr if sm.has_gyro else None, frame="sensor", meta=meta)
    return CalibrationRecording(
        session=session,
        up_sensor=u[None, :],
        holds_s=((0.0, float(n / fs)),),
        sensor=sm,
        gain=gain_matrix(sm),
    )
