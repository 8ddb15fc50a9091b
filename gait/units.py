"""Speed and pace in runners' units, in one place.

Inside the product every speed is in m/s. Runners think in pace (minutes per kilometre or per
mile) or in km/h and mph; this module converts at the edges (the command line, the reports)::

    >>> from gait.units import parse_pace, format_pace
    >>> round(parse_pace("5:00/km"), 4)
    3.3333
    >>> format_pace(3.0, "mi")
    '8:56/mi'

Accepted by `parse_pace`: ``M:SS/km``, ``M:SS/mi`` (also ``min/km``, ``/mile``, ``per mile``,
decimal seconds ``M:SS.s``), ``12 km/h`` (``kph``, ``kmh``), ``7.5 mph`` and ``3.3 m/s``
(``mps``). A bare number is refused: ``5.5`` could be a pace or a speed.
"""

from __future__ import annotations

import math
import re

import numpy as np

from .constants import METRES_PER_MILE
from .errors import GaitInputError, Where

__all__ = [
    "MAX_SPEED_MPS",
    "METRES_PER_KM",
    "PACE_UNITS",
    "format_duration",
    "format_pace",
    "kmh_to_mps",
    "mph_to_mps",
    "mps_to_kmh",
    "mps_to_mph",
    "pace_from_speed",
    "parse_pace",
    "speed_from_pace",
]

METRES_PER_KM = 1000.0
#: Distance of each pace unit, m.
PACE_UNITS: dict[str, float] = {"km": METRES_PER_KM, "mi": METRES_PER_MILE}
#: Fastest running speed accepted from a runner's input (m/s; the world record pace over 100 m
#: is about 12.4 m/s, so anything faster is a typo or another unit).
MAX_SPEED_MPS = 12.0

_EXAMPLES = "a pace such as 5:30/km or 8:50/mi, or a speed such as 12 km/h, 7.5 mph or 3.3 m/s"
_PACE = re.compile(
    r"^\s*(\d{1,2}):([0-5]?\d(?:\.\d+)?)\s*(?:min)?\s*(?:/|per\s+)\s*(km|kilometre|kilometer|mi|mile)s?\s*$",
    re.IGNORECASE,
)
_SPEED = re.compile(
    r"^\s*(\d+(?:\.\d*)?|\.\d+)\s*(km/h|kmh|kph|km/hr|mph|mi/h|m/s|mps)\s*$",
    re.IGNORECASE,
)
_SPEED_FACTOR = {"km/h": 1 / 3.6, "kmh": 1 / 3.6, "kph": 1 / 3.6, "km/hr": 1 / 3.6}
_SPEED_FACTOR.update({"mph": METRES_PER_MILE / 3600.0, "mi/h": METRES_PER_MILE / 3600.0})
_SPEED_FACTOR.update({"m/s": 1.0, "mps": 1.0})


def _unit(unit: str) -> float:
    if unit not in PACE_UNITS:
        raise GaitInputError("invalid value", expected="'km' or 'mi'", found=repr(unit), where=Where(parameter="unit"))
    return PACE_UNITS[unit]


def kmh_to_mps(kmh: float) -> float:
    """km/h to m/s."""
    return float(kmh) / 3.6


def mps_to_kmh(mps: float) -> float:
    """m/s to km/h."""
    return float(mps) * 3.6


def mph_to_mps(mph: float) -> float:
    """Miles per hour to m/s."""
    return float(mph) * METRES_PER_MILE / 3600.0


def mps_to_mph(mps: float) -> float:
    """m/s to miles per hour."""
    return float(mps) * 3600.0 / METRES_PER_MILE


def speed_from_pace(seconds_per_unit: float, unit: str = "km") -> float:
    """Speed (m/s) of a pace given in seconds per ``unit`` (``"km"`` or ``"mi"``)."""
    return _unit(unit) / float(seconds_per_unit)


def pace_from_speed(speed_mps: float | np.ndarray, unit: str = "km") -> float | np.ndarray:
    """Pace (seconds per ``unit``) of a speed in m/s; NaN where the speed is not > 0."""
    v = np.asarray(speed_mps, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.where(np.isfinite(v) & (v > 0), _unit(unit) / np.where(v > 0, v, 1.0), np.nan)
    return float(out) if out.ndim == 0 else out


def format_duration(seconds: float) -> str:
    """``M:SS`` (or ``H:MM:SS`` from an hour), rounded to the second; ``n/a`` if not finite."""
    if seconds is None or not math.isfinite(seconds) or seconds < 0:
        return "n/a"
    s = round(float(seconds))
    h, rem = divmod(s, 3600)
    m, sec = divmod(rem, 60)
    return f"{h}:{m:02d}:{sec:02d}" if h else f"{m}:{sec:02d}"


def format_pace(speed_mps: float | None, unit: str = "km") -> str:
    """A speed (m/s) as a pace, e.g. ``"5:30/km"`` or ``"8:51/mi"``; ``n/a`` when not > 0."""
    _unit(unit)
    if speed_mps is None or not math.isfinite(speed_mps) or speed_mps <= 0:
        return "n/a"
    return f"{format_duration(float(pace_from_speed(speed_mps, unit)))}/{unit}"


def parse_pace(text: str, *, parameter: str = "--pace") -> float:
    """Parse a pace or a speed in runners' units; returns m/s.

    Parameters
    ----------
    text
        ``"5:30/km"``, ``"8:50/mi"``, ``"5:30 min/km"``, ``"12 km/h"``, ``"7.5 mph"``,
        ``"3.3 m/s"``.
    parameter
        Named in the error message.

    Returns
    -------
    float
        The speed in m/s, between 0 and `MAX_SPEED_MPS` (exclusive).

    Raises
    ------
    GaitInputError
        Not one of the forms above, or a speed that is not between 0 and 12 m/s.
    """
    where = Where(parameter=parameter)
    s = str(text)
    m = _PACE.match(s)
    if m:
        seconds = int(m.group(1)) * 60.0 + float(m.group(2))
        unit = "km" if m.group(3).lower().startswith("k") else "mi"
        v = speed_from_pace(seconds, unit) if seconds > 0 else math.inf
    else:
        m = _SPEED.match(s)
        if not m:
            raise GaitInputError("not a pace or a speed", expected=_EXAMPLES, found=repr(s), where=where)
        v = float(m.group(1)) * _SPEED_FACTOR[m.group(2).lower()]
    if not (0.0 < v < MAX_SPEED_MPS):
        raise GaitInputError(
            "not a running pace",
            expected=f"a speed between 0 and {MAX_SPEED_MPS:g} m/s (a pace slower than "
            f"{format_pace(MAX_SPEED_MPS, 'km')} or {format_pace(MAX_SPEED_MPS, 'mi')})",
            found=f"{s!r} ({v:.2f} m/s)" if math.isfinite(v) else repr(s),
            where=where,
        )
    return v
