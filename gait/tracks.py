"""Speed, distance, position and elevation from the files runners have (GPX, TCX, FIT), on the
IMU session's clock.

A watch or a phone app records where the runner was and how fast they went; the lumbar IMU
records how they ran. This module reads the first and puts it on the clock of the second::

    from gait.tracks import read_track, align_track, split_table
    track = read_track("watch.fit")                 # a Track: UTC times, distance, speed, ...
    aligned = align_track(track, session)           # the same Track on the session clock
    a = gait.analyze(session, speed=aligned)        # per-step speed, step length, vertical ratio
    splits = split_table(a)                         # one row per km: pace, cadence, contact, ...

Formats (``docs/gps.md``): GPX (``gpxpy``), TCX (the standard library's XML parser), FIT (the
Garmin FIT SDK, ``garmin-fit-sdk``), and a CSV on the session clock (``t_s`` with
``elevation_m``, ``distance_m`` and/or ``speed_mps``). Every field of a `Track` says where it
came from (`Track.fields`): the device's own distance and speed records are used when the file
has them (they come from the watch's filtered GPS or its foot pod), otherwise distance is
summed from the positions (great circle) and speed is the distance over a centred 10 s window.

Pauses (the watch's timer stopped; a new GPX segment or TCX track after a break; no point for
more than a minute) are kept as intervals: distance does not grow across them, and steps taken
while the track was paused get no speed (unavailable, not zero).

Alignment is by time: the session's start time (``SessionMetadata.start_time``, the wall-clock
time of its first sample) against the track's UTC times, plus an optional clock offset
(``offset_s``: a positive offset moves the track later). Tracks that do not overlap the session
are refused with the size of the gap and the offset that would line their starts up.

Notes
-----
Distance from positions uses the haversine formula on a sphere of the mean Earth radius
(6 371 008.8 m; within 0.5 % of the ellipsoid). Grades for the downhill rule are the elevation
change over the horizontal distance in a centred 20 s window (``grade_pct``). Speed from
distance is a centred finite difference over ``SPEED_WINDOW_S``, which is exact for a speed
that changes linearly within the window and smooths GPS jitter; the window is clipped at
pauses and at the ends of the track.
"""

from __future__ import annotations

import math
import struct
import warnings
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from xml.parsers import expat

import numpy as np
import pandas as pd
from scipy.ndimage import uniform_filter1d

from .errors import GaitDataWarning, GaitInputError, Where
from .units import PACE_UNITS, format_duration

if TYPE_CHECKING:
    from .pipeline import Analysis
    from .session import Session

__all__ = [
    "EARTH_RADIUS_M",
    "MAX_GAP_S",
    "SPEED_WINDOW_S",
    "TRACK_FORMATS",
    "Track",
    "OffsetEstimate",
    "align_track",
    "estimate_offset",
    "read_elevation",
    "read_track",
    "resolve_speed",
    "running_distance_m",
    "split_table",
]

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


#: Nominal running speed used only to turn an elevation change over time into a grade when no
#: speed and no horizontal distance are known (said so in the finding).
NOMINAL_SPEED_MPS = 3.0


# ---------------------------------------------------------------------------------------
# assembling a track from per-point values
# ---------------------------------------------------------------------------------------
def _haversine_steps_m(lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    """Great-circle distance between consecutive points, m (length n - 1)."""
    p = np.radians(lat)
    dphi = np.diff(p)
    dlmb = np.diff(np.radians(lon))
    h = np.sin(dphi / 2) ** 2 + np.cos(p[:-1]) * np.cos(p[1:]) * np.sin(dlmb / 2) ** 2
    return 2 * EARTH_RADIUS_M * np.arcsin(np.sqrt(np.clip(h, 0, 1)))


def _fill(t: np.ndarray, x: np.ndarray) -> tuple[np.ndarray | None, int]:
    """The channel with its missing (NaN) values interpolated in time; None if < 2 values."""
    ok = np.isfinite(x)
    if ok.sum() < 2:
        return None, 0
    if ok.all():
        return x, 0
    return np.interp(t, t[ok], x[ok]), int((~ok).sum())


def _segment_bounds(t: np.ndarray, pauses: tuple[tuple[float, float], ...]) -> tuple[np.ndarray, np.ndarray]:
    """For each time, the start and end of its stretch between pauses (and the track ends)."""
    ends = np.array([t[0]] + [b for _, b in pauses])
    starts = np.array([a for a, _ in pauses] + [t[-1]])
    k = np.searchsorted(ends, t, side="right") - 1
    return ends[np.clip(k, 0, ends.size - 1)], starts[np.clip(k, 0, starts.size - 1)]


def _speed_from_distance(
    t: np.ndarray, d: np.ndarray, pauses: tuple[tuple[float, float], ...], window_s: float
) -> np.ndarray:
    """Centred finite difference of distance over ``window_s``, clipped at pauses and ends."""
    lo, hi = _segment_bounds(t, pauses)
    a = np.maximum(t - window_s / 2, lo)
    b = np.minimum(t + window_s / 2, hi)
    span = b - a
    with np.errstate(invalid="ignore", divide="ignore"):
        v = (np.interp(b, t, d) - np.interp(a, t, d)) / span
    return np.where(span > 0, np.maximum(v, 0.0), 0.0)


def _pauses_from_gaps(
    t: np.ndarray, breaks_before: np.ndarray, declared: list[tuple[float, float]]
) -> tuple[tuple[float, float], ...]:
    """Pauses: declared ones, segment breaks longer than usual, and any gap over `MAX_GAP_S`."""
    dt = np.diff(t)
    usual = float(np.median(dt)) if dt.size else 1.0
    long_break = breaks_before[1:] & (dt > max(MIN_PAUSE_S, 2.0 * usual))
    gap = long_break | (dt > MAX_GAP_S)
    found = [(float(t[k]), float(t[k + 1])) for k in np.flatnonzero(gap)]
    merged: list[list[float]] = []
    for a, b in sorted(found + [(float(a), float(b)) for a, b in declared if b > a]):
        if merged and a <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], b)
        else:
            merged.append([a, b])
    return tuple((a, b) for a, b in merged)


def _assemble(
    *,
    t: np.ndarray,
    lat: np.ndarray,
    lon: np.ndarray,
    ele: np.ndarray,
    dist: np.ndarray,
    speed: np.ndarray,
    breaks_before: np.ndarray,
    declared_pauses: list[tuple[float, float]],
    names: dict[str, str],
    labels: list[str],
    fmt: str,
    path: Path,
    sport: str | None,
    notes: list[str],
    speed_window_s: float,
) -> Track:
    """Checks, repairs and derives a `Track` from per-point values (NaN = missing).

    ``labels`` name each point for error messages (e.g. ``"trkpt 12"``, ``"record 40"``).
    """
    where = Where(file=path)
    if t.size < 2:
        raise GaitInputError(
            "too few track points with a time",
            expected="at least 2 points with a time",
            found=str(t.size),
            where=where,
        )
    # times: duplicates dropped (the first kept), backwards jumps refused
    dt = np.diff(t)
    if (dt < 0).any():
        k = int(np.flatnonzero(dt < 0)[0])
        raise GaitInputError(
            "time goes backwards",
            expected="points in time order",
            found=f"{labels[k]} at {_iso(t[k])} then {labels[k + 1]} at {_iso(t[k + 1])}",
            where=where,
        )
    keep = np.concatenate([[True], dt > 0])
    if not keep.all():
        notes.append(f"{int((~keep).sum())} point(s) with a repeated time dropped")
        t, lat, lon, ele, dist, speed = (x[keep] for x in (t, lat, lon, ele, dist, speed))
        breaks_before = breaks_before[keep]
        labels = [lb for lb, k in zip(labels, keep) if k]
        if t.size < 2:
            raise GaitInputError(
                "too few track points with a time", expected="at least 2 distinct times", found="1", where=where
            )
    # values: refuse what cannot be a position, a distance or a speed
    for name, x, lo, hi, what in (
        ("latitude", lat, -90.0, 90.0, "deg"),
        ("longitude", lon, -180.0, 180.0, "deg"),
        ("distance", dist, 0.0, 1e8, "m"),
        ("speed", speed, 0.0, MAX_TRACK_SPEED_MPS, "m/s"),
        ("elevation", ele, -1000.0, 10000.0, "m"),
    ):
        bad = np.flatnonzero(~np.isnan(x) & ~((x >= lo) & (x <= hi)))
        if bad.size:
            k = int(bad[0])
            raise GaitInputError(
                f"{name} out of range",
                expected=f"a {name} from {lo:g} to {hi:g} {what}",
                found=f"{x[k]:g} {what} at {labels[k]}",
                where=where,
            )
    null_island = (lat == 0.0) & (lon == 0.0)  # devices write 0, 0 before a fix
    lat = np.where(null_island, np.nan, lat)
    lon = np.where(null_island | np.isnan(lat), np.nan, lon)
    lat = np.where(np.isnan(lon), np.nan, lat)

    pauses = _pauses_from_gaps(t, breaks_before, declared_pauses)
    fields: dict[str, str] = {"t_s": names["time"]}

    lat_f, n_lat = _fill(t, lat)
    lon_f, _ = _fill(t, lon)
    if lat_f is not None and lon_f is not None:
        fields["position"] = names["position"]
        if n_lat:
            notes.append(f"{n_lat} point(s) without a position: interpolated")
    else:
        lat_f = lon_f = None
    ele_f, n_ele = _fill(t, ele)
    if ele_f is not None:
        fields["elevation_m"] = names["elevation"]
        if n_ele:
            notes.append(f"{n_ele} point(s) without elevation: interpolated")

    # distance: the device's, else from positions (not across pauses), else from speed
    dist_f, n_d = _fill(t, dist)
    in_pause = np.zeros(t.size - 1, bool)
    for a, b in pauses:
        in_pause |= (t[:-1] >= a) & (t[1:] <= b)
    speed_f, n_v = _fill(t, speed)
    if dist_f is not None:
        dist_f = np.maximum.accumulate(dist_f)  # rounding in the file may step back by a centimetre
        dist_f = dist_f - dist_f[0]
        fields["distance_m"] = names["distance"]
        if n_d:
            notes.append(f"{n_d} point(s) without distance: interpolated")
    elif lat_f is not None and lon_f is not None:
        steps_m = np.where(in_pause, 0.0, _haversine_steps_m(lat_f, lon_f))
        dist_f = np.concatenate([[0.0], np.cumsum(steps_m)])
        fields["distance_m"] = "summed from the positions (great circle), not across pauses"
    elif speed_f is not None:
        inc = np.where(in_pause, 0.0, 0.5 * (speed_f[1:] + speed_f[:-1]) * np.diff(t))
        dist_f = np.concatenate([[0.0], np.cumsum(inc)])
        fields["distance_m"] = "integrated from the device's speed"
    if speed_f is not None:
        fields["speed_mps"] = names["speed"]
        if n_v:
            notes.append(f"{n_v} point(s) without speed: interpolated")
    elif dist_f is not None:
        speed_f = _speed_from_distance(t, dist_f, pauses, speed_window_s)
        fields["speed_mps"] = f"distance over a centred {speed_window_s:g} s window"
    if dist_f is None and ele_f is None:
        raise GaitInputError(
            "nothing usable in the track",
            expected="points with positions, distance, speed or elevation",
            found=f"{t.size} points with a time only",
            where=where,
        )
    if pauses:
        total = sum(b - a for a, b in pauses)
        notes.append(f"{len(pauses)} pause(s), {format_duration(total)} in all: no speed claimed inside them")
    return Track(
        t_s=t,
        elevation_m=ele_f,
        distance_m=dist_f,
        source=str(path),
        alignment="not aligned (UTC times)",
        speed_mps=speed_f,
        lat_deg=lat_f,
        lon_deg=lon_f,
        clock="utc",
        pauses_s=pauses,
        fields=fields,
        format=fmt,
        sport=sport,
        notes=tuple(notes),
        utc_zero_s=0.0,
    )


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


# ---------------------------------------------------------------------------------------
# readers
# ---------------------------------------------------------------------------------------
def read_track(path: str | Path, *, speed_window_s: float = SPEED_WINDOW_S) -> Track:
    """Read a GPX, TCX or FIT file (or a CSV on the session clock) into a `Track`.

    Parameters
    ----------
    path
        ``.gpx``, ``.tcx``, ``.fit`` or ``.csv``; the content decides when the suffix is
        something else (a FIT header, ``<gpx``, ``<TrainingCenterDatabase``).
    speed_window_s
        Window of the speed taken from distance when the file has no speed records, s.

    Returns
    -------
    Track
        On the UTC clock (``clock == "utc"``) for GPX, TCX and FIT; on the session clock for a
        CSV (``t_s`` column). Put it on the session clock with `align_track`.

    Raises
    ------
    GaitInputError
        A missing or unreadable file, a value that is not a number or out of range (naming the
        element or record), times going backwards, fewer than two points with a time, nothing
        usable (no position, distance, speed or elevation).
    """
    p = Path(path)
    if not p.is_file():
        raise GaitInputError("track file not found", expected="an existing file", found=str(p), where=Where(file=p))
    if not (speed_window_s > 0 and math.isfinite(speed_window_s)):
        raise GaitInputError(
            "out of range",
            expected="a window > 0 s",
            found=repr(speed_window_s),
            where=Where(parameter="speed_window_s"),
        )
    fmt = _sniff(p)
    if fmt == "fit":
        return _read_fit(p, speed_window_s)
    if fmt == "gpx":
        return _read_gpx(p, speed_window_s)
    if fmt == "tcx":
        return _read_tcx(p, speed_window_s)
    return _read_csv(p, speed_window_s)


def _sniff(p: Path) -> str:
    with p.open("rb") as f:
        head = f.read(1024)
    if len(head) >= 12 and head[8:12] == b".FIT":
        return "fit"
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    lower = text.lower()
    if b"<gpx" in lower:
        return "gpx"
    if b"<trainingcenterdatabase" in lower:
        return "tcx"
    by_suffix = TRACK_FORMATS.get(p.suffix.lower())
    if by_suffix is not None:
        return by_suffix
    if text.startswith(b"<"):
        return "gpx" if p.suffix.lower() != ".tcx" else "tcx"
    return "csv"


# --- GPX ---------------------------------------------------------------------------------
def _read_gpx(p: Path, window_s: float) -> Track:
    import gpxpy
    import gpxpy.gpx

    try:
        with p.open(encoding="utf-8", errors="strict") as f:
            g = gpxpy.parse(f)
    except (gpxpy.gpx.GPXException, UnicodeDecodeError, ValueError, LookupError) as e:
        raise GaitInputError(
            "not a valid GPX file", expected="GPX 1.0 or 1.1 (XML)", found=str(e)[:200], where=Where(file=p)
        ) from None
    rows: list[tuple[float, float, float, float, float, bool]] = []
    labels: list[str] = []
    skipped = 0
    kind = "trkpt"
    segments: list[list[Any]] = [s.points for trk in g.tracks for s in trk.segments]
    if not any(segments):
        segments, kind = [r.points for r in g.routes], "rtept"
    n = 0
    for seg in segments:
        first = True
        for pt in seg:
            n += 1
            if pt.time is None:
                skipped += 1
                continue
            speed = pt.speed if pt.speed is not None else _gpx_extension_speed(pt, p, n)
            rows.append(
                (
                    _epoch(pt.time),
                    float(pt.latitude),
                    float(pt.longitude),
                    np.nan if pt.elevation is None else float(pt.elevation),
                    np.nan if speed is None else float(speed),
                    first,
                )
            )
            labels.append(f"{kind} {n}")
            first = False
    notes = [f"{skipped} point(s) without a time skipped"] if skipped else []
    a = np.array(rows, dtype=float).reshape(-1, 6)
    names = {
        "time": f"{kind} <time> (UTC)",
        "position": f"{kind} lat/lon",
        "elevation": f"{kind} <ele>",
        "distance": "",
        "speed": "point speed (<speed> or a speed extension)",
    }
    return _assemble(
        t=a[:, 0],
        lat=a[:, 1],
        lon=a[:, 2],
        ele=a[:, 3],
        dist=np.full(a.shape[0], np.nan),
        speed=a[:, 4],
        breaks_before=a[:, 5].astype(bool),
        declared_pauses=[],
        names=names,
        labels=labels,
        fmt="gpx",
        path=p,
        sport=(g.tracks[0].type if g.tracks and g.tracks[0].type else None),
        notes=notes,
        speed_window_s=window_s,
    )


def _gpx_extension_speed(pt: Any, p: Path, n: int) -> float | None:
    """Speed from a point's extensions (Garmin TrackPointExtension v2 ``speed``), if any."""
    for ext in pt.extensions or ():
        for el in ext.iter():
            if str(el.tag).rsplit("}", 1)[-1].lower() == "speed" and el.text:
                try:
                    return float(el.text)
                except ValueError:
                    raise GaitInputError(
                        "not a number",
                        expected="a speed in m/s",
                        found=repr(el.text.strip()[:40]),
                        where=Where(file=p, column=f"trkpt {n} speed extension"),
                    ) from None
    return None


# --- TCX ---------------------------------------------------------------------------------
def _parse_xml(p: Path) -> tuple[ET.Element, dict[int, int]]:
    """Parse XML with the standard library's expat, keeping each element's line number.

    Tags lose their namespace (TCX files from different tools disagree on prefixes).
    """
    builder = ET.TreeBuilder()
    lines: dict[int, int] = {}
    parser = expat.ParserCreate(namespace_separator="}")

    def start(tag: str, attrs: dict[str, str]) -> None:
        el = builder.start(tag.rsplit("}", 1)[-1], {k.rsplit("}", 1)[-1]: v for k, v in attrs.items()})
        lines[id(el)] = parser.CurrentLineNumber

    def end(tag: str) -> None:
        builder.end(tag.rsplit("}", 1)[-1])

    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.CharacterDataHandler = builder.data
    try:
        with p.open("rb") as f:
            parser.ParseFile(f)
        root = builder.close()
    except LookupError as e:  # an encoding declaration Python does not know
        raise GaitInputError(
            "unknown text encoding",
            expected="a TCX file in UTF-8 (or another known encoding)",
            found=str(e),
            where=Where(file=p),
        ) from None
    except expat.ExpatError as e:
        raise GaitInputError(
            "not valid XML",
            expected="a TCX file (XML)",
            found=expat.ErrorString(e.code),
            where=Where(file=p, line=e.lineno, column=f"character {e.offset + 1}"),
        ) from None
    return root, lines


def _read_tcx(p: Path, window_s: float) -> Track:
    root, lines = _parse_xml(p)
    if root.tag != "TrainingCenterDatabase":
        raise GaitInputError(
            "not a TCX file", expected="a <TrainingCenterDatabase> document", found=f"<{root.tag}>", where=Where(file=p)
        )
    activities = root.findall("Activities/Activity")
    notes: list[str] = []
    sport = None
    if activities:
        containers = activities[0].findall("Lap")
        sport = activities[0].get("Sport")
        if len(activities) > 1:
            notes.append(f"{len(activities)} activities in the file: the first one read")
    else:
        courses = root.findall("Courses/Course")
        containers = courses[:1]
    tracks = [trk for c in containers for trk in c.findall("Track")]
    rows: list[list[float]] = []
    labels: list[str] = []
    skipped = 0
    n = 0
    for trk in tracks:
        first = True
        for tp in trk.findall("Trackpoint"):
            n += 1
            line = lines.get(id(tp))
            label = f"Trackpoint {n} (line {line})"

            def num(path: str, tp: ET.Element = tp, label: str = label) -> float:
                el = tp.find(path)
                if el is None or el.text is None or not el.text.strip():
                    return np.nan
                try:
                    v = float(el.text)
                except ValueError:
                    raise GaitInputError(
                        "not a number",
                        expected=f"a number in <{path.rsplit('/', 1)[-1]}>",
                        found=repr(el.text.strip()[:40]),
                        where=Where(file=p, line=lines.get(id(el)), column=path.rsplit("/", 1)[-1]),
                    ) from None
                if not math.isfinite(v):
                    raise GaitInputError(
                        "not a finite number",
                        expected=f"a finite number in <{path.rsplit('/', 1)[-1]}>",
                        found=repr(el.text.strip()[:40]),
                        where=Where(file=p, line=lines.get(id(el)), column=path.rsplit("/", 1)[-1]),
                    )
                return v

            time_el = tp.find("Time")
            if time_el is None or not (time_el.text or "").strip():
                skipped += 1
                continue
            try:
                t = _epoch(_parse_iso(time_el.text or ""))
            except ValueError:
                raise GaitInputError(
                    "not a time",
                    expected="an ISO 8601 time in <Time>, e.g. 2024-05-01T07:00:00Z",
                    found=repr((time_el.text or "").strip()[:40]),
                    where=Where(file=p, line=lines.get(id(time_el)), column="Time"),
                ) from None
            speed = num(".//Speed")  # ActivityExtension v2: <Extensions><TPX><Speed>
            rows.append(
                [
                    t,
                    num("Position/LatitudeDegrees"),
                    num("Position/LongitudeDegrees"),
                    num("AltitudeMeters"),
                    num("DistanceMeters"),
                    speed,
                    float(first),
                ]
            )
            labels.append(label)
            first = False
    if skipped:
        notes.append(f"{skipped} Trackpoint(s) without a time skipped")
    a = np.array(rows, dtype=float).reshape(-1, 7)
    names = {
        "time": "Trackpoint <Time> (UTC)",
        "position": "Trackpoint <Position>",
        "elevation": "Trackpoint <AltitudeMeters>",
        "distance": "device distance (Trackpoint <DistanceMeters>)",
        "speed": "device speed (Trackpoint extension <Speed>)",
    }
    return _assemble(
        t=a[:, 0],
        lat=a[:, 1],
        lon=a[:, 2],
        ele=a[:, 3],
        dist=a[:, 4],
        speed=a[:, 5],
        breaks_before=a[:, 6].astype(bool),
        declared_pauses=[],
        names=names,
        labels=labels,
        fmt="tcx",
        path=p,
        sport=sport,
        notes=notes,
        speed_window_s=window_s,
    )


# --- FIT ---------------------------------------------------------------------------------
_FIT_STOPS = ("stop", "stop_all", "stop_disable", "stop_disable_all")


def _read_fit(p: Path, window_s: float) -> Track:
    from garmin_fit_sdk import Decoder, Stream

    data = p.read_bytes()
    where = Where(file=p)

    def decoder() -> Any:
        return Decoder(Stream.from_byte_array(bytearray(data)))

    try:
        if not decoder().is_fit():
            raise GaitInputError(
                "not a FIT file", expected="a FIT file (a header ending in '.FIT')", found=repr(data[:14]), where=where
            )
        intact = decoder().check_integrity()
        messages, errors = decoder().read(convert_types_to_strings=True, merge_heart_rates=False)
    except (IndexError, KeyError, TypeError, ValueError, struct.error, RuntimeError, OverflowError) as e:
        raise GaitInputError(
            "cannot decode the FIT file",
            expected="a FIT activity file",
            found=f"{type(e).__name__}: {e}"[:200],
            where=where,
        ) from None
    records = list(messages.get("record_mesgs") or [])
    notes: list[str] = []
    if errors or not intact:
        problem = str(errors[0])[:160] if errors else "the file's checksum does not match its content"
        if len(records) < 2:
            raise GaitInputError(
                "damaged FIT file", expected="a complete FIT activity file", found=problem, where=where
            )
        notes.append(f"damaged or cut-off FIT file ({problem}): read {len(records)} records before the damage")
        warnings.warn(f"{p}: {notes[-1]}", GaitDataWarning, stacklevel=3)

    def get(rec: Mapping[str, Any], *keys: str, scale: float = 1.0) -> float:
        for k in keys:
            v = rec.get(k)
            if isinstance(v, int | float) and not isinstance(v, bool):
                return float(v) * scale
        return np.nan

    t, lat, lon, ele, dist, speed, labels = [], [], [], [], [], [], []
    skipped = 0
    for k, rec in enumerate(records):
        ts = rec.get("timestamp")
        if not isinstance(ts, datetime):
            skipped += 1
            continue
        t.append(_epoch(ts))
        lat.append(get(rec, "position_lat", scale=_SEMICIRCLE_DEG))
        lon.append(get(rec, "position_long", scale=_SEMICIRCLE_DEG))
        ele.append(get(rec, "enhanced_altitude", "altitude"))
        dist.append(get(rec, "distance"))
        speed.append(get(rec, "enhanced_speed", "speed"))
        labels.append(f"record {k + 1} ({_iso(t[-1])})")
    if skipped:
        notes.append(f"{skipped} record(s) without a timestamp skipped")
    pauses: list[tuple[float, float]] = []
    stopped_at: float | None = None
    events = [e for e in messages.get("event_mesgs") or [] if e.get("event") == "timer"]
    timed = [ev for ev in events if isinstance(ev.get("timestamp"), datetime)]
    for ev in sorted(timed, key=lambda ev: _epoch(ev["timestamp"])):  # a few timer events per run
        ts = ev["timestamp"]
        if ev.get("event_type") in _FIT_STOPS and stopped_at is None:
            stopped_at = _epoch(ts)
        elif ev.get("event_type") == "start" and stopped_at is not None:
            pauses.append((stopped_at, _epoch(ts)))
            stopped_at = None
    sport = None
    sessions = messages.get("session_mesgs") or []
    if sessions:
        s0 = sessions[0]
        sport = "/".join(str(s0[k]) for k in ("sport", "sub_sport") if s0.get(k) not in (None, "generic"))
        sport = sport or None
    names = {
        "time": "record timestamps (UTC)",
        "position": "record position_lat/position_long",
        "elevation": "record enhanced_altitude",
        "distance": "device distance records",
        "speed": "device speed records (enhanced_speed)",
    }
    tt = np.asarray(t, dtype=float)
    return _assemble(
        t=tt,
        lat=np.asarray(lat, dtype=float),
        lon=np.asarray(lon, dtype=float),
        ele=np.asarray(ele, dtype=float),
        dist=np.asarray(dist, dtype=float),
        speed=np.asarray(speed, dtype=float),
        breaks_before=np.zeros(tt.size, bool),
        declared_pauses=pauses,
        names=names,
        labels=labels,
        fmt="fit",
        path=p,
        sport=sport,
        notes=notes,
        speed_window_s=window_s,
    )


# --- CSV (session clock) -----------------------------------------------------------------
_CSV_CHANNELS = ("elevation_m", "distance_m", "speed_mps")


def _read_csv(p: Path, window_s: float) -> Track:
    try:
        df = pd.read_csv(p, comment="#")
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as e:
        raise GaitInputError(
            "not a readable CSV", expected="a CSV with columns t_s and elevation_m", found=str(e), where=Where(file=p)
        ) from None
    cols = [str(c).strip() for c in df.columns]
    df.columns = cols
    expected = "columns t_s and elevation_m (optional distance_m, speed_mps)"
    if "t_s" not in cols:
        raise GaitInputError(
            "missing column",
            expected=expected,
            found=", ".join(cols) or "no columns",
            where=Where(file=p, column="t_s"),
        )
    if not any(c in cols for c in _CSV_CHANNELS):
        raise GaitInputError(
            "missing column", expected=expected, found=", ".join(cols), where=Where(file=p, column="elevation_m")
        )
    out: dict[str, np.ndarray] = {}
    for c in ("t_s", *_CSV_CHANNELS):
        if c not in cols:
            continue
        v = pd.to_numeric(df[c], errors="coerce")
        bad = np.flatnonzero(~np.isfinite(v.to_numpy(float)))
        if bad.size:
            raise GaitInputError(
                "not a number",
                expected="a decimal number",
                found=repr(df[c].iloc[bad[0]]),
                where=Where(file=p, line=int(bad[0]) + 2, column=c),
            )
        out[c] = v.to_numpy(float)
    t = out["t_s"]
    if t.size < 2:
        raise GaitInputError("too few points", expected="at least 2 rows", found=f"{t.size}", where=Where(file=p))
    step = np.diff(t)
    if (step <= 0).any():
        k = int(np.flatnonzero(step <= 0)[0])
        raise GaitInputError(
            "time not increasing",
            expected="strictly increasing t_s",
            found=f"{t[k]:g} then {t[k + 1]:g}",
            where=Where(file=p, line=k + 3, column="t_s"),
        )
    for c, lo in (("distance_m", None), ("speed_mps", 0.0)):
        if c not in out:
            continue
        x = out[c]
        bad = np.flatnonzero(np.diff(x) < 0) + 1 if lo is None else np.flatnonzero(x < lo)
        if bad.size:
            k = int(bad[0])
            raise GaitInputError(
                "distance decreasing" if lo is None else "negative speed",
                expected="a cumulative distance" if lo is None else "speeds >= 0",
                found=f"{x[k]:g}",
                where=Where(file=p, line=k + 2, column=c),
            )
    fields = {"t_s": "column t_s (session clock)"}
    fields.update({c: f"column {c}" for c in _CSV_CHANNELS if c in out})
    dist = out.get("distance_m")
    speed = out.get("speed_mps")
    if dist is not None:
        dist = dist - dist[0]
    if speed is None and dist is not None:
        speed = _speed_from_distance(t, dist, (), window_s)
        fields["speed_mps"] = f"distance over a centred {window_s:g} s window"
    return Track(
        t_s=t,
        elevation_m=out.get("elevation_m"),
        distance_m=dist,
        source=str(p),
        alignment="session clock (t_s)",
        speed_mps=speed,
        clock="session",
        fields=fields,
        format="csv",
    )


# ---------------------------------------------------------------------------------------
# alignment
# ---------------------------------------------------------------------------------------
def _session_zero(start_time: str | datetime | None, t0: float) -> tuple[float | None, str]:
    """UTC time (s since 1970) of the session clock's zero, and how it was known."""
    if start_time is None:
        return None, ""
    try:
        start = _parse_iso(start_time) if isinstance(start_time, str) else start_time
    except ValueError:
        raise GaitInputError(
            "not a time",
            expected="an ISO 8601 start time, e.g. 2024-05-01T07:00:00Z",
            found=repr(start_time),
            where=Where(parameter="start_time"),
        ) from None
    how = "the session's start time"
    if start.tzinfo is None:
        start = start.astimezone()  # a wall-clock time without a zone: this computer's zone
        how += f" (no time zone given: taken as this computer's, UTC{start.strftime('%z')})"
    return start.timestamp() - t0, how


def _moved(track: Track, delta_s: float, zero: float | None, alignment: str, offset_s: float) -> Track:
    """The track with ``delta_s`` added to its times (and its pauses), on the session clock."""
    return replace(
        track,
        t_s=track.t_s + delta_s,
        pauses_s=tuple((a + delta_s, b + delta_s) for a, b in track.pauses_s),
        clock="session",
        alignment=alignment,
        utc_zero_s=zero,
        offset_s=offset_s,
    )


def _span_text(seconds: float) -> str:
    s = abs(seconds)
    if s >= 86400:
        return f"{s / 86400:.1f} days"
    return format_duration(s) + (" (h:mm:ss)" if s >= 3600 else " (m:ss)")


def align_track(
    track: Track,
    session: Session,
    *,
    offset_s: float = 0.0,
    min_overlap_s: float = 1.0,
) -> Track:
    """Put a track on a session's clock.

    Parameters
    ----------
    track
        From `read_track`. A UTC track is placed by the session's start time
        (``session.meta.start_time``: the wall-clock time of its first sample); a track already
        on the session clock (a CSV) is only shifted by ``offset_s``.
    session
        The IMU session.
    offset_s
        Clock offset, s: added to the track's times (positive: the track moves later). Use it
        when the watch's and the IMU recorder's clocks disagree (``--track-offset-s``).
    min_overlap_s
        Shortest overlap accepted, s.

    Returns
    -------
    Track
        The same track on the session clock (``clock == "session"``), with ``alignment``
        saying how.

    Raises
    ------
    GaitInputError
        The track and the session do not overlap: the message says by how much, and which
        ``--track-offset-s`` would line their starts up. A bad offset.
    """
    if not (isinstance(offset_s, int | float) and math.isfinite(offset_s)):
        raise GaitInputError(
            "not a number",
            expected="a finite number of seconds",
            found=repr(offset_s),
            where=Where(parameter="offset_s"),
        )
    t0, t1 = float(session.t[0]), float(session.t[-1])
    off = f", shifted by {offset_s:+g} s" if offset_s else ""
    zero: float | None
    if track.clock == "session":
        aligned = _moved(track, float(offset_s), track.utc_zero_s, f"{track.alignment}{off}", float(offset_s))
        zero, zero_note = track.utc_zero_s, ""
    else:
        zero, how = _session_zero(session.meta.start_time, t0)
        zero_note = ""
        if zero is None:
            zero = track.t_s[0] - t0
            how = f"first {track.format.upper()} point taken as the session start (no start time in the session)"
            zero_note = " (unknown)"
            warnings.warn(
                f"{Path(track.source).name}: the session has no start time; the track's first point is taken as "
                "the session's start (--track-offset-s shifts it)",
                GaitDataWarning,
                stacklevel=2,
            )
        else:
            how = f"UTC times placed on the session clock by {how}"
        aligned = _moved(track, float(offset_s) - zero, zero, how + off, float(offset_s))
    a, b = aligned.start_s, aligned.end_s
    overlap = min(b, t1) - max(a, t0)
    if overlap < min_overlap_s:
        if b < t0:
            gap, rel = t0 - b, "ends {gap} before the session starts"
        elif a > t1:
            gap, rel = a - t1, "starts {gap} after the session ends"
        else:
            gap, rel = min_overlap_s - overlap, "overlaps the session by only {gap}"
        found = f"the track {rel.format(gap=_span_text(gap))}"
        if zero is not None and not zero_note:
            found += f" (track {_iso(a + zero)} to {_iso(b + zero)}, session {_iso(t0 + zero)} to {_iso(t1 + zero)})"
        fix = t0 - a + offset_s
        hint = f"Check the session's start time and time zone, or shift the track: --track-offset-s {fix:.0f} lines up the two starts"
        hours = fix / 3600.0
        if abs(fix) >= 1800 and abs(hours - round(hours)) < 0.05:
            hint += f" (about {round(hours):+d} h: a time-zone difference?)"
        raise GaitInputError(
            "the track and the session do not overlap in time",
            expected=f"a track that covers the session (at least {min_overlap_s:g} s in common)",
            found=found,
            where=Where(file=track.source) if track.source else Where(parameter="track"),
            hint=hint,
        )
    covered = overlap / max(t1 - t0, 1e-9)
    if covered < 0.5:
        warnings.warn(
            f"{Path(track.source).name}: the track covers only {100 * covered:.0f} % of the session "
            "(check the clocks, or --track-offset-s)",
            GaitDataWarning,
            stacklevel=2,
        )
    return aligned


def read_elevation(path: str | Path, *, session_start: str | datetime | None = None) -> Track:
    """Read an elevation track (any `read_track` format) onto the session clock.

    Parameters
    ----------
    path
        A ``.csv`` whose ``t_s`` is on the session clock, or a GPX, TCX or FIT file.
    session_start
        Wall-clock time of the session's time origin (ISO 8601), to place UTC times on the
        session clock. Without it the first point is taken as the session start (said in
        ``alignment``).

    Returns
    -------
    Track
        On the session clock; ``grade_pct`` gives the grades for the downhill rule.
    """
    track = read_track(path)
    if track.clock == "session":
        return track
    zero, how = _session_zero(session_start, 0.0)
    if zero is None:
        return _moved(
            track,
            -track.t_s[0],
            None,
            f"first {track.format.upper()} point taken as the session start (no start time in the session)",
            0.0,
        )
    return _moved(track, -zero, zero, f"{track.format.upper()} times placed on the session clock by {how}", 0.0)


@dataclass(frozen=True)
class OffsetEstimate:
    """A clock offset found by `estimate_offset`.

    Attributes
    ----------
    offset_s
        The offset to add to the track's times (s), or None when no clear answer was found.
    correlation
        Correlation of the sensor's and the track's changes of pace at that offset (-1..1).
    runner_up
        The best correlation at any offset more than ``exclusion_s`` away from it.
    reason
        Why it was accepted or refused, in words.
    """

    offset_s: float | None
    correlation: float
    runner_up: float
    reason: str


def estimate_offset(
    analysis: Analysis,
    track: Track,
    *,
    max_lag_s: float = 120.0,
    min_correlation: float = 0.3,
    min_z: float = 4.0,
    min_margin: float = 0.05,
    exclusion_s: float = 10.0,
) -> OffsetEstimate:
    """Refine the clock offset between a track and a session from the run itself.

    The sensor's step rate (cadence per second, 0 while standing) and the track's speed both
    change when the runner starts, stops, speeds up or slows down. Their changes (first
    differences of 3 s means, on a 1 s grid) are correlated over offsets of up to
    ``max_lag_s`` (and the peak refined to a fraction of a second by a parabola). The best
    offset is kept only when its correlation is at least ``min_correlation``, at least
    ``min_z`` times the chance level (``1 / sqrt(n / 3)`` for ``n`` seconds in common: the
    largest of 241 chance correlations is about 3 times it), and beats every offset more than
    ``exclusion_s`` away by ``min_margin``. A steady run with no start, stop or change of pace
    inside the track has nothing to line up and is refused (``offset_s`` None); so is a
    periodic one (intervals repeated exactly) when two offsets fit as well.

    Parameters
    ----------
    analysis
        `gait.analyze` of the session (with or without a speed: only the steps are used).
    track
        The track on the session clock (`align_track`), at the offset to refine.
    max_lag_s, min_correlation, min_z, min_margin, exclusion_s
        Search range and acceptance rules (s, 1, 1, 1, s).

    Returns
    -------
    OffsetEstimate
        ``offset_s`` is the residual offset: add it to the offset the track was aligned with.
    """
    if track.clock != "session" or track.speed_mps is None:
        return OffsetEstimate(None, float("nan"), float("nan"), "the track is not on the session clock or has no speed")
    st = analysis.steps
    t0, t1 = float(analysis.session.t[0]), float(analysis.session.t[-1])
    grid = np.arange(math.floor(t0), math.ceil(t1) + 1.0)
    # the sensor's step rate each second: 60 / the interval between consecutive contacts (any
    # activity, across bout edges), 0 where no contact follows within 1.5 s (standing)
    ic = np.sort(st["ic_s"].to_numpy(float))
    cad = np.zeros(grid.size)
    if ic.size > 1:
        gap = np.diff(ic)
        k = np.searchsorted(ic, grid, side="right") - 1
        kk = np.clip(k, 0, gap.size - 1)
        inside = (k >= 0) & (k < gap.size) & (gap[kk] < 1.5)
        cad = np.where(inside, 60.0 / gap[kk], 0.0)
    x = np.diff(uniform_filter1d(cad, 3))
    lags = np.arange(-math.floor(max_lag_s), math.floor(max_lag_s) + 1.0)
    tt = grid[None, :] - lags[:, None]
    y_full = np.interp(tt, track.t_s, track.speed_mps)
    y_full = np.where(track.paused(tt), 0.0, y_full)
    ok_full = (tt >= track.t_s[0]) & (tt <= track.t_s[-1])
    y = np.diff(uniform_filter1d(y_full, 3, axis=1), axis=1)
    ok = ok_full[:, 1:] & ok_full[:, :-1]
    ok[:, :2] = ok[:, -2:] = False  # the smoothing's edges
    n = ok.sum(axis=1).astype(float)
    xm = np.where(ok, x[None, :], 0.0)
    ym = np.where(ok, y, 0.0)
    sx, sy = xm.sum(axis=1), ym.sum(axis=1)
    cov = n * (xm * ym).sum(axis=1) - sx * sy
    var = (n * (xm * xm).sum(axis=1) - sx**2) * (n * (ym * ym).sum(axis=1) - sy**2)
    with np.errstate(invalid="ignore", divide="ignore"):
        r = np.where((n >= max(30.0, 0.3 * x.size)) & (var > 0), cov / np.sqrt(np.where(var > 0, var, 1.0)), np.nan)
    if not np.isfinite(r).any():
        return OffsetEstimate(None, float("nan"), float("nan"), "too little overlap, or no change of pace in it")
    best = int(np.nanargmax(r))
    far = np.abs(lags - lags[best]) > exclusion_s
    runner_up = float(np.nanmax(r[far])) if np.isfinite(r[far]).any() else float("nan")
    # chance level: the 3 s means leave about n / 3 independent changes
    z = float(r[best] * math.sqrt(n[best] / 3.0))
    peak = float(r[best])
    lag = float(lags[best])
    if 0 < best < lags.size - 1 and np.isfinite(r[best - 1]) and np.isfinite(r[best + 1]):
        a, b, c = r[best - 1], r[best], r[best + 1]
        den = a - 2 * b + c
        if den < 0:
            lag += float(np.clip(0.5 * (a - c) / den, -0.5, 0.5))
    if best in (0, lags.size - 1):
        return OffsetEstimate(None, peak, runner_up, f"the best match is at the edge of the search (+-{max_lag_s:g} s)")
    if peak < min_correlation or z < min_z:
        return OffsetEstimate(
            None,
            peak,
            runner_up,
            f"no clear match: correlation {peak:.2f}, {z:.1f} times its chance level (needs {min_correlation:g} "
            f"and {min_z:g} times)",
        )
    if np.isfinite(runner_up) and peak - runner_up < min_margin:
        return OffsetEstimate(
            None,
            peak,
            runner_up,
            f"ambiguous: correlation {peak:.2f} at {lag:+.1f} s, but {runner_up:.2f} elsewhere (needs a margin of {min_margin:g})",
        )
    return OffsetEstimate(
        round(lag, 1),
        peak,
        runner_up,
        f"correlation {peak:.2f}, {z:.1f} times its chance level; next best {runner_up:.2f} more than "
        f"{exclusion_s:g} s away",
    )


# ---------------------------------------------------------------------------------------
# speed for the analysis
# ---------------------------------------------------------------------------------------
def resolve_speed(
    session: Session, *, speed: float | Track | None, speed_mps: float | None
) -> tuple[float | None, Track | None]:
    """The speed the analysis uses: a constant (m/s), or a track on the session clock.

    ``speed`` is a number (m/s) or a `Track` (aligned with `align_track`, or on UTC times, then
    aligned here without offset); ``speed_mps`` is the older keyword for a constant. Without
    either, ``session.meta.extra["speed_mps"]`` is used when present.
    """
    if speed is not None and speed_mps is not None:
        raise GaitInputError(
            "speed given twice",
            expected="either speed= (a number or a Track) or speed_mps=, not both",
            found=f"speed={speed!r}, speed_mps={speed_mps!r}",
            where=Where(parameter="speed"),
        )
    if isinstance(speed, Track):
        track = speed if speed.clock == "session" else align_track(speed, session)
        if track.speed_mps is None:
            raise GaitInputError(
                "no speed in the track",
                expected="a track with positions, distance or speed",
                found=f"only {', '.join(sorted(track.fields))}",
                where=Where(file=track.source) if track.source else Where(parameter="speed"),
            )
        return None, track
    value = speed if speed is not None else speed_mps
    if value is None and session.meta.extra.get("speed_mps") is not None:
        value = float(session.meta.extra["speed_mps"])
    if value is None:
        return None, None
    if isinstance(value, bool) or not isinstance(value, int | float) or not (0 < float(value) < math.inf):
        raise GaitInputError(
            "not a speed",
            expected="a speed in m/s > 0, or a Track",
            found=repr(value),
            where=Where(parameter="speed" if speed is not None else "speed_mps"),
        )
    return float(value), None


def running_distance_m(track: Track, bouts: pd.DataFrame) -> float:
    """Distance the track covers during the running bouts (``kind == "running"``), m."""
    if track.distance_m is None or not len(bouts):
        return float("nan")
    run = bouts[bouts["kind"] == "running"]
    if not len(run):
        return 0.0
    d = track.distance_between(run["start_s"].to_numpy(float), run["end_s"].to_numpy(float))
    return float(np.sum(d))


# ---------------------------------------------------------------------------------------
# splits
# ---------------------------------------------------------------------------------------
#: Per-step metrics whose medians each split reports (``docs/tables.md``, ``splits``).
SPLIT_METRICS = (
    "cadence_spm",
    "contact_time_s",
    "flight_time_s",
    "duty_factor",
    "vertical_oscillation_m",
    "vertical_ratio_pct",
    "step_length_m",
    "impact_peak_mps2",
    "loading_rate_mps3",
    "braking_peak_mps2",
    "braking_velocity_loss_mps",
    "lean_deg",
    "pelvic_drop_deg",
    "lateral_lean_deg",
    "roll_range_deg",
    "yaw_range_deg",
    "step_regularity",
    "stride_regularity",
)
SPLIT_COLUMNS = (
    "split",
    "unit",
    "start_m",
    "end_m",
    "distance_m",
    "start_s",
    "end_s",
    "duration_s",
    "speed_mps",
    "pace_s_per_km",
    "pace_s_per_mi",
    "steps",
    "complete",
    *SPLIT_METRICS,
    "elevation_gain_m",
    "elevation_loss_m",
)


def split_table(
    analysis: Analysis | pd.DataFrame,
    *,
    unit: str = "km",
    track: Track | None = None,
) -> pd.DataFrame:
    """Per-km (or per-mile) splits of a run: pace and the median of every step metric.

    Parameters
    ----------
    analysis
        From `gait.analyze` with a known speed (``speed=`` a track or a number, or
        ``speed_mps=``), or its step table.
    unit
        ``"km"`` or ``"mi"``.
    track
        The track on the session clock (default: ``analysis.track``). With a track, distance is
        the track's own (as the watch counts it); without, it is the sum of the running steps'
        lengths (speed x step time).

    Returns
    -------
    pandas.DataFrame
        One row per split (columns ``SPLIT_COLUMNS``, documented in ``docs/tables.md``); the
        last row is the remainder (``complete`` False). Empty without a speed.

    Notes
    -----
    A split starts and ends where the distance crosses a multiple of the unit, interpolated
    between step contacts; its duration excludes the track's pauses. Medians are over the valid
    running steps whose contact falls in the split.
    """
    unit_m = PACE_UNITS.get(unit)
    if unit_m is None:
        raise GaitInputError("invalid value", expected="'km' or 'mi'", found=repr(unit), where=Where(parameter="unit"))
    if isinstance(analysis, pd.DataFrame):
        steps = analysis
    else:
        steps = analysis.steps
        track = track if track is not None else getattr(analysis, "track", None)
    empty = pd.DataFrame({c: pd.Series(dtype=object if c == "unit" else float) for c in SPLIT_COLUMNS})
    if not len(steps):
        return empty
    st = steps.sort_values("ic_s")
    run = (st["activity"] == "running").to_numpy()
    ic = st["ic_s"].to_numpy(float)
    step_time = st["step_time_s"].to_numpy(float)
    speed = st["speed_mps"].to_numpy(float)
    st_end = ic + np.nan_to_num(step_time)
    if track is not None and track.distance_m is not None:
        d_abs = track.distance_at(ic)
        have = run & np.isfinite(d_abs)
        if not have.any():
            return empty
        first, last = np.flatnonzero(have)[[0, -1]]
        t_a, t_b = ic[first], min(st_end[last], track.end_s)
        t_curve = np.unique(np.concatenate([[t_a, t_b], track.t_s[(track.t_s > t_a) & (track.t_s < t_b)]]))
        d0 = float(track.distance_at(np.array([t_a]))[0])
        d_curve = track.distance_at(t_curve) - d0
        d = d_abs - d0
    else:
        length = np.where(run & np.isfinite(speed) & np.isfinite(step_time), speed * step_time, np.nan)
        have = np.isfinite(length)
        if not have.any():
            return empty
        d = np.where(have, np.cumsum(np.nan_to_num(length)) - np.nan_to_num(length), np.nan)
        # contacts, and the end of each step, as a distance-time curve
        t_curve = np.concatenate([ic[have], st_end[have]])
        d_curve = np.concatenate([d[have], d[have] + length[have]])
        order_c = np.argsort(t_curve, kind="stable")
        t_curve, d_curve = t_curve[order_c], d_curve[order_c]
    if t_curve.size < 2:
        return empty
    d_curve = np.maximum.accumulate(d_curve)
    total = float(d_curve[-1])
    if total <= 0:
        return empty
    n_full = int(np.floor(total / unit_m + 1e-9))
    bounds = np.arange(n_full + 1) * unit_m
    if total - bounds[-1] > 1e-6 * unit_m:
        bounds = np.append(bounds, total)
    # the time each boundary is crossed: the first time the distance reaches it
    jb = np.clip(np.searchsorted(d_curve, bounds, side="left"), 1, d_curve.size - 1)
    c0, c1 = d_curve[jb - 1], d_curve[jb]
    frac = np.clip(np.where(c1 > c0, (bounds - c0) / np.where(c1 > c0, c1 - c0, 1.0), 1.0), 0.0, 1.0)
    t_bound = t_curve[jb - 1] + frac * (t_curve[jb] - t_curve[jb - 1])
    k = bounds.size - 1
    start_s, end_s = t_bound[:-1], t_bound[1:]
    paused = np.zeros(k)
    if track is not None:
        for a, b in track.pauses_s:
            paused += np.clip(np.minimum(end_s, b) - np.maximum(start_s, a), 0.0, None)
    duration = end_s - start_s - paused
    dist = np.diff(bounds)
    with np.errstate(invalid="ignore", divide="ignore"):
        v = np.where(duration > 0, dist / duration, np.nan)
    # valid running steps per split, and their medians
    valid = run & st["valid"].to_numpy(bool) & np.isfinite(d)
    which = np.clip(np.searchsorted(bounds, np.where(valid, d, -1.0), side="right") - 1, -1, k - 1)
    which = np.where(valid & (d >= 0), which, -1)
    data: dict[str, Any] = {
        "split": np.arange(1, k + 1),
        "unit": [unit] * k,
        "start_m": bounds[:-1],
        "end_m": bounds[1:],
        "distance_m": dist,
        "start_s": start_s,
        "end_s": end_s,
        "duration_s": duration,
        "speed_mps": v,
        "pace_s_per_km": np.where(v > 0, 1000.0 / v, np.nan),
        "pace_s_per_mi": np.where(v > 0, PACE_UNITS["mi"] / v, np.nan),
        "steps": np.bincount(which[which >= 0], minlength=k),
        "complete": np.abs(dist - unit_m) < 1e-6 * unit_m,
    }
    cols = [c for c in SPLIT_METRICS if c in st.columns]
    vals = st[cols].to_numpy(float)
    order = np.argsort(which, kind="stable")
    w_sorted = which[order]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a metric that is NaN for a whole split
        med = np.full((k, len(cols)), np.nan)
        for j in range(k):  # one median per split: a handful of rows
            lo, hi = np.searchsorted(w_sorted, [j, j + 1])
            if hi > lo:
                med[j] = np.nanmedian(vals[order[lo:hi]], axis=0)
    for j, c in enumerate(cols):
        data[c] = med[:, j]
    for c in SPLIT_METRICS:
        data.setdefault(c, np.full(k, np.nan))
    gain = np.full(k, np.nan)
    loss = np.full(k, np.nan)
    if track is not None and track.elevation_m is not None:
        inside = (track.t_s >= start_s[0]) & (track.t_s <= end_s[-1])
        tt = np.concatenate([start_s, end_s[-1:], track.t_s[inside]])
        tt = np.unique(tt)
        z = np.interp(tt, track.t_s, track.elevation_m)
        dz = np.diff(z)
        seg = np.clip(np.searchsorted(end_s, tt[:-1], side="right"), 0, k - 1)
        gain = np.bincount(seg, weights=np.clip(dz, 0, None), minlength=k)
        loss = np.bincount(seg, weights=np.clip(-dz, 0, None), minlength=k)
    data["elevation_gain_m"] = gain
    data["elevation_loss_m"] = loss
    return pd.DataFrame(data, columns=list(SPLIT_COLUMNS))
