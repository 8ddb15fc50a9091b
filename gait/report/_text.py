"""Terminal reports (rich): the session and analysis summaries, splits, findings, key metrics, the footer."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from rich.console import Console
from rich.table import Table

from ..session import Session

if TYPE_CHECKING:
    from ..core.pipeline import Analysis
    from ..faults import Catalogue

from ._display import DISPLAY, PACE_UNIT_M, fmt, header_rows, num, pace_line, shown, signal_lines
from ._json import REFERENCES_NOTE, SEVERITY_STYLE, RunReport, documents


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
            fmt(med, factor, dec),
            fmt(s["iqr"].get(col), factor, dec),
            f"{fmt(s['left'].get(col), factor, dec)} / {fmt(s['right'].get(col), factor, dec)}",
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


def print_splits(analysis: Analysis, console: Console | None = None, *, unit: str = "km") -> None:
    """Print the distance, pace and the per-km (or per-mile) splits of a run with a known speed."""
    from ..tracks import split_table
    from ..units import format_duration, format_pace

    console = console or Console()
    line = pace_line(analysis, unit)
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
            fmt(r.cadence_spm, 1.0, 0),
            fmt(r.contact_time_s, 1000.0, 0),
            fmt(r.vertical_oscillation_m, 100.0, 1),
            fmt(r.vertical_ratio_pct, 1.0, 1),
            fmt(r.step_length_m, 1.0, 2),
        ]
        if climb:
            row.append(f"+{fmt(r.elevation_gain_m, 1.0, 0)} / -{fmt(r.elevation_loss_m, 1.0, 0)}")
        table.add_row(*row)
    console.print(table)


def write_table(df: pd.DataFrame, path: str | Path) -> Path:
    """Write a result table as CSV (``.csv``, ``.csv.gz``) or Parquet (``.parquet``)."""
    from ..errors import GaitInputError, Where

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


def print_report(
    reports: list[RunReport], console: Console | None = None, *, catalogue: Catalogue | None = None
) -> None:
    """Print the findings of every run, then the warning signs, the unseen causes and the
    disclaimer (always)."""
    from ..faults import CATALOGUE

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

    from ..faults import CATALOGUE

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
    for d in documents(cat):
        by = f", {escape(d.publisher)}" if d.publisher else ""
        at = f" ({escape(d.url)})" if d.url else ""
        console.print(f" \\[{d.id}] [italic]{escape(d.title)}[/italic]{by}{at}: [dim]{escape(d.topic)}[/dim]")
    console.print(f"[dim]{escape(REFERENCES_NOTE)}[/dim]")


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
                f"[{SEVERITY_STYLE[f.severity]}]{f.severity}[/]",
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
    from ..faults import CATALOGUE, SEVERITIES, evaluation_context

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
        _name, factor, unit, dec = shown(col, first.label, first.display)
        label = first.label
        value = num(values.get(metric))
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
    facts = dict(header_rows(rr))
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
            f" [bold]{k}. {escape(f.name)}[/bold] [{SEVERITY_STYLE[f.severity]}]{f.severity}[/], "
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
            flag = "ok" if km["level"] == "none" else f"[{SEVERITY_STYLE[km['level']]}]{km['level']}[/]"
            table.add_row(escape(km["label"]), escape(km["shown"]), escape(km["reference"]), flag)
        console.print(table)
    print_splits(rr.analysis, console, unit=rr.split_unit)  # pace, distance, splits when the speed is known
    cannot = [n for n in a.notes if n.status == "cannot_assess"]
    if cannot:
        console.print("[bold]Not assessed[/bold] [dim](--details: what would make it possible)[/dim]")
        for n in cannot:
            console.print(f" [dim]- {escape(n.name)}: cannot be assessed: {escape(n.reason)}[/dim]")
