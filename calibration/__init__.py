"""Sensor and mounting calibration, per device, applied automatically.

Procedures (each a function on a recorded `gait.Session` and a ``gait calibrate`` command):

- `estimate_gyro_bias`: the sensor lying still for ~10 s -> gyroscope bias;
- `calibrate_accelerometer`: still poses (six faces, plus tilted ones) -> accelerometer bias,
  scale and axis misalignment, with the fit residual in m/s^2;
- `calibrate_mounting` (estimate: `calibration.mounting`): standing still then a few steps ->
  sensor-to-body rotation.

Results are frozen records (`GyroBiasCalibration`, `AccelCalibration`, `MountingCalibration`)
kept per device by `CalibrationStore` (versioned JSON in the user data folder). The latest of
each kind form a `Calibration`, which `apply_calibration` applies to a raw session once,
recording its id in ``session.meta.calibration``.

>>> from calibration import CalibrationStore, apply_stored_calibration   # doctest: +SKIP
>>> session = apply_stored_calibration(gait.read_session("run.csv"))    # doctest: +SKIP
"""

from ._accel import MODELS, calibrate_accelerometer, count_distinct_poses, fit_accelerometer
from ._apply import apply_calibration, apply_stored_calibration, load_calibration, mounting_for
from ._gyro import estimate_gyro_bias
from ._mount import calibrate_mounting, mounting_from_estimate
from ._still import find_still_segments, rolling_mean, rolling_std
from ._store import FORMAT_NAME, FORMAT_VERSION, CalibrationStore, default_store_dir
from ._types import AccelCalibration, Calibration, GyroBiasCalibration, MountingCalibration
from .procedures import GUIDES, accel_procedure, gyro_procedure

__all__ = [
    "FORMAT_NAME",
    "FORMAT_VERSION",
    "GUIDES",
    "MODELS",
    "AccelCalibration",
    "Calibration",
    "CalibrationStore",
    "GyroBiasCalibration",
    "MountingCalibration",
    "accel_procedure",
    "apply_calibration",
    "apply_stored_calibration",
    "calibrate_accelerometer",
    "calibrate_mounting",
    "count_distinct_poses",
    "default_store_dir",
    "estimate_gyro_bias",
    "find_still_segments",
    "fit_accelerometer",
    "gyro_procedure",
    "load_calibration",
    "mounting_for",
    "mounting_from_estimate",
    "rolling_mean",
    "rolling_std",
]
