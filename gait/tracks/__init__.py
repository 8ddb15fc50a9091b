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

from ._align import OffsetEstimate, align_track, estimate_offset, read_elevation, resolve_speed, running_distance_m
from ._readers import read_track
from ._splits import SPLIT_COLUMNS, SPLIT_METRICS, split_table
from ._track import (
    EARTH_RADIUS_M,
    MAX_GAP_S,
    MAX_TRACK_SPEED_MPS,
    MIN_PAUSE_S,
    MIN_RUNNING_SPEED_MPS,
    NOMINAL_SPEED_MPS,
    SPEED_WINDOW_S,
    TRACK_FORMATS,
    Track,
)

__all__ = [
    "EARTH_RADIUS_M",
    "MAX_GAP_S",
    "MAX_TRACK_SPEED_MPS",
    "MIN_PAUSE_S",
    "MIN_RUNNING_SPEED_MPS",
    "NOMINAL_SPEED_MPS",
    "SPEED_WINDOW_S",
    "SPLIT_COLUMNS",
    "SPLIT_METRICS",
    "TRACK_FORMATS",
    "OffsetEstimate",
    "Track",
    "align_track",
    "estimate_offset",
    "read_elevation",
    "read_track",
    "resolve_speed",
    "running_distance_m",
    "split_table",
]
