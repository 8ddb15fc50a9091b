"""The HTML report: one self-contained page per batch of runs (header, findings with charts, splits, sources)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..faults import Catalogue

from ._charts import finding_colour, finding_series, lr_panel, overview_plots, run_span, series_panel
from ._display import DISPLAY, PACE_UNIT_M, fmt, header_rows, pace_line, shown, signal_lines
from ._json import REFERENCES_NOTE, SEVERITY_COLOUR, RunReport, documents
from ._page import CSS, doc_ids, esc, tool_version


def _html_run(rr: RunReport, k: int, cat: Catalogue) -> str:
    from ..faults import evaluation_context

    a = rr.analysis
    s = a.summary
    ctx = evaluation_context(a)
    span = run_span(rr, ctx)
    parts = [f'<section id="run-{k}"><h2>{esc(rr.label)}</h2>']
    parts.append(
        '<table class="facts">'
        + "".join(f"<tr><th>{esc(n)}</th><td>{esc(v)}</td></tr>" for n, v in header_rows(rr))
        + "</table>"
    )
    kinds = a.bouts.groupby("kind")["duration_s"].sum() if len(a.bouts) else {}
    activity = ", ".join(f"{kk} {v:.0f} s" for kk, v in dict(kinds).items()) or "no activity"
    parts.append(f'<p class="muted">Activity: {esc(activity)}.</p>')
    for m in rr.history.messages:
        parts.append(f'<p class="muted">{esc(m)}</p>')
    lines = signal_lines(a)
    if lines:
        head = "Signal" + ("" if a.quality.ok else " (damaged input)")
        parts.append(f'<div class="signal"><b>{esc(head)}</b><ul>')
        parts.extend(f"<li>{esc(line)}</li>" for line in lines)
        parts.append("</ul></div>")
    if rr.elevation:
        parts.append(f'<p class="muted">Elevation: {esc(rr.elevation)}</p>')
    findings = rr.assessment.findings
    parts.append("<h3>Findings</h3>")
    if not findings:
        parts.append("<p>No form fault was found in what could be assessed.</p>")
    for n, f in enumerate(findings, 1):
        colour = SEVERITY_COLOUR[f.severity]
        own = finding_colour(n - 1)
        rows = "".join(
            f"<tr><td>{esc(e.label)}</td><td><b>{esc(e.display)}</b></td><td>{esc(e.level)}</td>"
            f"<td>{esc(e.threshold)}</td><td class=docs>{esc(e.source)}</td></tr>"
            for e in f.evidence
        )
        when = esc(f.when) if f.when else "the whole run"
        share = f"; {100 * f.share_of_steps:.0f} % of steps" if f.share_of_steps is not None else ""
        causes = "".join(f"<li>{esc(c.text)} {doc_ids(c.documents, link=True)}</li>" for c in f.causes)
        advice = "".join(f"<li>{esc(t.text)} {doc_ids(t.documents, link=True)}</li>" for t in f.advice)
        series, why = finding_series(rr, f, ctx, cat)
        if series is not None:
            svg = series_panel(
                series,
                span,
                cat,
                f"r{k}-f{n}",
                colour=own,
                periods=f.periods_s,
                title=f"{n}. {f.name}: {shown(series.column, series.label)[0]}",
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
            plot = f'<figure class="finding-plot">{svg}<figcaption>{esc(cap)}</figcaption></figure>'
        else:
            plot = f'<p class="muted noplot" data-finding="{esc(f.fault)}">No plot over the run: {esc(why)}.</p>'
        parts.append(
            f'<div class="card" id="finding-{k}-{n}" style="border-left-color:{colour}">'
            f'<h3><span class="swatch" style="background:{own}"></span>{n}. {esc(f.name)} '
            f'<span class="sev" style="background:{colour}">{esc(f.severity)}</span> '
            f'<span class="muted">confidence {f.confidence:.2f}</span></h3>'
            f'<p class="cue">Cue: "{esc(f.cue)}"</p>'
            f"<p>When: {when}{share}.</p>"
            "<table><tr><th>evidence</th><th>value</th><th>level</th><th>levels</th><th>source</th></tr>"
            f"{rows}</table>{plot}"
            f"<p><b>May point to</b></p><ul>{causes}</ul><p><b>What to try</b></p><ul>{advice}</ul>"
            f'<p class="muted">Limits: {esc(f.limitations)}</p></div>'
        )
    parts.append(_html_splits(rr))
    overview = overview_plots(rr, ctx, k, cat)
    if overview:
        parts.append("<h3>Metrics over the run</h3>")
        parts.append(
            '<figure class="overview">'
            + "".join(overview)
            + "<figcaption>"
            + esc(
                "Median per time bin (line) and the middle half of the steps (band), from the per-step table; "
                "background: the reference zones of the catalogue (yellow: low, orange: moderate, red: high; "
                "hover a zone for its fault and source)."
            )
            + "</figcaption></figure>"
        )
    lr, lr_lines = lr_panel(rr, f"r{k}-lr", cat)
    if lr:
        parts.append("<h3>Left versus right</h3>")
        parts.append(
            f'<figure class="left-right">{lr}<figcaption>'
            + esc(
                "Left minus right, in % of the mean of the two sides; the bar is the 95 % interval of the difference "
                "(from the spread of each side's steps); background: the catalogue's asymmetry levels where it has them."
            )
            + '</figcaption></figure><ul class="lr">'
            + "".join(f"<li>{esc(x)}</li>" for x in lr_lines)
            + "</ul>"
        )
    elif "side" in a.unavailable:
        parts.append(f'<p class="muted">Left versus right: not available ({esc(a.unavailable["side"])}).</p>')
    notes = rr.assessment.notes
    if notes:
        parts.append("<h3>Not assessed, or only in part</h3><ul>")
        parts.extend(f"<li>{esc(nn.message)}</li>" for nn in notes)
        parts.append("</ul>")
    metric_rows = []
    for label, col, factor, unit, dec in DISPLAY:
        if col in a.unavailable:
            continue
        metric_rows.append(
            f"<tr><td>{esc(label)}</td><td>{fmt(s['median'].get(col), factor, dec)}</td>"
            f"<td>{fmt(s['iqr'].get(col), factor, dec)}</td>"
            f"<td>{fmt(s['left'].get(col), factor, dec)} / {fmt(s['right'].get(col), factor, dec)}</td><td>{esc(unit)}</td></tr>"
        )
    parts.append(
        "<h3>All metrics</h3><table><tr><th>metric</th><th>median</th><th>IQR</th><th>left / right</th><th>unit</th></tr>"
        + "".join(metric_rows)
        + "</table></section>"
    )
    return "\n".join(parts)


def _html_splits(rr: RunReport) -> str:
    """The pace line and the splits table of a run ("" without a speed)."""
    from ..tracks import split_table
    from ..units import format_duration, format_pace

    line = pace_line(rr.analysis, rr.split_unit)
    if line is None:
        return ""
    sp = split_table(rr.analysis, unit=rr.split_unit)
    out = [f'<p class="muted">{esc(line)}</p>']
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
            fmt(r.cadence_spm, 1.0, 0),
            fmt(r.contact_time_s, 1000.0, 0),
            fmt(r.vertical_oscillation_m, 100.0, 1),
            fmt(r.vertical_ratio_pct, 1.0, 1),
            fmt(r.step_length_m, 1.0, 2),
        ]
        if climb:
            cells.append(f"+{fmt(r.elevation_gain_m, 1.0, 0)} / -{fmt(r.elevation_loss_m, 1.0, 0)}")
        rows.append("<tr>" + "".join(f"<td>{esc(c)}</td>" for c in cells) + "</tr>")
    out.append(
        f"<h3>Splits (per {esc(u)})</h3><table><tr>"
        + "".join(f"<th>{esc(h)}</th>" for h in head)
        + "</tr>"
        + "".join(rows)
        + "</table>"
    )
    return "\n".join(out)


def render_html(
    reports: list[RunReport], *, title: str = "Running form report", catalogue: Catalogue | None = None
) -> str:
    """One self-contained HTML page (inline CSS and SVG; no script, no network request)."""
    from ..faults import CATALOGUE

    cat = catalogue or CATALOGUE
    warn = "".join(f"<li>{esc(w.text)} {doc_ids(w.documents, cat, link=True)}</li>" for w in cat.warning_signs)
    unseen = "".join(
        f"<li><b>{esc(u.topic)}</b>: {esc(u.text)} {doc_ids(u.documents, cat, link=True)}</li>"
        for u in cat.unseen_causes
    )
    docs = "".join(
        f'<li id="doc-{esc(d.id)}"><b>[{esc(d.id)}]</b> <cite>{esc(d.title)}</cite>'
        + (f", {esc(d.publisher)}" if d.publisher else "")
        + (f' <span class="muted">({esc(d.url)})</span>' if d.url else "")
        + f": {esc(d.topic)}</li>"
        for d in documents(cat)
    )
    toc = ""
    if len(reports) > 1:
        toc = (
            "<nav><ol>"
            + "".join(
                f'<li><a href="#run-{k}">{esc(r.label)}</a> ({len(r.assessment.findings)} finding(s))</li>'
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
<title>{esc(title)}</title><style>{CSS}</style></head>
<body><main>
<h1>{esc(title)}</h1>
<p class="disclaimer">{esc(cat.disclaimer)}</p>
<div class="warning"><h2>See a clinician if you have any of these</h2><ul>{warn}</ul></div>
{toc}
{runs}
<h2>What no sensor can see: worth checking</h2><ul>{unseen}</ul>
<h2>Sources</h2><p>Causes, advice and warning signs cite these articles on running and low back pain by number (in the product's own words):</p><ul>{docs}</ul>
<p class="muted">{esc(REFERENCES_NOTE)}</p>
<p class="muted">Generated {esc(generated)} by gait-lumbar {esc(tool_version())}. This page was built on your machine and loads nothing from the network.</p>
</main></body></html>
"""


def write_html(reports: list[RunReport], path: str | Path, **kwargs: Any) -> Path:
    """Write `render_html` to ``path`` (UTF-8)."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(render_html(reports, **kwargs), encoding="utf-8")
    return p
