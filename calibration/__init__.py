"""Sensor and mounting calibration, per device, applied automatically.

Procedures (each a function on a recorded `gait.Session` and a ``gait calibrate`` command):

- `estimate_gyro_bias`: the sensor lying still for ~10 s -> gyroscope bias;
- `calibrate_accelerometer`: still poses (six faces, plus tilted ones) -> accelerometer bias,
  scale and axis misalignment, with the fit residual in m/s^2;
- `calibrate_mounting` (estimate: `gait.core.mounting`): standing still then a few steps ->
  sensor-to-body rotation.

Results are frozen records (`GyroBiasCalibration`, `AccelCalibration`, `MountingCalibration`)
kept per device by `CalibrationStore` (versioned JSON in the user data folder). The latest of
each kind form a `Calibration`, which `apply_calibration` applies to a raw session once,
recording its id in ``session.meta.calibration``.

>>> from calibration import CalibrationStore, apply_stored_calibration   # doctest: +SKIP
>>> session = apply_stored_calibration(gait.read_session("run.csv"))    # doctest: +SKIP
"""

from __future__ import annotations

import importlib
import importlib.util
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._accel import MODELS, calibrate_accelerometer, count_distinct_poses, fit_accelerometer
    from ._apply import apply_calibration, apply_stored_calibration, load_calibration, mounting_for
    from ._gyro import estimate_gyro_bias
    from ._mount import calibrate_mounting, mounting_from_estimate
    from ._still import find_still_segments, rolling_mean, rolling_std
    from ._store import FORMAT_NAME, FORMAT_VERSION, CalibrationStore, default_store_dir
    from ._types import AccelCalibration, Calibration, GyroBiasCalibration, MountingCalibration
    from .procedures import GUIDES, accel_procedure, gyro_procedure

#: Each public name and the module that defines it (imported on first use: importing the
#: package stays cheap, and only what is used is loaded).
_EXPORTS: dict[str, str] = {
    "AccelCalibration": "_types",
    "Calibration": "_types",
    "CalibrationStore": "_store",
    "FORMAT_NAME": "_store",
    "FORMAT_VERSION": "_store",
    "GUIDES": "procedures",
    "GyroBiasCalibration": "_types",
    "MODELS": "_accel",
    "MountingCalibration": "_types",
    "accel_procedure": "procedures",
    "apply_calibration": "_apply",
    "apply_stored_calibration": "_apply",
    "calibrate_accelerometer": "_accel",
    "calibrate_mounting": "_mount",
    "count_distinct_poses": "_accel",
    "default_store_dir": "_store",
    "estimate_gyro_bias": "_gyro",
    "find_still_segments": "_still",
    "fit_accelerometer": "_accel",
    "gyro_procedure": "procedures",
    "load_calibration": "_apply",
    "mounting_for": "_apply",
    "mounting_from_estimate": "_mount",
    "rolling_mean": "_still",
    "rolling_std": "_still",
}

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


def __getattr__(name: str) -> Any:
    """The public name ``name``, imported from its module on first use (then cached); a
    submodule is imported on first use too."""
    module = _EXPORTS.get(name)
    if module is None:
        if name.startswith("__") or importlib.util.find_spec(f"{__name__}.{name}") is None:
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
        return importlib.import_module(f".{name}", __name__)
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
