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
from .registry import METRICS, REPORT_METRICS, si_unit
from .session import Session

if TYPE_CHECKING:
    from .core.pipeline import Analysis
    from .faults import Assessment, Catalogue, Document, Evidence, Finding

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
    "print_run_summary",
    "key_metrics",
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

#: How each per-step metric is shown: (label, column, factor to display unit, unit, decimals),
#: from the metric registry (`gait.registry`).
DISPLAY = [
    (m.label, m.name, m.display_unit.factor, m.display_unit.unit, m.display_unit.decimals)
    for m in (METRICS[n] for n in REPORT_METRICS)
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
    #: the aligned elevation track, if any (draws the grade under a downhill finding)
    elevation_track: Any = None


def _unit_of(col: str) -> str:
    return si_unit(col)


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


def key_metrics(rr: RunReport, catalogue: Catalogue | None = None) -> list[dict[str, Any]]:
    """The numbers the catalogue judges a run by, one per metric, in the catalogue's order:
    every primary or supporting threshold rule on a run's median (and the share of heel-first
    landings).

    Each item: ``metric`` (``"median.contact_time_s"`` ...), ``label`` (the rule's words),
    ``value`` (SI, None when not measured), ``shown`` (with its unit), ``reference`` (the range
    no level of the catalogue is reached in, e.g. ``"below 300 ms"``), ``level`` (the highest
    severity the value reaches, ``"none"`` if it reaches none) and ``faults`` (the names of the
    faults whose levels these are).
    """
    from .faults import CATALOGUE, SEVERITIES, evaluation_context

    cat = catalogue or CATALOGUE
    values = evaluation_context(rr.analysis).metrics
    groups: dict[str, list[tuple[Any, str]]] = {}
    for f in cat.faults:
        for r in f.rules:
            key = r.metric.startswith("median.") or r.metric == "derived.rearfoot_share"
            if r.kind == "threshold" and r.role in ("primary", "support") and key:
                groups.setdefault(r.metric, []).append((r, f.name))
    out = []
    for metric, rules in groups.items():
        first = rules[0][0]
        col = metric.removeprefix("median.")
        _name, factor, unit, dec = _shown(col, first.label, first.display)
        label = first.label
        value = _num(values.get(metric))
        if value is not None and metric.startswith("median.") and col in rr.analysis.unavailable:
            value = None
        lo = max((float(r.levels[0]) for r, _ in rules if r.direction == "below"), default=None)
        hi = min((float(r.levels[0]) for r, _ in rules if r.direction == "above"), default=None)
        ab = min((float(r.levels[0]) for r, _ in rules if r.direction == "abs_above"), default=None)

        def show(x: float, factor: float = factor, dec: int = dec) -> str:
            text = f"{x * factor:.{dec}f}"
            return text[1:] if text.startswith("-") and float(text) == 0.0 else text  # never "-0.0"

        if ab is not None:
            ref = f"within +-{show(ab)}"
        elif lo is not None and hi is not None:
            ref = f"{show(lo)} to {show(hi)}"
        elif hi is not None:
            ref = f"below {show(hi)}"
        elif lo is not None:
            ref = f"above {show(lo)}"
        else:
            ref = ""
        ref = f"{ref} {unit}".strip() if ref else "n/a"
        level = max((r.level_of(value) for r, _ in rules), default=0) if value is not None else 0
        out.append(
            {
                "metric": metric,
                "label": label,
                "value": value,
                "shown": "n/a" if value is None else f"{show(value)} {unit}".strip(),
                "reference": ref,
                "level": SEVERITIES[level],
                "faults": [name for _, name in rules],
            }
        )
    return out


def print_run_summary(rr: RunReport, console: Console | None = None, *, catalogue: Catalogue | None = None) -> None:
    """The short terminal summary of one run (``gait analyze`` without ``--details``): what
    the run was, the findings first (what to work on, with the cue and the first thing to
    try), then the key metrics in plain words with the ranges where the catalogue finds no
    fault, then what could not be assessed and why (``--details`` adds what would make it
    possible)."""
    from rich.markup import escape

    console = console or Console()
    a = rr.assessment
    console.rule(f"[bold]{escape(rr.label)}[/bold]")
    facts = dict(_header_rows(rr))
    console.print(
        escape(
            " | ".join(
                f"{k} {v}" if k not in ("device", "recording") and not (k == "date" and v[:1].isdigit()) else v
                for k, v in facts.items()
                if k != "shoes"
            )
        )
    )
    if not rr.analysis.quality.ok or rr.analysis.quality.flagged:
        for line in signal_lines(rr.analysis):
            console.print(f"[yellow]signal:[/yellow] {escape(line)}")
    for msg in rr.history.messages:
        console.print(f"[dim]{escape(msg)}[/dim]")
    console.print("[bold]What to work on[/bold]")
    if not a.findings:
        console.print(" No form fault found in what could be assessed.")
    for k, f in enumerate(a.findings, 1):
        ev = f.evidence[0] if f.evidence else None
        main = f"; {ev.label} {ev.display}" if ev else ""
        console.print(
            f" [bold]{k}. {escape(f.name)}[/bold] [{_SEVERITY_STYLE[f.severity]}]{f.severity}[/], "
            f"confidence {f.confidence:.2f}{escape(main)}; {escape(f.when or 'the whole run')}"
        )
        tip = f"; try: {f.advice[0].text}" if f.advice else ""
        console.print(f"    [italic]{escape(f.cue)}[/italic]{escape(tip)}")
    rows = [m for m in key_metrics(rr, catalogue) if m["value"] is not None]
    if rows:
        console.print("[bold]Key metrics[/bold] (median over the run; reference: where no fault level is reached)")
        table = Table(show_edge=False, pad_edge=False, box=None, header_style="dim")
        table.add_column("measure")
        table.add_column("yours", justify="right")
        table.add_column("reference", justify="right")
        table.add_column("")
        for km in rows:
            flag = "ok" if km["level"] == "none" else f"[{_SEVERITY_STYLE[km['level']]}]{km['level']}[/]"
            table.add_row(escape(km["label"]), escape(km["shown"]), escape(km["reference"]), flag)
        console.print(table)
    print_splits(rr.analysis, console, unit=rr.split_unit)  # pace, distance, splits when the speed is known
    cannot = [n for n in a.notes if n.status == "cannot_assess"]
    if cannot:
        console.print("[bold]Not assessed[/bold] [dim](--details: what would make it possible)[/dim]")
        for n in cannot:
            console.print(f" [dim]- {escape(n.name)}: cannot be assessed: {escape(n.reason)}[/dim]")


# ---------------------------------------------------------------------------------------
# HTML
# ---------------------------------------------------------------------------------------
#: Per-step metrics drawn over the run (each with the catalogue's reference zones behind it);
#: names, units and scales come from `DISPLAY` through `_shown`.
PLOT_METRICS = (
    "cadence_spm",
    "contact_time_s",
    "vertical_oscillation_m",
    "vertical_ratio_pct",
    "braking_velocity_loss_mps",
    "lean_deg",
    "lateral_lean_deg",
    "pelvic_drop_deg",
    "yaw_range_deg",
)
#: Left minus right: the columns compared (those of the summary's ``asymmetry_pct``).
LR_METRICS = (
    "contact_time_s",
    "step_time_s",
    "flight_time_s",
    "impact_peak_mps2",
    "braking_peak_mps2",
    "pelvic_drop_deg",
)
#: One colour per finding (a finding's card swatch, its shaded periods and its level lines);
#: past the tenth finding, colours are spread around the hue circle.
_PALETTE = (
    "#d62728",
    "#1f77b4",
    "#ff7f0e",
    "#2ca02c",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#17becf",
    "#bcbd22",
    "#7f7f7f",
)
#: Reference-zone fill per severity reached.
_ZONE_FILL = {"low": "#f7dc6f", "moderate": "#f0a35e", "high": "#e74c3c"}
_ZONE_OPACITY = 0.22
#: Per-step series are summarised in about this many time bins (median and quartiles per bin).
_BINS = 240
_MIN_BIN_S = 5.0


def _finding_colour(k: int) -> str:
    """The colour of the ``k``-th finding (0-based): distinct for every finding of a run."""
    if k < len(_PALETTE):
        return _PALETTE[k]
    import colorsys

    r, g, b = colorsys.hls_to_rgb((k * 0.618034) % 1.0, 0.42, 0.65)
    return f"#{round(255 * r):02x}{round(255 * g):02x}{round(255 * b):02x}"


def _shown(column: str, label: str | None = None, display: str | None = None) -> tuple[str, float, str, int]:
    """How a column is shown: (label, factor from SI, unit, decimals).

    The single place the reports look names, units and scales up: `DISPLAY` for the metrics
    it lists; else a catalogue rule's own display (``display``, a key of
    ``gait.faults.DISPLAYS``, as in the findings' evidence); else the SI unit of the column's
    name (`_unit_of`) at factor 1. The label is then ``label`` (a catalogue rule's label) or
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
        from .faults import DISPLAYS

        factor, unit, dec, _si = DISPLAYS[display]
        return name, factor, unit, dec
    unit = _unit_of(column)
    return name, 1.0, "" if unit == "1" else unit, 2 if unit in ("1", "m/s^2") else 1


def _binned(t_s: np.ndarray, v: np.ndarray, span_s: tuple[float, float]) -> tuple[np.ndarray, ...]:
    """Median and quartiles of ``v`` per time bin: (bin centres in min, q25, q50, q75, steps)."""
    t0, t1 = span_s
    width = max(_MIN_BIN_S, (t1 - t0) / _BINS)
    ok = np.isfinite(t_s) & np.isfinite(v)
    b = np.floor((t_s[ok] - t0) / width).astype(np.int64)
    n_bins = math.floor((t1 - t0) / width) + 1
    if not ok.any():
        nan = np.full(0, np.nan)
        return nan, nan, nan, nan, nan
    g = pd.Series(v[ok]).groupby(b)
    q = g.quantile([0.25, 0.5, 0.75]).unstack()
    n = g.size()
    full = np.arange(n_bins)
    q = q.reindex(full)
    n = n.reindex(full, fill_value=0).to_numpy()
    q[n < 3] = np.nan  # a bin with fewer than three steps has no meaningful median
    centre = (t0 + (full + 0.5) * width) / 60.0
    return centre, q[0.25].to_numpy(), q[0.5].to_numpy(), q[0.75].to_numpy(), n


@dataclass(frozen=True)
class _Series:
    """What a chart draws: values in SI over the session clock, per step or per minute."""

    column: str
    label: str
    t_s: np.ndarray
    values: np.ndarray
    per: str  # "step" or "minute"
    levels: tuple[tuple[float, str], ...] = ()  # the finding's level lines: (SI value, name)
    reference: tuple[float, str] | None = None  # e.g. the start-of-run value a drift is measured from
    marks: tuple[tuple[float, str], ...] = ()  # vertical lines: (session time in s, name)
    note: str = ""


def _rule_levels(rule: Any) -> tuple[tuple[float, str], ...]:
    """A threshold rule's levels as lines: (SI value, "low" ...); both signs for ``abs_above``."""
    from .faults import SEVERITIES

    out = []
    for i, lv in enumerate(rule.levels):
        name = SEVERITIES[i + 1]
        out.append((float(lv), name))
        if rule.direction == "abs_above":
            out.append((-float(lv), name))
    return tuple(out)


def _zones(column: str, cat: Catalogue) -> list[tuple[float, float, str, str]]:
    """The reference zones of a step column: every primary threshold rule of the catalogue on
    it, as (low, high, severity, "fault: source") in SI; the published or declared levels of
    ``gait/data/faults.toml``."""
    from .faults import SEVERITIES

    out: list[tuple[float, float, str, str]] = []
    for f in cat.faults:
        for r in f.rules:
            if r.kind != "threshold" or r.role != "primary" or r.step_column != column:
                continue
            tip = f"{f.name}: {r.source}"
            if r.step_threshold is not None:
                out.append((float(r.step_threshold), math.inf, "low", tip))
                continue
            lv = [float(x) for x in r.levels]
            for i, a in enumerate(lv):
                sev = SEVERITIES[i + 1]
                nxt = lv[i + 1] if i + 1 < len(lv) else None
                if r.direction in ("above", "abs_above"):
                    out.append((a, nxt if nxt is not None else math.inf, sev, tip))
                if r.direction == "abs_above":
                    out.append((-nxt if nxt is not None else -math.inf, -a, sev, tip))
                if r.direction == "below":
                    out.append((nxt if nxt is not None else -math.inf, a, sev, tip))
    return out


def _step_series(column: str, ctx: Any) -> np.ndarray | None:
    v = ctx.step_values(column)
    return None if v is None or np.isfinite(v).sum() < 3 else np.asarray(v, float)


def _matching_rules(f: Finding, cat: Catalogue) -> list[tuple[Any, Evidence]]:
    """The rules behind a finding's evidence, those that reached a level first."""
    spec = next((s for s in cat.faults if s.id == f.fault), None)
    if spec is None:
        return []
    out = []
    for ev in sorted(f.evidence, key=lambda e: e.level == "none"):
        rule = next((r for r in spec.rules if r.metric == ev.metric and r.role == ev.role), None)
        if rule is not None:
            out.append((rule, ev))
    return out


def _finding_series(rr: RunReport, f: Finding, ctx: Any, cat: Catalogue) -> tuple[_Series | None, str]:
    """The metric a finding is about, over the run, with the finding's level lines; or None
    and why there is no such plot."""
    from .faults import WARMUP_EASY_RATIO, format_value, surge_index, warmup_end_s

    reasons = []
    for rule, _ev in _matching_rules(f, cat):
        kind = rule.kind
        if kind == "threshold":
            col = rule.step_column
            if col is None and rule.metric.startswith(("median.", "derived.")):
                col = rule.metric.removeprefix("median.")
            v = _step_series(col, ctx) if col else None
            if v is not None:
                levels = (
                    ((float(rule.step_threshold), "per-step level"),)
                    if rule.step_threshold is not None
                    else _rule_levels(rule)
                )
                note = (
                    f"the {_shown(col, rule.label)[0]} of each step; the finding counts the share of steps beyond the line"
                    if rule.step_threshold is not None
                    else ""
                )
                return _Series(col, rule.label, ctx.t, v, "step", levels, note=note), ""
            m = rr.analysis.minutes
            if rule.minute_column and rule.minute_column in m.columns and len(m):
                t = 0.5 * (m["start_s"].to_numpy(float) + m["end_s"].to_numpy(float))
                mv = m[rule.minute_column].to_numpy(float)
                if np.isfinite(mv).any():
                    return _Series(rule.minute_column, rule.label, t, mv, "minute", _rule_levels(rule)), ""
            reasons.append(f"{rule.label} is a whole-run number (no per-step or per-minute value)")
        elif kind in ("drift", "baseline"):
            col = rule.metric.removeprefix("median.")
            v = _step_series(col, ctx)
            if v is None:
                reasons.append(f"{rule.label}: no per-step values")
                continue
            if kind == "baseline":
                return _Series(
                    col,
                    rule.label,
                    ctx.t,
                    v,
                    "step",
                    note="the levels of this finding are changes from your own usual value (in the evidence above)",
                ), ""
            after = ctx.t >= warmup_end_s(ctx)
            if after.sum() < 100:
                after = np.ones_like(after)
            xs = v[after]
            xs = xs[np.isfinite(xs)]
            k = max(xs.size // 5, 20)
            if xs.size < 50:
                reasons.append(f"{rule.label}: too few steps")
                continue
            first = float(np.median(xs[:k]))
            sign = 1.0 if rule.direction == "above" else -1.0
            if rule.change == "pct":
                levels = tuple((first * (1.0 + sign * lv / 100.0), name) for lv, name in _rule_levels(rule))
            else:
                levels = tuple((first + sign * lv, name) for lv, name in _rule_levels(rule))
            return _Series(
                col,
                rule.label,
                ctx.t,
                v,
                "step",
                levels,
                reference=(first, "start of the run"),
                note="the levels are changes from the first fifth of the run after the warm-up",
            ), ""
        elif kind == "surges":
            t, s = surge_index(ctx.run)
            if np.isfinite(s).sum() >= 3:
                return _Series("surge_index_pct", rule.label, t, s, "step", _rule_levels(rule)), ""
            reasons.append("too little continuous running for a pace index")
        elif kind == "downhill":
            trk = rr.elevation_track
            if trk is not None and ctx.n:
                speed = _num(rr.analysis.summary["median"].get("speed_mps"))
                g, _how = trk.grade_pct(ctx.t, speed_mps=speed)
                if np.isfinite(g).sum() >= 3:
                    assert rule.grade_pct is not None
                    return _Series(
                        "grade_pct", "grade", ctx.t, g, "step", ((float(rule.grade_pct), "downhill level"),)
                    ), ""
            reasons.append("the grade over the run needs the elevation track (a declared treadmill slope is constant)")
        elif kind == "warmup":
            m = rr.analysis.minutes
            if "intensity_mps2" in m.columns and len(m):
                t = 0.5 * (m["start_s"].to_numpy(float) + m["end_s"].to_numpy(float))
                w = rr.analysis.summary.get("warmup") or {}
                marks = []
                full = _num(w.get("full_effort_s"))
                if full is not None:
                    marks.append((full, "full effort"))
                return _Series(
                    "intensity_mps2",
                    "effort (intensity)",
                    t,
                    m["intensity_mps2"].to_numpy(float),
                    "minute",
                    marks=tuple(marks),
                    note=f"easy effort is below {WARMUP_EASY_RATIO:.0%} of the run's full effort; "
                    f"the finding needs {', '.join(format_value(lv, rule.display) for lv in rule.levels)} of walking or easy running before it",
                ), ""
            reasons.append("no per-minute effort")
        else:
            reasons.append("this finding is about your training history, not about the course of this run")
    return None, reasons[0] if reasons else "no measurement of this finding varies over the run"


def _y_range(lo_vals: np.ndarray, hi_vals: np.ndarray, must: list[float], near: list[float]) -> tuple[float, float]:
    """A y range covering the data's quartile band (2nd to 98th percentile), the values in
    ``must`` and those of ``near`` that lie close to the data."""
    lo_ok, hi_ok = lo_vals[np.isfinite(lo_vals)], hi_vals[np.isfinite(hi_vals)]
    if lo_ok.size and hi_ok.size:
        lo, hi = float(np.percentile(lo_ok, 2)), float(np.percentile(hi_ok, 98))
    else:
        lo, hi = (min(must), max(must)) if must else (0.0, 1.0)
    span = hi - lo or abs(hi) * 0.1 or 1.0
    for x in near:
        if lo - 1.0 * span <= x <= hi + 1.0 * span:
            lo, hi = min(lo, x), max(hi, x)
    for x in must:
        lo, hi = min(lo, x), max(hi, x)
    span = hi - lo or 1.0
    return lo - 0.08 * span, hi + 0.08 * span


def _series_panel(
    s: _Series,
    span_s: tuple[float, float],
    cat: Catalogue,
    uid: str,
    *,
    colour: str | None = None,
    periods: tuple[tuple[float, float], ...] = (),
    title: str = "",
    data: dict[str, str] | None = None,
    height: int = 170,
) -> str:
    """One metric over the run: reference zones, the finding's periods (in its colour), the
    quartile band and median per time bin (per step data) or per minute, and level lines."""
    from ._svg import Panel

    label, factor, unit, dec = _shown(s.column, s.label)
    if s.per == "step":
        x, q1, med, q3, _n = _binned(s.t_s, s.values, span_s)
    else:
        x, med = s.t_s / 60.0, s.values
        q1 = q3 = np.full(med.shape, np.nan)
    q1, med, q3 = q1 * factor, med * factor, q3 * factor
    levels = [(lv * factor, name) for lv, name in s.levels]
    zones = [(a * factor, b * factor, sev, tip) for a, b, sev, tip in _zones(s.column, cat)] if factor > 0 else []
    must = [levels[0][0]] if levels else []
    near = [lv for lv, _ in levels] + [z for a, b, _, _ in zones for z in (a, b) if math.isfinite(z)]
    if s.reference is not None:
        must.append(s.reference[0] * factor)
    band_lo = np.where(np.isfinite(q1), q1, med)
    band_hi = np.where(np.isfinite(q3), q3, med)
    y0, y1 = _y_range(band_lo, band_hi, must, near)
    p = Panel(
        uid=uid,
        x_range=(span_s[0] / 60.0, span_s[1] / 60.0),
        y_range=(y0, y1),
        height=height,
        x_label="time (min, session clock)",
        y_label=f"{label} ({unit})" if unit else label,
        title=title,
        data={"metric": s.column, "unit": unit, **(data or {})},
    )
    for a, b, sev, tip in zones:
        p.band_y(a, b, fill=_ZONE_FILL[sev], opacity=_ZONE_OPACITY, cls="zone", tip=f"{sev}: {tip}", severity=sev)
    for a, b in periods:
        p.span_x(a / 60.0, b / 60.0, fill=colour or "#999", opacity=0.13, cls="period", tip="when the finding occurred")
    p.area(x, q1, q3, fill="#5d6d7e", opacity=0.28, cls="spread")
    p.line(x, med, stroke="#1b2631", cls="median")
    if s.per == "minute":
        p.markers(x, med, fill="#1b2631", cls="median")
    if s.reference is not None:
        p.hline(
            s.reference[0] * factor,
            stroke="#566573",
            cls="reference",
            dash="2 2",
            label=f"{s.reference[1]} {s.reference[0] * factor:.{dec}f}",
        )
    for lv, name in levels:
        if y0 <= lv <= y1:
            p.hline(
                lv,
                stroke=colour or "#7b7d7d",
                cls="level",
                label=f"{name} {lv:.{dec}f} {unit}".strip(),
                value=f"{lv:.{dec}f}",
                severity=name,
            )
    for t, name in s.marks:
        p.vline(t / 60.0, stroke="#1b2631", cls="mark", label=name)
    return p.render()


def _lr_panel(rr: RunReport, uid: str, cat: Catalogue) -> tuple[str | None, list[str]]:
    """Left minus right per metric, in % of the mean of the sides, with a 95 % interval from
    the spread of the steps of each side; behind each row, the catalogue's asymmetry levels
    for it. Returns the chart and one line per metric in display units."""
    from ._svg import Panel

    run = rr.analysis.running_steps
    if "side" in rr.analysis.unavailable or not len(run):
        return None, []
    side = run["side"].to_numpy()
    rows = []
    for col in LR_METRICS:
        if col in rr.analysis.unavailable or col not in run.columns:
            continue
        v = run[col].to_numpy(float)
        lv, rv = v[(side == "L") & np.isfinite(v)], v[(side == "R") & np.isfinite(v)]
        if lv.size < 10 or rv.size < 10:
            continue
        ml, mr = float(np.median(lv)), float(np.median(rv))
        mean = 0.5 * (ml + mr)
        if mean == 0:
            continue
        # standard error of a median from the quartiles (normal approximation: 1.2533 sigma / sqrt(n))
        se = [1.2533 * float(np.subtract(*np.percentile(x, [75, 25]))) / 1.349 / math.sqrt(x.size) for x in (lv, rv)]
        d_pct = 100.0 * (ml - mr) / mean
        ci_pct = 1.96 * 100.0 * math.hypot(*se) / abs(mean)
        levels = []
        for f in cat.faults:
            for r in f.rules:
                if r.kind == "threshold" and r.metric == f"asymmetry_pct.{col}":
                    levels = [float(x) for x in r.levels]
        rows.append((col, ml, mr, d_pct, ci_pct, 1.96 * math.hypot(*se), levels))
    if not rows:
        return None, []
    reach = max(max(abs(d) + c for _, _, _, d, c, _, _ in rows), *(r[6][0] * 1.2 for r in rows if r[6]), 3.0)
    reach = min(reach * 1.1, 60.0)
    row_h = 30
    p = Panel(
        uid=uid,
        x_range=(-reach, reach),
        y_range=(0.0, float(len(rows))),
        height=row_h * len(rows) + 44,
        x_label="left minus right, % of the mean of the sides (bar: 95 % interval)",
        left=170,
        data={"chart": "left-right"},
    )
    lines = []
    for i, (col, ml, mr, d, c, ci_abs, levels) in enumerate(rows):
        y_top, y_bot = len(rows) - i, len(rows) - i - 1
        for j, lv in enumerate(levels):
            hi = levels[j + 1] if j + 1 < len(levels) else math.inf
            sev = ("low", "moderate", "high")[min(j, 2)]
            for a, b in ((lv, hi), (-hi, -lv)):
                xa, xb = p._clip_x(a), p._clip_x(b)
                if xb - xa > 0.5:
                    p.raw(
                        f'<rect class="zone" data-severity="{sev}" x="{xa:.1f}" y="{float(p.py(y_top)):.1f}" '
                        f'width="{xb - xa:.1f}" height="{row_h:.1f}" fill="{_ZONE_FILL[sev]}" '
                        f'fill-opacity="{_ZONE_OPACITY}"/>'
                    )
        label, factor, unit, dec = _shown(col)
        yc = float(p.py(0.5 * (y_top + y_bot)))
        x0, x1, xd = p._clip_x(d - c), p._clip_x(d + c), p._clip_x(d)
        p.raw(
            f'<line class="ci" x1="{x0:.1f}" x2="{x1:.1f}" y1="{yc:.1f}" y2="{yc:.1f}" stroke="#1b2631" '
            f'stroke-width="2"/><circle class="diff" data-metric="{col}" data-value="{d:.2f}" data-ci="{c:.2f}" '
            f'cx="{xd:.1f}" cy="{yc:.1f}" r="4" fill="#1f618d"><title>{_e(label)}: {d:+.1f} % ± {c:.1f}</title></circle>'
            f'<text x="{p.ml - 6}" y="{yc + 3.5:.1f}" text-anchor="end" font-size="10.5" fill="#1b2631" '
            f'font-family="system-ui,Helvetica,Arial,sans-serif">{_e(label)}</text>'
        )
        dd = (ml - mr) * factor
        lines.append(
            f"{label}: left {ml * factor:.{dec}f}, right {mr * factor:.{dec}f} {unit}; "
            f"difference {dd:+.{dec}f} {unit} ± {ci_abs * factor:.{dec}f} ({d:+.1f} % ± {c:.1f})".replace(" ;", ";")
        )
    zx = float(p.px(0.0))
    p.raw(f'<line x1="{zx:.1f}" x2="{zx:.1f}" y1="{p.mt}" y2="{p.mt + p.ph:.1f}" stroke="#7f8c8d" stroke-width="1"/>')
    return p.render(), lines


def _run_span(rr: RunReport, ctx: Any) -> tuple[float, float]:
    if ctx.n >= 2:
        return float(ctx.t[0]), float(ctx.t[-1])
    return 0.0, float(rr.analysis.session.duration_s or 1.0)


def _overview_plots(rr: RunReport, ctx: Any, k: int, cat: Catalogue) -> list[str]:
    span = _run_span(rr, ctx)
    out = []
    for col in PLOT_METRICS:
        if col in rr.analysis.unavailable:
            continue
        v = _step_series(col, ctx)
        if v is None:
            continue
        out.append(
            _series_panel(_Series(col, _shown(col)[0], ctx.t, v, "step"), span, cat, f"r{k}-m-{col}", height=150)
        )
    return out


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
.facts th{background:none;border:none;color:#566573;font-weight:normal;padding:.1em .8em .1em 0}
.facts td{border:none;padding:.1em 0}
.swatch{display:inline-block;width:.9em;height:.9em;border-radius:2px;margin-right:.4em;vertical-align:-.05em}
figure.overview svg{display:block;margin-bottom:.2em}
"""


def _svg(fig, salt: str) -> str:
    """A matplotlib figure as an inline SVG element (used by the history report) (no XML prolog, no external references)."""
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


def _run_date(rr: RunReport) -> tuple[str, str]:
    """The run's date and where it came from."""
    from .history import session_start

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


def _header_rows(rr: RunReport) -> list[tuple[str, str]]:
    """The facts at the top of a run: date (and its source), device, duration, rate, running
    time, distance and pace when the speed is known."""
    from .units import format_duration, format_pace

    a = rr.analysis
    s = a.summary
    meta = a.session.meta
    date, source = _run_date(rr)
    rows = [
        ("date", f"{date} (from {source})" if source else "unknown (the recording has no start time)"),
        ("device", meta.device or "unknown"),
        ("recording", f"{format_duration(a.session.duration_s)} at {a.session.sampling_rate_hz:g} Hz"),
    ]
    run_s = _num(s.get("running_s")) or 0.0
    rows.append(("running", f"{format_duration(run_s)}, {int(s.get('running_steps', 0))} steps analysed"))
    dist = _num(s.get("distance_m"))
    u = rr.split_unit
    if dist is not None:
        pace = f", average pace {format_pace(dist / run_s, u)}" if run_s > 0 and dist > 0 else ""
        rows.append(("distance", f"{dist / PACE_UNIT_M[u]:.2f} {u}{pace}"))
    else:
        rows.append(("distance", "unknown (no speed: give --track, --pace or --speed-mps)"))
    if rr.shoes:
        rows.append(("shoes", rr.shoes))
    return rows


def _html_run(rr: RunReport, k: int, cat: Catalogue) -> str:
    from .faults import evaluation_context

    a = rr.analysis
    s = a.summary
    ctx = evaluation_context(a)
    span = _run_span(rr, ctx)
    parts = [f'<section id="run-{k}"><h2>{_e(rr.label)}</h2>']
    parts.append(
        '<table class="facts">'
        + "".join(f"<tr><th>{_e(n)}</th><td>{_e(v)}</td></tr>" for n, v in _header_rows(rr))
        + "</table>"
    )
    kinds = a.bouts.groupby("kind")["duration_s"].sum() if len(a.bouts) else {}
    activity = ", ".join(f"{kk} {v:.0f} s" for kk, v in dict(kinds).items()) or "no activity"
    parts.append(f'<p class="muted">Activity: {_e(activity)}.</p>')
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
    findings = rr.assessment.findings
    parts.append("<h3>Findings</h3>")
    if not findings:
        parts.append("<p>No form fault was found in what could be assessed.</p>")
    for n, f in enumerate(findings, 1):
        colour = _SEVERITY_COLOUR[f.severity]
        own = _finding_colour(n - 1)
        rows = "".join(
            f"<tr><td>{_e(e.label)}</td><td><b>{_e(e.display)}</b></td><td>{_e(e.level)}</td>"
            f"<td>{_e(e.threshold)}</td><td class=docs>{_e(e.source)}</td></tr>"
            for e in f.evidence
        )
        when = _e(f.when) if f.when else "the whole run"
        share = f"; {100 * f.share_of_steps:.0f} % of steps" if f.share_of_steps is not None else ""
        causes = "".join(f"<li>{_e(c.text)} {_docs(c.documents, link=True)}</li>" for c in f.causes)
        advice = "".join(f"<li>{_e(t.text)} {_docs(t.documents, link=True)}</li>" for t in f.advice)
        series, why = _finding_series(rr, f, ctx, cat)
        if series is not None:
            svg = _series_panel(
                series,
                span,
                cat,
                f"r{k}-f{n}",
                colour=own,
                periods=f.periods_s,
                title=f"{n}. {f.name}: {_shown(series.column, series.label)[0]}",
                data={"finding": f.fault, "colour": own},
            )
            cap = (
                f"Median per {'time bin' if series.per == 'step' else 'minute'}"
                + (" (band: middle half of the steps)" if series.per == "step" else "")
                + "; shaded, with a bar along the top, in this finding's colour: when it occurred; dashed lines in its colour: its levels"
                + "; background: the catalogue's reference zones"
                + (f"; {series.note}" if series.note else "")
                + "."
            )
            plot = f'<figure class="finding-plot">{svg}<figcaption>{_e(cap)}</figcaption></figure>'
        else:
            plot = f'<p class="muted noplot" data-finding="{_e(f.fault)}">No plot over the run: {_e(why)}.</p>'
        parts.append(
            f'<div class="card" id="finding-{k}-{n}" style="border-left-color:{colour}">'
            f'<h3><span class="swatch" style="background:{own}"></span>{n}. {_e(f.name)} '
            f'<span class="sev" style="background:{colour}">{_e(f.severity)}</span> '
            f'<span class="muted">confidence {f.confidence:.2f}</span></h3>'
            f'<p class="cue">Cue: "{_e(f.cue)}"</p>'
            f"<p>When: {when}{share}.</p>"
            "<table><tr><th>evidence</th><th>value</th><th>level</th><th>levels</th><th>source</th></tr>"
            f"{rows}</table>{plot}"
            f"<p><b>May point to</b></p><ul>{causes}</ul><p><b>What to try</b></p><ul>{advice}</ul>"
            f'<p class="muted">Limits: {_e(f.limitations)}</p></div>'
        )
    parts.append(_html_splits(rr))
    overview = _overview_plots(rr, ctx, k, cat)
    if overview:
        parts.append("<h3>Metrics over the run</h3>")
        parts.append(
            '<figure class="overview">'
            + "".join(overview)
            + "<figcaption>"
            + _e(
                "Median per time bin (line) and the middle half of the steps (band), from the per-step table; "
                "background: the reference zones of the catalogue (yellow: low, orange: moderate, red: high; "
                "hover a zone for its fault and source)."
            )
            + "</figcaption></figure>"
        )
    lr, lr_lines = _lr_panel(rr, f"r{k}-lr", cat)
    if lr:
        parts.append("<h3>Left versus right</h3>")
        parts.append(
            f'<figure class="left-right">{lr}<figcaption>'
            + _e(
                "Left minus right, in % of the mean of the two sides; the bar is the 95 % interval of the difference "
                "(from the spread of each side's steps); background: the catalogue's asymmetry levels where it has them."
            )
            + '</figcaption></figure><ul class="lr">'
            + "".join(f"<li>{_e(x)}</li>" for x in lr_lines)
            + "</ul>"
        )
    elif "side" in a.unavailable:
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
    runs = "\n".join(_html_run(r, k, cat) for k, r in enumerate(reports))
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
