"""How the reports show numbers: the metrics' display units, formatting, the signal and pace lines, a run's date and header facts."""

from __future__ import annotations

import math
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..constants import METRES_PER_MILE
from ..registry import METRICS, REPORT_METRICS, si_unit

if TYPE_CHECKING:
    from ..core.pipeline import Analysis
    from ._json import RunReport


DISPLAY = [
    (m.label, m.name, m.display_unit.factor, m.display_unit.unit, m.display_unit.decimals)
    for m in (METRICS[n] for n in REPORT_METRICS)
]


#: Metres per split unit.
PACE_UNIT_M: dict[str, float] = {"km": 1000.0, "mi": METRES_PER_MILE}


def fmt(value: float, factor: float, decimals: int) -> str:
    return "n/a" if value is None or not np.isfinite(value) else f"{value * factor:.{decimals}f}"


def signal_lines(analysis: Analysis) -> list[str]:
    """What the analysis found about the input signal and the sensor's mounting, one
    sentence each: clipping, filtering, the gravity used (``Analysis.quality``), how far the
    forward direction is trusted, and the metrics shown with a caveat."""
    out = list(analysis.quality.lines())
    mount = analysis.frame.get("mounting") or {}
    h = mount.get("heading")
    if h:
        n = len(h.get("segments", []))
        turns = f", {h['turns']} turn{'s' if h['turns'] != 1 else ''} left out" if h.get("turns") else ""
        verdict = (
            "trusted"
            if h["trusted"]
            else f"below {h['min_confidence']:g}: lean, lateral lean, pelvic drop and braking are not reported"
        )
        out.append(
            f"forward direction from {n} straight stretch{'es' if n != 1 else ''} of walking or running{turns}: "
            f"confidence {h['confidence']:.2f} ({verdict})"
        )
    by_reason: dict[str, list[str]] = {}
    for metric, why in analysis.quality.flagged.items():
        by_reason.setdefault(why, []).append(metric)
    for why, metrics in by_reason.items():
        out.append(f"shown with a caveat ({', '.join(metrics)}): {why}")
    return out


def pace_line(analysis: Analysis, unit: str) -> str | None:
    """``"Distance 5.02 km, pace 5:12/km (median 5:10/km); speed from watch.fit ..."``, or None."""
    from ..units import format_pace

    s = analysis.summary
    dist = num(s.get("distance_m"))
    med = num(s["median"].get("speed_mps"))
    if dist is None and med is None:
        return None
    run_s = num(s.get("running_s")) or 0.0
    parts = []
    if dist is not None:
        parts.append(f"distance {dist / PACE_UNIT_M[unit]:.2f} {unit}")
        if run_s > 0 and dist > 0:
            parts.append(f"average pace {format_pace(dist / run_s, unit)} over {run_s / 60:.1f} min of running")
    if med is not None:
        parts.append(f"median pace {format_pace(med, unit)} ({med:.2f} m/s)")
    src = analysis.track
    where = (
        f"speed from the track {Path(src.source).name or 'in memory'}"
        if src is not None
        else "a constant speed (given)"
    )
    n = int(s.get("running_steps", 0))
    cov = ""
    if src is not None and n:
        known = int(np.isfinite(analysis.running_steps["speed_mps"].to_numpy(float)).sum())
        if known < n:
            cov = f"; {known} of {n} running steps have a speed (the rest are outside the track or in its pauses)"
    return "Speed: " + ", ".join(parts) + f"; {where}{cov}"


def unit_of(col: str) -> str:
    return si_unit(col)


def num(x: Any) -> float | None:
    try:
        v = float(x)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


def shown(column: str, label: str | None = None, display: str | None = None) -> tuple[str, float, str, int]:
    """How a column is shown: (label, factor from SI, unit, decimals).

    The single place the reports look names, units and scales up: `DISPLAY` for the metrics
    it lists; else a catalogue rule's own display (``display``, a key of
    ``gait.faults.DISPLAYS``, as in the findings' evidence); else the SI unit of the column's
    name (`unit_of`) at factor 1. The label is then ``label`` (a catalogue rule's label) or
    the column's name.
    """
    for lab, col, factor, unit, dec in DISPLAY:
        if col == column:
            return lab, factor, unit, dec
    base = column.split(".")[-1]
    for suffix in ("_mps2", "_mps3", "_mps", "_pct", "_deg", "_spm", "_s", "_m"):
        if base.endswith(suffix):
            base = base[: -len(suffix)]
            break
    name = label or base.replace("_", " ")
    if display is not None:
        from ..faults import DISPLAYS

        factor, unit, dec, _si = DISPLAYS[display]
        return name, factor, unit, dec
    unit = unit_of(column)
    return name, 1.0, "" if unit == "1" else unit, 2 if unit in ("1", "m/s^2") else 1


def _run_date(rr: RunReport) -> tuple[str, str]:
    """The run's date and where it came from."""
    from ..history import session_start

    h = rr.history
    if h.started_at:
        when = _parse_iso(h.started_at)
        return (when or h.started_at), f"run history ({h.date_source or 'stored date'})"
    start = session_start(rr.analysis.session)
    if start is not None:
        return start.strftime("%Y-%m-%d %H:%M %Z").strip(), "the recording's start time"
    return "unknown", ""


def _parse_iso(text: str) -> str | None:
    try:
        return datetime.fromisoformat(text).strftime("%Y-%m-%d %H:%M %Z").strip()
    except ValueError:
        return None


def header_rows(rr: RunReport) -> list[tuple[str, str]]:
    """The facts at the top of a run: date (and its source), device, duration, rate, running
    time, distance and pace when the speed is known."""
    from ..units import format_duration, format_pace

    a = rr.analysis
    s = a.summary
    meta = a.session.meta
    date, source = _run_date(rr)
    rows = [
        ("date", f"{date} (from {source})" if source else "unknown (the recording has no start time)"),
        ("device", meta.device or "unknown"),
        ("recording", f"{format_duration(a.session.duration_s)} at {a.session.sampling_rate_hz:g} Hz"),
    ]
    run_s = num(s.get("running_s")) or 0.0
    rows.append(("running", f"{format_duration(run_s)}, {int(s.get('running_steps', 0))} steps analysed"))
    dist = num(s.get("distance_m"))
    u = rr.split_unit
    if dist is not None:
        pace = f", average pace {format_pace(dist / run_s, u)}" if run_s > 0 and dist > 0 else ""
        rows.append(("distance", f"{dist / PACE_UNIT_M[u]:.2f} {u}{pace}"))
    else:
        rows.append(("distance", "unknown (no speed: give --track, --pace or --speed-mps)"))
    if rr.shoes:
        rows.append(("shoes", rr.shoes))
    return rows
