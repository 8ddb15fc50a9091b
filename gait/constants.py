"""Axis names, frames, units and physical constants: defined once, used everywhere.

Frames
------
Sensor frame
    The three axes ``x, y, z`` exactly as the device reports them (assumed right-handed).
Body frame
    Anatomical axes of the runner's trunk at the lumbar spine, right-handed, in this order:

    ==========  =====================================  ===========================
    axis        direction of the positive axis         acceleration at rest
    ==========  =====================================  ===========================
    ``v``       vertical, up                           ``acc_v = +9.81 m/s^2``
    ``ap``      antero-posterior, forward (anterior)   ``acc_ap = 0``
    ``ml``      medio-lateral, to the runner's left    ``acc_ml = 0``
    ==========  =====================================  ===========================

    ``(v, ap, ml)`` is a cyclic permutation of (up, forward, left), so the frame is
    right-handed: ``v x ap = ml``.

Accelerometers measure specific force (acceleration minus gravity), so a sensor at rest reads
+1 g along the upward axis and a runner in flight reads about 0 on every axis.

Angular rates follow the right-hand rule about each body axis:

- ``gyr_ml`` (about the left axis) is positive when the trunk pitches *forward*;
- ``gyr_ap`` (about the forward axis) is positive when the trunk rolls to the *right*
  (right shoulder down);
- ``gyr_v`` (about the up axis) is positive when the trunk turns to the *left*.

Trunk angles use the same signs: ``pitch`` (forward lean) positive forward, ``roll``
(lateral lean) positive to the right, ``yaw`` (rotation) positive to the left.

Units
-----
Everything inside the library is SI: seconds, metres, m/s^2, rad/s, radians. Conversion to
g, deg/s, degrees, centimetres, milliseconds and steps per minute happens only at the edges
(readers, reports), and every column that leaves the core carries its unit in its name.
"""

from __future__ import annotations

from typing import Final

#: Standard gravity, m/s^2.
G: Final = 9.80665

#: Conversion factors.
DEG_PER_RAD: Final = 180.0 / 3.141592653589793
RAD_PER_DEG: Final = 3.141592653589793 / 180.0
METRES_PER_MILE: Final = 1609.344

#: Sensor-frame axis names, in array column order.
SENSOR_AXES: Final = ("x", "y", "z")
#: Body-frame axis names, in array column order (up, forward, left).
BODY_AXES: Final = ("v", "ap", "ml")
#: Column index of each body axis.
V: Final = 0
AP: Final = 1
ML: Final = 2

#: The two frames a session can be expressed in.
FRAMES: Final = ("sensor", "body")

#: Time column of the canonical session file.
TIME_COLUMN: Final = "t_s"

#: Units the canonical file uses (SI) and the alternatives the readers accept and convert.
ACC_UNITS: Final = {"mps2": 1.0, "g": G, "mg": G / 1000.0}
GYR_UNITS: Final = {"rads": 1.0, "dps": RAD_PER_DEG}
#: Former spellings of unit tokens (before one spelling per unit), still read: a file with
#: ``acc_x_m_s2`` or ``gyr_x_deg_s`` columns loads as ``acc_x_mps2`` / ``gyr_x_dps``.
UNIT_ALIASES: Final = {"m_s2": "mps2", "rad_s": "rads", "deg_s": "dps"}


def unit_token(unit: str) -> str:
    """The current spelling of a unit token (``"m_s2" -> "mps2"``; others unchanged)."""
    return UNIT_ALIASES.get(unit, unit)


TIME_UNITS: Final = {"s": 1.0, "ms": 1e-3, "us": 1e-6, "ns": 1e-9}

#: Canonical (SI) unit suffix of each quantity in column names.
ACC_SI: Final = "mps2"
GYR_SI: Final = "rads"


def axes_for(frame: str) -> tuple[str, str, str]:
    """Axis names of ``frame`` ("sensor" or "body") in array column order."""
    if frame == "sensor":
        return SENSOR_AXES
    if frame == "body":
        return BODY_AXES
    raise ValueError(f"Invalid value for 'frame': expected one of {FRAMES}, got {frame!r}")


def acc_columns(frame: str, unit: str = ACC_SI) -> list[str]:
    """Acceleration column names of the canonical file for ``frame``, e.g. ``acc_x_mps2``."""
    return [f"acc_{a}_{unit}" for a in axes_for(frame)]


def gyr_columns(frame: str, unit: str = GYR_SI) -> list[str]:
    """Angular-rate column names of the canonical file for ``frame``, e.g. ``gyr_v_rads``."""
    return [f"gyr_{a}_{unit}" for a in axes_for(frame)]


#: Formats of the tables `gait batch` writes (`gait.batch.FORMATS`; here so that the
#: command line lists them without importing the batch machinery).
TABLE_FORMATS: Final[tuple[str, ...]] = ("parquet", "csv")

#: Exit status of the ``gait`` commands: done, failed (a device, the history, a bug), bad input.
EXIT_OK = 0
EXIT_FAILED = 1
EXIT_INPUT = 2
