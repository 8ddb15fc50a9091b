"""Readers: GPX (gpxpy), TCX (expat, with line numbers), FIT (the Garmin FIT SDK), CSV."""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import TYPE_CHECKING, Any
from xml.parsers import expat

import numpy as np
import pandas as pd

from ..errors import GaitInputError, Where
from ._assemble import _assemble, _speed_from_distance
from ._fit import _read_fit
from ._track import SPEED_WINDOW_S, TRACK_FORMATS, Track, _epoch, _parse_iso

if TYPE_CHECKING:
    pass


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
