"""Alignment of a track to a session's clock, the offset found from the run, speed for the analysis."""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from .._lazy import lazy_function
from ..errors import GaitDataWarning, GaitInputError, Where, check_speed_mps
from ..units import format_duration
from ._readers import read_track
from ._track import (
    Track,
    _iso,
    _parse_iso,
)

if TYPE_CHECKING:
    from scipy.ndimage import uniform_filter1d

    from ..core.pipeline import Analysis
    from ..session import Session
else:
    uniform_filter1d = lazy_function("scipy.ndimage", "uniform_filter1d")


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
    return check_speed_mps(value, "speed" if speed is not None else "speed_mps"), None


def running_distance_m(track: Track, bouts: pd.DataFrame) -> float:
    """Distance the track covers during the running bouts (``kind == "running"``), m."""
    if track.distance_m is None or not len(bouts):
        return float("nan")
    run = bouts[bouts["kind"] == "running"]
    if not len(run):
        return 0.0
    d = track.distance_between(run["start_s"].to_numpy(float), run["end_s"].to_numpy(float))
    return float(np.sum(d))
