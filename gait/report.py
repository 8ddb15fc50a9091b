"""Reports: terminal summaries (rich), JSON and HTML.

A report is built from `RunReport` objects (one per analysed session: the `Analysis`, the
`gait.faults.Assessment`, and what happened with the history). Three renderings:

- terminal (`print_report`): findings with evidence, when, confidence, causes and advice
  with their document ids, what could not be assessed and why;
- JSON (`report_document`, `write_json`): the documented, versioned schema of
  ``docs/report.md`` (JSON Schema in ``gait/data/report.schema.json``);
- HTML (`render_html`, `write_html`): one self-contained page with inline SVG plots (metrics
  over the run with fault periods shaded, per-step distributions, left versus right). It makes
  no network request of any kind (no CDN, no web font, no script; a Content-Security-Policy
  forbids it): health data stay on the machine.

Every rendering shows the warning signs that need a clinician, the causes no sensor can see,
and says plainly that the product coaches form and does not diagnose. Causes, advice and
warning signs carry the ids of the knowledge-base documents they come from; each rendering
ends with its "Sources": every document by title, publisher and address where known (the
catalogue's ``[[document]]`` table). The published studies behind the fault levels are named
in each rule's ``source`` and listed in full in ``docs/references.md``.
"""

from __future__ import annotations

import html
import io
import json
import math
import re
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from rich.console import Console
from rich.table import Table

from .constants import METRES_PER_MILE
from .history import HistoryStatus
from .session import Session

if TYPE_CHECKING:
    from .faults import Assessment, Catalogue, Document
    from .pipeline import Analysis

__all__ = [
    "DISPLAY",
    "REPORT_SCHEMA",
    "REPORT_SCHEMA_VERSION",
    "HistoryStatus",
    "RunReport",
    "load_report_schema",
    "print_analysis_summary",
    "print_findings",
    "print_report",
    "print_report_footer",
    "print_session_summary",
    "print_splits",
    "render_html",
    "report_document",
    "run_report_dict",
    "session_summary",
    "signal_lines",
    "write_html",
    "write_json",
    "write_table",
]

#: How each per-step metric is shown: (label, column, factor to display unit, unit, decimals).
DISPLAY = [
    ("cadence", "cadence_spm", 1.0, "spm", 0),
    ("contact time", "contact_time_s", 1000.0, "ms", 0),
    ("flight time", "flight_time_s", 1000.0, "ms", 0),
    ("duty factor", "duty_factor", 100.0, "%", 1),
    ("vertical oscillation", "vertical_oscillation_m", 100.0, "cm", 1),
    ("vertical ratio", "vertical_ratio_pct", 1.0, "%", 1),
    ("impact peak", "impact_peak_mps2", 1.0 / 9.80665, "g", 2),
    ("loading rate", "loading_rate_mps3", 1.0 / 9.80665, "g/s", 0),
    ("braking (peak)", "braking_peak_mps2", 1.0 / 9.80665, "g", 2),
    ("braking (speed lost)", "braking_velocity_loss_mps", 1.0, "m/s", 2),
    ("forward lean", "lean_deg", 1.0, "deg", 1),
    ("lateral lean", "lateral_lean_deg", 1.0, "deg", 1),
    ("pelvic drop", "pelvic_drop_deg", 1.0, "deg", 1),
    ("roll range", "roll_range_deg", 1.0, "deg", 1),
    ("rotation (yaw) range", "yaw_range_deg", 1.0, "deg", 1),
    ("step regularity", "step_regularity", 1.0, "", 2),
    ("speed", "speed_mps", 1.0, "m/s", 2),
    ("step length", "step_length_m", 1.0, "m", 2),
]


#: Metres per split unit.
PACE_UNIT_M: dict[str, float] = {"km": 1000.0, "mi": METRES_PER_MILE}


def session_summary(session: Session) -> dict[str, Any]:
    """Facts about a recording before analysis: duration, rate, channels, gaps, units."""
    gaps = session.gaps
    mag = np.sqrt(np.nansum(session.acc**2, axis=1)) if session.n_samples else np.zeros(0)
    return {
        "source": session.meta.source,
        "device": session.meta.device,
        "samples": session.n_samples,
        "duration_s": session.duration_s,
        "sampling_rate_hz": session.sampling_rate_hz,
        "frame": session.frame,
        "gyroscope": session.has_gyro,
        "missing_acc_axes": list(session.missing_acc_axes),
        "units_as_recorded": dict(session.meta.units_as_recorded),
        "calibration": session.meta.calibration,
        "gaps": len(gaps),
        "gap_total_s": float(sum(b - a - 1.0 / session.sampling_rate_hz for a, b in gaps)),
        "median_acc_magnitude_mps2": float(np.median(mag)) if mag.size else float("nan"),
    }


def print_session_summary(session: Session, console: Console | None = None) -> None:
    """Print `session_summary` as a table."""
    console = console or Console()
    s = session_summary(session)
    table = Table(title=f"Session: {s['source'] or 'in memory'}", show_header=False)
    table.add_row("device", str(s["device"]))
    table.add_row("duration", f"{s['duration_s']:.1f} s ({s['samples']} samples)")
    table.add_row("sampling rate", f"{s['sampling_rate_hz']:g} Hz")
    table.add_row("frame", s["frame"])
    table.add_row("gyroscope", "yes" if s["gyroscope"] else "no")
    if s["missing_acc_axes"]:
        table.add_row("missing axes", ", ".join(s["missing_acc_axes"]))
    table.add_row("units as recorded", ", ".join(f"{k}: {v}" for k, v in s["units_as_recorded"].items()))
    table.add_row("gaps", f"{s['gaps']} ({s['gap_total_s']:.3f} s missing)" if s["gaps"] else "none")
    table.add_row("median |acc|", f"{s['median_acc_magnitude_mps2']:.2f} m/s^2")
    console.print(table)


def _fmt(value: float, factor: float, decimals: int) -> str:
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


def print_analysis_summary(analysis: Analysis, console: Console | None = None, *, split_unit: str = "km") -> None:
    """Print what the analysis found: activity, steps, the medians of every metric, and with a
    known speed the distance, pace and splits (per ``split_unit``: ``"km"`` or ``"mi"``)."""
    from rich.markup import escape

    console = console or Console()
    s = analysis.summary
    bouts = analysis.bouts
    kinds = bouts.groupby("kind")["duration_s"].sum() if len(bouts) else {}
    console.print(
        "Activity: "
        + ", ".join(f"{k} {v:.0f} s" for k, v in dict(kinds).items())
        + f"; {s['running_steps']} running steps analysed"
    )
    lines = signal_lines(analysis)
    if lines:
        console.print("[bold]Signal[/bold]" + ("" if analysis.quality.ok else " [yellow](damaged input)[/yellow]"))
        for line in lines:
            console.print(f" - {escape(line)}")
    if s["running_steps"] == 0:
        console.print("[bold]No running was found in this recording.[/bold]")
        return
    table = Table(title="Running form (median over the run, left / right)")
    table.add_column("metric")
    table.add_column("median", justify="right")
    table.add_column("IQR", justify="right")
    table.add_column("left / right", justify="right")
    table.add_column("unit")
    for label, col, factor, unit, dec in DISPLAY:
        if col in analysis.unavailable:
            continue
        med = s["median"].get(col)
        table.add_row(
            label,
            _fmt(med, factor, dec),
            _fmt(s["iqr"].get(col), factor, dec),
            f"{_fmt(s['left'].get(col), factor, dec)} / {_fmt(s['right'].get(col), factor, dec)}",
            unit,
        )
    rf = s.get("rearfoot_share")
    if rf is not None and np.isfinite(rf):
        table.add_row("rearfoot strikes", f"{100 * rf:.0f}", "", "", "% of steps")
    console.print(table)
    if analysis.unavailable:
        for metric, why in analysis.unavailable.items():
            console.print(f"[dim]not available: {metric}: {why}[/dim]")
    print_splits(analysis, console, unit=split_unit)


def _pace_line(analysis: Analysis, unit: str) -> str | None:
    """``"Distance 5.02 km, pace 5:12/km (median 5:10/km); speed from watch.fit ..."``, or None."""
    from .units import format_pace

    s = analysis.summary
    dist = _num(s.get("distance_m"))
    med = _num(s["median"].get("speed_mps"))
    if dist is None and med is None:
        return None
    run_s = _num(s.get("running_s")) or 0.0
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


def print_splits(analysis: Analysis, console: Console | None = None, *, unit: str = "km") -> None:
    """Print the distance, pace and the per-km (or per-mile) splits of a run with a known speed."""
    from .tracks import split_table
    from .units import format_duration, format_pace

    console = console or Console()
    line = _pace_line(analysis, unit)
    if line is None:
        return
    console.print(line)
    sp = split_table(analysis, unit=unit)
    if sp.empty:
        return
    table = Table(title=f"Splits (per {unit}; medians of the valid running steps)")
    for c in (unit, "time", "pace", "cadence spm", "contact ms", "oscillation cm", "ratio %", "step length m"):
        table.add_column(c, justify="right")
    climb = sp["elevation_gain_m"].notna().any()
    if climb:
        table.add_column("up / down m", justify="right")
    for r in sp.itertuples(index=False):  # one row per km
        dist = r.end_m / PACE_UNIT_M[unit]
        row = [
            f"{dist:.2f}" if not r.complete else f"{dist:.0f}",
            format_duration(r.duration_s),
            format_pace(r.speed_mps, unit),
            _fmt(r.cadence_spm, 1.0, 0),
            _fmt(r.contact_time_s, 1000.0, 0),
            _fmt(r.vertical_oscillation_m, 100.0, 1),
            _fmt(r.vertical_ratio_pct, 1.0, 1),
            _fmt(r.step_length_m, 1.0, 2),
        ]
        if climb:
            row.append(f"+{_fmt(r.elevation_gain_m, 1.0, 0)} / -{_fmt(r.elevation_loss_m, 1.0, 0)}")
        table.add_row(*row)
    console.print(table)


def write_table(df: pd.DataFrame, path: str | Path) -> Path:
    """Write a result table as CSV (``.csv``, ``.csv.gz``) or Parquet (``.parquet``)."""
    from .errors import GaitInputError, Where

    p = Path(path)
    name = p.name.lower()
    p.parent.mkdir(parents=True, exist_ok=True)
    if name.endswith(".parquet"):
        df.to_parquet(p, index=False)
    elif name.endswith(".csv") or name.endswith(".csv.gz"):
        df.to_csv(p, index=False)
    else:
        raise GaitInputError(
            "unknown table format",
            expected="a name ending in .csv, .csv.gz or .parquet",
            found=repr(p.name),
            where=Where(parameter="path"),
        )
    return p


# ---------------------------------------------------------------------------------------
# findings reports: the data
# ---------------------------------------------------------------------------------------
#: Name and version of the JSON report format (``docs/report.md``).
REPORT_SCHEMA = "gait-lumbar-report"
REPORT_SCHEMA_VERSION = 1

_SEVERITY_STYLE = {"high": "bold red", "moderate": "bold yellow", "low": "cyan"}
_SEVERITY_COLOUR = {"high": "#c0392b", "moderate": "#d68910", "low": "#2e86c1"}


@dataclass(frozen=True)
class RunReport:
    """One analysed session, ready to report."""

    label: str
    analysis: Analysis
    assessment: Assessment
    history: HistoryStatus = field(default_factory=HistoryStatus)
    elevation: str | None = None
    shoes: str | None = None
    split_unit: str = "km"


def _unit_of(col: str) -> str:
    for suffix, unit in (
        ("_spm", "steps/min"),
        ("_mps3", "m/s^3"),
        ("_mps2", "m/s^2"),
        ("_mps", "m/s"),
        ("_pct", "%"),
        ("_deg", "deg"),
        ("_s", "s"),
        ("_m", "m"),
    ):
        if col.endswith(suffix):
            return unit
    return "1"


def _num(x: Any) -> float | None:
    try:
        v = float(x)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


def run_report_dict(rr: RunReport) -> dict[str, Any]:
    """The JSON object of one run (``docs/report.md``); numbers in SI, NaN as null."""
    a = rr.analysis
    s = a.summary
    meta = a.session.meta
    metrics = []
    for label, col, factor, unit, dec in DISPLAY:
        metrics.append(
            {
                "metric": col,
                "label": label,
                "unit": _unit_of(col),
                "available": col not in a.unavailable,
                "median": _num(s["median"].get(col)),
                "iqr": _num(s["iqr"].get(col)),
                "left": _num(s["left"].get(col)),
                "right": _num(s["right"].get(col)),
                "display_unit": unit,
                "display_factor": factor,
                "display_decimals": dec,
            }
        )
    return {
        "label": rr.label,
        "session": {
            "source": meta.source,
            "device": meta.device,
            "start_time": meta.start_time,
            "duration_s": _num(a.session.duration_s),
            "sampling_rate_hz": _num(a.session.sampling_rate_hz),
            "gyroscope": a.session.gyr is not None,
            "missing_acc_axes": list(a.session.missing_acc_axes),
            "shoes": rr.shoes or meta.shoes,
        },
        "activity": {
            "running_s": _num(s.get("running_s")) or 0.0,
            "walking_s": _num(s.get("walking_s")) or 0.0,
            "still_s": _num(s.get("still_s")) or 0.0,
            "running_steps": int(s.get("running_steps", 0)),
            "distance_m": _num(s.get("distance_m")),
            "volume_measure": "distance" if _num(s.get("distance_m")) is not None else "running time",
            "speed_source": "track"
            if a.track is not None
            else ("constant" if "speed_mps" not in a.unavailable else None),
        },
        "metrics": metrics,
        "unavailable": {k: str(v) for k, v in a.unavailable.items()},
        "signal_quality": a.quality.to_dict(),
        "heading": (a.frame.get("mounting") or {}).get("heading"),
        "findings": [{**f.to_dict(), "rank": k} for k, f in enumerate(rr.assessment.findings, start=1)],
        "notes": [n.to_dict() for n in rr.assessment.notes],
        "checked_without_finding": list(rr.assessment.checked),
        "history": rr.history.to_dict(),
        "elevation": rr.elevation,
        "track": None if a.track is None else a.track.to_dict(),
        "splits": _splits_dict(rr),
    }


def _splits_dict(rr: RunReport) -> dict[str, Any] | None:
    """The splits of a run for the JSON report (``docs/report.md``), or None without a speed."""
    from .tracks import split_table

    sp = split_table(rr.analysis, unit=rr.split_unit)
    if sp.empty:
        return None
    rows = []
    for rec in sp.drop(columns=["unit"]).to_dict(orient="records"):
        rows.append(
            {
                k: (bool(v) if k == "complete" else int(v) if k in ("split", "steps") else _num(v))
                for k, v in rec.items()
            }
        )
    return {"unit": rr.split_unit, "rows": rows}


def report_document(
    reports: list[RunReport], *, catalogue: Catalogue | None = None, generated_at: datetime | None = None
) -> dict[str, Any]:
    """The whole JSON report: schema name and version, the clinical warning signs, the causes
    no sensor can see, the disclaimer, the documents cited, and one object per run."""
    from .faults import CATALOGUE

    cat = catalogue or CATALOGUE
    when = (generated_at or datetime.now().astimezone()).isoformat(timespec="seconds")
    return {
        "schema": REPORT_SCHEMA,
        "schema_version": REPORT_SCHEMA_VERSION,
        "generated_at": when,
        "tool": {"name": "gait-lumbar", "version": _tool_version()},
        "catalogue_version": cat.version,
        "disclaimer": cat.disclaimer,
        "warning_signs": [{"text": w.text, "documents": list(w.documents)} for w in cat.warning_signs],
        "unseen_causes": [
            {"topic": u.topic, "text": u.text, "documents": list(u.documents)} for u in cat.unseen_causes
        ],
        "documents": [
            {"id": d.id, "title": d.title, "publisher": d.publisher, "url": d.url, "topic": d.topic}
            for d in _documents(cat)
        ],
        "runs": [run_report_dict(r) for r in reports],
    }


def _documents(cat: Catalogue) -> list[Document]:
    """The catalogue's knowledge-base documents, by id (a catalogue built without the table
    gets one untitled entry per described id)."""
    from .faults import Document

    if cat.documents:
        return [cat.documents[k] for k in sorted(cat.documents)]
    return [Document(k, f"document {k}", None, None, v) for k, v in sorted(cat.document_topics.items())]


#: Where the published studies cited by the reports are listed in full.
_REFERENCES_NOTE = (
    "The published studies behind each fault's levels are named in the evidence (its source) and "
    "listed in full in docs/references.md of gait-lumbar."
)


def _tool_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("gait-lumbar")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree
        return "0+unknown"


def load_report_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of `report_document` (``gait/data/report.schema.json``)."""
    from importlib import resources

    return json.loads((resources.files("gait") / "data" / "report.schema.json").read_text("utf-8"))


def write_json(doc: dict[str, Any], path: str | Path) -> Path:
    """Write a report document as UTF-8 JSON (indented, keys in a stable order)."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(json.dumps(doc, indent=1, ensure_ascii=False, allow_nan=False) + "\n", encoding="utf-8")
    return p


# ---------------------------------------------------------------------------------------
# terminal
# ---------------------------------------------------------------------------------------
def print_report(
    reports: list[RunReport], console: Console | None = None, *, catalogue: Catalogue | None = None
) -> None:
    """Print the findings of every run, then the warning signs, the unseen causes and the
    disclaimer (always)."""
    from .faults import CATALOGUE

    cat = catalogue or CATALOGUE
    console = console or Console()
    for rr in reports:
        print_findings(rr, console)
    print_report_footer(console, catalogue=cat)


def print_report_footer(console: Console | None = None, *, catalogue: Catalogue | None = None) -> None:
    """The part every terminal report ends with: the warning signs that need a clinician, the
    causes no sensor can see, the disclaimer, and the sources: every knowledge-base document
    by id, title, publisher and address where known."""
    from rich.markup import escape

    from .faults import CATALOGUE

    cat = catalogue or CATALOGUE
    console = console or Console()
    console.rule("[bold]See a clinician if[/bold]")
    for w in cat.warning_signs:
        console.print(f" [bold red]![/bold red] {w.text} [dim]\\[{', '.join(w.documents)}][/dim]")
    console.rule("[bold]What no sensor can see: worth checking[/bold]")
    for u in cat.unseen_causes:
        console.print(f" - [bold]{u.topic}[/bold]: {u.text} [dim]\\[{', '.join(u.documents)}][/dim]")
    console.print(f"\n[italic]{cat.disclaimer}[/italic]")
    console.rule("[bold]Sources[/bold]")
    for d in _documents(cat):
        by = f", {escape(d.publisher)}" if d.publisher else ""
        at = f" ({escape(d.url)})" if d.url else ""
        console.print(f" \\[{d.id}] [italic]{escape(d.title)}[/italic]{by}{at}: [dim]{escape(d.topic)}[/dim]")
    console.print(f"[dim]{escape(_REFERENCES_NOTE)}[/dim]")


def print_findings(rr: RunReport, console: Console | None = None) -> None:
    """Print one run's findings (ranked, with evidence, when, confidence, cue, causes and
    advice with their document ids) and what could not be assessed."""
    from rich.markup import escape

    console = console or Console()
    a = rr.assessment
    console.rule(f"[bold]Form findings: {escape(rr.label)}[/bold]")
    for m in rr.history.messages:
        console.print(f"[dim]{escape(m)}[/dim]")
    if not a.findings:
        console.print("No form fault found in what could be assessed.")
    else:
        table = Table(show_lines=False)
        table.add_column("#", justify="right")
        table.add_column("fault")
        table.add_column("severity")
        table.add_column("confidence", justify="right")
        table.add_column("evidence")
        table.add_column("when")
        for k, f in enumerate(a.findings, 1):
            ev = "; ".join(f"{e.label} {e.display}" for e in f.evidence[:3])
            if f.share_of_steps is not None:
                ev += f"; {100 * f.share_of_steps:.0f} % of steps"
            table.add_row(
                str(k),
                f.name,
                f"[{_SEVERITY_STYLE[f.severity]}]{f.severity}[/]",
                f"{f.confidence:.2f}",
                ev,
                f.when,
            )
        console.print(table)
        for k, f in enumerate(a.findings, 1):
            console.print(f"[bold]{k}. {f.name}[/bold] - cue: [italic]{f.cue}[/italic]")
            for c in f.causes:
                console.print(f"   may point to: {c.text} [dim]\\[{', '.join(c.documents)}][/dim]")
            for t in f.advice:
                console.print(f"   try: {t.text} [dim]\\[{', '.join(t.documents)}][/dim]")
    cannot = [n for n in a.notes if n.status != "partial"]
    partial = [n for n in a.notes if n.status == "partial"]
    if cannot:
        console.print("[bold]Not assessed[/bold]")
        for n in cannot:
            console.print(f" [dim]- {escape(n.message)}[/dim]")
    if partial:
        for n in partial:
            console.print(f" [dim]- {escape(n.message)}[/dim]")


# ---------------------------------------------------------------------------------------
# HTML
# ---------------------------------------------------------------------------------------
#: Per-step metrics plotted: (column, label, display key of gait.faults.DISPLAYS).
PLOT_METRICS = (
    ("cadence_spm", "cadence", "spm"),
    ("contact_time_s", "contact time", "ms"),
    ("vertical_oscillation_m", "vertical oscillation", "cm"),
    ("braking_velocity_loss_mps", "braking (speed lost)", "mps"),
    ("lean_deg", "forward lean", "deg"),
    ("yaw_range_deg", "rotation range", "deg"),
    ("pelvic_drop_deg", "pelvic drop", "deg"),
    ("rearfoot_score", "rearfoot score", "ratio"),
)
#: Left / right comparison: (summary column, label, display key).
LR_METRICS = (
    ("contact_time_s", "contact time", "ms"),
    ("step_time_s", "step time", "ms"),
    ("impact_peak_mps2", "impact", "mps2"),
    ("braking_peak_mps2", "braking peak", "mps2"),
    ("pelvic_drop_deg", "pelvic drop", "deg"),
)
_PALETTE = ("#e74c3c", "#f39c12", "#8e44ad", "#16a085", "#2c3e50", "#d35400", "#27ae60", "#7f8c8d")

_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;margin:0;color:#1b2631;background:#fbfcfc}
main{max-width:1100px;margin:0 auto;padding:1.2em 1.5em 3em}
h1{font-size:1.6em;margin:.3em 0}h2{border-bottom:2px solid #d5dbdb;padding-bottom:.2em;margin-top:1.6em}
h3{margin:1.1em 0 .3em}
.disclaimer{background:#eaf2f8;border-left:5px solid #2e86c1;padding:.6em 1em;margin:.8em 0}
.warning{background:#fdedec;border:2px solid #c0392b;border-radius:6px;padding:.6em 1.2em;margin:1em 0}
.warning h2{border:none;color:#922b21;margin:.2em 0}
.card{background:#fff;border:1px solid #d5dbdb;border-left:8px solid #999;border-radius:6px;padding:.6em 1em;margin:.8em 0}
.sev{display:inline-block;color:#fff;border-radius:4px;padding:0 .5em;font-weight:600;font-size:.9em}
.cue{font-style:italic;color:#424949}
table{border-collapse:collapse;margin:.4em 0;font-size:.92em}
td,th{border:1px solid #d5dbdb;padding:.25em .5em;text-align:left;vertical-align:top}
th{background:#f2f3f4}
.docs{color:#7b7d7d;font-size:.85em}
.muted{color:#707b7c}
.signal{background:#fef9e7;border-left:5px solid #d4ac0d;padding:.3em 1em;margin:.6em 0;font-size:.92em}
figure{margin:.8em 0}figure svg{max-width:100%;height:auto}
figcaption{color:#566573;font-size:.9em}
"""


def _svg(fig, salt: str) -> str:
    """A matplotlib figure as an inline SVG element (no XML prolog, no external references)."""
    import matplotlib

    buf = io.StringIO()
    with matplotlib.rc_context({"svg.hashsalt": salt, "svg.fonttype": "path"}):
        fig.savefig(buf, format="svg", metadata={"Date": None, "Creator": None})
    text = buf.getvalue()
    start = text.find("<svg")
    text = text[start:]
    # drop the RDF metadata block (it names external vocabularies; nothing is fetched, but the
    # page is simpler and smaller without it)
    text = re.sub(r"<metadata>.*?</metadata>", "", text, flags=re.S)
    return text


def _figure(nrows: int, ncols: int, *, width: float, height: float):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=100, layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False)
    return fig, axes


def _plot_columns(rr: RunReport) -> list[tuple[str, str, str]]:
    run = rr.analysis.running_steps
    out = []
    for col, label, disp in PLOT_METRICS:
        if col in rr.analysis.unavailable or col not in run.columns:
            continue
        v = run[col].to_numpy(float)
        if np.isfinite(v).sum() >= 3:
            out.append((col, label, disp))
    return out[:6]


def _levels_for(column: str) -> list[tuple[float, str]]:
    """Lowest levels of the catalogue rules on a step column: (value in SI, fault name)."""
    from .faults import CATALOGUE

    out = []
    for f in CATALOGUE.faults:
        for r in f.rules:
            if r.kind == "threshold" and r.step_column == column and r.role == "primary":
                lv = r.step_threshold if r.step_threshold is not None else r.levels[0]
                out.append((float(lv), f.name))
                if r.direction == "abs_above":
                    out.append((-float(lv), f.name))
    return out


def _plot_over_run(rr: RunReport, salt: str) -> str | None:
    from .faults import DISPLAYS

    cols = _plot_columns(rr)
    run = rr.analysis.running_steps.sort_values("ic_s")
    if not cols or len(run) < 3:
        return None
    t_min = run["ic_s"].to_numpy(float) / 60.0
    fig, axes = _figure(len(cols), 1, width=10.0, height=1.55 * len(cols) + 0.6)
    colours = {f.fault: _PALETTE[k % len(_PALETTE)] for k, f in enumerate(rr.assessment.findings)}
    for (col, label, disp), ax in zip(cols, axes[:, 0]):
        factor, unit, _, _ = DISPLAYS[disp]
        v = run[col].to_numpy(float) * factor
        ax.scatter(t_min, v, s=3, color="#95a5a6", alpha=0.45, linewidths=0, rasterized=True)
        w = int(min(31, max(3, len(v) // 5)))
        roll = pd.Series(v).rolling(w, center=True, min_periods=max(2, w // 3)).median()
        ax.plot(t_min, roll, color="#1f618d", lw=1.4)
        for lv, _name in _levels_for(col):
            ax.axhline(lv * factor, color="#7b7d7d", lw=0.8, ls="--")
        for f in rr.assessment.findings:
            for a, b in f.periods_s:
                ax.axvspan(a / 60.0, b / 60.0, color=colours[f.fault], alpha=0.12, lw=0)
        ax.set_ylabel(f"{label}\n({unit})" if unit else label, fontsize=8)
        ax.tick_params(labelsize=7)
        ok = np.isfinite(v)
        if ok.any():
            lo, hi = np.percentile(v[ok], [1, 99])
            pad = 0.15 * (hi - lo or abs(hi) or 1.0)
            ax.set_ylim(lo - pad, hi + pad)
    axes[-1, 0].set_xlabel("time (min, session clock)", fontsize=8)
    if rr.assessment.findings:
        from matplotlib.patches import Patch

        handles = [Patch(color=colours[f.fault], alpha=0.35, label=f.name) for f in rr.assessment.findings]
        axes[0, 0].legend(
            handles=handles, fontsize=7, loc="lower left", bbox_to_anchor=(0, 1.02), ncol=4, frameon=False
        )
    fig.align_ylabels(axes[:, 0])
    return _svg(fig, salt)


def _plot_distributions(rr: RunReport, salt: str) -> str | None:
    from .faults import DISPLAYS

    cols = _plot_columns(rr)
    run = rr.analysis.running_steps
    if not cols or len(run) < 3:
        return None
    ncols = 3
    nrows = math.ceil(len(cols) / ncols)
    fig, axes = _figure(nrows, ncols, width=10.0, height=2.2 * nrows)
    for k, ax in enumerate(axes.ravel()):
        if k >= len(cols):
            ax.set_axis_off()
            continue
        col, label, disp = cols[k]
        factor, unit, _, _ = DISPLAYS[disp]
        v = run[col].to_numpy(float) * factor
        v = v[np.isfinite(v)]
        lo, hi = np.percentile(v, [0.5, 99.5]) if v.size else (0.0, 1.0)
        span = float(hi - lo) or abs(float(hi)) * 0.1 or 1.0
        ax.hist(v, bins=int(min(40, max(8, v.size // 8))), range=(lo, hi), color="#5dade2", edgecolor="white", lw=0.3)
        ax.axvline(float(np.median(v)), color="#1b4f72", lw=1.5)
        left, right = lo - 0.5 * span, hi + 0.5 * span
        for lv, _name in _levels_for(col):
            x = lv * factor
            if left <= x <= right:  # a level far from the data would squeeze the histogram
                ax.axvline(x, color="#c0392b", lw=1.0, ls="--")
                left, right = min(left, x - 0.05 * span), max(right, x + 0.05 * span)
        ax.set_xlim(min(left, lo - 0.05 * span), max(right, hi + 0.05 * span))
        ax.set_title(f"{label} ({unit})" if unit else label, fontsize=8)
        ax.tick_params(labelsize=7)
    return _svg(fig, salt)


def _plot_left_right(rr: RunReport, salt: str) -> str | None:
    from .faults import DISPLAYS

    s = rr.analysis.summary
    if "side" in rr.analysis.unavailable:
        return None
    items = []
    for col, label, disp in LR_METRICS:
        left, right = _num(s["left"].get(col, np.nan)), _num(s["right"].get(col, np.nan))
        if col == "step_time_s":
            run = rr.analysis.running_steps
            left = _num(run.loc[run["side"] == "L", "step_time_s"].median()) if len(run) else None
            right = _num(run.loc[run["side"] == "R", "step_time_s"].median()) if len(run) else None
        if left is not None and right is not None:
            items.append((col, label, disp, left, right))
    if not items:
        return None
    fig, axes = _figure(1, len(items), width=2.0 * len(items) + 0.5, height=2.4)
    for (_col, label, disp, left, right), ax in zip(items, axes[0]):
        factor, unit, _dec, _ = DISPLAYS[disp]
        ax.bar(["L", "R"], [left * factor, right * factor], color=["#5dade2", "#f5b041"])
        mean = (left + right) / 2
        asym = 100 * (left - right) / mean if mean else float("nan")
        ax.set_title(f"{label}\nL-R {asym:+.1f} %", fontsize=8)
        ax.set_ylabel(unit, fontsize=7)
        hi = max(abs(left), abs(right)) * factor
        ax.set_ylim(0.0, 1.18 * hi if hi > 0 else 1.0)
        ax.tick_params(labelsize=7)
    return _svg(fig, salt)


def _e(x: Any) -> str:
    return html.escape(str(x), quote=True)


def _docs(docs: tuple[str, ...] | list[str], cat: Catalogue | None = None, *, link: bool = False) -> str:
    """Document ids as a bracketed list; each id shows its document's title on hover and, with
    ``link`` (a page with a "Sources" part), links to its entry there (``#doc-000``)."""
    from .faults import CATALOGUE

    known = (cat or CATALOGUE).documents
    ids = []
    for k in docs:
        d = known.get(k)
        if d is None:
            ids.append(_e(k))
        elif link:
            ids.append(f'<a href="#doc-{_e(k)}" title="{_e(d.label)}">{_e(k)}</a>')
        else:
            ids.append(f'<span title="{_e(d.label)}">{_e(k)}</span>')
    return f'<span class="docs">[{", ".join(ids)}]</span>'


def _html_run(rr: RunReport, k: int) -> str:
    a = rr.analysis
    s = a.summary
    parts = [f'<section id="run-{k}"><h2>{_e(rr.label)}</h2>']
    kinds = a.bouts.groupby("kind")["duration_s"].sum() if len(a.bouts) else {}
    activity = ", ".join(f"{kk} {v:.0f} s" for kk, v in dict(kinds).items()) or "no activity"
    dist = _num(s.get("distance_m"))
    parts.append(
        f"<p>{_e(activity)}; {int(s.get('running_steps', 0))} running steps analysed"
        + (
            f"; about {dist / 1000:.2f} km"
            if dist is not None
            else "; distance unknown (no speed), running time is the volume measure"
        )
        + (f"; shoes: {_e(rr.shoes)}" if rr.shoes else "")
        + ".</p>"
    )
    for m in rr.history.messages:
        parts.append(f'<p class="muted">{_e(m)}</p>')
    lines = signal_lines(a)
    if lines:
        head = "Signal" + ("" if a.quality.ok else " (damaged input)")
        parts.append(f'<div class="signal"><b>{_e(head)}</b><ul>')
        parts.extend(f"<li>{_e(line)}</li>" for line in lines)
        parts.append("</ul></div>")
    if rr.elevation:
        parts.append(f'<p class="muted">Elevation: {_e(rr.elevation)}</p>')
    parts.append(_html_splits(rr))
    findings = rr.assessment.findings
    parts.append("<h3>Findings</h3>")
    if not findings:
        parts.append("<p>No form fault was found in what could be assessed.</p>")
    for n, f in enumerate(findings, 1):
        colour = _SEVERITY_COLOUR[f.severity]
        rows = "".join(
            f"<tr><td>{_e(e.label)}</td><td><b>{_e(e.display)}</b></td><td>{_e(e.level)}</td>"
            f"<td>{_e(e.threshold)}</td><td class=docs>{_e(e.source)}</td></tr>"
            for e in f.evidence
        )
        when = _e(f.when) if f.when else "the whole run"
        share = f"; {100 * f.share_of_steps:.0f} % of steps" if f.share_of_steps is not None else ""
        causes = "".join(f"<li>{_e(c.text)} {_docs(c.documents, link=True)}</li>" for c in f.causes)
        advice = "".join(f"<li>{_e(t.text)} {_docs(t.documents, link=True)}</li>" for t in f.advice)
        parts.append(
            f'<div class="card" style="border-left-color:{colour}">'
            f'<h3>{n}. {_e(f.name)} <span class="sev" style="background:{colour}">{_e(f.severity)}</span> '
            f'<span class="muted">confidence {f.confidence:.2f}</span></h3>'
            f'<p class="cue">Cue: "{_e(f.cue)}"</p>'
            f"<p>When: {when}{share}.</p>"
            "<table><tr><th>evidence</th><th>value</th><th>level</th><th>levels</th><th>source</th></tr>"
            f"{rows}</table>"
            f"<p><b>May point to</b></p><ul>{causes}</ul><p><b>What to try</b></p><ul>{advice}</ul>"
            f'<p class="muted">Limits: {_e(f.limitations)}</p></div>'
        )
    figs = [
        (
            _plot_over_run(rr, f"{k}-a"),
            "Metrics over the run (per step in grey, running median in blue); shaded: when each finding occurred; dashed: the catalogue's lowest level.",
        ),
        (
            _plot_distributions(rr, f"{k}-b"),
            "Per-step distributions (median: solid line; lowest level of a fault: dashed red).",
        ),
        (_plot_left_right(rr, f"{k}-c"), "Left versus right (medians per side)."),
    ]
    parts.append("<h3>Plots</h3>")
    for svg, caption in figs:
        if svg:
            parts.append(f"<figure>{svg}<figcaption>{_e(caption)}</figcaption></figure>")
    if "side" in a.unavailable:
        parts.append(f'<p class="muted">Left versus right: not available ({_e(a.unavailable["side"])}).</p>')
    notes = rr.assessment.notes
    if notes:
        parts.append("<h3>Not assessed, or only in part</h3><ul>")
        parts.extend(f"<li>{_e(nn.message)}</li>" for nn in notes)
        parts.append("</ul>")
    metric_rows = []
    for label, col, factor, unit, dec in DISPLAY:
        if col in a.unavailable:
            continue
        metric_rows.append(
            f"<tr><td>{_e(label)}</td><td>{_fmt(s['median'].get(col), factor, dec)}</td>"
            f"<td>{_fmt(s['iqr'].get(col), factor, dec)}</td>"
            f"<td>{_fmt(s['left'].get(col), factor, dec)} / {_fmt(s['right'].get(col), factor, dec)}</td><td>{_e(unit)}</td></tr>"
        )
    parts.append(
        "<h3>All metrics</h3><table><tr><th>metric</th><th>median</th><th>IQR</th><th>left / right</th><th>unit</th></tr>"
        + "".join(metric_rows)
        + "</table></section>"
    )
    return "\n".join(parts)


def _html_splits(rr: RunReport) -> str:
    """The pace line and the splits table of a run ("" without a speed)."""
    from .tracks import split_table
    from .units import format_duration, format_pace

    line = _pace_line(rr.analysis, rr.split_unit)
    if line is None:
        return ""
    sp = split_table(rr.analysis, unit=rr.split_unit)
    out = [f'<p class="muted">{_e(line)}</p>']
    if sp.empty:
        return out[0]
    u = rr.split_unit
    climb = sp["elevation_gain_m"].notna().any()
    head = ["time", "pace", "cadence (spm)", "contact (ms)", "oscillation (cm)", "ratio (%)", "step length (m)"]
    head = [u, *head] + (["up / down (m)"] if climb else [])
    rows = []
    for r in sp.itertuples(index=False):
        dist = r.end_m / PACE_UNIT_M[u]
        cells = [
            f"{dist:.0f}" if r.complete else f"{dist:.2f}",
            format_duration(r.duration_s),
            format_pace(r.speed_mps, u),
            _fmt(r.cadence_spm, 1.0, 0),
            _fmt(r.contact_time_s, 1000.0, 0),
            _fmt(r.vertical_oscillation_m, 100.0, 1),
            _fmt(r.vertical_ratio_pct, 1.0, 1),
            _fmt(r.step_length_m, 1.0, 2),
        ]
        if climb:
            cells.append(f"+{_fmt(r.elevation_gain_m, 1.0, 0)} / -{_fmt(r.elevation_loss_m, 1.0, 0)}")
        rows.append("<tr>" + "".join(f"<td>{_e(c)}</td>" for c in cells) + "</tr>")
    out.append(
        f"<h3>Splits (per {_e(u)})</h3><table><tr>"
        + "".join(f"<th>{_e(h)}</th>" for h in head)
        + "</tr>"
        + "".join(rows)
        + "</table>"
    )
    return "\n".join(out)


def render_html(
    reports: list[RunReport], *, title: str = "Running form report", catalogue: Catalogue | None = None
) -> str:
    """One self-contained HTML page (inline CSS and SVG; no script, no network request)."""
    from .faults import CATALOGUE

    cat = catalogue or CATALOGUE
    warn = "".join(f"<li>{_e(w.text)} {_docs(w.documents, cat, link=True)}</li>" for w in cat.warning_signs)
    unseen = "".join(
        f"<li><b>{_e(u.topic)}</b>: {_e(u.text)} {_docs(u.documents, cat, link=True)}</li>" for u in cat.unseen_causes
    )
    docs = "".join(
        f'<li id="doc-{_e(d.id)}"><b>[{_e(d.id)}]</b> <cite>{_e(d.title)}</cite>'
        + (f", {_e(d.publisher)}" if d.publisher else "")
        + (f' <span class="muted">({_e(d.url)})</span>' if d.url else "")
        + f": {_e(d.topic)}</li>"
        for d in _documents(cat)
    )
    toc = ""
    if len(reports) > 1:
        toc = (
            "<nav><ol>"
            + "".join(
                f'<li><a href="#run-{k}">{_e(r.label)}</a> ({len(r.assessment.findings)} finding(s))</li>'
                for k, r in enumerate(reports)
            )
            + "</ol></nav>"
        )
    runs = "\n".join(_html_run(r, k) for k, r in enumerate(reports))
    generated = datetime.now().astimezone().isoformat(timespec="seconds")
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{_e(title)}</title><style>{_CSS}</style></head>
<body><main>
<h1>{_e(title)}</h1>
<p class="disclaimer">{_e(cat.disclaimer)}</p>
<div class="warning"><h2>See a clinician if you have any of these</h2><ul>{warn}</ul></div>
{toc}
{runs}
<h2>What no sensor can see: worth checking</h2><ul>{unseen}</ul>
<h2>Sources</h2><p>Causes, advice and warning signs cite these articles on running and low back pain by number (in the product's own words):</p><ul>{docs}</ul>
<p class="muted">{_e(_REFERENCES_NOTE)}</p>
<p class="muted">Generated {_e(generated)} by gait-lumbar {_e(_tool_version())}. This page was built on your machine and loads nothing from the network.</p>
</main></body></html>
"""


def write_html(reports: list[RunReport], path: str | Path, **kwargs: Any) -> Path:
    """Write `render_html` to ``path`` (UTF-8)."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(render_html(reports, **kwargs), encoding="utf-8")
    return p
