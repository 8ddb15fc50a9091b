"""Calibration results: frozen, JSON round-trippable records of one procedure each.

Conventions
-----------
Every correction is applied to *raw* sensor-frame samples (``Session.frame == "sensor"``):

- gyroscope: ``w = w_raw - bias_rads``;
- accelerometer: ``a = matrix @ (a_raw - bias_mps2)``;
- mounting: ``v_body = rotation @ v_sensor`` with body axes ``(v, ap, ml)`` (`gait.constants`).

A record is created by its procedure (`estimate_gyro_bias`, `calibrate_accelerometer`, the
mounting estimate) and stored per device by `CalibrationStore`; a `Calibration` bundles the
latest record of each kind for one device and is what `apply_calibration` takes.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np

from gait.errors import GaitInputError, Where

__all__ = [
    "KINDS",
    "AccelCalibration",
    "Calibration",
    "GyroBiasCalibration",
    "MountingCalibration",
    "utc_now",
]

#: The kinds of calibration record, in the order they are applied and listed.
KINDS = ("gyro", "accel", "mounting")


def utc_now() -> str:
    """Current UTC time as ISO 8601 with microseconds, e.g. ``2025-01-02T03:04:05.678901Z``."""
    return datetime.now(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def _compact(created: str) -> str:
    """``2025-01-02T03:04:05.678901Z`` -> ``20250102T030405.678901Z`` (for ids)."""
    return created.replace("-", "").replace(":", "")


def _frozen_array(x: Any, shape: tuple[int, ...], name: str) -> np.ndarray:
    a = np.array(x, dtype=np.float64)  # a copy: the record never aliases the caller's array
    if a.shape != shape:
        raise GaitInputError(
            "bad calibration value", expected=f"shape {shape}", found=f"shape {a.shape}", where=Where(parameter=name)
        )
    if not np.all(np.isfinite(a)):
        raise GaitInputError(
            "bad calibration value", expected="finite numbers", found=np.array2string(a), where=Where(parameter=name)
        )
    a.setflags(write=False)
    return a


def _check_created(created: str) -> str:
    try:
        datetime.fromisoformat(created.replace("Z", "+00:00"))
    except (TypeError, ValueError, AttributeError):
        raise GaitInputError(
            "bad timestamp",
            expected="an ISO 8601 time such as '2025-01-02T03:04:05.678Z'",
            found=repr(created),
            where=Where(parameter="created"),
        ) from None
    return created


def created_datetime(created: str) -> datetime:
    """Parse a record's ``created`` timestamp (timezone-aware)."""
    return datetime.fromisoformat(created.replace("Z", "+00:00"))


@dataclass(frozen=True, eq=False)
class GyroBiasCalibration:
    """Gyroscope bias from a still recording.

    Attributes
    ----------
    bias_rads
        Bias of each sensor axis, rad/s, shape ``(3,)``; subtracted from the raw rate.
    noise_rads
        Standard deviation of the raw rate about its mean, per axis, rad/s (white noise).
    duration_s
        Length of the still stretch the bias was averaged over, s.
    n_samples
        Samples averaged.
    created
        ISO 8601 UTC time the record was made.
    source
        File (or ``"live"``) the recording came from.
    """

    bias_rads: np.ndarray
    noise_rads: np.ndarray
    duration_s: float
    n_samples: int
    created: str = field(default_factory=utc_now)
    source: str | None = None

    kind = "gyro"

    def __post_init__(self) -> None:
        object.__setattr__(self, "bias_rads", _frozen_array(self.bias_rads, (3,), "bias_rads"))
        object.__setattr__(self, "noise_rads", _frozen_array(self.noise_rads, (3,), "noise_rads"))
        object.__setattr__(self, "created", _check_created(self.created))

    @property
    def id(self) -> str:
        return f"gyro-{_compact(self.created)}"

    @property
    def bias_std_rads(self) -> np.ndarray:
        """Standard error of the bias (white noise), rad/s."""
        return self.noise_rads / math.sqrt(max(self.n_samples, 1))

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "id": self.id,
            "created": self.created,
            "source": self.source,
            "bias_rads": self.bias_rads.tolist(),
            "noise_rads": self.noise_rads.tolist(),
            "duration_s": self.duration_s,
            "n_samples": self.n_samples,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> GyroBiasCalibration:
        return cls(
            bias_rads=d["bias_rads"],
            noise_rads=d["noise_rads"],
            duration_s=float(d["duration_s"]),
            n_samples=int(d["n_samples"]),
            created=d["created"],
            source=d.get("source"),
        )


@dataclass(frozen=True, eq=False)
class AccelCalibration:
    """Accelerometer bias, scale and axis misalignment from still poses.

    The sensor model is ``a_raw = gain @ f + bias_mps2`` with ``f`` the specific force; the
    rows of ``gain`` are each axis's sensitivity (its norm, ``scale``) times its sensitive
    direction. The correction is ``f = matrix @ (a_raw - bias_mps2)``. Gravity alone fixes
    ``matrix`` only up to a rotation of the whole triad. When the recording has a gyroscope
    and continuous movements between the poses, that rotation is measured too and the
    corrected axes are the gyroscope's (``axes="gyroscope"``); otherwise the symmetric
    solution is kept (``axes="accelerometer"``: the orthonormal triad closest to the
    accelerometer's own), and the remaining rotation, below a degree or two, becomes part of
    the mounting.

    Attributes
    ----------
    bias_mps2
        Offset of each axis, m/s^2, shape ``(3,)``.
    matrix
        Correction matrix, shape ``(3, 3)``: symmetric (``model="full"``) or diagonal
        (``model="bias_scale"``), times the rotation into the gyroscope's axes when
        ``axes="gyroscope"``.
    scale
        Sensitivity of each axis relative to nominal (1.0 = exact), shape ``(3,)``.
    misalignment_rad
        Non-orthogonality of the axes, rad, ``(y-z, z-x, x-y)``: how far each pair is from
        90 degrees (positive: closer than 90). Zero by construction for ``"bias_scale"``.
    residual_mps2
        RMS over the still segments of ``|matrix @ (a - bias)| - g``, m/s^2.
    max_residual_mps2
        Largest absolute residual over the still segments, m/s^2.
    n_poses
        Distinct orientations (segments more than the separation angle apart).
    model
        ``"bias_scale"`` (6 parameters) or ``"full"`` (9: also misalignment).
    poses_mps2
        Mean raw reading of each still segment, m/s^2, shape ``(n_segments, 3)``.
    residuals_mps2
        Residual of each still segment, m/s^2.
    bias_std_mps2, scale_std
        Standard uncertainty of the bias (m/s^2) and of the scale (fraction), propagated from
        the noise of the pose means (or the residual, if larger) through the fit.
    axes
        ``"gyroscope"`` or ``"accelerometer"``: whose axes the corrected readings are in.
    gyr_scale
        Gyroscope scale correction per axis (``w = gyr_scale * (w_raw - bias)``), measured
        with the axes; ones when not measured.
    alignment_residual_deg
        RMS disagreement (deg) between the gyroscope's turns and the gravity directions of
        the poses, when the axes were aligned; ``None`` otherwise.
    alignment_note
        Why the axes were not aligned (empty when they were).
    created, source
        Provenance.
    """

    bias_mps2: np.ndarray
    matrix: np.ndarray
    residual_mps2: float
    max_residual_mps2: float
    n_poses: int
    model: str
    poses_mps2: np.ndarray = field(default_factory=lambda: np.zeros((0, 3)))
    residuals_mps2: np.ndarray = field(default_factory=lambda: np.zeros(0))
    bias_std_mps2: np.ndarray = field(default_factory=lambda: np.zeros(3))
    scale_std: np.ndarray = field(default_factory=lambda: np.zeros(3))
    axes: str = "accelerometer"
    gyr_scale: np.ndarray = field(default_factory=lambda: np.ones(3))
    alignment_residual_deg: float | None = None
    alignment_note: str = ""
    created: str = field(default_factory=utc_now)
    source: str | None = None

    kind = "accel"

    def __post_init__(self) -> None:
        object.__setattr__(self, "bias_mps2", _frozen_array(self.bias_mps2, (3,), "bias_mps2"))
        m = _frozen_array(self.matrix, (3, 3), "matrix")
        if abs(float(np.linalg.det(m))) < 1e-6:
            raise GaitInputError(
                "bad calibration value",
                expected="an invertible correction matrix",
                found=np.array2string(m),
                where=Where(parameter="matrix"),
            )
        object.__setattr__(self, "matrix", m)
        poses = np.array(self.poses_mps2, dtype=float).reshape(-1, 3)
        res = np.array(self.residuals_mps2, dtype=float).reshape(-1)
        poses.setflags(write=False)
        res.setflags(write=False)
        object.__setattr__(self, "poses_mps2", poses)
        object.__setattr__(self, "residuals_mps2", res)
        object.__setattr__(self, "bias_std_mps2", _frozen_array(self.bias_std_mps2, (3,), "bias_std_mps2"))
        object.__setattr__(self, "scale_std", _frozen_array(self.scale_std, (3,), "scale_std"))
        object.__setattr__(self, "gyr_scale", _frozen_array(self.gyr_scale, (3,), "gyr_scale"))
        if self.axes not in ("accelerometer", "gyroscope"):
            raise GaitInputError(
                "bad calibration value",
                expected="axes 'accelerometer' or 'gyroscope'",
                found=repr(self.axes),
                where=Where(parameter="axes"),
            )
        if self.model not in ("bias_scale", "full"):
            raise GaitInputError(
                "bad calibration value",
                expected="model 'bias_scale' or 'full'",
                found=repr(self.model),
                where=Where(parameter="model"),
            )
        object.__setattr__(self, "created", _check_created(self.created))

    @property
    def id(self) -> str:
        return f"accel-{_compact(self.created)}"

    @property
    def gain(self) -> np.ndarray:
        """The sensor's gain matrix (inverse of `matrix`): rows are scale x sensitive direction."""
        return np.linalg.inv(self.matrix)

    @property
    def scale(self) -> np.ndarray:
        """Sensitivity of each axis, 1.0 = nominal."""
        return np.linalg.norm(self.gain, axis=1)

    @property
    def misalignment_rad(self) -> np.ndarray:
        """Non-orthogonality ``(y-z, z-x, x-y)`` in rad (0 for orthogonal axes)."""
        return nonorthogonality_rad(self.gain)

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "id": self.id,
            "created": self.created,
            "source": self.source,
            "model": self.model,
            "bias_mps2": self.bias_mps2.tolist(),
            "matrix": self.matrix.tolist(),
            "scale": self.scale.tolist(),
            "misalignment_rad": self.misalignment_rad.tolist(),
            "residual_mps2": self.residual_mps2,
            "max_residual_mps2": self.max_residual_mps2,
            "bias_std_mps2": self.bias_std_mps2.tolist(),
            "scale_std": self.scale_std.tolist(),
            "axes": self.axes,
            "gyr_scale": self.gyr_scale.tolist(),
            "alignment_residual_deg": self.alignment_residual_deg,
            "alignment_note": self.alignment_note,
            "n_poses": self.n_poses,
            "poses_mps2": self.poses_mps2.tolist(),
            "residuals_mps2": self.residuals_mps2.tolist(),
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> AccelCalibration:
        return cls(
            bias_mps2=d["bias_mps2"],
            matrix=d["matrix"],
            residual_mps2=float(d["residual_mps2"]),
            max_residual_mps2=float(d["max_residual_mps2"]),
            n_poses=int(d["n_poses"]),
            model=d["model"],
            poses_mps2=d.get("poses_mps2", []),
            residuals_mps2=d.get("residuals_mps2", []),
            bias_std_mps2=d.get("bias_std_mps2", [0.0, 0.0, 0.0]),
            scale_std=d.get("scale_std", [0.0, 0.0, 0.0]),
            axes=d.get("axes", "accelerometer"),
            gyr_scale=d.get("gyr_scale", [1.0, 1.0, 1.0]),
            alignment_residual_deg=d.get("alignment_residual_deg"),
            alignment_note=d.get("alignment_note", ""),
            created=d["created"],
            source=d.get("source"),
        )


def nonorthogonality_rad(gain: np.ndarray) -> np.ndarray:
    """Non-orthogonality ``(y-z, z-x, x-y)`` of the sensitive directions (rows of ``gain``), rad."""
    u = np.asarray(gain, dtype=float)
    u = u / np.linalg.norm(u, axis=1, keepdims=True)
    dots = np.array([u[1] @ u[2], u[2] @ u[0], u[0] @ u[1]])
    return np.arcsin(np.clip(dots, -1.0, 1.0))


@dataclass(frozen=True, eq=False)
class MountingCalibration:
    """How the sensor sits on the back: the sensor-to-body rotation.

    Attributes
    ----------
    rotation
        Proper rotation, shape ``(3, 3)``: ``v_body = rotation @ v_sensor`` with body axes in
        the order ``(v, ap, ml)`` = (up, forward, left) of `gait.constants`.
    method
        How it was obtained, e.g. ``"standing+walking"`` (a recorded reference) or
        ``"auto"`` (estimated from a run).
    quality
        Quality measures reported by the estimate (names carry units), e.g.
        ``{"vertical_std_deg": 0.3, "forward_consistency": 0.98}``.
    created, source
        Provenance.
    """

    rotation: np.ndarray
    method: str
    quality: Mapping[str, float] = field(default_factory=dict)
    created: str = field(default_factory=utc_now)
    source: str | None = None

    kind = "mounting"

    def __post_init__(self) -> None:
        r = _frozen_array(self.rotation, (3, 3), "rotation")
        if not (np.allclose(r @ r.T, np.eye(3), atol=1e-6) and np.linalg.det(r) > 0):
            raise GaitInputError(
                "bad calibration value",
                expected="a proper rotation matrix (orthonormal, determinant +1)",
                found=np.array2string(r, precision=4),
                where=Where(parameter="rotation"),
            )
        object.__setattr__(self, "rotation", r)
        if not isinstance(self.method, str) or not self.method:
            raise GaitInputError(
                "bad calibration value",
                expected="a non-empty method name",
                found=repr(self.method),
                where=Where(parameter="method"),
            )
        object.__setattr__(self, "quality", {str(k): float(v) for k, v in dict(self.quality).items()})
        object.__setattr__(self, "created", _check_created(self.created))

    @property
    def id(self) -> str:
        return f"mounting-{_compact(self.created)}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "id": self.id,
            "created": self.created,
            "source": self.source,
            "rotation": self.rotation.tolist(),
            "method": self.method,
            "quality": dict(self.quality),
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> MountingCalibration:
        return cls(
            rotation=d["rotation"],
            method=d["method"],
            quality=d.get("quality") or {},
            created=d["created"],
            source=d.get("source"),
        )


Record = GyroBiasCalibration | AccelCalibration | MountingCalibration

RECORD_TYPES: dict[str, type[GyroBiasCalibration] | type[AccelCalibration] | type[MountingCalibration]] = {
    "gyro": GyroBiasCalibration,
    "accel": AccelCalibration,
    "mounting": MountingCalibration,
}


@dataclass(frozen=True, eq=False)
class Calibration:
    """Everything known about one device: the latest record of each kind.

    Attributes
    ----------
    device_id
        Address or serial of the device (``None``: not tied to a device).
    gyro, accel, mounting
        The records, each optional.

    ``id`` names exactly which records these are, e.g.
    ``"AA:BB:CC:DD:EE:FF gyro-20250102T030405.678901Z+accel-20250101T120000.000000Z"``; it is what
    `apply_calibration` writes to ``SessionMetadata.calibration``.
    """

    device_id: str | None = None
    gyro: GyroBiasCalibration | None = None
    accel: AccelCalibration | None = None
    mounting: MountingCalibration | None = None

    @property
    def parts(self) -> tuple[Record, ...]:
        return tuple(p for p in (self.gyro, self.accel, self.mounting) if p is not None)

    @property
    def is_empty(self) -> bool:
        return not self.parts

    @property
    def id(self) -> str:
        parts = "+".join(p.id for p in self.parts) or "none"
        return f"{self.device_id} {parts}" if self.device_id else parts

    def to_dict(self, *, with_poses: bool = True) -> dict[str, Any]:
        d: dict[str, Any] = {"id": self.id, "device_id": self.device_id}
        for p in self.parts:
            pd_ = p.to_dict()
            if not with_poses:
                pd_.pop("poses_mps2", None)
                pd_.pop("residuals_mps2", None)
            d[p.kind] = pd_
        return d
