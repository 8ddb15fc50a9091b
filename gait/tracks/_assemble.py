"""A track assembled from per-point values: distances, filled gaps, speeds, pauses and
running segments."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..errors import GaitInputError, Where
from ..units import format_duration
from ._track import EARTH_RADIUS_M, MAX_GAP_S, MAX_TRACK_SPEED_MPS, MIN_PAUSE_S, Track, _iso

if TYPE_CHECKING:
    pass


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
