"""The `Track`: time and what a file knows at each time; checks, repairs and derived channels."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import GaitInputError, Where
from ..units import format_duration

#: Mean Earth radius (IUGG), m.
EARTH_RADIUS_M = 6371008.8
#: Width of the centred window over which speed is taken from distance, s.
SPEED_WINDOW_S = 10.0
#: No point for longer than this (s) is a pause: no speed is claimed across it.
MAX_GAP_S = 60.0
#: A new GPX segment or TCX track counts as a pause when it starts this much (s) after the last
#: point, and more than twice the file's usual interval between points.
MIN_PAUSE_S = 3.0
#: A running step whose track speed is below this (m/s) gets no speed: the track says the runner
#: stood while the sensor saw running (a clock offset, or a watch that lost its fix).
MIN_RUNNING_SPEED_MPS = 1.0
#: Speeds above this (m/s) in a file are refused as corrupt (a car or a glitch, not a run).
MAX_TRACK_SPEED_MPS = 50.0
#: The formats `read_track` knows, by file suffix.
TRACK_FORMATS: dict[str, str] = {".gpx": "gpx", ".tcx": "tcx", ".fit": "fit", ".csv": "csv"}

_SEMICIRCLE_DEG = 180.0 / 2.0**31
#: Nominal running speed used only to turn an elevation change over time into a grade when no
#: speed and no horizontal distance are known (said so in the finding).
NOMINAL_SPEED_MPS = 3.0


# ---------------------------------------------------------------------------------------
# the track
# ---------------------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class Track:
    """A track: time, and what the file knows at each time (distance, speed, position, elevation).

    All arrays have one value per point, are finite (gaps in a channel are interpolated and
    said in `notes`), and a channel the file does not have is None.

    Attributes
    ----------
    t_s
        Times, s, strictly increasing: seconds since 1970-01-01 UTC when ``clock == "utc"``,
        the session clock (the ``t_s`` of the session file) when ``clock == "session"``.
    elevation_m
        Elevation, m (barometric or GPS, as the device recorded it), or None.
    distance_m
        Cumulative distance, m, non-decreasing, from 0 at the first point, or None.
    source
        The file it came from.
    alignment
        How the times were put on the session clock (or that they were not).
    speed_mps
        Speed, m/s, >= 0, or None.
    lat_deg, lon_deg
        Position (WGS 84), or None (a treadmill run, an elevation file).
    clock
        ``"utc"`` or ``"session"``.
    pauses_s
        ``(start, end)`` intervals (same clock) where the track was paused: no speed is
        claimed inside them and distance does not grow.
    fields
        What each channel came from, e.g. ``{"speed_mps": "device speed records (enhanced_speed)"}``.
    format
        ``"gpx"``, ``"tcx"``, ``"fit"``, ``"csv"``, or ``"arrays"``.
    sport
        The sport the file declares (``running``, ``running/treadmill``), or None.
    notes
        Repairs and facts worth telling (points skipped or interpolated, pauses).
    utc_zero_s
        UTC time (s since 1970) of ``t_s == 0``: 0 for a UTC track, the session's time origin
        for an aligned track, None when unknown.
    offset_s
        The clock offset applied when aligning (s; positive moves the track later).
    """

    t_s: np.ndarray
    elevation_m: np.ndarray | None = None
    distance_m: np.ndarray | None = None
    source: str = ""
    alignment: str = "session clock"
    speed_mps: np.ndarray | None = None
    lat_deg: np.ndarray | None = None
    lon_deg: np.ndarray | None = None
    clock: str = "session"
    pauses_s: tuple[tuple[float, float], ...] = ()
    fields: Mapping[str, str] = field(default_factory=dict)
    format: str = "arrays"
    sport: str | None = None
    notes: tuple[str, ...] = ()
    utc_zero_s: float | None = None
    offset_s: float = 0.0

    def __post_init__(self) -> None:
        where = Where(file=self.source) if self.source else Where(parameter="Track")
        t = np.asarray(self.t_s, dtype=float)
        if t.ndim != 1 or t.size < 2:
            raise GaitInputError("too few points", expected="at least 2 times", found=f"{t.size}", where=where)
        if not np.isfinite(t).all() or (np.diff(t) <= 0).any():
            k = int(np.flatnonzero(~np.isfinite(t) | np.append(np.diff(t) <= 0, False))[0])
            raise GaitInputError(
                "times not strictly increasing and finite",
                expected="strictly increasing, finite t_s",
                found=f"point {k}: {t[k]:g}" + (f" then {t[k + 1]:g}" if k + 1 < t.size else ""),
                where=where,
            )
        object.__setattr__(self, "t_s", t)
        for name in ("elevation_m", "distance_m", "speed_mps", "lat_deg", "lon_deg"):
            v = getattr(self, name)
            if v is None:
                continue
            a = np.asarray(v, dtype=float)
            if a.shape != t.shape or not np.isfinite(a).all():
                raise GaitInputError(
                    "bad track channel",
                    expected=f"{t.size} finite values (one per time)",
                    found=f"{a.size} values, {int(np.sum(~np.isfinite(a)))} not finite",
                    where=Where(file=self.source, parameter=name) if self.source else Where(parameter=name),
                )
            object.__setattr__(self, name, a)
        if self.clock not in ("utc", "session"):
            raise GaitInputError(
                "invalid value", expected="'utc' or 'session'", found=repr(self.clock), where=Where(parameter="clock")
            )
        if (self.lat_deg is None) != (self.lon_deg is None):
            raise GaitInputError(
                "half a position", expected="both lat_deg and lon_deg, or neither", found="one", where=where
            )
        if self.speed_mps is not None and (self.speed_mps < 0).any():
            raise GaitInputError("negative speed", expected="speeds >= 0", found="a negative speed", where=where)
        if self.distance_m is not None and (np.diff(self.distance_m) < 0).any():
            raise GaitInputError(
                "distance decreasing",
                expected="a cumulative (non-decreasing) distance",
                found="a decrease",
                where=where,
            )

    # --- facts -------------------------------------------------------------------------
    @property
    def start_s(self) -> float:
        return float(self.t_s[0])

    @property
    def end_s(self) -> float:
        return float(self.t_s[-1])

    @property
    def has_positions(self) -> bool:
        return self.lat_deg is not None

    def paused(self, t: np.ndarray) -> np.ndarray:
        """Element-wise: is time ``t`` (this track's clock) inside a pause?"""
        t = np.asarray(t, dtype=float)
        out = np.zeros(t.shape, bool)
        for a, b in self.pauses_s:  # a handful of pauses per run
            out |= (t > a) & (t < b)
        return out

    def covered(self, t: np.ndarray) -> np.ndarray:
        """Element-wise: is ``t`` within the track and outside its pauses?"""
        t = np.asarray(t, dtype=float)
        return (t >= self.t_s[0]) & (t <= self.t_s[-1]) & ~self.paused(t)

    def speed_at(self, t: np.ndarray) -> np.ndarray:
        """Speed (m/s) at times ``t`` (linear interpolation); NaN outside the track, in pauses,
        or when the track has no speed."""
        t = np.asarray(t, dtype=float)
        if self.speed_mps is None:
            return np.full(t.shape, np.nan)
        return np.where(self.covered(t), np.interp(t, self.t_s, self.speed_mps), np.nan)

    def step_speed_at(self, t: np.ndarray) -> np.ndarray:
        """`speed_at` for running steps: NaN also where the track is below
        `MIN_RUNNING_SPEED_MPS` (the track and the sensor disagree there)."""
        v = self.speed_at(t)
        with np.errstate(invalid="ignore"):
            return np.where(v >= MIN_RUNNING_SPEED_MPS, v, np.nan)

    def distance_at(self, t: np.ndarray) -> np.ndarray:
        """Cumulative distance (m) at times ``t``; NaN outside the track or without distance."""
        t = np.asarray(t, dtype=float)
        if self.distance_m is None:
            return np.full(t.shape, np.nan)
        inside = (t >= self.t_s[0]) & (t <= self.t_s[-1])
        return np.where(inside, np.interp(t, self.t_s, self.distance_m), np.nan)

    def distance_between(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """Distance covered from ``a`` to ``b`` (clipped to the track), m; NaN without distance."""
        if self.distance_m is None:
            return np.full(np.shape(a), np.nan)
        lo, hi = self.t_s[0], self.t_s[-1]
        a = np.clip(np.asarray(a, dtype=float), lo, hi)
        b = np.clip(np.asarray(b, dtype=float), lo, hi)
        return np.maximum(np.interp(b, self.t_s, self.distance_m) - np.interp(a, self.t_s, self.distance_m), 0.0)

    def grade_pct(self, t: np.ndarray, *, speed_mps: float | None, window_s: float = 20.0) -> tuple[np.ndarray, str]:
        """Grade (%) at times ``t`` over a centred window; NaN outside the track.

        The horizontal distance is the track's own when it has one, else the known running
        speed, else an assumed 3 m/s (said in the returned text).

        Returns
        -------
        grades, how
            The grades, and how the horizontal distance was obtained.
        """
        t = np.asarray(t, dtype=float)
        if self.elevation_m is None:
            return np.full(t.shape, np.nan), "the track has no elevation"
        a = np.clip(t - window_s / 2, self.t_s[0], self.t_s[-1])
        b = np.clip(t + window_s / 2, self.t_s[0], self.t_s[-1])
        dz = np.interp(b, self.t_s, self.elevation_m) - np.interp(a, self.t_s, self.elevation_m)
        if self.distance_m is not None:
            dx = self.distance_between(a, b)
            how = "horizontal distance from the track"
        else:
            known = speed_mps is not None and math.isfinite(speed_mps)
            v = float(speed_mps) if known and speed_mps is not None else NOMINAL_SPEED_MPS
            dx = v * (b - a)
            how = (
                f"horizontal distance from the known speed ({v:.2f} m/s)"
                if known
                else f"horizontal distance from an assumed {NOMINAL_SPEED_MPS:g} m/s (no speed known: grades are approximate)"
            )
        with np.errstate(invalid="ignore", divide="ignore"):
            g = 100.0 * dz / dx
        inside = (t >= self.t_s[0]) & (t <= self.t_s[-1]) & (dx > 1.0)
        return np.where(inside, g, np.nan), how

    def times_utc(self) -> np.ndarray | None:
        """The times as ``datetime64[ms]`` (UTC), or None when the UTC time is unknown."""
        zero = 0.0 if self.clock == "utc" else self.utc_zero_s
        if zero is None:
            return None
        return ((self.t_s + zero) * 1000.0).round().astype("datetime64[ms]")

    def describe(self) -> str:
        """One line: file, format, points, span, distance, pauses, alignment."""
        d = f", {self.distance_m[-1] / 1000:.2f} km" if self.distance_m is not None else ""
        p = f", {len(self.pauses_s)} pause(s)" if self.pauses_s else ""
        name = Path(self.source).name if self.source else "in memory"
        return (
            f"{name} ({self.format.upper()}, {self.t_s.size} points, "
            f"{format_duration(self.end_s - self.start_s)}{d}{p}; {self.alignment})"
        )

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready summary (``docs/report.md``, ``track``)."""
        zero = 0.0 if self.clock == "utc" else self.utc_zero_s
        start = None if zero is None else datetime.fromtimestamp(self.start_s + zero, tz=UTC).isoformat()
        return {
            "source": self.source,
            "format": self.format,
            "points": int(self.t_s.size),
            "start_utc": start,
            "duration_s": float(self.end_s - self.start_s),
            "distance_m": None if self.distance_m is None else float(self.distance_m[-1] - self.distance_m[0]),
            "alignment": self.alignment,
            "offset_s": float(self.offset_s),
            "pauses": [{"start_s": float(a), "end_s": float(b)} for a, b in self.pauses_s],
            "fields": dict(self.fields),
            "sport": self.sport,
            "notes": list(self.notes),
        }


def _iso(epoch_s: float) -> str:
    return datetime.fromtimestamp(float(epoch_s), tz=UTC).isoformat().replace("+00:00", "Z")


def _epoch(dt: datetime) -> float:
    """Seconds since 1970 UTC; a time without a zone is taken as UTC (as GPX, TCX and FIT define)."""
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.timestamp()


def _parse_iso(text: str) -> datetime:
    s = text.strip()
    if s.endswith(("Z", "z")):
        s = s[:-1] + "+00:00"
    return datetime.fromisoformat(s)
